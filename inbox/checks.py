"""System checks on settings that must agree with each other (``manage.py check --deploy``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Warning, register


@register(deploy=True)
def stale_claim_outlasts_platform_calls(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """A claim must outlive the platform call made under it, or the sweeper may post it again.

    A batch stops starting calls at half ``HAVEN_STALE_CLAIM_SECONDS``, and one call can take
    the connect and the read timeout, each ``HAVEN_PLATFORM_TIMEOUT``: the stale time must be at
    least four timeouts.
    """
    stale, timeout = settings.HAVEN_STALE_CLAIM_SECONDS, settings.HAVEN_PLATFORM_TIMEOUT
    if stale >= 4 * timeout:
        return []
    return [
        Warning(
            f"HAVEN_STALE_CLAIM_SECONDS ({stale}) is under four times HAVEN_PLATFORM_TIMEOUT "
            f"({timeout}): a slow platform call can outlast its claim, and the sweeper may then "
            "post the same reply again.",
            hint=f"Set HAVEN_STALE_CLAIM_SECONDS to at least {4 * timeout}.",
            id="haven.W001",
        )
    ]
