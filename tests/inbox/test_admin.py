"""Admin: credentials are write-only, and switching a channel on needs the terms review."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from inbox import vault
from inbox.models import AuditEvent, Channel, ChannelStatus
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client: Client) -> Client:
    """A superuser who passed two-factor verification (required for staff)."""
    user = get_user_model().objects.create_superuser("root", password="x" * 12)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def test_channel_token_never_rendered_in_admin(admin_client: Client, team: object) -> None:
    channel = factories.make_channel(
        team=team,
        credentials={"access_token": "tok-SYNTHETIC-1234567890"},  # type: ignore[arg-type]
    )

    pages = [
        admin_client.get(reverse("admin:inbox_channel_change", args=[channel.pk])),
        admin_client.get(reverse("admin:inbox_channel_changelist")),
    ]

    for page in pages:
        assert page.status_code == 200
        assert b"tok-SYNTHETIC-1234567890" not in page.content


def test_admin_creates_channel_with_encrypted_credentials(
    admin_client: Client, team: object
) -> None:
    response = admin_client.post(
        reverse("admin:inbox_channel_add"),
        {
            "team": team.pk,  # type: ignore[attr-defined]
            "platform": "x",
            "name": "Acme on X",
            "external_account_id": "4242",
            "api_base_url": "",
            "poll_interval_seconds": 60,
            "terms_review_notes": "",
            "credentials": json.dumps({"access_token": "tok-NEW-abcdef"}),
        },
    )

    assert response.status_code == 302
    channel = Channel.objects.get(external_account_id="4242")
    assert channel.status == ChannelStatus.DRAFT
    assert vault.decrypt_channel_credentials(channel) == {"access_token": "tok-NEW-abcdef"}


def test_admin_switch_on_refused_before_terms_review(
    admin_client: Client, channel: Channel
) -> None:
    url = reverse("admin:inbox_channel_changelist")

    admin_client.post(url, {"action": "switch_on", "_selected_action": [channel.pk]})

    channel.refresh_from_db()
    assert channel.status == ChannelStatus.DRAFT
    assert not AuditEvent.objects.filter(action="channel.enable").exists()


def test_admin_switch_on_after_terms_review_is_audited(
    admin_client: Client, channel: Channel
) -> None:
    change = reverse("admin:inbox_channel_change", args=[channel.pk])
    admin_client.post(
        change,
        {
            "team": channel.team_id,
            "platform": channel.platform,
            "name": channel.name,
            "external_account_id": channel.external_account_id,
            "api_base_url": "",
            "poll_interval_seconds": 60,
            "terms_review_notes": "Read X's developer terms and privacy policy, 2026 edition.",
            "record_terms_review": "on",
            "credentials": "",
        },
    )

    admin_client.post(
        reverse("admin:inbox_channel_changelist"),
        {"action": "switch_on", "_selected_action": [channel.pk]},
    )

    channel.refresh_from_db()
    assert channel.status == ChannelStatus.ACTIVE
    assert channel.terms_reviewed_by is not None
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions.index("channel.terms_reviewed") < actions.index("channel.enable")


def test_admin_audit_log_is_read_only(admin_client: Client) -> None:
    response = admin_client.get(reverse("admin:inbox_auditevent_add"))

    assert response.status_code == 403
