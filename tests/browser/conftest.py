"""Browser tests: Debian's Chromium driven by Playwright against a live ASGI server.

The browser's path comes from HAVEN_CHROMIUM; without it every browser test fails (never
skips). Playwright never downloads a browser of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

ARTIFACTS = Path(settings.BASE_DIR) / "artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("HAVEN_CHROMIUM", "")
    if not path or not Path(path).is_file():
        pytest.fail(
            "HAVEN_CHROMIUM must point at Debian's chromium (apt-get install chromium; "
            "HAVEN_CHROMIUM=/usr/bin/chromium)",
            pytrace=False,
        )
    return path


def require_shared_channel_layer() -> None:
    # The live server runs in its own process: only a shared layer (Redis) carries events
    # from this process to its websockets.
    if not settings.REDIS_URL:
        pytest.fail(
            "browser tests need REDIS_URL: the live server is another process and the "
            "in-memory channel layer is not shared",
            pytrace=False,
        )


@pytest.fixture(scope="session", autouse=True)
def _browser_environment() -> Iterator[None]:
    """Fresh static files for the live server, and Django's async guard off for Playwright.

    Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    between browser steps are still plain synchronous calls.
    """
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    call_command("collectstatic", interactive=False, verbosity=0)
    ARTIFACTS.mkdir(exist_ok=True)
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
