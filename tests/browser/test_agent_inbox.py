"""The agent journey in Chromium: live inbox, redacted thread, reveal, collision, hostile text."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.db import connection
from playwright.sync_api import BrowserContext, Page

from channels_bridge.items import Item, ItemKind
from inbox.models import AuditEvent, InboundMessage, MessageKind, MessageSource, Ticket
from inbox.services.pipeline import ingest_items
from inbox.services.threads import add_message, open_ticket
from tests import factories
from tests.browser.conftest import BrowserJourney

PASSWORD = "correct horse battery"
EMAIL = "lena.park@example.invalid"
HOSTILE_TEXT = (
    "<script>alert('x')</script> <img src=x onerror=\"alert('img')\"> "
    "<a href=\"javascript:alert('js')\">click</a> \u202eevil\u202c zero\u200bwidth"
)
HOSTILE_NAME = "<img src=x onerror=alert(1)>\u202eMallory\u200b"

T = TypeVar("T")


def off_loop(fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Run ``fn`` in a plain thread: Playwright's loop owns this one, and broadcasting on
    commit (async_to_sync) refuses to run inside a running event loop."""

    def call() -> T:
        try:
            return fn(**kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def agent(team: Any, username: str) -> Any:
    """An agent whose password the live server can check: it was forked before the suite's
    fast test hasher was switched on, so it verifies Argon2 as production does."""
    user = factories.agent_of(team, username=username)
    hasher = Argon2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt())
    user.save(update_fields=["password"])
    return user


# Watches for Content-Security-Policy violations from the very first script of every page.


@pytest.mark.browser
class AgentInboxJourney(BrowserJourney):
    # --- helpers ---------------------------------------------------------------------------

    def new_page(self, *, width: int = 1280, height: int = 860) -> tuple[BrowserContext, Page]:
        return self.watched_page(viewport={"width": width, "height": height})

    def login(self, page: Page, username: str) -> None:
        page.goto(f"{self.live_server_url}/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        try:
            page.wait_for_url(f"{self.live_server_url}/")
        except Exception:
            self.shot(page, f"login-failed-{username}")
            raise

    def wait_live(self, page: Page) -> None:
        # A selector, not wait_for_function: the page's CSP forbids string evaluation.
        page.locator("html[data-live='open']").wait_for(state="attached")

    def check_clean(self, *pages: Page) -> None:
        for page in pages:
            violations = page.evaluate("window.__haven_csp || []")
            self.problems += [f"csp: {v}" for v in violations]
        assert self.problems == []

    def arrive(self, channel: Any, *, text: str, handle: str, name: str) -> Ticket:
        """A mention arrives through the pipeline; one the policy ignores (no personal data)
        opens its ticket directly."""
        ticket = off_loop(
            self._arrive_through_pipeline, channel=channel, text=text, handle=handle, name=name
        )
        if ticket is not None:
            return ticket
        return off_loop(self._arrive_directly, channel=channel, text=text, handle=handle, name=name)

    def _arrive_directly(self, *, channel: Any, text: str, handle: str, name: str) -> Ticket:
        ticket = open_ticket(
            team=channel.team,
            channel=channel,
            author_external_id=uuid.uuid4().hex[:12],
            customer_handle=handle,
            customer_name=name,
        )
        start = text.find(EMAIL)
        findings = (
            [{"entity": "EMAIL", "start": start, "end": start + len(EMAIL), "score": 0.99}]
            if start >= 0
            else []
        )
        add_message(
            ticket=ticket,
            kind=MessageKind.INBOUND,
            source=MessageSource.SOCIAL,
            body=text,
            findings=findings,  # type: ignore[arg-type]
        )
        return ticket

    def _arrive_through_pipeline(
        self, *, channel: Any, text: str, handle: str, name: str
    ) -> Ticket | None:
        external_id = str(uuid.uuid4().int)[:18]
        item = Item(
            platform=channel.platform,
            kind=ItemKind.MENTION,
            external_id=external_id,
            author_id=str(uuid.uuid4().int)[:12],
            author_handle=handle,
            author_name=name,
            text=text,
            created_at=datetime.now(tz=UTC),
            permalink=None,
            parent_id=None,
            conversation_id=external_id,
        )
        ingest_items(channel=channel, items=[item])
        inbound = InboundMessage.objects.filter(
            channel=channel, platform_message_id=external_id
        ).first()
        return inbound.ticket if inbound is not None else None

    # --- the journey -----------------------------------------------------------------------

    def test_agent_journey_live_inbox_reveal_collision_and_hostile_text(self) -> None:
        team = factories.TeamFactory(name="Support")
        alice = agent(team, "alice")
        agent(team, "bob")
        channel = factories.simulated_channel(team=team, simulator=self.simulator)
        hostile = self.arrive(
            channel, text=HOSTILE_TEXT, handle="@m\u200ballory", name=HOSTILE_NAME
        )

        alice_ctx, alice_page = self.new_page()
        self.login(alice_page, "alice")
        self.wait_live(alice_page)
        assert alice_page.locator(f"text={hostile.reference}").is_visible()
        alice_page.evaluate("window.__haven_same_page = true")

        # A mention with personal data arrives and shows up without a reload.
        ticket = self.arrive(
            channel,
            text=f"Order 7 never came, write me at {EMAIL} please",
            handle="@lena_p",
            name="Lena Park",
        )
        row = alice_page.locator(f".ticket-row[data-ticket='{ticket.public_id}']")
        row.wait_for()
        assert alice_page.evaluate("window.__haven_same_page === true"), "the page reloaded"
        assert EMAIL not in alice_page.content()
        self.shot(alice_page, "inbox-desktop")

        # Open it: the social message is redacted until revealed, and the reveal is audited.
        row.locator("a").click()
        alice_page.wait_for_url(f"**/tickets/{ticket.public_id}/")
        self.wait_live(alice_page)
        thread = alice_page.locator("#ticket-thread")
        assert "[EMAIL]" in thread.inner_text()
        assert EMAIL not in alice_page.content()
        alice_page.get_by_role("button", name="Reveal personal data").click()
        alice_page.locator("mark.pii-revealed", has_text=EMAIL).wait_for()
        assert AuditEvent.objects.filter(
            purpose="reveal_personal_data",
            actor_id=str(alice.pk),
            ticket_public_id=ticket.public_id,
        ).exists()

        # A second agent opens the same ticket: both see each other; typing shows.
        bob_ctx, bob_page = self.new_page()
        self.login(bob_page, "bob")
        bob_page.goto(f"{self.live_server_url}/tickets/{ticket.public_id}/")
        self.wait_live(bob_page)
        alice_page.locator("#presence", has_text="bob is viewing").wait_for()
        bob_page.locator("#presence", has_text="alice is viewing").wait_for()
        bob_page.locator("#id_reply-body").type("Looking at this")
        alice_page.locator("#presence", has_text="bob is typing").wait_for()
        self.shot(alice_page, "ticket-collision-desktop")

        # Alice assigns it to herself, writes a note and a reply, and marks it pending.
        alice_page.locator("#assignee-select").select_option(label="alice")
        alice_page.get_by_role("button", name="Assign").click()
        alice_page.wait_for_load_state()
        bob_page.locator("#current-assignee", has_text="alice").wait_for()

        alice_page.locator("#id_note-body").fill("Checked the order: shipped late.")
        alice_page.get_by_role("button", name="Add note").click()
        alice_page.wait_for_load_state()
        bob_page.locator("#ticket-thread", has_text="Checked the order: shipped late.").wait_for()

        alice_page.locator("#id_reply-body").fill("Sorry about that, it ships today.")
        alice_page.locator("#id_reply-body").press("Control+Enter")
        alice_page.wait_for_load_state()
        bob_page.locator("#ticket-thread", has_text="it ships today").wait_for()

        alice_page.locator("#status-select").select_option("pending")
        alice_page.get_by_role("button", name="Update").click()
        alice_page.wait_for_load_state()
        bob_page.locator("#current-status", has_text="Waiting for customer").wait_for()
        ticket.refresh_from_db()
        assert (ticket.status, ticket.assignee_id) == ("pending", alice.pk)
        assert ticket.messages.filter(kind="note").count() == 1
        assert ticket.messages.filter(kind="outbound").count() == 1
        self.shot(bob_page, "ticket-after-actions-desktop")

        # Hostile text renders as inert text, in list and ticket, desktop and phone.
        alice_page.goto(f"{self.live_server_url}/tickets/{hostile.public_id}/")
        self.wait_live(alice_page)
        body = alice_page.locator("#ticket-thread").inner_text()
        assert "<script>alert('x')</script>" in body
        assert "\u202e" not in body
        assert "\u200b" not in body
        assert alice_page.locator("#ticket-thread img, #ticket-thread script").count() == 0
        assert alice_page.locator("#ticket-thread a[href^='javascript']").count() == 0
        self.shot(alice_page, "ticket-hostile-desktop")

        # A canned reply, inserted with the keyboard: r focuses the reply box.
        alice_page.goto(f"{self.live_server_url}/canned/")
        alice_page.get_by_label("Title").fill("Shipping delay")
        alice_page.get_by_label("Text").fill("Your order {ref} ships today.")
        alice_page.get_by_role("button", name="Save").click()
        alice_page.locator(".canned-list", has_text="Shipping delay").wait_for()
        self.shot(alice_page, "canned-desktop")
        alice_page.goto(f"{self.live_server_url}/tickets/{ticket.public_id}/")
        alice_page.locator("#canned-select").select_option(label="Shipping delay")
        reply_box = alice_page.locator("#id_reply-body")
        assert reply_box.input_value() == f"Your order {ticket.reference} ships today."
        alice_page.locator("body").click(position={"x": 5, "y": 5})
        alice_page.keyboard.press("n")
        assert alice_page.evaluate("document.activeElement.id") == "id_note-body"
        alice_page.goto(f"{self.live_server_url}/account/2fa/")
        alice_page.locator("#totp-uri").wait_for(state="attached")
        assert "otpauth://totp/" in (alice_page.locator("#totp-uri").text_content() or "")
        self.shot(alice_page, "two-factor-setup")

        phone_ctx, phone_page = self.new_page(width=390, height=844)
        self.login(phone_page, "alice")
        phone_page.goto(f"{self.live_server_url}/?status=")
        self.wait_live(phone_page)
        self.shot(phone_page, "inbox-phone")
        phone_page.goto(f"{self.live_server_url}/tickets/{ticket.public_id}/")
        self.wait_live(phone_page)
        self.shot(phone_page, "ticket-phone")

        time.sleep(0.3)  # let late console messages arrive before checking
        self.check_clean(alice_page, bob_page, phone_page)
        for context in (alice_ctx, bob_ctx, phone_ctx):
            context.close()

    def test_live_updates_paused_banner_and_polling_when_socket_down(self) -> None:
        team = factories.TeamFactory(name="Support")
        agent(team, "carol")
        channel = factories.make_channel(team=team)
        context, page = self.new_page()
        # Every websocket is refused, as when the channel layer or the socket path is down.
        context.route_web_socket("**/ws/**", lambda ws: ws.close(code=1011))
        self.login(page, "carol")

        page.locator("#live-banner").wait_for(state="visible")
        self.shot(page, "inbox-paused")
        ticket = self.arrive(channel, text="Hello there", handle="@newbie", name="New")

        # Polling every 15 s finds it without a reload.
        page.locator(f".ticket-row[data-ticket='{ticket.public_id}']").wait_for(timeout=25_000)
        self.check_clean(page)
        context.close()
