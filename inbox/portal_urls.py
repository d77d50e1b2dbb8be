"""URLs of the customer portal. Secrets appear in paths only in the no-JS fallbacks, which the
log filters scrub; the thread URL carries only the ticket's UUID."""

from django.urls import path

from inbox import portal

app_name = "portal"

urlpatterns = [
    path("s/<str:drop_ref>", portal.drop_box, name="drop"),
    path("r/", portal.read, name="read"),
    path("r/<str:secret>", portal.read_fallback, name="read_fallback"),
    path("m/", portal.magic, name="magic"),
    path("m/<str:secret>", portal.magic_fallback, name="magic_fallback"),
    path("portal/new-link/", portal.new_link, name="new_link"),
    path("portal/leave/", portal.leave, name="leave"),
    path("t/<uuid:public_id>/", portal.thread, name="thread"),
    path("t/<uuid:public_id>/messages/", portal.thread_messages, name="messages"),
]
