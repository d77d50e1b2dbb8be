"""Quarantined webhook bodies (InboundEnvelope): kept encrypted, reprocessed, expired, erased."""

from __future__ import annotations

import io
import json
import logging
import time
import zipfile
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
from django.utils import timezone, translation
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

import channels_bridge.webhooks as bridge_webhooks
from channels_bridge import signatures
from channels_bridge.errors import MalformedPayload
from channels_bridge.simulator import RunningSimulator
from inbox import audit, vault
from inbox.dpo import STEP_UP_KEY
from inbox.models import (
    AuditEvent,
    Channel,
    ChannelPolicy,
    EnvelopeStatus,
    InboundEnvelope,
    InboundMessage,
    PortalSecret,
    Role,
    SubjectExport,
    Team,
)
from inbox.services import envelopes, gdpr
from tests import factories
from tests.conftest import HttpsClient

pytestmark = pytest.mark.django_db

CANARY = "canary-7f3a9c-jana.beispiel@example.org"
AUTHOR_ID = "2400000000000077"


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


def test_erase_subject_deletes_an_export_holding_only_their_kept_deliveries(
    channel: Channel,
) -> None:
    """No ticket ties the export to the subject, only a kept delivery naming them: erasing the
    subject must not leave that copy waiting for its link."""
    _envelope(channel, "write to Jana.Beispiel@Example.org please")
    subject = gdpr.Subject(email="jana.beispiel@example.org")
    actor = audit.Actor.system("test")
    issued = gdpr.export_subject(subject=subject, requested_by=None, actor=actor)
    other = gdpr.export_subject(
        subject=gdpr.Subject(email="someone.else@example.org"), requested_by=None, actor=actor
    )
    assert issued.envelopes == 1
    assert issued.export.ticket_public_ids == []

    gdpr.erase_subject(subject=subject, actor=actor)

    assert list(SubjectExport.objects.values_list("pk", flat=True)) == [other.export.pk]
    assert not PortalSecret.objects.filter(pk=issued.export.secret_id).exists()


# --- subject export (GDPR Art. 15) -----------------------------------------------------------

OTHER_ID = "2400000000000099"
OTHER_TEXT = "Otto Anders writes: otto.anders@example.org"


def _export_archive(subject: gdpr.Subject) -> tuple[dict[str, object], str]:
    actor = audit.Actor.system("test")
    issued = gdpr.export_subject(subject=subject, requested_by=None, actor=actor)
    archive = gdpr.download_export(
        export_ref=str(issued.export.public_id), code=issued.code, actor=actor
    )
    html = zipfile.ZipFile(io.BytesIO(archive)).read("export.html").decode()
    return gdpr.open_archive(archive), html


def _deliveries(document: dict[str, object]) -> list[dict[str, object]]:
    deliveries = document["kept_webhook_deliveries"]
    assert isinstance(deliveries, list)
    return deliveries


def _comment(author_id: str, name: str, text: str) -> dict[str, object]:
    return {
        "field": "feed",
        "value": {"item": "comment", "from": {"id": author_id, "name": name}, "message": text},
    }


def _batch_body() -> bytes:
    # Two people's comments in one delivery whose shape the parser refuses (``time`` missing).
    changes = [_comment(AUTHOR_ID, "Jana Beispiel", CANARY), _comment(OTHER_ID, "Otto", OTHER_TEXT)]
    return json.dumps({"object": "page", "entry": [{"id": "1", "changes": changes}]}).encode()


def test_export_subject_includes_kept_envelope_naming_them(channel: Channel) -> None:
    envelope = _envelope(channel, f"please write to {CANARY.upper()}")

    document, html = _export_archive(gdpr.Subject(email=CANARY))

    (delivery,) = _deliveries(document)
    received = InboundEnvelope.objects.get(pk=envelope.pk).received_at
    assert delivery["id"] == str(envelope.public_id)
    assert (delivery["channel"], delivery["channel_name"], delivery["platform"]) == (
        channel.public_id.hex,
        channel.name,
        channel.platform,
    )
    assert delivery["received_at"] == received.isoformat()
    assert delivery["reason"] == "malformed"
    assert "could not read" in str(delivery["reason_text"])
    assert delivery["deleted_after"] == (received + timedelta(days=7)).isoformat()
    assert delivery["content_format"] == "json"
    assert delivery["content"] == json.loads(_malformed_body(f"please write to {CANARY.upper()}"))
    assert f"please write to {CANARY.upper()}" in html
    assert channel.public_id.hex in {p["channel"] for p in document["processing"]}  # type: ignore[attr-defined]


def test_export_subject_leaves_out_envelopes_naming_someone_else(channel: Channel) -> None:
    _envelope(channel, f"from {CANARY}")
    _envelope(channel, OTHER_TEXT)

    document, html = _export_archive(gdpr.Subject(email=CANARY))

    assert len(_deliveries(document)) == 1
    assert "otto.anders" not in json.dumps(document)
    assert "otto.anders" not in html


def test_export_subject_without_kept_envelopes_has_no_section(channel: Channel) -> None:
    _envelope(channel, OTHER_TEXT)

    document, html = _export_archive(gdpr.Subject(email=CANARY))

    assert _deliveries(document) == []
    assert "Platform deliveries we kept" not in html


def test_export_subject_keeps_only_the_batch_entries_that_name_them(team: Team) -> None:
    channel = factories.make_channel(team=team, platform="facebook")
    envelopes.quarantine_body(channel=channel, body=_batch_body(), reason="malformed")

    document, html = _export_archive(gdpr.Subject(platform="facebook", author_id=AUTHOR_ID))

    (delivery,) = _deliveries(document)
    assert delivery["content"] == {
        "object": "page",
        "entry": [{"id": "1", "changes": [_comment(AUTHOR_ID, "Jana Beispiel", CANARY)]}],
    }
    assert delivery["withheld_entries"] == 1
    assert CANARY in html
    assert OTHER_ID not in json.dumps(document) + html
    assert "otto.anders" not in json.dumps(document) + html


def test_subject_parts_keep_an_array_inside_their_entry_whole() -> None:
    entry = {"from": {"id": AUTHOR_ID}, "attachments": [{"type": "photo"}, {"type": "video"}]}
    body = json.dumps({"entry": [entry, {"from": {"id": OTHER_ID}}]}).encode()

    parts = envelopes.subject_parts(body, gdpr.Subject(platform="x", author_id=AUTHOR_ID))

    assert parts.content == {"entry": [entry]}
    assert parts.withheld == 1


def test_export_subject_shows_a_body_that_is_not_json_as_text(channel: Channel) -> None:
    body = f"name={CANARY}&note=<b>hi</b>".encode()
    envelopes.quarantine_body(channel=channel, body=body, reason="not_json")

    document, _ = _export_archive(gdpr.Subject(email=CANARY))

    (delivery,) = _deliveries(document)
    assert (delivery["content_format"], delivery["content"]) == ("text", body.decode())
    assert "not JSON" in str(delivery["reason_text"])


def test_subject_parts_show_a_body_nested_deeper_than_a_platform_as_text() -> None:
    body = ("[" * 100 + json.dumps(CANARY) + "]" * 100).encode()

    parts = envelopes.subject_parts(body, gdpr.Subject(email=CANARY))

    assert (parts.format, parts.content) == ("text", body.decode())


def test_export_subject_says_when_a_kept_envelope_is_deleted_under_a_shorter_retention(
    channel: Channel,
) -> None:
    ChannelPolicy.objects.filter(channel=channel).update(retention_days=2)
    envelope = _envelope(channel)

    document, _ = _export_archive(gdpr.Subject(email=CANARY))

    received = InboundEnvelope.objects.get(pk=envelope.pk).received_at
    assert _deliveries(document)[0]["deleted_after"] == (received + timedelta(days=2)).isoformat()


def test_export_html_escapes_kept_envelope_bodies(team: Team) -> None:
    channel = factories.make_channel(team=team, name='<i>Acme</i> "x"')
    _envelope(channel, f"<script>alert(1)</script> {CANARY}")
    # Not JSON, so shown verbatim: nothing but HTML escaping stands between it and the page.
    hostile = f'" onmouseover="alert(2)" \'><img src=x onerror=alert(3)> {CANARY}'
    envelopes.quarantine_body(channel=channel, body=hostile.encode(), reason="not_json")

    _, html = _export_archive(gdpr.Subject(email=CANARY))

    assert "<script>" not in html
    assert '" onmouseover="' not in html
    assert "<img" not in html
    assert "<i>Acme" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert (
        "&quot; onmouseover=&quot;alert(2)&quot; &#x27;&gt;&lt;img src=x onerror=alert(3)&gt;"
        in html
    )
    assert "&lt;i&gt;Acme&lt;/i&gt; &quot;x&quot;" in html


def test_export_html_translates_the_kept_deliveries_section(channel: Channel) -> None:
    _envelope(channel)

    with translation.override("de"):
        issued = gdpr.export_subject(
            subject=gdpr.Subject(email=CANARY), requested_by=None, actor=audit.Actor.system("t")
        )
    archive = gdpr.download_export(
        export_ref=str(issued.export.public_id), code=issued.code, actor=audit.Actor.system("t")
    )

    html = zipfile.ZipFile(io.BytesIO(archive)).read("export.html").decode()
    assert "Plattform-Zustellungen, die wir aufbewahrt haben" in html
    assert "Platform deliveries we kept" not in html


def test_export_of_kept_envelopes_is_audited_with_ids_only(channel: Channel) -> None:
    envelope = _envelope(channel)

    issued = gdpr.export_subject(
        subject=gdpr.Subject(email=CANARY), requested_by=None, actor=audit.Actor.system("t")
    )

    assert issued.envelopes == 1
    event = AuditEvent.objects.get(action="subject.export")
    assert event.data["envelopes"] == [str(envelope.public_id)]
    read = AuditEvent.objects.get(action="decrypt", purpose="subject_export")
    assert (read.object_type, read.object_id) == ("channel", str(channel.public_id))
    assert read.data["objects"] == [f"inboundenvelope:{envelope.pk}"]
    stored = json.dumps(list(AuditEvent.objects.values_list("data", flat=True)))
    assert "canary" not in stored


def test_export_of_kept_envelopes_logs_nothing_of_the_body(
    channel: Channel, caplog: pytest.LogCaptureFixture
) -> None:
    _envelope(channel, f"{CANARY} Jana Beispiel")
    caplog.set_level(logging.DEBUG)

    _export_archive(gdpr.Subject(email=CANARY))

    assert "envelopes=1" in caplog.text
    assert "canary" not in caplog.text.casefold()
    assert "Jana Beispiel" not in caplog.text


def test_export_subject_command_counts_kept_envelopes(channel: Channel) -> None:
    _envelope(channel)
    out = StringIO()

    call_command("export_subject", "--email", CANARY, stdout=out)

    assert "1 kept webhook deliveries" in out.getvalue()
    assert "canary" not in out.getvalue()


def test_dpo_export_page_counts_kept_envelopes(client: Client, channel: Channel) -> None:
    _verified_login(client, factories.UserFactory(is_staff=True))
    session = client.session
    session[STEP_UP_KEY] = time.time()
    session.save()
    _envelope(channel)

    response = client.post(reverse("dpo:export"), {"email": CANARY})

    assert response.status_code == 200
    assert "1 kept platform delivery that names the person." in response.content.decode()
    assert "canary" not in response.content.decode()


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
