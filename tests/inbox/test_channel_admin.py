"""Channel admin pages: access, write-only credentials, terms review, policy editor, preview."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from channels_bridge.simulator import RunningSimulator
from inbox.dpo import STEP_UP_KEY, STEP_UP_SECONDS
from inbox.models import (
    AuditEvent,
    Channel,
    ChannelPolicy,
    ChannelStatus,
    InboundMessage,
    OutboxAction,
    OutboxKind,
    Platform,
    PolicyMode,
    Role,
    Team,
)
from inbox.services import pipeline
from tests import factories

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
SECRET_TOKEN = "tok-SECRET-never-shown-9f8e7d"
SECRET_KEY = "consumer-SECRET-never-shown-1a2b3c"
EMAIL_TEXT = "my order is late, write to jana.beispiel@example.org please"
CommitRunner = Callable[..., object]


def _verified_login(client: Client, user: AbstractUser) -> AbstractUser:
    """Sign in with a confirmed second factor, as the session middleware demands of admins."""
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return user


@pytest.fixture
def admin(client: Client, team: Team) -> AbstractUser:
    """A team admin (not staff) with a verified second factor."""
    return _verified_login(client, factories.agent_of(team, role=Role.ADMIN))


@pytest.fixture
def draft_channel(team: Team) -> Channel:
    return factories.make_channel(
        team=team, credentials={"user_id": "1", "access_token": SECRET_TOKEN}
    )


def _urls(channel: Channel) -> list[tuple[str, str]]:
    ref = channel.public_id
    return [
        ("get", reverse("channel_admin:list")),
        ("get", reverse("channel_admin:connect", args=["x"])),
        ("get", reverse("channel_admin:detail", args=[ref])),
        ("post", reverse("channel_admin:test", args=[ref])),
        ("post", reverse("channel_admin:terms", args=[ref])),
        ("post", reverse("channel_admin:enable", args=[ref])),
        ("post", reverse("channel_admin:pause", args=[ref])),
        ("get", reverse("channel_admin:credentials", args=[ref])),
        ("post", reverse("channel_admin:reprocess", args=[ref])),
        ("get", reverse("channel_admin:policy", args=[ref])),
        ("post", reverse("channel_admin:preview", args=[ref])),
    ]


def _policy_data(channel: Channel, **overrides: Any) -> dict[str, Any]:
    policy = ChannelPolicy.objects.get(channel=channel)
    data: dict[str, Any] = {
        "mode": policy.mode,
        "trigger_labels": list(policy.trigger_labels),
        "min_score": policy.min_score,
        "retention_days": policy.retention_days,
        "poll_interval_seconds": channel.poll_interval_seconds,
        "x_reply_style": policy.x_reply_style,
        "sample_kind": "mention" if channel.platform == Platform.X else "comment",
    }
    if policy.hide_original:
        data["hide_original"] = "on"
    if policy.send_private_link:
        data["send_private_link"] = "on"
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- access --------------------------------------------------------------------------------


def test_channel_admin_pages_send_anonymous_users_to_login(
    client: Client, draft_channel: Channel
) -> None:
    for method, url in _urls(draft_channel):
        response = getattr(client, method)(url)

        assert response.status_code == 302, url
        assert response.headers["Location"].startswith(reverse("login")), url


def test_channel_admin_pages_are_404_for_agents_who_are_not_admins(
    client: Client, team: Team, draft_channel: Channel
) -> None:
    client.force_login(factories.agent_of(team))

    for method, url in _urls(draft_channel):
        assert getattr(client, method)(url).status_code == 404, url
    assert Channel.objects.get(pk=draft_channel.pk).status == ChannelStatus.DRAFT


def test_channel_admin_pages_are_404_for_another_teams_admin(
    client: Client, draft_channel: Channel
) -> None:
    other = factories.TeamFactory()
    _verified_login(client, factories.agent_of(other, role=Role.ADMIN))
    factories.services.record_terms_review(
        channel=draft_channel, reviewer=factories.UserFactory(), notes="Reviewed terms v3."
    )

    for method, url in _urls(draft_channel)[2:]:
        assert getattr(client, method)(url).status_code == 404, url
    assert draft_channel.name not in client.get(reverse("channel_admin:list")).content.decode()
    assert Channel.objects.get(pk=draft_channel.pk).status == ChannelStatus.DRAFT


def test_channel_admin_staff_see_every_teams_channels(
    client: Client, draft_channel: Channel
) -> None:
    _verified_login(client, factories.UserFactory(is_staff=True))

    response = client.get(reverse("channel_admin:detail", args=[draft_channel.public_id]))

    assert response.status_code == 200


# --- connect and credentials -----------------------------------------------------------------


def test_connect_x_account_stores_credentials_encrypted_and_never_renders_them(
    client: Client, admin: AbstractUser, team: Team
) -> None:
    response = client.post(
        reverse("channel_admin:connect", args=["x"]),
        {
            "team": team.pk,
            "name": "Acme on X",
            "external_account_id": "4242",
            "consumer_key": SECRET_KEY,
            "consumer_secret": SECRET_KEY + "-s",
            "access_token": SECRET_TOKEN,
            "access_token_secret": SECRET_TOKEN + "-s",
        },
    )

    channel = Channel.objects.get(external_account_id="4242")
    assert response.status_code == 302
    assert channel.status == ChannelStatus.DRAFT
    assert SECRET_TOKEN.encode() not in bytes(channel.credentials_ciphertext)
    for url in (
        reverse("channel_admin:detail", args=[channel.public_id]),
        reverse("channel_admin:credentials", args=[channel.public_id]),
        reverse("channel_admin:policy", args=[channel.public_id]),
    ):
        html = client.get(url).content.decode()
        assert SECRET_TOKEN not in html, url
        assert SECRET_KEY not in html, url
    event = AuditEvent.objects.get(action="channel.create")
    assert SECRET_TOKEN not in str(event.data)


def test_connect_form_rerendered_with_errors_keeps_no_secret(
    client: Client, admin: AbstractUser, team: Team
) -> None:
    response = client.post(
        reverse("channel_admin:connect", args=["facebook"]),
        {
            "team": team.pk,
            "name": "",
            "external_account_id": "77",
            "page_access_token": SECRET_TOKEN,
        },
    )

    assert response.status_code == 400
    assert SECRET_TOKEN not in response.content.decode()
    assert not Channel.objects.exists()


def test_connect_ignores_api_base_url_unless_debug(
    client: Client, admin: AbstractUser, team: Team, settings: Any
) -> None:
    settings.DEBUG = False
    client.post(
        reverse("channel_admin:connect", args=["x"]),
        {
            "team": team.pk,
            "name": "Acme",
            "external_account_id": "55",
            "access_token": SECRET_TOKEN,
            "api_base_url": "http://169.254.169.254/",
        },
    )

    assert Channel.objects.get(external_account_id="55").api_base_url == ""


def test_new_credentials_resume_a_channel_that_needs_reauth(
    client: Client, admin: AbstractUser, x_channel: Channel
) -> None:
    Channel.objects.filter(pk=x_channel.pk).update(status=ChannelStatus.NEEDS_REAUTH)
    page = client.get(reverse("channel_admin:detail", args=[x_channel.public_id]))
    assert "Needs re-authorisation" in page.content.decode()

    response = client.post(
        reverse("channel_admin:credentials", args=[x_channel.public_id]),
        {"access_token": SECRET_TOKEN},
    )

    x_channel.refresh_from_db()
    assert response.status_code == 302
    assert x_channel.status == ChannelStatus.ACTIVE
    assert SECRET_TOKEN not in client.get(response.headers["Location"]).content.decode()


# --- test connection and webhooks ------------------------------------------------------------


def test_test_connection_reports_the_account_and_permissions(
    client: Client, admin: AbstractUser, x_channel: Channel
) -> None:
    response = client.post(reverse("channel_admin:test", args=[x_channel.public_id]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Connected." in html
    assert x_channel.external_account_id in html
    assert AuditEvent.objects.filter(action="channel.connection_checked").exists()


def test_test_connection_explains_an_expired_token(
    client: Client, admin: AbstractUser, x_channel: Channel, simulator: RunningSimulator
) -> None:
    simulator.sim.expire_tokens("x")

    response = client.post(reverse("channel_admin:test", args=[x_channel.public_id]))

    assert "expired or was revoked" in response.content.decode()


def test_detail_shows_exact_webhook_url_and_verify_token(
    client: Client, admin: AbstractUser, team: Team, settings: Any
) -> None:
    settings.HAVEN_BASE_URL = "https://haven.example.com"
    channel = factories.make_channel(
        team=team, platform=Platform.FACEBOOK, credentials={"page_access_token": SECRET_TOKEN}
    )

    html = client.get(reverse("channel_admin:detail", args=[channel.public_id])).content.decode()

    assert f"https://haven.example.com/webhooks/facebook/{channel.public_id}/" in html
    assert channel.webhook_verify_token in html
    assert SECRET_TOKEN not in html


# --- terms review and switching on -----------------------------------------------------------


def test_enable_is_refused_before_the_terms_review(
    client: Client, admin: AbstractUser, draft_channel: Channel
) -> None:
    response = client.post(reverse("channel_admin:enable", args=[draft_channel.public_id]))

    assert response.status_code == 409
    assert "privacy terms" in response.content.decode()
    assert Channel.objects.get(pk=draft_channel.pk).status == ChannelStatus.DRAFT


def test_terms_review_recorded_then_enable_switches_on_and_audits(
    client: Client, admin: AbstractUser, draft_channel: Channel
) -> None:
    ref = draft_channel.public_id
    review = client.post(
        reverse("channel_admin:terms", args=[ref]),
        {"confirm": "on", "notes": "X privacy policy of 2026-09, DM and hiding terms."},
    )
    enable = client.post(reverse("channel_admin:enable", args=[ref]))

    draft_channel.refresh_from_db()
    assert review.status_code == 302
    assert enable.status_code == 302
    assert draft_channel.status == ChannelStatus.ACTIVE
    assert draft_channel.terms_reviewed_by_id == admin.pk
    assert AuditEvent.objects.filter(
        action="channel.terms_reviewed", actor_id=str(admin.pk)
    ).exists()
    assert AuditEvent.objects.filter(action="channel.enable").exists()
    assert (
        admin.get_username()
        in client.get(reverse("channel_admin:detail", args=[ref])).content.decode()
    )


def test_terms_review_needs_the_confirmation_and_notes(
    client: Client, admin: AbstractUser, draft_channel: Channel
) -> None:
    response = client.post(
        reverse("channel_admin:terms", args=[draft_channel.public_id]), {"notes": "ok"}
    )

    assert response.status_code == 400
    assert not Channel.objects.get(pk=draft_channel.pk).terms_reviewed


# --- policy editor ---------------------------------------------------------------------------


def test_policy_edit_saves_and_audits_field_names_only(
    client: Client, admin: AbstractUser, x_channel: Channel
) -> None:
    template = "Bitte schreiben Sie uns privat: {link} ({ref})"
    response = client.post(
        reverse("channel_admin:policy", args=[x_channel.public_id]),
        _policy_data(
            x_channel,
            trigger_labels=["EMAIL", "PHONE"],
            min_score="0.7",
            x_reply_style="link",
            template_link_de=template,
            poll_interval_seconds=120,
        ),
    )

    policy = ChannelPolicy.objects.get(channel=x_channel)
    assert response.status_code == 200
    assert "Saved." in response.content.decode()
    assert policy.trigger_labels == ["EMAIL", "PHONE"]
    assert policy.min_score == 0.7
    assert policy.reply_templates == {"link:de": template}
    assert Channel.objects.get(pk=x_channel.pk).poll_interval_seconds == 120
    event = AuditEvent.objects.get(action="policy.update")
    assert set(event.data["fields"]) >= {"trigger_labels", "reply_templates", "min_score"}
    assert "privat" not in str(event.data)


def test_policy_edit_rejects_a_template_without_the_link(
    client: Client, admin: AbstractUser, x_channel: Channel
) -> None:
    response = client.post(
        reverse("channel_admin:policy", args=[x_channel.public_id]),
        _policy_data(x_channel, template_link_en="Write to us ({ref})"),
    )

    assert response.status_code == 400
    assert "must contain {link}" in response.content.decode()
    assert ChannelPolicy.objects.get(channel=x_channel).reply_templates == {}


def test_policy_redirect_off_requires_step_up(
    client: Client, admin: AbstractUser, x_channel: Channel
) -> None:
    url = reverse("channel_admin:policy", args=[x_channel.public_id])

    refused = client.post(url, _policy_data(x_channel, mode=PolicyMode.OBSERVE))
    wrong = client.post(url, _policy_data(x_channel, mode=PolicyMode.OBSERVE, password="nope"))

    assert refused.status_code == 403
    assert wrong.status_code == 403
    assert ChannelPolicy.objects.get(channel=x_channel).mode == PolicyMode.REDIRECT_ON_PII

    done = client.post(url, _policy_data(x_channel, mode=PolicyMode.OBSERVE, password=PASSWORD))

    assert done.status_code == 200
    assert ChannelPolicy.objects.get(channel=x_channel).mode == PolicyMode.OBSERVE
    assert AuditEvent.objects.filter(action="auth.step_up", actor_id=str(admin.pk)).exists()


def test_policy_step_up_lasts_five_minutes(
    client: Client, admin: AbstractUser, x_channel: Channel
) -> None:
    url = reverse("channel_admin:policy", args=[x_channel.public_id])
    session = client.session
    session[STEP_UP_KEY] = time.time() - STEP_UP_SECONDS - 5
    session.save()
    assert client.post(url, _policy_data(x_channel, mode="observe")).status_code == 403

    session = client.session
    session[STEP_UP_KEY] = time.time() - 30
    session.save()
    assert client.post(url, _policy_data(x_channel, mode="observe")).status_code == 200


def test_shorter_retention_is_scheduled_not_applied(
    client: Client, admin: AbstractUser, x_channel: Channel
) -> None:
    url = reverse("channel_admin:policy", args=[x_channel.public_id])

    refused = client.post(url, _policy_data(x_channel, retention_days=30))
    done = client.post(url, _policy_data(x_channel, retention_days=30, password=PASSWORD))

    policy = ChannelPolicy.objects.get(channel=x_channel)
    assert refused.status_code == 403
    assert done.status_code == 200
    assert policy.retention_days == 90
    assert policy.pending_retention_days == 30
    assert policy.pending_retention_effective_at is not None
    assert "grace period" in done.content.decode()


def test_longer_retention_needs_no_step_up(
    client: Client, admin: AbstractUser, x_channel: Channel
) -> None:
    response = client.post(
        reverse("channel_admin:policy", args=[x_channel.public_id]),
        _policy_data(x_channel, retention_days=180),
    )

    assert response.status_code == 200
    assert ChannelPolicy.objects.get(channel=x_channel).retention_days == 180


# --- preview -------------------------------------------------------------------------------


def test_preview_without_js_shows_findings_decision_reply_and_cost(
    client: Client, admin: AbstractUser, x_channel: Channel
) -> None:
    response = client.post(
        reverse("channel_admin:preview", args=[x_channel.public_id]),
        _policy_data(x_channel, x_reply_style="link", sample=EMAIL_TEXT),
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "EMAIL" in html
    assert "jana.beispiel@example.org" in html  # shown to the admin on this page only
    assert "personal data found: EMAIL" in html
    assert "https://haven.example/s/PREVIEW" in html
    assert "HV-PREVIEW" in html
    assert 'id="preview-reply-cost">0.200<' in html  # a post with a URL on X
    assert 'id="preview-cost">0.215<' in html  # plus the DM with the private link


def test_preview_with_fetch_answers_json_and_stores_nothing(
    client: Client, admin: AbstractUser, x_channel: Channel, caplog: pytest.LogCaptureFixture
) -> None:
    audit_before = AuditEvent.objects.count()

    response = client.post(
        reverse("channel_admin:preview", args=[x_channel.public_id]),
        _policy_data(x_channel, sample=EMAIL_TEXT),
        headers={"X-Requested-With": "fetch"},
    )

    data = response.json()
    assert data["decision"]["redirect"] is True
    assert data["findings"][0]["entity"] == "EMAIL"
    assert "{link}" not in data["reply_text"]
    assert "HV-PREVIEW" in data["reply_text"]
    assert float(data["cost"]) > 0
    assert not InboundMessage.objects.exists()
    assert AuditEvent.objects.count() == audit_before
    assert "jana.beispiel" not in caplog.text


def test_preview_uses_unsaved_form_values(
    client: Client, admin: AbstractUser, x_channel: Channel
) -> None:
    response = client.post(
        reverse("channel_admin:preview", args=[x_channel.public_id]),
        _policy_data(x_channel, trigger_labels=["PHONE"], sample=EMAIL_TEXT),
        headers={"X-Requested-With": "fetch"},
    )

    assert response.json()["decision"]["redirect"] is False
    assert ChannelPolicy.objects.get(channel=x_channel).trigger_labels == []


# --- the policy drives the pipeline --------------------------------------------------------


def test_policy_edit_changes_the_next_processed_message(
    client: Client,
    admin: AbstractUser,
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    client.post(
        reverse("channel_admin:policy", args=[x_channel.public_id]),
        _policy_data(x_channel, trigger_labels=["PHONE"]),
    )
    simulator.sim.customer_x_mention(EMAIL_TEXT)
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.poll_channel(channel_id=x_channel.pk)
    assert not OutboxAction.objects.exists()

    client.post(
        reverse("channel_admin:policy", args=[x_channel.public_id]),
        _policy_data(
            x_channel,
            trigger_labels=["EMAIL"],
            x_reply_style="link",
            template_link_en="Let us talk privately: {link} {ref}",
        ),
    )
    simulator.sim.customer_x_mention(EMAIL_TEXT)
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.poll_channel(channel_id=x_channel.pk)

    action = OutboxAction.objects.get(kind=OutboxKind.PUBLIC_REPLY)
    replies = simulator.sim.snapshot()["x"]["replies"]
    assert action.ticket is not None
    assert len(replies) == 1
    assert str(replies[0]["text"]).startswith("Let us talk privately: http")
    assert str(replies[0]["text"]).endswith(action.ticket.reference)


def test_django_admin_change_page_never_renders_channel_credentials(
    client: Client, draft_channel: Channel
) -> None:
    _verified_login(client, factories.UserFactory(is_staff=True, is_superuser=True))

    response = client.get(reverse("admin:inbox_channel_change", args=[draft_channel.pk]))

    assert response.status_code == 200
    assert SECRET_TOKEN not in response.content.decode()


def test_detail_shows_rate_limit_and_last_error(
    client: Client, admin: AbstractUser, x_channel: Channel
) -> None:
    Channel.objects.filter(pk=x_channel.pk).update(
        rate_limited_until=timezone.now() + timedelta(minutes=5),
        last_error_code="rate_limited",
        last_error_at=timezone.now(),
    )

    html = client.get(reverse("channel_admin:detail", args=[x_channel.public_id])).content.decode()

    assert "Limited by the platform until" in html
    assert "rate_limited" in html


def test_facebook_policy_page_saves_without_x_settings(
    client: Client, admin: AbstractUser, team: Team
) -> None:
    channel = factories.make_channel(team=team, platform=Platform.FACEBOOK)
    url = reverse("channel_admin:policy", args=[channel.public_id])
    page = client.get(url).content.decode()
    data = _policy_data(channel, template_link_fr="Continuons en privé : {link} ({ref})")
    del data["x_reply_style"]

    response = client.post(url, data)

    assert 'name="x_reply_style"' not in page
    assert response.status_code == 200
    assert ChannelPolicy.objects.get(channel=channel).reply_templates == {
        "link:fr": "Continuons en privé : {link} ({ref})"
    }
