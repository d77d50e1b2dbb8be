"""URLs of the customer portal. Secrets appear in paths only in the no-JS fallbacks, which the
log filters scrub; the thread URL carries only the ticket's UUID. X's sign-in callback carries
its one-time code in the query, which the log filters scrub too."""

from django.urls import path

from inbox import portal

app_name = "portal"

urlpatterns = [
    path("s/<str:drop_ref>", portal.drop_box, name="drop"),
    path("s/<str:drop_ref>/x-sign-in", portal.x_sign_in, name="x_sign_in"),
    path("portal/x-sign-in/callback", portal.x_sign_in_callback, name="x_callback"),
    path("portal/x-sign-in/failed", portal.x_sign_in_failed, name="x_failed"),
    path("r/", portal.read, name="read"),
    path("r/<str:secret>", portal.read_fallback, name="read_fallback"),
    path("m/", portal.magic, name="magic"),
    path("m/<str:secret>", portal.magic_fallback, name="magic_fallback"),
    path("portal/new-link/", portal.new_link, name="new_link"),
    path("portal/leave/", portal.leave, name="leave"),
    path("t/<uuid:public_id>/", portal.thread, name="thread"),
    path("t/<uuid:public_id>/messages/", portal.thread_messages, name="messages"),
]
