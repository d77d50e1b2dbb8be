"""Template context for the agent app's navigation."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest

from inbox.channel_admin import admin_teams


def _can_admin_channels(user: AbstractBaseUser | AnonymousUser) -> bool:
    return admin_teams(user=user).exists()


def navigation(request: HttpRequest) -> dict[str, bool | Callable[[], bool]]:
    """``nav_can_admin_channels``: a callable the template calls, so it costs a query only on
    pages that show the navigation (not on the fragments the live pages refetch)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_can_admin_channels": False}
    return {"nav_can_admin_channels": partial(_can_admin_channels, user)}
