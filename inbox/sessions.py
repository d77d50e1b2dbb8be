"""Agent session rules (SECURITY-DESIGN.md §4): 12 h absolute lifetime and the second factor.

The 30-minute idle timeout is Django's own (SESSION_COOKIE_AGE with SAVE_EVERY_REQUEST). This
middleware adds the absolute limit, and sends anyone who must use a second factor, or who has
one, to verify it before any other page (the admin site included).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.http import urlencode
from django_otp import user_has_device

from inbox import selectors

logger = logging.getLogger(__name__)

AUTH_AT_KEY = "haven_auth_at"
MFA_STATE_KEY = "haven_mfa_state"
MFA_REQUIRED = "required"  # must enrol before anything else
MFA_ENROLLED = "enrolled"  # has a device: must verify it
MFA_OPTIONAL = "optional"

_EXEMPT_PREFIXES = ("/static/", "/healthz", "/login/", "/logout/", "/account/2fa/")


def session_expired(session: Mapping[str, Any], *, now: float | None = None) -> bool:
    """True once a session is older than the absolute limit (also used by websockets)."""
    started = session.get(AUTH_AT_KEY)
    if started is None:
        return False
    limit = float(settings.HAVEN_SESSION_ABSOLUTE_SECONDS)
    return (now if now is not None else time.time()) - float(started) > limit


def mfa_state(request: HttpRequest) -> str:
    state = request.session.get(MFA_STATE_KEY)
    if state not in (MFA_REQUIRED, MFA_ENROLLED, MFA_OPTIONAL):
        user = request.user
        if user_has_device(user, confirmed=True):
            state = MFA_ENROLLED
        elif selectors.user_needs_second_factor(user):
            state = MFA_REQUIRED
        else:
            state = MFA_OPTIONAL
        request.session[MFA_STATE_KEY] = state
    return str(state)


def forget_mfa_state(request: HttpRequest) -> None:
    request.session.pop(MFA_STATE_KEY, None)


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


class SessionPolicyMiddleware:
    """Place after django_otp's OTPMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            if session_expired(request.session):
                logger.info("session ended at absolute limit user=%s", user.pk)
                logout(request)
                if _wants_json(request):
                    return JsonResponse({"type": "error", "code": "session_expired"}, status=401)
                return HttpResponseRedirect(reverse("login"))
            request.session.setdefault(AUTH_AT_KEY, time.time())
            if not request.path.startswith(_EXEMPT_PREFIXES) and not user.is_verified():
                state = mfa_state(request)
                if state != MFA_OPTIONAL:
                    if _wants_json(request):
                        return JsonResponse(
                            {"type": "error", "code": "second_factor_required"}, status=401
                        )
                    target = "otp_verify" if state == MFA_ENROLLED else "otp_setup"
                    query = urlencode({"next": request.get_full_path()})
                    return HttpResponseRedirect(f"{reverse(f'inbox:{target}')}?{query}")
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            # Set on the login response itself: the clock starts at sign-in.
            request.session.setdefault(AUTH_AT_KEY, time.time())
        return response
