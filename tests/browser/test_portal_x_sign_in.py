"""Sign in with X in Chromium: an X customer who accepts no DMs gets only the public link; on
its page "Sign in with X" opens the thread for that account and for no other. The redirect to
X passes the page's CSP (form-action), and axe-core finds no serious issue on the new pages."""

from __future__ import annotations

import re
import socket
import time
from functools import partial
from typing import Any

import pytest
from daphne.testing import DaphneProcess
from django.test import override_settings
from playwright.sync_api import BrowserContext, Page

from channels_bridge.simulator import world
from inbox.models import Platform, PortalGrant, Ticket
from inbox.services import pipeline
from tests import factories
from tests.browser.conftest import BrowserJourney
from tests.browser.test_agent_inbox import off_loop
from tests.browser.test_portal_journey import AXE, DESKTOP, PHONE

MENTION = "Order 4711 still missing, write to quinn.h@example.invalid please"
BUTTON = "Sign in with X to read your conversation"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return int(probe.getsockname()[1])


# X sends the browser back to HAVEN_BASE_URL's callback: the live server must listen there.
PORT = _free_port()


@override_settings(
    HAVEN_BASE_URL=f"http://localhost:{PORT}",
    HAVEN_ORGANISATION_NAME="Acme Shop GmbH",
)
@pytest.mark.browser
class PortalXSignIn(BrowserJourney):
    ProtocolServerProcess = partial(DaphneProcess, port=PORT)

    def check_requirements(self) -> None:
        if not AXE.is_file():
            pytest.fail("axe-core is missing: run `npm ci`", pytrace=False)

    def new_context(
        self, viewport: dict[str, int], *, expect_404: bool = False
    ) -> tuple[BrowserContext, Page]:
        """A watched page; ``expect_404`` lets Chromium's console line for a 404 page pass."""
        ignores = ("status of 404",) if expect_404 else ()
        return self.watched_page(dialogs=False, console_ignores=ignores, viewport=viewport)

    def csp_violations(self, page: Page) -> list[str]:
        return [f"csp: {v}" for v in page.evaluate("window.__haven_csp || []")]

    def axe(self, url: str) -> list[str]:
        """axe-core's serious and critical findings, in a CSP-bypassing context (its script
        tag is inline)."""
        context = self.browser.new_context(viewport=PHONE, bypass_csp=True)  # type: ignore[arg-type]
        page = context.new_page()
        page.goto(url)
        page.add_script_tag(path=str(AXE))
        result: list[dict[str, Any]] = page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']}))"
            ".violations.map(v => ({id: v.id, impact: v.impact}))"
        )
        context.close()
        return [
            f"{v['id']} ({v['impact']})" for v in result if v["impact"] in ("serious", "critical")
        ]

    def test_x_author_signs_in_with_x_and_other_account_gets_no_access(self) -> None:
        sim = self.simulator.sim
        quinn = world.customer_by_key("quinn")

        def arrange() -> str:
            team = factories.TeamFactory(name="Support")
            channel = factories.simulated_channel(
                team=team, simulator=self.simulator, platform=Platform.X, x_reply_style="link"
            )
            sim.customer_x_mention(MENTION, customer="quinn")
            pipeline.poll_channel(channel_id=channel.pk)
            (reply,) = sim.snapshot()["x"]["replies"]
            found = re.search(r"https?://\S+/s/[A-Za-z0-9_-]+", reply["text"])
            assert found is not None, "the public reply carries the drop-box link"
            return found[0]

        drop_url = off_loop(arrange)
        assert drop_url.startswith(f"http://localhost:{PORT}/s/")
        ticket = Ticket.objects.get()
        assert ticket.author_external_id == quinn.x_id
        # quinn accepts no DMs, so no private link reached them: the button is the way in.
        assert sim.snapshot()["x"]["dms_sent"] == []

        # Signed in at X as somebody else: no access, one friendly page.
        sim.x_oauth_user = "lena"
        stranger_ctx, stranger = self.new_context(PHONE, expect_404=True)
        stranger.goto(drop_url)
        stranger.get_by_role("button", name=BUTTON).click()
        stranger.wait_for_url("**/portal/x-sign-in/failed")
        stranger.get_by_role("heading", name="We could not confirm your X account").wait_for()
        assert "4711" not in stranger.content()
        assert "code=" not in stranger.url
        self.shot(stranger, "portal-x-sign-in-failed-phone")
        serious = self.axe(stranger.url)
        stranger.goto(f"{self.live_server_url}/t/{ticket.public_id}/")
        assert "4711" not in stranger.content()
        assert not PortalGrant.objects.exists()

        # The author: X approves as quinn and the thread opens on a clean URL.
        sim.x_oauth_user = "quinn"
        author_ctx, author = self.new_context(PHONE)
        author.goto(drop_url)
        button = author.get_by_role("button", name=BUTTON)
        button.wait_for()
        self.shot(author, "portal-x-sign-in-drop-phone")
        serious += self.axe(drop_url)
        button.click()
        author.wait_for_url(f"**/t/{ticket.public_id}/")
        assert "4711" in author.locator("#messages").inner_text()
        assert "code=" not in author.url
        assert "state=" not in author.url
        self.shot(author, "portal-x-sign-in-thread-phone")
        assert PortalGrant.objects.filter(ticket=ticket).count() == 1
        assert sim.snapshot()["x"]["oauth2"] == {"codes": 2, "tokens": 2, "revoked": 2}

        desktop_ctx, desktop = self.new_context(DESKTOP)
        desktop.goto(drop_url)
        desktop.get_by_role("button", name=BUTTON).wait_for()
        self.shot(desktop, "portal-x-sign-in-drop-desktop")

        time.sleep(0.3)
        for page in (stranger, author, desktop):
            self.problems += self.csp_violations(page)
        assert self.problems == []
        assert serious == []
        for context in (stranger_ctx, author_ctx, desktop_ctx):
            context.close()
