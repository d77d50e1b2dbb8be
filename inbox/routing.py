"""Websocket URL routes (wrapped by config.asgi in origin and auth checks)."""

from django.urls import URLPattern, URLResolver

websocket_urlpatterns: list[URLPattern | URLResolver] = []
