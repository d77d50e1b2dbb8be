"""Template context for the agent app's navigation."""

from __future__ import annotations

from django.http import HttpRequest

from inbox.channel_admin import admin_teams


def navigation(request: HttpRequest) -> dict[str, bool]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_can_admin_channels": False}
    return {"nav_can_admin_channels": admin_teams(user=user).exists()}
