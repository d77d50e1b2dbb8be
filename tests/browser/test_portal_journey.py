"""The customer journey in Chromium: a Facebook comment with an e-mail address is redirected,
the public link only writes, the private secret opens the thread, and customer and agent talk
live. Screenshots at phone and desktop sizes; axe-core finds no serious or critical issue."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from playwright.sync_api import BrowserContext, Page

from inbox.models import MessageSource, Platform, Ticket
from inbox.services import pipeline
from tests import factories
from tests.browser.conftest import ARTIFACTS, BrowserJourney
from tests.browser.test_agent_inbox import PASSWORD, off_loop
from tests.browser.test_agent_inbox import agent as make_agent

# The order number is long and odd enough that no random token on a page can contain it.
ORDER = "47114223K"
COMMENT = f"Meine Bestellung {ORDER} fehlt, bitte schreiben Sie an lena.park@example.invalid"
EMAIL = "lena.park@example.invalid"
AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


def _require_axe() -> None:
    if not AXE.is_file():
        pytest.fail(
            "axe-core is missing: run `npm ci` at the repository root (package-lock.json pins it)",
            pytrace=False,
        )


@override_settings(
    HAVEN_ORGANISATION_NAME="Acme Shop GmbH",
    HAVEN_PRIVACY_NOTICE_URL="https://acme.example/privacy",
)
@pytest.mark.browser
class PortalJourney(BrowserJourney):
    def check_requirements(self) -> None:
        _require_axe()

    # --- helpers ---------------------------------------------------------------------------

    def new_context(self, viewport: dict[str, int], **options: Any) -> tuple[BrowserContext, Page]:
        return self.watched_page(dialogs=False, viewport=viewport, **options)

    def local(self, url: str) -> str:
        """Links carry HAVEN_BASE_URL; the live server listens elsewhere."""
        return re.sub(r"^https?://[^/]+", self.live_server_url, url)

    def check_csp(self, *pages: Page) -> None:
        for page in pages:
            self.problems += [f"csp: {v}" for v in page.evaluate("window.__haven_csp || []")]
        assert self.problems == []

    def axe(self, page: Page, name: str) -> list[str]:
        """axe-core's serious and critical violations on the current page."""
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
            " return r.violations.map(v => ({id: v.id, impact: v.impact,"
            " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)})); }"
        )
        (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(result, indent=2))
        return [
            f"{name}: {v['id']} ({v['impact']}) {v['nodes']}"
            for v in result
            if v["impact"] in ("serious", "critical")
        ]

    def redirect_comment(self, channel: Any) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            comment = self.simulator.sim.customer_facebook_comment(COMMENT, customer="lena")
            pipeline.poll_channel(channel_id=channel.pk)
            return comment  # type: ignore[no-any-return]

        return off_loop(run)

    # --- the journey -----------------------------------------------------------------------

    def test_customer_journey_drop_box_secret_exchange_and_live_thread(self) -> None:
        team = factories.TeamFactory(name="Support")
        make_agent(team, "alice")
        channel = factories.simulated_channel(
            team=team, simulator=self.simulator, platform=Platform.FACEBOOK
        )

        # A comment with an e-mail address: public reply with the link, hidden, private reply.
        comment = self.redirect_comment(channel)
        state = self.simulator.sim.snapshot()["facebook"]
        assert comment["comment_id"] in state["hidden_comment_ids"]
        (public,) = state["replies"]
        drop_url = self.local(re.search(r"https?://\S+/s/[A-Za-z0-9_-]+", public["message"])[0])
        (private,) = state["private_replies"]
        read_url = self.local(re.search(r"https?://\S+/r/#t=[A-Za-z0-9_-]+", private["message"])[0])
        ticket = Ticket.objects.get()

        # The public link in a fresh browser: write-only, nothing of the thread.
        customer_ctx, customer = self.new_context(PHONE)
        customer.goto(drop_url)
        customer.get_by_role("heading", name="Let's continue privately").wait_for()
        assert customer.get_by_role("link", name="Read our privacy notice").is_visible()
        assert "Acme Shop GmbH controls the data" in customer.locator("main").inner_text()
        html = customer.content()
        assert EMAIL not in html
        assert ORDER not in html
        assert customer.locator("#messages").count() == 0
        assert customer.get_by_label("Your message").is_visible()
        self.shot(customer, "portal-drop-phone")

        # The private secret: the interstitial strips the fragment, the POST exchanges it.
        customer.goto(read_url)
        button = customer.get_by_role("button", name="Open the conversation")
        button.wait_for()
        assert "#t=" not in customer.url
        assert customer.locator("meta[property^='og:']").count() == 0
        self.shot(customer, "portal-interstitial-phone")
        button.click()
        customer.wait_for_url(f"**/t/{ticket.public_id}/")
        customer.locator("html[data-live='open']").wait_for(state="attached")
        assert ORDER in customer.locator("#messages").inner_text()

        # The agent has the ticket open; the customer writes and the agent sees it live.
        agent_ctx, agent_page = self.new_context(DESKTOP)
        agent_page.goto(f"{self.live_server_url}/login/")
        agent_page.get_by_label("Username").fill("alice")
        agent_page.get_by_label("Password").fill(PASSWORD)
        agent_page.get_by_role("button", name="Sign in").click()
        agent_page.wait_for_url(f"{self.live_server_url}/")
        agent_page.goto(f"{self.live_server_url}/tickets/{ticket.public_id}/")
        agent_page.locator("html[data-live='open']").wait_for(state="attached")

        customer.get_by_label("Your message").fill("Is there any news about my parcel?")
        customer.get_by_role("button", name="Send", exact=True).click()
        customer.wait_for_url(f"**/t/{ticket.public_id}/#compose")
        customer.locator("#messages", has_text="any news about my parcel").wait_for()
        agent_page.locator("#ticket-thread", has_text="any news about my parcel").wait_for()
        assert ticket.messages.filter(source=MessageSource.PORTAL).count() == 1

        # The agent answers; the customer sees it without reloading.
        customer.locator("html[data-live='open']").wait_for(state="attached")
        customer.evaluate("window.__haven_same_page = true")
        agent_page.locator("#id_reply-body").fill("It ships today, sorry for the wait.")
        agent_page.get_by_role("button", name="Send reply").click()
        customer.locator("#messages", has_text="It ships today").wait_for()
        assert customer.evaluate("window.__haven_same_page === true"), "the page reloaded"
        self.shot(customer, "portal-thread-phone")

        customer.set_viewport_size(DESKTOP)
        self.shot(customer, "portal-thread-desktop")
        time.sleep(0.3)
        self.check_csp(customer, agent_page)

        # Accessibility: axe-core in a CSP-bypassing context with the same session cookie.
        axe_ctx = self.browser.new_context(viewport=PHONE, bypass_csp=True)
        axe_ctx.add_cookies(customer_ctx.cookies())
        axe_page = axe_ctx.new_page()
        serious: list[str] = []
        for name, url in (
            ("drop", drop_url),
            ("interstitial", f"{self.live_server_url}/r/"),
            ("thread", f"{self.live_server_url}/t/{ticket.public_id}/"),
        ):
            for size_name, size in (("phone", PHONE), ("desktop", DESKTOP)):
                axe_page.set_viewport_size(size)
                axe_page.goto(url)
                serious += self.axe(axe_page, f"{name}-{size_name}")
        axe_page.set_viewport_size(PHONE)
        axe_page.goto(f"{self.live_server_url}/r/")
        axe_page.locator("#exchange-form").evaluate(
            "(form) => { form.t.value = 'x'.repeat(43);"
            " form.querySelector('button').disabled = false; }"
        )
        axe_page.get_by_role("button", name="Open the conversation").click()
        axe_page.get_by_role("heading", name="This link does not work any more").wait_for()
        self.shot(axe_page, "portal-link-invalid-phone")
        serious += self.axe(axe_page, "link-invalid")
        assert serious == []

        drop_desktop_ctx, drop_desktop = self.new_context(DESKTOP)
        drop_desktop.goto(drop_url)
        self.shot(drop_desktop, "portal-drop-desktop")
        self.check_csp(drop_desktop)
        for context in (customer_ctx, agent_ctx, axe_ctx, drop_desktop_ctx):
            context.close()

    def test_portal_reads_and_writes_without_javascript_in_german(self) -> None:
        from inbox.services import secrets
        from inbox.services.threads import add_message, open_ticket

        team = factories.TeamFactory(name="Support")
        channel = factories.make_channel(team=team)

        def arrange() -> tuple[Ticket, str, str]:
            ticket = open_ticket(team=team, channel=channel, customer_handle="@kim")
            add_message(
                ticket=ticket, kind="inbound", source=MessageSource.SOCIAL, body="Paket fehlt"
            )
            return (
                ticket,
                secrets.issue_drop_ref(ticket=ticket),
                secrets.issue_read_secret(ticket=ticket),
            )

        ticket, drop_ref, secret = off_loop(arrange)
        context, page = self.new_context(PHONE, java_script_enabled=False, locale="de-DE")

        page.goto(f"{self.live_server_url}/s/{drop_ref}")
        page.get_by_role("heading", name="Lassen Sie uns privat weiterschreiben").wait_for()
        self.shot(page, "portal-drop-phone-de")
        page.get_by_label("Ihre Nachricht").fill("Ohne JavaScript über den Briefkasten")
        page.get_by_role("button", name="Sicher senden").click()
        page.get_by_role("heading", name="Danke, Ihre Nachricht ist bei uns angekommen").wait_for()

        page.goto(f"{self.live_server_url}/r/{secret}")
        page.get_by_role("button", name="Unterhaltung öffnen").click()
        page.wait_for_url(f"**/t/{ticket.public_id}/")
        assert "Paket fehlt" in page.locator("#messages").inner_text()
        # The unverified drop-box message is for agents only, never shown in the thread.
        assert "Briefkasten" not in page.locator("#messages").inner_text()
        page.get_by_label("Ihre Nachricht").fill("Ohne JavaScript geschrieben")
        page.get_by_role("button", name="Senden", exact=True).click()
        page.locator("#messages", has_text="Ohne JavaScript geschrieben").wait_for()
        self.shot(page, "portal-thread-phone-de-nojs")
        assert ticket.messages.filter(source=MessageSource.PORTAL).count() == 1
        assert ticket.messages.filter(source=MessageSource.DROP, verified=False).count() == 1
        context.close()
