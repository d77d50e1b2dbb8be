"""Bridge errors: the only exceptions a connector lets out. Knows nothing of tickets."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = [
    "AlreadyReplied",
    "AmbiguousOutcome",
    "AuthExpired",
    "BridgeError",
    "MalformedPayload",
    "NotFound",
    "PermissionDenied",
    "PlatformError",
    "RateLimited",
    "TransientError",
]


class BridgeError(Exception):
    """Base of every bridge error. Messages carry ids and codes only, never platform text."""

    def __init__(
        self,
        message: str = "",
        *,
        code: int | str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class RateLimited(BridgeError):
    """The platform throttled us; retry no earlier than ``retry_at`` (aware UTC)."""

    def __init__(
        self,
        retry_at: datetime,
        message: str = "",
        *,
        code: int | str | None = None,
        status: int | None = None,
    ) -> None:
        if retry_at.tzinfo is None:
            raise ValueError("retry_at must be timezone-aware")
        self.retry_at = retry_at.astimezone(UTC)
        super().__init__(
            message or f"rate limited until {self.retry_at.isoformat()}", code=code, status=status
        )


class AuthExpired(BridgeError):
    """The token is invalid or expired: the channel needs reauthorisation."""


class PermissionDenied(BridgeError):
    """The token or the platform's rules do not allow this action on this item."""


class NotFound(BridgeError):
    """The object does not exist (any more) or is not visible to us."""


class TransientError(BridgeError):
    """A temporary failure (network, 5xx, platform hiccup); safe to retry."""


class AmbiguousOutcome(TransientError):
    """A write may have reached the platform; reconcile with ``find_own_reply`` before retrying."""


class PlatformError(BridgeError):
    """Any other refusal by the platform; ``code`` carries the platform's error code."""


class AlreadyReplied(PlatformError):
    """The platform says this item was already answered this way: count the action as sent."""


class MalformedPayload(BridgeError):
    """A webhook body is not JSON, breaks the strict rules, or has an unknown shape."""
