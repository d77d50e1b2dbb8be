"""Browser tests: Debian's Chromium driven by Playwright against a live ASGI server.

The browser's path comes from HAVEN_CHROMIUM; without it every browser test fails (never
skips). Playwright never downloads a browser of its own.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from channels.testing import ChannelsLiveServerTestCase
from channels.testing import live as channels_live
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from channels_bridge.simulator import RunningSimulator

ARTIFACTS = Path(settings.BASE_DIR) / "artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


class HavenLiveServerTestCase(ChannelsLiveServerTestCase):
    """A live Daphne server on the test database pytest-django made, serving hashed statics."""

    serve_static = False  # WhiteNoise serves the collected, hashed files, as in production
    _test_name: str | None = None

    @classmethod
    def setUpClass(cls) -> None:
        # channels' live server names its database "test_" + NAME, but NAME already is the
        # test database here (pytest-django switched it): pin TEST.NAME to it for the class.
        database = settings.DATABASES["default"]
        test = database.setdefault("TEST", {})
        cls._test_name = test.get("NAME")
        test["NAME"] = database["NAME"]
        super().setUpClass()

    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        test = settings.DATABASES["default"]["TEST"]
        if cls._test_name is None:
            test.pop("NAME", None)
        else:
            test["NAME"] = cls._test_name


# Collects the page's CSP violations in window.__haven_csp, for the tests to read.
CSP_WATCH = """
window.__haven_csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__haven_csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""

# The live server speaks plain HTTP on localhost. Production cookies are __Host- and Secure,
# which a browser refuses to store over HTTP, and SSL redirects would bounce every request: for
# this test server only, cookies go back to Django's default names without Secure, and no HSTS.
PLAIN_HTTP = {
    "SECURE_SSL_REDIRECT": False,
    "SESSION_COOKIE_SECURE": False,
    "CSRF_COOKIE_SECURE": False,
    "SESSION_COOKIE_NAME": "sessionid",
    "CSRF_COOKIE_NAME": "csrftoken",
    "SECURE_HSTS_SECONDS": 0,
}


@override_settings(**PLAIN_HTTP)
@pytest.mark.browser
class BrowserJourney(HavenLiveServerTestCase):
    """A live server over plain HTTP, the platform simulator and Debian's Chromium per test.

    ``self.problems`` collects what the pages report (errors, CSP violations); subclasses add
    settings with their own ``override_settings``, which adds to ``PLAIN_HTTP``.
    """

    @pytest.fixture(autouse=True)
    def _browser(self, simulator: RunningSimulator) -> Iterator[None]:
        chromium = chromium_path()
        require_shared_channel_layer()
        self.check_requirements()
        self.problems: list[str] = []
        self.simulator = simulator
        with sync_playwright() as playwright:
            self.browser: Browser = playwright.chromium.launch(
                executable_path=chromium, args=LAUNCH_ARGS, headless=True
            )
            try:
                yield
            finally:
                self.browser.close()

    def check_requirements(self) -> None:
        """Fail (never skip) when something a journey needs is missing."""

    def watched_page(
        self, *, dialogs: bool = True, console_ignores: tuple[str, ...] = (), **options: Any
    ) -> tuple[BrowserContext, Page]:
        """A page in a new browser context (``options``) whose script errors, console errors
        and, with ``dialogs``, dialogs land in ``self.problems``; CSP violations are collected
        in the page (``CSP_WATCH``). ``console_ignores``: console errors an expected answer
        causes (a 404 page, a 409)."""
        context = self.browser.new_context(**options)
        context.add_init_script(CSP_WATCH)
        page = context.new_page()
        if dialogs:
            page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))

        def console(message: Any) -> None:
            if message.type == "error" and not any(i in message.text for i in console_ignores):
                self.problems.append(f"console {message.type}: {message.text}")

        page.on("console", console)
        page.set_default_timeout(30_000)  # a shared 2-core machine can be slow
        return context, page

    def shot(self, page: Page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


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


_make_application = channels_live.make_application


def _application_built_in_server(*, static_wrapper: Callable[[Any], Any] | None) -> Any:
    """channels' ``make_application``, but the ASGI module is executed again in the server.

    The live server is a fork of this process (DaphneProcess), and channels takes the
    application from the ASGI_APPLICATION module: if anything in this process imported
    config.asgi before (three modules of tests/inbox do, at collection), the fork inherits
    that handler, whose middleware read the settings when it was built, before the test
    class's override_settings. SecurityMiddleware then still has SECURE_SSL_REDIRECT on: every
    page answers 301 to https://localhost:<port>/, Chromium sends a TLS handshake to this
    plain-HTTP server, which waits for a request line forever, and each test times out on its
    first page. Re-executing the module here builds the handler (middleware, WhiteNoise's file
    index) from the settings the server actually runs with. It runs only in the server child.
    """
    module = sys.modules.get(settings.ASGI_APPLICATION.rsplit(".", 1)[0])
    if module is not None:
        importlib.reload(module)
    return _make_application(static_wrapper=static_wrapper)


@pytest.fixture(scope="session", autouse=True)
def _live_server_builds_its_application() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(channels_live, "make_application", _application_built_in_server)
        yield


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
