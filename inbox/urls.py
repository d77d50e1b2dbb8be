"""URLs of the agent app. Object URLs carry only UUID ``public_id``s."""

from django.urls import path

from inbox import views

app_name = "inbox"

urlpatterns = [
    path("", views.inbox_list, name="list"),
    path("inbox/rows/", views.inbox_rows, name="rows"),
    path("tickets/<uuid:public_id>/", views.ticket_detail, name="ticket"),
    path("tickets/<uuid:public_id>/live/", views.ticket_live, name="ticket_live"),
    path("tickets/<uuid:public_id>/reply/", views.ticket_reply, name="reply"),
    path("tickets/<uuid:public_id>/note/", views.ticket_note, name="note"),
    path("tickets/<uuid:public_id>/assign/", views.ticket_assign, name="assign"),
    path("tickets/<uuid:public_id>/status/", views.ticket_status, name="status"),
    path(
        "tickets/<uuid:public_id>/messages/<uuid:message_id>/reveal/",
        views.message_reveal,
        name="reveal",
    ),
    path("tickets/<uuid:public_id>/links/rotate/", views.ticket_rotate_link, name="rotate_link"),
    path("tickets/<uuid:public_id>/access/end/", views.ticket_end_access, name="end_access"),
    path(
        "tickets/<uuid:public_id>/actions/<uuid:action_id>/retry/",
        views.action_retry,
        name="action_retry",
    ),
    path(
        "tickets/<uuid:public_id>/contacts/<uuid:contact_id>/",
        views.ticket_contact,
        name="contact",
    ),
    path(
        "tickets/<uuid:public_id>/contacts/<uuid:contact_id>/reply/",
        views.ticket_contact_reply,
        name="contact_reply",
    ),
    path(
        "tickets/<uuid:public_id>/contacts/<uuid:contact_id>/link/",
        views.ticket_contact_link,
        name="contact_link",
    ),
    path(
        "tickets/<uuid:public_id>/contacts/<uuid:contact_id>/unlink/",
        views.ticket_contact_unlink,
        name="contact_unlink",
    ),
    path("canned/", views.canned_list, name="canned"),
    path("canned/<uuid:public_id>/delete/", views.canned_delete, name="canned_delete"),
    path("account/2fa/", views.otp_setup, name="otp_setup"),
    path("account/2fa/verify/", views.otp_verify, name="otp_verify"),
]
