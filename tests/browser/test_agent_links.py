"""The agent's side of the customer links in Chromium: end access with a new private link, replace
the public link, reply to an e-mail contact and link it to the author; with and without JS."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import BrowserContext, Page

from inbox import portal_selectors
from inbox.exceptions import LinkExpired
from inbox.models import (
    Channel,
    ContactMessage,
    OutboxAction,
    OutboxKind,
    Platform,
    PortalContact,
    PortalSecret,
    SecretKind,
    Ticket,
)
from inbox.services import pipeline, portal, secrets
from tests import factories
from tests.browser.conftest import BrowserJourney
from tests.browser.test_agent_inbox import PASSWORD, agent, off_loop

CONTACT_EMAIL = "kim.muster@example.invalid"
AUTHOR_TEXT = "my order is late"


def _ticket_with_dm_and_contact(*, simulator: Any, team: Any) -> tuple[Ticket, str]:
    """An X DM through the real pipeline (private link sent), a public drop link, and a
    confirmed e-mail contact who wrote through the drop box."""
    channel = factories.simulated_channel(team=team, simulator=simulator, platform=Platform.X)
    simulator.sim.customer_x_dm(f"Hi, {AUTHOR_TEXT}, mail me at tom@example.invalid")
    Channel.objects.filter(pk=channel.pk).update(next_poll_at=None)
    pipeline.poll_channel(channel_id=channel.pk)
    ticket = Ticket.objects.get(channel=channel)
    drop_ref = secrets.issue_drop_ref(ticket=ticket)
    portal.add_drop_message(
        ticket=ticket, body="Kim here, same order", idempotency_key=None, email=CONTACT_EMAIL
    )
    PortalContact.objects.filter(ticket=ticket).update(verified_at=timezone.now())
    return ticket, drop_ref


@pytest.mark.browser
class AgentLinksJourney(BrowserJourney):
    def new_page(
        self, *, javascript: bool = True, viewport: dict[str, int] | None = None
    ) -> tuple[BrowserContext, Page]:
        return self.watched_page(
            viewport=viewport or {"width": 1280, "height": 900}, java_script_enabled=javascript
        )

    def login(self, page: Page, username: str) -> None:
        page.goto(f"{self.live_server_url}/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{self.live_server_url}/")

    def check_clean(self, page: Page) -> None:
        violations = page.evaluate("window.__haven_csp || []")
        assert self.problems + [f"csp: {v}" for v in violations] == []

    def test_agent_ends_access_replaces_link_and_answers_a_contact(self) -> None:
        team = factories.TeamFactory(name="Support")
        agent(team, "alice")
        ticket, old_drop_ref = off_loop(
            _ticket_with_dm_and_contact, simulator=self.simulator, team=team
        )
        first_secret = PortalSecret.objects.get(ticket=ticket, kind=SecretKind.READ)
        _, page = self.new_page()
        self.login(page, "alice")

        # The ticket page: customer links and the confirmed e-mail contact.
        page.goto(f"{self.live_server_url}/tickets/{ticket.public_id}/")
        page.locator("html[data-live='open']").wait_for(state="attached")
        side = page.locator("#ticket-side")
        assert CONTACT_EMAIL in side.inner_text()
        assert "From an e-mail contact" in page.locator("#ticket-thread").inner_text()
        self.shot(page, "agent-ticket-links")

        # End access and send a new private link into the X DM conversation.
        side.get_by_role("link", name="End access or send a new private link…").click()
        assert "A new private link can go to the customer on X" in page.content()
        self.shot(page, "agent-end-access")
        page.get_by_label("I understand that the customer needs a new link").check()
        page.get_by_role("button", name="End access and send a new private link").click()
        page.wait_for_url("**?done=link_queued")
        assert "a new private link is on its way" in page.locator(".notice").inner_text()
        first_secret.refresh_from_db()
        assert first_secret.revoked_at is not None
        assert OutboxAction.objects.filter(
            ticket=ticket, kind=OutboxKind.PRIVATE_MESSAGE, target_external_id__contains="#link-"
        ).exists()

        # Replace the public link: the old one dies, the new one is shown once, with a copy
        # button (JavaScript) and never posted.
        page.get_by_role("link", name="Replace the public link…").click()
        page.get_by_label("I understand that the link in the public reply stops working.").check()
        page.get_by_role("button", name="Replace the public link").click()
        field = page.locator("#new-link")
        new_link = field.input_value()
        assert "/s/" in new_link
        assert page.get_by_role("button", name="Copy").is_visible()
        self.shot(page, "agent-link-rotated")
        with pytest.raises(LinkExpired):
            off_loop(portal_selectors.drop_box_ticket, drop_ref=old_drop_ref)
        assert self.simulator.sim.snapshot()["x"]["replies"] == []

        # The contact: a reply only for them, then the warned, confirmed link to the author.
        page.goto(f"{self.live_server_url}/tickets/{ticket.public_id}/")
        page.locator("#contacts").get_by_role("link", name=CONTACT_EMAIL).click()
        page.get_by_label("Reply to this contact only").fill("Kim, your parcel left today.")
        page.get_by_role("button", name="Send to this contact").click()
        page.wait_for_url("**?done=contact_replied")
        assert "Kim, your parcel left today." in page.locator("#contact-thread").inner_text()
        assert "Only if you are sure this is the same person." in page.content()
        self.shot(page, "agent-contact")
        page.get_by_label("I checked that this contact is the customer").check()
        page.get_by_role("button", name="Link to the customer").click()
        page.wait_for_url("**?done=contact_linked")
        contact = PortalContact.objects.get(ticket=ticket)
        assert contact.linked_at is not None
        assert ContactMessage.objects.filter(contact=contact).count() == 2
        self.shot(page, "agent-contact-linked")

        # Linked by mistake: one button takes the author's thread away from the contact again.
        page.get_by_role("button", name="Unlink from the customer").click()
        page.wait_for_url("**?done=contact_unlinked")
        assert "Unlinked." in page.locator(".notice").inner_text()
        assert page.get_by_role("button", name="Link to the customer").is_visible()
        contact.refresh_from_db()
        assert contact.linked_at is None
        self.check_clean(page)

    def test_replacing_the_public_link_works_without_javascript(self) -> None:
        team = factories.TeamFactory(name="Support")
        agent(team, "bob")
        ticket, old_drop_ref = off_loop(
            _ticket_with_dm_and_contact, simulator=self.simulator, team=team
        )
        _, page = self.new_page(javascript=False)
        self.login(page, "bob")

        page.goto(f"{self.live_server_url}/tickets/{ticket.public_id}/links/rotate/")
        page.get_by_label("I understand that the link in the public reply stops working.").check()
        page.get_by_role("button", name="Replace the public link").click()

        assert "/s/" in page.locator("#new-link").input_value()
        assert not page.get_by_role("button", name="Copy").is_visible()
        self.shot(page, "agent-link-rotated-nojs")
        with pytest.raises(LinkExpired):
            off_loop(portal_selectors.drop_box_ticket, drop_ref=old_drop_ref)
        self.check_clean(page)

    def test_ending_access_only_turns_off_sign_in_with_x_and_says_so(self) -> None:
        team = factories.TeamFactory(name="Support")
        agent(team, "carol")
        ticket, drop_ref = off_loop(
            _ticket_with_dm_and_contact, simulator=self.simulator, team=team
        )
        customer, drop = self.new_page()
        drop.goto(f"{self.live_server_url}/s/{drop_ref}")
        assert "Sign in with X" in drop.content()
        _, page = self.new_page()
        self.login(page, "carol")

        page.goto(f"{self.live_server_url}/tickets/{ticket.public_id}/access/end/")
        assert "Signing in with X stops working too" in page.content()
        page.get_by_label("I understand that the customer needs a new link").check()
        page.get_by_role("button", name="End access only").click()
        page.wait_for_url("**?done=access_ended")

        side = page.locator("#ticket-side").inner_text()
        assert "Access ended" in side
        assert "needs a new private link" in side
        self.shot(page, "agent-access-ended")
        # The customer's drop box no longer offers Sign in with X.
        drop.reload()
        assert "Sign in with X" not in drop.content()
        customer.close()
        self.check_clean(page)

    def test_linking_and_unlinking_a_contact_updates_the_page_it_has_open(self) -> None:
        team = factories.TeamFactory(name="Support")
        agent(team, "dana")
        ticket, _ = off_loop(_ticket_with_dm_and_contact, simulator=self.simulator, team=team)
        contact = PortalContact.objects.get(ticket=ticket)
        # Kim opens the link from the mail its drop-box message brought, on a phone.
        (notice,) = [m for m in mail.outbox if m.to == [CONTACT_EMAIL]]
        link = re.search(r"https?://\S+/m/#t=[A-Za-z0-9_-]+", notice.body)
        assert link is not None
        _, kim = self.new_page(viewport={"width": 390, "height": 844})
        kim.goto(re.sub(r"^https?://[^/]+", self.live_server_url, link[0]))
        kim.get_by_role("button", name="Open the conversation").click()
        kim.locator("html[data-live='open']").wait_for(state="attached")
        assert "Kim here, same order" in kim.locator("#messages").inner_text()
        assert AUTHOR_TEXT not in kim.locator("#messages").inner_text()
        _, page = self.new_page()
        self.login(page, "dana")
        page.goto(
            f"{self.live_server_url}/tickets/{ticket.public_id}/contacts/{contact.public_id}/"
        )

        # Linked: Kim's open page reloads by itself and shows the author's thread too.
        page.get_by_label("I checked that this contact is the customer").check()
        page.get_by_role("button", name="Link to the customer").click()
        page.wait_for_url("**?done=contact_linked")
        kim.locator("#messages", has_text=AUTHOR_TEXT).wait_for()

        # Unlinked: the page Kim has open drops the author's thread again, without a click.
        kim.locator("html[data-live='open']").wait_for(state="attached")
        page.get_by_role("button", name="Unlink from the customer").click()
        page.wait_for_url("**?done=contact_unlinked")
        kim.wait_for_function(
            "text => !document.querySelector('#messages').innerText.includes(text)",
            arg=AUTHOR_TEXT,
        )
        assert "Kim here, same order" in kim.locator("#messages").inner_text()
        self.shot(kim, "portal-contact-unlinked-phone")
        self.check_clean(page)
        self.check_clean(kim)
