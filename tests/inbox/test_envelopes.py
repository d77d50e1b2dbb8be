"""Quarantined webhook bodies (InboundEnvelope): kept encrypted, reprocessed, expired, erased."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.management import call_command
from django.db import OperationalError, connection
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

import channels_bridge.webhooks as bridge_webhooks
from channels_bridge import signatures
from channels_bridge.errors import MalformedPayload
from channels_bridge.simulator import RunningSimulator
from inbox import audit, vault
from inbox.models import (
    AuditEvent,
    Channel,
    ChannelPolicy,
    EnvelopeStatus,
    InboundEnvelope,
    InboundMessage,
    Platform,
    Role,
    Team,
)
from inbox.services import envelopes, gdpr
from tests import factories
from tests.conftest import HttpsClient

pytestmark = pytest.mark.django_db

CANARY = "canary-7f3a9c-jana.beispiel@example.org"
AUTHOR_ID = "2400000000000077"


@pytest.fixture
def fb_channel(team: Team, simulator: RunningSimulator) -> Channel:
    return factories.simulated_channel(team=team, simulator=simulator, platform=Platform.FACEBOOK)


@pytest.fixture
def secret(simulator: RunningSimulator) -> str:
    return simulator.credentials("facebook")["app_secret"]


def _url(channel: Channel) -> str:
    return reverse(
        "webhook", kwargs={"platform": channel.platform, "channel_ref": channel.public_id}
    )


def _malformed_body(text: str = CANARY) -> bytes:
    # Signed by the platform, but ``changes`` is not a list: the parser refuses it.
    return json.dumps(
        {"object": "page", "entry": [{"id": 7, "changes": "not a list", "message": text}]}
    ).encode()


def _feed_body(channel: Channel, comment_id: str, text: str) -> bytes:
    when = int(timezone.now().timestamp())
    return json.dumps(
        {
            "object": "page",
            "entry": [
                {
                    "id": channel.external_account_id,
                    "time": when,
                    "changes": [
                        {
                            "field": "feed",
                            "value": {
                                "item": "comment",
                                "verb": "add",
                                "comment_id": comment_id,
                                "post_id": f"{channel.external_account_id}_555",
                                "parent_id": f"{channel.external_account_id}_555",
                                "from": {"id": AUTHOR_ID, "name": "Jana Beispiel"},
                                "message": text,
                                "created_time": when,
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()


def _post(client: Client, channel: Channel, body: bytes, secret: str | None) -> HttpResponse:
    headers = {}
    if secret is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signatures.facebook_signature(secret, body)
    return client.post(  # type: ignore[return-value]  # the test client's response
        _url(channel), data=body, content_type="application/json", **headers
    )


def _refuse_everything(*args: object, **kwargs: object) -> object:
    raise MalformedPayload("parser not fixed yet")


def _raw_rows() -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM inbox_inboundenvelope")
        return [tuple(row) for row in cursor.fetchall()]


def _as_bytes(value: object) -> bytes:
    if isinstance(value, memoryview):
        return value.tobytes()
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def _age(envelope: InboundEnvelope, when: datetime) -> None:
    InboundEnvelope.objects.filter(pk=envelope.pk).update(received_at=when)


def _verified_login(client: Client, user: AbstractUser) -> AbstractUser:
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return user


# --- delivery --------------------------------------------------------------------------------


def test_signed_malformed_body_is_stored_encrypted_and_answered_200(
    client: Client, fb_channel: Channel, secret: str
) -> None:
    body = _malformed_body()

    response = _post(client, fb_channel, body, secret)

    assert response.status_code == 200
    envelope = InboundEnvelope.objects.get()
    assert envelope.channel == fb_channel
    assert envelope.status == EnvelopeStatus.QUARANTINED
    assert envelope.reason == "malformed"
    assert envelope.body_size == len(body)
    assert not InboundMessage.objects.exists()
    rows = _raw_rows()
    assert len(rows) == 1
    assert all(CANARY.encode() not in _as_bytes(value) for value in rows[0])
    assert vault.decrypt_bytes(fb_channel, envelope, "body", envelope.body_ciphertext) == body


def test_envelope_body_cannot_be_decrypted_in_another_row(
    client: Client, fb_channel: Channel, secret: str
) -> None:
    _post(client, fb_channel, _malformed_body("first"), secret)
    _post(client, fb_channel, _malformed_body("second"), secret)
    first, second = InboundEnvelope.objects.order_by("pk")

    with pytest.raises(vault.DecryptionError):
        vault.decrypt_bytes(fb_channel, second, "body", first.body_ciphertext)


def test_quarantine_keeps_the_body_out_of_logs_and_response(
    client: Client, fb_channel: Channel, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    response = _post(client, fb_channel, _malformed_body(), secret)

    assert InboundEnvelope.objects.count() == 1
    assert "webhook quarantined" in caplog.text
    assert CANARY not in caplog.text
    assert all(CANARY not in repr(record.args) for record in caplog.records)
    assert CANARY.encode() not in response.content


def test_signed_non_json_body_is_quarantined_as_not_json(
    client: Client, fb_channel: Channel, secret: str
) -> None:
    body = b"\xff\xfe not json " + CANARY.encode()

    response = _post(client, fb_channel, body, secret)

    assert response.status_code == 400
    envelope = InboundEnvelope.objects.get()
    assert envelope.reason == "not_json"
    assert vault.decrypt_bytes(fb_channel, envelope, "body", envelope.body_ciphertext) == body


def test_identical_redelivery_is_stored_once(
    client: Client, fb_channel: Channel, secret: str
) -> None:
    body = _malformed_body()

    responses = [_post(client, fb_channel, body, secret) for _ in range(3)]

    assert [r.status_code for r in responses] == [200] * 3
    assert InboundEnvelope.objects.count() == 1


def test_forged_signature_stores_no_envelope(
    client: Client, fb_channel: Channel, secret: str
) -> None:
    body = _malformed_body()
    forged = signatures.facebook_signature("not-the-app-secret", body)

    response = client.post(
        _url(fb_channel),
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=forged,
    )

    assert response.status_code == 403
    assert not InboundEnvelope.objects.exists()


def test_unsigned_malformed_body_stores_no_envelope(client: Client, fb_channel: Channel) -> None:
    response = _post(client, fb_channel, _malformed_body(), secret=None)

    assert response.status_code == 403
    assert not InboundEnvelope.objects.exists()


def test_signed_body_over_limit_413_stores_nothing(
    client: Client, fb_channel: Channel, secret: str
) -> None:
    body = b"x" * (1024 * 1024 + 1)

    response = _post(client, fb_channel, body, secret)

    assert response.status_code == 413
    assert not InboundEnvelope.objects.exists()


def test_quarantine_answers_503_when_db_down(
    client: Client, fb_channel: Channel, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(self: InboundEnvelope, *args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(InboundEnvelope, "save", down)

    response = _post(client, fb_channel, _malformed_body(), secret)

    assert response.status_code == 503
    assert not InboundEnvelope.objects.exists()


def test_malformed_body_for_channel_not_switched_on_stores_nothing(
    client: Client, team: Team, simulator: RunningSimulator
) -> None:
    credentials = simulator.credentials("facebook")
    channel = factories.make_channel(
        team=team,
        platform="facebook",
        external_account_id=credentials["page_id"],
        credentials=credentials,
    )

    response = _post(client, channel, _malformed_body(), credentials["app_secret"])

    assert response.status_code == 200
    assert not InboundEnvelope.objects.exists()


# --- reprocessing ----------------------------------------------------------------------------


def _quarantine_good_body(
    client: Client, channel: Channel, secret: str, monkeypatch: pytest.MonkeyPatch
) -> bytes:
    """Deliver a body today's parser reads, while the parser is "broken": it is quarantined."""
    body = _feed_body(channel, f"{channel.external_account_id}_901", f"mail me {CANARY}")
    with monkeypatch.context() as patch:
        patch.setattr(bridge_webhooks, "parse", _refuse_everything)
        assert _post(client, channel, body, secret).status_code == 200
    assert InboundEnvelope.objects.filter(status=EnvelopeStatus.QUARANTINED).count() == 1
    return body


def test_command_lists_quarantined_envelopes_without_their_body(
    client: Client, fb_channel: Channel, secret: str
) -> None:
    _post(client, fb_channel, _malformed_body(), secret)
    envelope = InboundEnvelope.objects.get()
    out = StringIO()

    call_command("reprocess_envelopes", "--list", f"--channel={fb_channel.public_id}", stdout=out)

    assert str(envelope.public_id) in out.getvalue()
    assert "quarantined=1" in out.getvalue()
    assert CANARY not in out.getvalue()
    assert InboundEnvelope.objects.get().attempts == 0


def test_command_reprocesses_envelope_once_the_parser_accepts_it(
    client: Client, fb_channel: Channel, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _quarantine_good_body(client, fb_channel, secret, monkeypatch)
    out = StringIO()

    call_command("reprocess_envelopes", stdout=out)

    inbound = InboundMessage.objects.get()
    assert inbound.platform_message_id == f"{fb_channel.external_account_id}_901"
    assert inbound.author_external_id == AUTHOR_ID
    envelope = InboundEnvelope.objects.get()
    assert envelope.status == EnvelopeStatus.REPROCESSED
    assert envelope.attempts == 1
    assert envelope.body_ciphertext is None
    assert "reprocessed=1 items_stored=1" in out.getvalue()
    event = AuditEvent.objects.get(action="envelope.reprocess")
    assert event.data["reprocessed"] == 1


def test_reprocessing_twice_stores_the_items_once(
    client: Client, fb_channel: Channel, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _quarantine_good_body(client, fb_channel, secret, monkeypatch)
    actor = audit.Actor.system("test")

    first = envelopes.reprocess_envelopes(actor=actor)
    second = envelopes.reprocess_envelopes(actor=actor)

    assert (first.reprocessed, second.reprocessed) == (1, 0)
    assert InboundMessage.objects.count() == 1


def test_still_malformed_body_stays_quarantined_with_one_more_attempt(
    client: Client, fb_channel: Channel, secret: str
) -> None:
    body = _malformed_body()
    _post(client, fb_channel, body, secret)
    actor = audit.Actor.system("test")

    envelopes.reprocess_envelopes(actor=actor, channel=fb_channel)
    report = envelopes.reprocess_envelopes(actor=actor, channel=fb_channel)

    envelope = InboundEnvelope.objects.get()
    assert report.still_quarantined == 1
    assert envelope.status == EnvelopeStatus.QUARANTINED
    assert envelope.attempts == 2
    assert vault.decrypt_bytes(fb_channel, envelope, "body", envelope.body_ciphertext) == body
    assert not InboundMessage.objects.exists()


def test_reprocess_leaves_envelopes_of_a_paused_channel_alone(
    client: Client, fb_channel: Channel, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _quarantine_good_body(client, fb_channel, secret, monkeypatch)
    Channel.objects.filter(pk=fb_channel.pk).update(status="paused")

    report = envelopes.reprocess_envelopes(actor=audit.Actor.system("test"))

    assert report.skipped == 1
    envelope = InboundEnvelope.objects.get()
    assert (envelope.status, envelope.attempts) == (EnvelopeStatus.QUARANTINED, 0)
    assert not InboundMessage.objects.exists()


def test_command_refuses_an_unknown_channel() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no channel"):
        call_command("reprocess_envelopes", "--channel=00000000-0000-0000-0000-000000000000")


# --- retention and erasure -------------------------------------------------------------------


def _envelope(channel: Channel, text: str = CANARY) -> InboundEnvelope:
    body = _malformed_body(text)
    return envelopes.quarantine_body(channel=channel, body=body, reason="malformed")


def test_purge_expired_deletes_envelopes_older_than_seven_days(channel: Channel) -> None:
    old, fresh = _envelope(channel, "old"), _envelope(channel, "fresh")
    _age(old, timezone.now() - timedelta(days=7, hours=1))
    _age(fresh, timezone.now() - timedelta(days=6))

    report = gdpr.purge_expired()

    assert report.envelopes == 1
    assert list(InboundEnvelope.objects.values_list("pk", flat=True)) == [fresh.pk]


def test_purge_expired_applies_a_shorter_channel_retention_to_envelopes(channel: Channel) -> None:
    ChannelPolicy.objects.filter(channel=channel).update(retention_days=2)
    other = factories.make_channel(team=channel.team)
    mine, theirs = _envelope(channel), _envelope(other)
    _age(mine, timezone.now() - timedelta(days=3))
    _age(theirs, timezone.now() - timedelta(days=3))

    gdpr.purge_expired()

    assert list(InboundEnvelope.objects.values_list("pk", flat=True)) == [theirs.pk]


def test_purge_expired_command_reports_envelopes(channel: Channel) -> None:
    _age(_envelope(channel), timezone.now() - timedelta(days=8))
    out = StringIO()

    call_command("purge_expired", stdout=out)

    assert "envelopes=1" in out.getvalue()
    assert not InboundEnvelope.objects.exists()


def test_erase_subject_deletes_envelopes_naming_their_email(channel: Channel) -> None:
    theirs = _envelope(channel, "write to Jana.Beispiel@Example.org please")
    other = _envelope(channel, "write to someone.else@example.org please")

    report = gdpr.erase_subject(
        subject=gdpr.Subject(email="jana.beispiel@example.org"),
        actor=audit.Actor.system("test"),
    )

    assert report.envelopes_erased == 1
    assert list(InboundEnvelope.objects.values_list("pk", flat=True)) == [other.pk]
    assert not InboundEnvelope.objects.filter(pk=theirs.pk).exists()


def test_erase_subject_deletes_envelopes_naming_their_platform_id(team: Team) -> None:
    channel = factories.make_channel(team=team, platform="facebook")
    body = json.dumps({"object": "page", "entry": [{"from": {"id": AUTHOR_ID}}]}).encode()
    theirs = envelopes.quarantine_body(channel=channel, body=body, reason="malformed")
    other = _envelope(channel, f"{AUTHOR_ID}9 is a longer id")

    gdpr.erase_subject(
        subject=gdpr.Subject(platform="facebook", author_id=AUTHOR_ID),
        actor=audit.Actor.system("test"),
    )

    assert list(InboundEnvelope.objects.values_list("pk", flat=True)) == [other.pk]
    assert theirs.pk != other.pk


# --- admin pages -----------------------------------------------------------------------------


@pytest.fixture
def admin(client: Client, team: Team) -> AbstractUser:
    return _verified_login(client, factories.agent_of(team, role=Role.ADMIN))


def _detail(channel: Channel) -> str:
    return reverse("channel_admin:detail", args=[channel.public_id])


def _reprocess(channel: Channel) -> str:
    return reverse("channel_admin:reprocess", args=[channel.public_id])


def test_channel_page_shows_quarantined_count_and_reprocess_button(
    client: Client, admin: AbstractUser, fb_channel: Channel, secret: str
) -> None:
    _post(client, fb_channel, _malformed_body(f"{CANARY} one"), secret)
    _post(client, fb_channel, _malformed_body(f"{CANARY} two"), secret)

    page = client.get(_detail(fb_channel)).content.decode()

    assert "2 signed deliveries are kept" in page
    assert f'action="{_reprocess(fb_channel)}"' in page
    assert CANARY not in page


def test_channel_page_without_quarantined_envelopes_has_no_button(
    client: Client, admin: AbstractUser, fb_channel: Channel
) -> None:
    page = client.get(_detail(fb_channel)).content.decode()

    assert "None: every signed delivery was read." in page
    assert _reprocess(fb_channel) not in page


def test_reprocess_button_ingests_and_audits_the_admin(
    client: Client,
    admin: AbstractUser,
    fb_channel: Channel,
    secret: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _quarantine_good_body(client, fb_channel, secret, monkeypatch)

    response = client.post(_reprocess(fb_channel))

    assert response.status_code == 200
    assert 'id="reprocess-result"' in response.content.decode()
    assert InboundMessage.objects.count() == 1
    assert InboundEnvelope.objects.get().status == EnvelopeStatus.REPROCESSED
    event = AuditEvent.objects.get(action="envelope.reprocess")
    assert (event.actor_type, event.actor_id) == ("user", str(admin.pk))
    assert event.object_id == str(fb_channel.public_id)
    assert CANARY not in json.dumps(event.data)


def test_reprocess_button_needs_csrf_token(
    admin: AbstractUser, fb_channel: Channel, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    strict = HttpsClient(enforce_csrf_checks=True)
    _quarantine_good_body(strict, fb_channel, secret, monkeypatch)
    _verified_login(strict, admin)

    response = strict.post(_reprocess(fb_channel))

    assert response.status_code == 403
    assert InboundEnvelope.objects.get().status == EnvelopeStatus.QUARANTINED


def test_reprocess_is_post_only(
    client: Client, admin: AbstractUser, fb_channel: Channel, secret: str
) -> None:
    _post(client, fb_channel, _malformed_body(), secret)

    response = client.get(_reprocess(fb_channel))

    assert response.status_code == 405
    assert InboundEnvelope.objects.get().attempts == 0


def test_reprocess_is_404_for_an_agent_who_is_not_admin(
    client: Client, team: Team, fb_channel: Channel, secret: str
) -> None:
    _post(client, fb_channel, _malformed_body(), secret)
    client.force_login(factories.agent_of(team))

    response = client.post(_reprocess(fb_channel))

    assert response.status_code == 404
    assert InboundEnvelope.objects.get().attempts == 0


def test_reprocess_is_404_for_another_teams_admin(
    client: Client, fb_channel: Channel, secret: str
) -> None:
    _post(client, fb_channel, _malformed_body(), secret)
    _verified_login(client, factories.agent_of(factories.TeamFactory(), role=Role.ADMIN))

    response = client.post(_reprocess(fb_channel))

    assert response.status_code == 404
    assert InboundEnvelope.objects.get().attempts == 0


def test_reprocess_sends_anonymous_users_to_login(
    client: Client, fb_channel: Channel, secret: str
) -> None:
    _post(client, fb_channel, _malformed_body(), secret)

    response = client.post(_reprocess(fb_channel))

    assert response.status_code == 302
    assert response.headers["Location"].startswith(reverse("login"))
    assert InboundEnvelope.objects.get().attempts == 0


def test_django_admin_lists_envelopes_without_their_body(
    client: Client, fb_channel: Channel, secret: str
) -> None:
    _post(client, fb_channel, _malformed_body(), secret)
    envelope = InboundEnvelope.objects.get()
    root = get_user_model().objects.create_superuser("root", password="x" * 12)
    _verified_login(client, root)

    pages = [
        client.get(reverse("admin:inbox_inboundenvelope_changelist")),
        client.get(reverse("admin:inbox_inboundenvelope_change", args=[envelope.pk])),
    ]

    for page in pages:
        assert page.status_code == 200
        assert str(envelope.public_id) in page.content.decode()
        assert CANARY.encode() not in page.content
        assert b"body_ciphertext" not in page.content
