"""Websocket URL routes (wrapped by config.asgi in origin and auth checks)."""

from django.urls import URLPattern, URLResolver, path

from inbox import consumers, portal_consumers

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/inbox/", consumers.InboxConsumer.as_asgi()),
    path("ws/tickets/<uuid:public_id>/", consumers.TicketConsumer.as_asgi()),
    path("ws/portal/", portal_consumers.PortalConsumer.as_asgi()),
]
