"""Webhook endpoints: signatures over raw bytes, size limit, strict parsing, idempotent ingest."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from channels_bridge import signatures
from channels_bridge.simulator import RunningSimulator
from inbox import services, vault
from inbox.models import (
    Channel,
    ChannelKey,
    InboundEnvelope,
    InboundMessage,
    OutboxAction,
    Platform,
    Team,
    Ticket,
)
from tests import factories

pytestmark = pytest.mark.django_db
CommitRunner = Callable[..., object]
UNAVAILABLE = b"Service unavailable, retry later."
# What Django raises once PostgreSQL has gone away: OperationalError (psycopg 3, every query),
# or InterfaceError for a connection the driver already closed (psycopg2, later queries).
DATABASE_GONE = [
    pytest.param(OperationalError, id="operational"),
    pytest.param(InterfaceError, id="interface"),
]


def _url(channel: Channel) -> str:
    return reverse(
        "webhook", kwargs={"platform": channel.platform, "channel_ref": channel.public_id}
    )


def _feed_body(
    channel: Channel, comment_id: str, text: str, *, when: datetime | None = None
) -> bytes:
    when = when or timezone.now()
    return json.dumps(
        {
            "object": "page",
            "entry": [
                {
                    "id": channel.external_account_id,
                    "time": int(when.timestamp()),
                    "changes": [
                        {
                            "field": "feed",
                            "value": {
                                "item": "comment",
                                "verb": "add",
                                "comment_id": comment_id,
                                "post_id": f"{channel.external_account_id}_555",
                                "parent_id": f"{channel.external_account_id}_555",
                                "from": {"id": "2400000000000001", "name": "Jana Beispiel"},
                                "message": text,
                                "created_time": int(when.timestamp()),
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()


def _post(
    client: Client, channel: Channel, body: bytes, secret: str | None = None, **headers: str
) -> object:
    if secret is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signatures.facebook_signature(secret, body)
    return client.post(_url(channel), data=body, content_type="application/json", **headers)


def _verify(client: Client, channel: Channel, token: str | None = None) -> Any:
    """Meta's subscription GET, with the channel's verify token unless ``token`` is given."""
    return client.get(
        _url(channel),
        {
            "hub.mode": "subscribe",
            "hub.verify_token": channel.webhook_verify_token if token is None else token,
            "hub.challenge": "123abc",
        },
    )


def test_facebook_verification_echoes_challenge_as_text(
    client: Client, fb_channel: Channel
) -> None:
    response = _verify(client, fb_channel)

    assert response.status_code == 200
    assert response.content == b"123abc"
    assert response["Content-Type"].startswith("text/plain")


def test_facebook_verification_wrong_token_403(client: Client, fb_channel: Channel) -> None:
    response = _verify(client, fb_channel, token="wrong")

    assert response.status_code == 403


@pytest.mark.parametrize("header", [None, "sha256=" + "0" * 64, "sha1=abcdef"])
def test_webhook_rejects_missing_or_bad_signature(
    client: Client, fb_channel: Channel, header: str | None
) -> None:
    body = _feed_body(fb_channel, "555_901", "mail me at a.person@example.org")
    extra = {"HTTP_X_HUB_SIGNATURE_256": header} if header else {}

    response = _post(client, fb_channel, body, **extra)

    assert response.status_code == 403
    assert not InboundMessage.objects.exists()


def test_webhook_verifies_raw_bytes_not_reserialised_json(
    client: Client, fb_channel: Channel, simulator: RunningSimulator
) -> None:
    body = _feed_body(fb_channel, "555_902", "mail me at a.person@example.org")
    secret = simulator.credentials("facebook")["app_secret"]
    signature = signatures.facebook_signature(secret, body)
    reserialised = json.dumps(json.loads(body), indent=2).encode()

    response = client.post(
        _url(fb_channel),
        data=reserialised,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=signature,
    )

    assert response.status_code == 403


def test_webhook_body_over_limit_413(client: Client, fb_channel: Channel) -> None:
    body = b"{" + b" " * (1024 * 1024 + 10) + b"}"

    response = _post(client, fb_channel, body)

    assert response.status_code == 413


def test_signed_invalid_event_quarantined_200(
    client: Client, fb_channel: Channel, simulator: RunningSimulator
) -> None:
    body = json.dumps({"object": "page", "entry": [{"id": 7, "changes": "not a list"}]}).encode()

    response = _post(client, fb_channel, body, simulator.credentials("facebook")["app_secret"])

    assert response.status_code == 200
    assert not InboundMessage.objects.exists()


def test_signed_event_outside_time_window_quarantined(
    client: Client, fb_channel: Channel, simulator: RunningSimulator
) -> None:
    old = timezone.now() - timedelta(days=9)
    body = _feed_body(fb_channel, "555_903", "mail me at a.person@example.org", when=old)

    response = _post(client, fb_channel, body, simulator.credentials("facebook")["app_secret"])

    assert response.status_code == 200
    assert not InboundMessage.objects.exists()


def test_signed_body_that_is_not_json_gets_400_and_is_kept(
    client: Client, fb_channel: Channel, simulator: RunningSimulator
) -> None:
    response = _post(
        client, fb_channel, b"not json", simulator.credentials("facebook")["app_secret"]
    )

    assert response.status_code == 400
    assert InboundEnvelope.objects.get().reason == "not_json"


def test_webhook_comment_opens_ticket_and_replay_is_idempotent(
    client: Client,
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    comment = simulator.sim.customer_facebook_comment(
        "mail me at a.person@example.org", customer="lena"
    )
    body = _feed_body(fb_channel, comment["comment_id"], "mail me at a.person@example.org")
    secret = simulator.credentials("facebook")["app_secret"]

    with django_capture_on_commit_callbacks(execute=True):
        responses = [_post(client, fb_channel, body, secret) for _ in range(5)]

    assert [r.status_code for r in responses] == [200] * 5
    assert InboundMessage.objects.count() == 1
    assert Ticket.objects.count() == 1
    assert OutboxAction.objects.filter(kind="public_reply").count() == 1
    assert len(simulator.sim.snapshot()["facebook"]["replies"]) == 1


def test_webhook_returns_503_when_db_down(
    client: Client,
    fb_channel: Channel,
    simulator: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from inbox.services import pipeline

    def down(**kwargs: object) -> None:
        raise DatabaseError("connection refused")

    monkeypatch.setattr(pipeline, "ingest_items", down)
    body = _feed_body(fb_channel, "555_904", "mail me at a.person@example.org")

    response = _post(client, fb_channel, body, simulator.credentials("facebook")["app_secret"])

    assert response.status_code == 503


@contextmanager
def _database_fails(error: type[DatabaseError | InterfaceError], table: str = "") -> Iterator[None]:
    """Every query (only those on ``table``, when given) raises ``error`` before reaching the
    database, as it does once PostgreSQL has gone away in the middle of a request."""

    def refuse(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        if not table or f'"{table}"' in sql:
            raise error("server closed the connection unexpectedly")
        return execute(sql, *args)

    with connection.execute_wrapper(refuse):
        yield


@pytest.mark.parametrize("error", DATABASE_GONE)
@pytest.mark.parametrize("signed", [True, False], ids=["signed", "forged"])
def test_webhook_returns_503_when_db_fails_reading_the_channel_key(
    client: Client,
    fb_channel: Channel,
    simulator: RunningSimulator,
    error: type[DatabaseError | InterfaceError],
    signed: bool,
) -> None:
    """A cold key cache reads the channel's key from the database before the signature can be
    checked: that read failing is a 503 (the platform retries), and nothing is stored."""
    body = _feed_body(fb_channel, "555_906", "mail me at a.person@example.org")
    secret = simulator.credentials("facebook")["app_secret"] if signed else "forged"
    vault.clear_key_cache()

    with _database_fails(error, table="inbox_channelkey"):
        response = _post(client, fb_channel, body, secret)

    assert response.status_code == 503
    assert response.content == UNAVAILABLE
    assert not InboundMessage.objects.exists()
    assert not InboundEnvelope.objects.exists()


@pytest.mark.parametrize("damage", ["key_row_gone", "ciphertext_altered"])
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_webhook_returns_503_when_the_channel_credentials_cannot_be_decrypted(
    client: Client,
    team: Team,
    simulator: RunningSimulator,
    caplog: pytest.LogCaptureFixture,
    damage: str,
    method: str,
) -> None:
    """A deployment missing the master key of a channel's key (or a key row restored without
    its channel) is the operator's problem: 503 so the platform retries, a one-line error
    naming the class, and nothing stored."""
    channel = factories.simulated_channel(team=team, simulator=simulator, platform=Platform.X)
    secret = simulator.credentials("x")["consumer_secret"]
    if damage == "key_row_gone":
        ChannelKey.objects.filter(channel=channel).delete()
    else:
        altered = bytearray(channel.credentials_ciphertext or b"")
        altered[-1] ^= 0x01
        Channel.objects.filter(pk=channel.pk).update(credentials_ciphertext=bytes(altered))
    vault.clear_key_cache()
    body = json.dumps({"for_user_id": channel.external_account_id}).encode()

    with caplog.at_level("ERROR", logger="inbox.webhooks"):
        if method == "POST":
            response = client.post(
                _url(channel),
                data=body,
                content_type="application/json",
                HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=signatures.x_signature(secret, body),
            )
        else:
            response = client.get(_url(channel), {"crc_token": "challenge"})

    assert response.status_code == 503
    assert response.content == UNAVAILABLE
    assert not InboundMessage.objects.exists()
    assert not InboundEnvelope.objects.exists()
    [record] = [r for r in caplog.records if r.name == "inbox.webhooks"]
    assert "credentials unreadable" in record.getMessage()
    assert record.exc_info is None


@pytest.mark.parametrize("error", DATABASE_GONE)
def test_webhook_returns_503_when_db_fails_finding_the_channel(
    client: Client,
    fb_channel: Channel,
    simulator: RunningSimulator,
    error: type[DatabaseError | InterfaceError],
) -> None:
    body = _feed_body(fb_channel, "555_907", "mail me at a.person@example.org")

    with _database_fails(error):
        response = _post(client, fb_channel, body, simulator.credentials("facebook")["app_secret"])

    assert response.status_code == 503
    assert response.content == UNAVAILABLE


def test_webhook_body_over_limit_413_when_db_down(client: Client, fb_channel: Channel) -> None:
    body = b"{" + b" " * (1024 * 1024 + 10) + b"}"

    with _database_fails(OperationalError):
        response = _post(client, fb_channel, body)

    assert response.status_code == 413


@pytest.mark.parametrize("error", DATABASE_GONE)
def test_x_crc_returns_503_when_db_fails_reading_the_channel_key(
    client: Client,
    team: Team,
    simulator: RunningSimulator,
    error: type[DatabaseError | InterfaceError],
) -> None:
    channel = factories.simulated_channel(team=team, simulator=simulator, platform=Platform.X)
    vault.clear_key_cache()

    with _database_fails(error, table="inbox_channelkey"):
        response = client.get(_url(channel), {"crc_token": "challenge-123"})

    assert response.status_code == 503
    assert response.content == UNAVAILABLE


def test_facebook_verification_needs_no_channel_key(client: Client, fb_channel: Channel) -> None:
    """Meta's subscription GET is answered from the verify token alone."""
    vault.clear_key_cache()

    with _database_fails(OperationalError, table="inbox_channelkey"):
        response = _verify(client, fb_channel)

    assert response.status_code == 200
    assert response.content == b"123abc"


def test_webhook_for_draft_channel_stores_nothing(
    client: Client, team: Team, simulator: RunningSimulator
) -> None:
    credentials = simulator.credentials("facebook")
    channel = factories.make_channel(
        team=team,
        platform="facebook",
        external_account_id=credentials["page_id"],
        credentials=credentials,
    )
    body = _feed_body(channel, "555_905", "mail me at a.person@example.org")

    response = _post(client, channel, body, credentials["app_secret"])

    assert response.status_code == 200
    assert not InboundMessage.objects.exists()


def test_unknown_channel_404(client: Client) -> None:
    response = client.post(
        f"/webhooks/facebook/{'0' * 8}-0000-0000-0000-{'0' * 12}/",
        data=b"{}",
        content_type="application/json",
    )

    assert response.status_code == 404


def test_x_crc_answers_from_consumer_secret(
    client: Client, team: Team, simulator: RunningSimulator
) -> None:
    channel = factories.simulated_channel(team=team, simulator=simulator, platform=Platform.X)

    response = client.get(_url(channel), {"crc_token": "challenge-123"})

    secret = simulator.credentials("x")["consumer_secret"]
    assert response.status_code == 200
    assert response.json() == signatures.x_crc_response(secret, "challenge-123")


def test_x_crc_without_a_token_is_refused_before_the_channel_key_is_read(
    client: Client, team: Team, simulator: RunningSimulator
) -> None:
    channel = factories.simulated_channel(team=team, simulator=simulator, platform=Platform.X)
    vault.clear_key_cache()

    with _database_fails(OperationalError, table="inbox_channelkey"):
        response = client.get(_url(channel))

    assert response.status_code == 400
    assert response.content == b"Missing crc_token."


def test_x_crc_without_a_consumer_secret_says_so(
    client: Client, team: Team, simulator: RunningSimulator
) -> None:
    channel = factories.simulated_channel(team=team, simulator=simulator, platform=Platform.X)
    credentials = simulator.credentials("x")
    oauth2_only = {"user_id": credentials["user_id"], "access_token": "oauth2-user-token"}
    services.set_channel_credentials(channel=channel, credentials=oauth2_only, changed_by=None)

    response = client.get(_url(channel), {"crc_token": "challenge-123"})

    assert response.status_code == 400
    assert b"no consumer secret" in response.content
