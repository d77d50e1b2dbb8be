"""GDPR erasure on real PostgreSQL and Redis: raw dumps, canaries and the audit chain.

Marked ``integration``: run with DATABASE_URL (PostgreSQL) and REDIS_URL set; without those
services the tests fail loudly (tests/conftest.py).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
from asgiref.sync import async_to_sync
from celery.signals import before_task_publish
from channels.layers import get_channel_layer
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from channels_bridge import signatures
from channels_bridge.simulator import RunningSimulator
from inbox import audit, services, vault
from inbox.models import (
    Channel,
    InboundMessage,
    Message,
    OutboxAction,
    OutboxKind,
    OutboxState,
    Platform,
    ReplyDeletion,
    ReplyDeletionState,
    Team,
    Ticket,
    TicketKey,
)
from inbox.services import gdpr, pipeline
from inbox.services import portal as portal_services
from tests import factories
from tests.config.sentry_capture import (
    CapturingTransport,
    asgi_request,
    captured_sentry,
    csrf_for,
)
from tests.integration.conftest import Worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

LENA_FB = "3100000000000001"
TOM_FB = "3100000000000002"


def _canary() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:12]
    return f"canary.{tag}@example.org", f"Qzanary Vexholm{tag}"


@pytest.fixture
def fb_channel(simulator: RunningSimulator) -> Channel:
    team = Team.objects.create(name="GDPR integration")
    return factories.simulated_channel(team=team, simulator=simulator, platform=Platform.FACEBOOK)


def _feed_body(channel: Channel, comment_id: str, author_id: str, name: str, text: str) -> bytes:
    when = int(timezone.now().timestamp())
    change = {
        "field": "feed",
        "value": {
            "item": "comment",
            "verb": "add",
            "comment_id": comment_id,
            "post_id": f"{channel.external_account_id}_555",
            "parent_id": f"{channel.external_account_id}_555",
            "from": {"id": author_id, "name": name},
            "message": text,
            "created_time": when,
        },
    }
    entry = {"id": channel.external_account_id, "time": when, "changes": [change]}
    return json.dumps({"object": "page", "entry": [entry]}).encode()


def _deliver(client: Client, channel: Channel, secret: str, body: bytes) -> int:
    url = reverse(
        "webhook", kwargs={"platform": channel.platform, "channel_ref": channel.public_id}
    )
    response = client.post(
        url,
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=signatures.facebook_signature(secret, body),
    )
    return int(response.status_code)


def _comment(
    client: Client,
    channel: Channel,
    simulator: RunningSimulator,
    *,
    customer: str,
    author_id: str,
    name: str,
    text: str,
) -> bytes:
    comment = simulator.sim.customer_facebook_comment(text, customer=customer)
    body = _feed_body(channel, comment["comment_id"], author_id, name, text)
    assert _deliver(client, channel, simulator.credentials("facebook")["app_secret"], body) == 200
    return body


def _dump_database() -> str:
    """Every row of every table as text (bytea shows as hex), like a raw dump would."""
    parts: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT row_to_json(t)::text FROM "{table}" t')  # noqa: S608 - names from introspection
            parts.extend(row[0] for row in cursor.fetchall())
    return "\n".join(parts)


def _dump_redis() -> str:
    client = redis.Redis.from_url(settings.REDIS_URL)
    parts: list[str] = []
    for key in client.scan_iter():
        kind = client.type(key)
        if kind == b"string":
            parts.append(repr(client.get(key)))
        elif kind == b"list":
            parts.append(repr(client.lrange(key, 0, -1)))
        elif kind == b"zset":
            parts.append(repr(client.zrange(key, 0, -1)))
        elif kind == b"hash":
            parts.append(repr(client.hgetall(key)))
        elif kind == b"set":
            parts.append(repr(client.smembers(key)))
    return "\n".join(parts)


def _absent(canaries: tuple[str, ...], text: str) -> bool:
    lowered = text.lower()
    for canary in canaries:
        if canary.lower() in lowered or canary.encode().hex() in lowered:
            return False
    return True


def _remaining_plaintexts() -> list[str]:
    """Decrypt every ciphertext still in the database; a destroyed key yields nothing."""
    out: list[str] = []
    for ticket in Ticket.objects.all():
        for field in ("customer_handle", "customer_name", "preview"):
            value = vault.decrypt(ticket, ticket, field, getattr(ticket, f"{field}_ciphertext"))
            out.append(value or "")
        for message in Message.objects.filter(ticket=ticket):
            out.append(vault.decrypt(ticket, message, "body", message.body_ciphertext) or "")
        for action in OutboxAction.objects.filter(ticket=ticket):
            out.append(vault.decrypt(ticket, action, "payload", action.payload_ciphertext) or "")
    for row in InboundMessage.objects.select_related("channel"):
        for field in ("text", "author_handle", "author_name"):
            blob = getattr(row, f"{field}_ciphertext")
            out.append(vault.decrypt(row.channel, row, field, blob) or "")
    return out


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> Iterator[dict[str, list[str]]]:
    """Logs at DEBUG, Celery publishes and channel-layer sends of this process."""
    caplog.set_level(logging.DEBUG)
    seen: dict[str, list[str]] = {"publish": [], "group_send": []}

    def on_publish(sender: Any = None, body: Any = None, headers: Any = None, **_: Any) -> None:
        seen["publish"].append(repr(body) + repr(headers))

    before_task_publish.connect(on_publish, weak=False)
    layer = get_channel_layer()
    original = layer.group_send

    async def recording_group_send(group: str, message: dict[str, Any]) -> None:
        seen["group_send"].append(group + json.dumps(message))
        await original(group, message)

    layer.group_send = recording_group_send
    try:
        yield seen
    finally:
        layer.group_send = original
        before_task_publish.disconnect(on_publish)


def test_erase_subject_leaves_nothing_of_them_in_a_raw_dump(
    client: Client, fb_channel: Channel, simulator: RunningSimulator
) -> None:
    email, name = _canary()
    _comment(
        client,
        fb_channel,
        simulator,
        customer="lena",
        author_id=LENA_FB,
        name=name,
        text=f"order lost, mail me at {email}",
    )
    _comment(
        client,
        fb_channel,
        simulator,
        customer="tom",
        author_id=TOM_FB,
        name="Tom Ashdown",
        text="parcel late, mail other.person@example.org",
    )
    for inbound_id in InboundMessage.objects.values_list("id", flat=True):
        pipeline.process_message(inbound_id=inbound_id)
    assert Ticket.objects.count() == 2
    canary_ticket = Ticket.objects.get(author_external_id=LENA_FB)
    agent = factories.agent_of(canary_ticket.team)
    services.send_reply(ticket=canary_ticket, agent=agent, body=f"Dear {name}, on it.")
    assert not _absent((email, name), "\n".join(_remaining_plaintexts()))
    assert _absent((email, name), _dump_database())  # only ciphertext, even before erasure

    report = gdpr.erase_subject(subject=gdpr.Subject(email=email), actor=audit.Actor.system("t"))

    assert report.tickets_erased == (canary_ticket.reference,)
    assert not TicketKey.objects.filter(ticket_id=canary_ticket.pk).exists()
    vault.clear_key_cache()
    plaintexts = _remaining_plaintexts()
    assert _absent((email, name), "\n".join(plaintexts))
    assert "parcel late, mail other.person@example.org" in plaintexts
    assert _absent((email, name), _dump_database())
    assert audit.verify().ok


def test_erase_with_reply_deletion_deletes_the_reply_through_the_worker(
    client: Client, fb_channel: Channel, simulator: RunningSimulator, worker: Worker
) -> None:
    """Erasure commits, then the real worker deletes Haven's reply on the platform."""
    email, name = _canary()
    _comment(
        client,
        fb_channel,
        simulator,
        customer="lena",
        author_id=LENA_FB,
        name=name,
        text=f"order lost, mail me at {email}",
    )
    wait_for(
        lambda: OutboxAction.objects.filter(
            kind=OutboxKind.PUBLIC_REPLY, state=OutboxState.SENT
        ).exists(),
        what="the public reply",
    )
    reply_id = OutboxAction.objects.get(kind=OutboxKind.PUBLIC_REPLY).external_result_id

    report = gdpr.erase_subject(
        subject=gdpr.Subject(platform="facebook", author_id=LENA_FB),
        actor=audit.Actor.system("t"),
        delete_replies_on=["facebook"],
    )
    wait_for(
        lambda: ReplyDeletion.objects.filter(state=ReplyDeletionState.DONE).exists(),
        what="the reply deletion",
    )

    assert report.reply_deletions == {"facebook": 1}
    replies = {r["id"]: r["deleted"] for r in simulator.sim.snapshot()["facebook"]["replies"]}
    assert replies[reply_id] is True
    assert not ReplyDeletion.objects.exclude(reply_external_id="").exists()
    assert _absent((email, name), _dump_database())
    assert audit.verify().ok


@pytest.fixture
def sentry_capture() -> Iterator[CapturingTransport]:
    """This process reports to Sentry as production would (config.sentry), into a list."""
    with captured_sentry() as transport:
        yield transport


def _fail_drop_box_request(drop_ref: str, email: str, name: str) -> int:
    """A customer's drop-box POST carrying the canary fails inside Haven: a 500 for Sentry.

    Through the production ASGI app, so Sentry sees the request as it would from uvicorn; the
    canary is in the body, the query string, a cookie, a header and the failing frame's locals.
    """
    cookie, token = csrf_for(f"/s/{drop_ref}")
    body = f"Write to {email}, {name}"
    form = {"body": body, "email": email, "key": "k" * 32, "csrfmiddlewaretoken": token}
    status, _, _ = async_to_sync(asgi_request)(
        "POST",
        f"/s/{drop_ref}?from={email}",
        urlencode(form).encode(),
        [(b"cookie", f"{cookie}; who={email}".encode()), (b"x-customer", name.encode())],
    )
    return status


def test_canary_absent_from_logs_broker_layer_sentry_cache(
    client: Client,
    fb_channel: Channel,
    simulator: RunningSimulator,
    worker: Worker,
    captured: dict[str, list[str]],
    caplog: pytest.LogCaptureFixture,
    sentry_capture: CapturingTransport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """webhook → ticket (real worker) → agent reply → portal → failing request → export → erase."""
    email, name = _canary()
    canaries = (email, name)
    body = _comment(
        client,
        fb_channel,
        simulator,
        customer="lena",
        author_id=LENA_FB,
        name=name,
        text=f"order lost, mail me at {email}",
    )
    _comment(
        client,
        fb_channel,
        simulator,
        customer="tom",
        author_id=TOM_FB,
        name="Tom Ashdown",
        text="late, mail o.p@example.org",
    )
    wait_for(lambda: Ticket.objects.count() == 2, what="both tickets")
    wait_for(
        lambda: (
            not OutboxAction.objects.filter(
                state__in=[OutboxState.PENDING, OutboxState.IN_FLIGHT]
            ).exists()
        ),
        what="the outbox to settle",
    )
    ticket = Ticket.objects.get(author_external_id=LENA_FB)
    agent = factories.agent_of(ticket.team)
    services.send_reply(ticket=ticket, agent=agent, body=f"Dear {name}, we will write to {email}.")

    # The customer exchanges the private-reply secret, reads the thread and writes back.
    (private,) = [
        p
        for p in simulator.sim.snapshot()["facebook"]["private_replies"]
        if p["recipient_id"] == LENA_FB
    ]
    read_secret = re.search(r"/r/#t=([A-Za-z0-9_-]+)", private["message"])[1]  # type: ignore[index]
    customer = Client()
    exchanged = customer.post(reverse("portal:read"), {"t": read_secret}, secure=True)
    thread_url = reverse("portal:thread", kwargs={"public_id": ticket.public_id})
    assert exchanged.status_code == 303
    assert exchanged.headers["Location"] == thread_url
    page = customer.get(thread_url, secure=True)
    assert page.status_code == 200
    assert email in page.content.decode()  # the customer reads their own thread
    wrote = customer.post(
        thread_url, {"body": f"Thanks. {name}, {email}", "key": "canary-1"}, secure=True
    )
    assert wrote.status_code == 303

    # The drop-box link in the public reply to Lena; a bug makes storing her message fail.
    lena_comment = json.loads(body)["entry"][0]["changes"][0]["value"]["comment_id"]
    (reply,) = [
        r for r in simulator.sim.snapshot()["facebook"]["replies"] if r["reply_to"] == lena_comment
    ]
    drop_ref = re.search(r"/s/([A-Za-z0-9_-]+)", reply["message"])[1]  # type: ignore[index]

    def failing_store(**kwargs: Any) -> None:
        held = kwargs["body"]  # the canary sits in this frame's locals
        raise RuntimeError(f"forced failure storing {len(held)} characters")

    monkeypatch.setattr(portal_services, "add_drop_message", failing_store)
    assert _fail_drop_box_request(drop_ref, email, name) == 500
    monkeypatch.undo()

    issued = gdpr.export_subject(
        subject=gdpr.Subject(platform="facebook", author_id=LENA_FB),
        requested_by=None,
        actor=audit.Actor.system("t"),
    )
    archive = gdpr.download_export(
        export_ref=str(issued.export.public_id), code=issued.code, actor=audit.Actor.system("t")
    )
    exported = json.dumps(gdpr.open_archive(archive), ensure_ascii=False)
    assert email in exported  # the export is for the subject: it must hold their data
    assert name in exported

    gdpr.erase_subject(
        subject=gdpr.Subject(platform="facebook", author_id=LENA_FB),
        actor=audit.Actor.system("t"),
    )
    secret = simulator.credentials("facebook")["app_secret"]
    assert _deliver(client, fb_channel, secret, body) == 200  # a replay after erasure

    assert Ticket.objects.count() == 1
    assert "subject erased" in caplog.text  # the capture works
    assert any("inbound processed" in line for line in worker.output)
    assert _absent(canaries, caplog.text), "canary in logs"
    assert _absent(canaries, "\n".join(worker.output)), "canary in worker logs"
    assert captured["publish"], "no Celery publish was captured"
    assert _absent(canaries, "\n".join(captured["publish"])), "canary in a Celery message"
    assert captured["group_send"], "no channel-layer message was captured"
    assert _absent(canaries, "\n".join(captured["group_send"])), "canary in a layer message"
    assert _absent(canaries, _dump_redis()), "canary in Redis (cache, broker or layer)"
    assert _absent(canaries, "\n".join(str(m.message()) for m in mail.outbox)), "canary in mail"
    assert _absent(canaries, _dump_database()), "canary in the database"
    sentry_events = sentry_capture.events()
    assert any(
        v["type"] == "RuntimeError" for e in sentry_events for v in e["exception"]["values"]
    ), "the forced error never reached Sentry"
    assert _absent(canaries, sentry_capture.wire()), "canary in a Sentry envelope"
    assert drop_ref not in sentry_capture.wire(), "drop-box secret in a Sentry envelope"
    vault.clear_key_cache()
    assert _absent(canaries, "\n".join(_remaining_plaintexts())), "canary still decryptable"
    assert audit.verify().ok
