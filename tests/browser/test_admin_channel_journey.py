"""The admin journey in Chromium: connect a simulated X account, terms review, policy, preview.

The connect form offers its "API base URL" field only with DEBUG on (a custom host receives the
channel's credentials), so this live server runs with DEBUG on to point the channel at the
in-process simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.db import connection
from django.test import override_settings
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import BrowserContext, Page, expect

from inbox.models import (
    AuditEvent,
    Channel,
    ChannelPolicy,
    ChannelStatus,
    InboundMessage,
    OutboxAction,
    Role,
    Team,
)
from inbox.services import envelopes, pipeline
from tests import factories
from tests.browser.conftest import BrowserJourney
from tests.inbox.test_envelopes import _feed_body

PASSWORD = "correct horse battery"
MENTION = "@acme my order never arrived, write to jana.beispiel@example.org"
TEMPLATE = "Let's continue privately: {link} (ref {ref})"
T = TypeVar("T")


def off_loop(fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Run ``fn`` in a plain thread: Playwright's event loop owns this one."""

    def call() -> T:
        try:
            return fn(**kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


@override_settings(DEBUG=True)
@pytest.mark.browser
class AdminChannelJourney(BrowserJourney):
    # --- helpers ---------------------------------------------------------------------------

    def new_page(
        self, *, width: int = 1280, height: int = 900, state: Any = None, javascript: bool = True
    ) -> tuple[BrowserContext, Page]:
        return self.watched_page(
            dialogs=False,
            console_ignores=("409",),
            viewport={"width": width, "height": height},
            storage_state=state,
            java_script_enabled=javascript,
        )

    def check_clean(self, page: Page) -> None:
        self.problems += [f"csp: {v}" for v in page.evaluate("window.__haven_csp || []")]
        assert self.problems == []

    def make_admin(self) -> tuple[Any, TOTPDevice]:
        team = factories.TeamFactory(name="Support")
        user = factories.agent_of(team, role=Role.ADMIN, username="ada")
        hasher = Argon2PasswordHasher()  # the live server checks passwords as production does
        user.password = hasher.encode(PASSWORD, hasher.salt())
        user.save(update_fields=["password"])
        device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
        return user, device

    def login(self, page: Page, device: TOTPDevice) -> None:
        page.goto(f"{self.live_server_url}/channels/")
        page.get_by_label("Username").fill("ada")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        page.locator("input[name=token]").fill(f"{totp.token():06d}")
        page.get_by_role("button", name="Verify").click()
        page.wait_for_url(f"{self.live_server_url}/channels/")

    # --- the journey -------------------------------------------------------------------------

    def test_admin_connects_x_reviews_terms_edits_policy_and_next_mention_follows(self) -> None:
        _admin, device = self.make_admin()
        credentials = self.simulator.credentials("x")
        context, page = self.new_page()
        self.login(page, device)
        self.shot(page, "admin-channels-list-empty")

        # Connect the simulated X account: the secrets go in once and never come back.
        page.get_by_role("link", name="Connect X").click()
        page.fill("input[name=name]", "Acme on X")
        page.fill("input[name=external_account_id]", credentials["user_id"])
        page.fill("input[name=username]", credentials["username"])
        for key in ("consumer_key", "consumer_secret", "access_token", "access_token_secret"):
            page.fill(f"input[name={key}]", credentials[key])
        page.fill("input[name=api_base_url]", self.simulator.base_url)
        self.shot(page, "admin-channel-connect")
        page.get_by_role("button", name="Connect (stays off)").click()
        expect(page.locator("#channel-status")).to_have_text("Draft (not switched on)")
        for key in ("consumer_secret", "access_token", "access_token_secret"):
            assert credentials[key] not in page.content()

        page.get_by_role("button", name="Test connection").click()
        expect(page.locator("#connection-result")).to_contain_text("Connected.")
        expect(page.locator("#connection-result")).to_contain_text(credentials["user_id"])
        assert page.locator("#webhook-url").text_content() == (
            f"{settings.HAVEN_BASE_URL}/webhooks/x/{Channel.objects.get().public_id}/"
        )
        self.shot(page, "admin-channel-detail-tested")

        # Switching on is refused until the terms review is recorded.
        page.get_by_role("button", name="Switch on").click()
        expect(page.locator("#enable-error")).to_contain_text("privacy terms")
        self.shot(page, "admin-channel-enable-refused")
        assert Channel.objects.get().status == ChannelStatus.DRAFT

        page.get_by_label("I have read the platform's current privacy").check()
        page.get_by_label("Notes").fill("X Privacy Policy and Developer Agreement, 2026-11.")
        page.get_by_role("button", name="Record the review").click()
        expect(page.locator("#terms-reviewed")).to_contain_text("Reviewed by ada")
        page.get_by_role("button", name="Switch on").click()
        expect(page.locator("#channel-status")).to_have_text("Active")
        assert AuditEvent.objects.filter(action="channel.terms_reviewed").exists()

        # Policy: only e-mail addresses trigger, reply with the link, a custom English template.
        page.get_by_role("link", name="Edit the policy").click()
        page.get_by_label("E-mail address", exact=True).check()
        page.get_by_label("Public reply on X").select_option("link")
        page.fill("input[name=template_link_en]", TEMPLATE)
        page.get_by_label("Sample message").fill(MENTION)
        page.get_by_role("button", name="Preview").click()
        result = page.locator("#preview-result")
        expect(result).to_be_visible()
        expect(page.locator("#preview-findings")).to_contain_text("EMAIL")
        expect(page.locator("#preview-decision")).to_have_text("Redirect")
        expect(page.locator("#preview-reply")).to_have_text(
            "Let's continue privately: https://haven.example/s/PREVIEW (ref HV-PREVIEW)"
        )
        expect(page.locator("#preview-reply-cost")).to_have_text("0.200")
        self.shot(page, "admin-policy-preview-desktop")
        page.get_by_role("button", name="Save policy").click()
        expect(page.locator("#policy-saved")).to_contain_text("Saved.")
        policy = ChannelPolicy.objects.get()
        assert policy.trigger_labels == ["EMAIL"]
        assert policy.reply_templates == {"link:en": TEMPLATE}

        # Without JavaScript the preview is a form post that renders the same page.
        _plain_context, plain = self.new_page(state=context.storage_state(), javascript=False)
        plain.goto(page.url)
        plain.get_by_label("Sample message").fill(MENTION)
        plain.get_by_role("button", name="Preview").click()
        expect(plain.locator("#preview-decision")).to_have_text("Redirect")
        expect(plain.locator("#preview-reply")).to_contain_text("HV-PREVIEW")
        self.shot(plain, "admin-policy-preview-nojs")

        # Phone width: the same session, the policy page and its preview.
        _phone_context, phone = self.new_page(width=390, height=844, state=context.storage_state())
        phone.goto(page.url)
        phone.get_by_label("Sample message").fill(MENTION)
        phone.get_by_role("button", name="Preview").click()
        expect(phone.locator("#preview-decision")).to_have_text("Redirect")
        self.shot(phone, "admin-policy-preview-phone")
        phone.goto(f"{self.live_server_url}/channels/{Channel.objects.get().public_id}/")
        self.shot(phone, "admin-channel-detail-phone")
        phone.goto(f"{self.live_server_url}/channels/")
        self.shot(phone, "admin-channels-list-phone")
        page.goto(f"{self.live_server_url}/channels/")
        self.shot(page, "admin-channels-list")

        # The next simulated mention follows the new policy.
        self.simulator.sim.customer_x_mention(MENTION)
        off_loop(pipeline.poll_channel, channel_id=Channel.objects.get().pk)
        action = OutboxAction.objects.get(kind="public_reply")
        replies = self.simulator.sim.snapshot()["x"]["replies"]
        assert action.ticket is not None
        assert len(replies) == 1
        text = str(replies[0]["text"])
        assert text.startswith("Let's continue privately: http")
        assert text.endswith(f"(ref {action.ticket.reference})")
        self.check_clean(page)
        self.check_clean(phone)

    def test_admin_reprocesses_a_delivery_haven_could_not_read(self) -> None:
        _admin, device = self.make_admin()
        channel = factories.simulated_channel(
            team=Team.objects.get(name="Support"), simulator=self.simulator, platform="facebook"
        )
        body = _feed_body(channel, f"{channel.external_account_id}_902", "Where is my order?")
        off_loop(envelopes.quarantine_body, channel=channel, body=body, reason="malformed")
        _context, page = self.new_page()
        self.login(page, device)

        page.goto(f"{self.live_server_url}/channels/{channel.public_id}/")
        panel = page.locator("#envelopes")
        assert "1 signed delivery is kept, encrypted" in panel.inner_text()
        assert "Where is my order?" not in page.content()  # the body is never shown
        self.shot(page, "admin-channel-envelopes")
        panel.get_by_role("button", name="Reprocess").click()

        expect(page.locator("#reprocess-result")).to_contain_text(
            "Reprocessed 1, new messages 1, still unreadable 0."
        )
        assert "every signed delivery was read" in page.locator("#envelopes").inner_text()
        assert InboundMessage.objects.filter(channel=channel).count() == 1
        self.check_clean(page)
