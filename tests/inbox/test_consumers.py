"""Agent websockets through the real ASGI stack (origin check, session auth, routing)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import transaction
from django.test import Client

from config.asgi import application
from inbox import consumers, events, services, sessions
from inbox.models import Membership, MessageKind, MessageSource, Ticket
from inbox.services.threads import add_message, open_ticket, tickets_created_on_commit
from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

ORIGIN = b"http://localhost"


@sync_to_async
def _session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _communicator(path: str, cookie: str | None, origin: bytes = ORIGIN) -> WebsocketCommunicator:
    headers = [(b"origin", origin), (b"host", b"localhost")]
    if cookie is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


@pytest.fixture
def world() -> dict[str, Any]:
    team = factories.TeamFactory()
    agent = factories.agent_of(team)
    channel = factories.make_channel(team=team)
    ticket = open_ticket(team=team, channel=channel, customer_handle="@someone")
    return {"team": team, "agent": agent, "channel": channel, "ticket": ticket}


async def _connect(path: str, user: Any) -> WebsocketCommunicator:
    communicator = _communicator(path, await _session_cookie(user))
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def _next_json(communicator: WebsocketCommunicator, wait: float = 2) -> dict[str, Any]:
    return json.loads((await communicator.receive_output(wait))["text"])  # type: ignore[no-any-return]


async def test_ws_rejects_anonymous(world: dict[str, Any]) -> None:
    for path in ("/ws/inbox/", f"/ws/tickets/{world['ticket'].public_id}/"):
        communicator = _communicator(path, cookie=None)
        connected, code = await communicator.connect()

        assert not connected
        assert code == consumers.CLOSE_FORBIDDEN
        await communicator.disconnect()


async def test_ws_rejects_foreign_origin(world: dict[str, Any]) -> None:
    cookie = await _session_cookie(world["agent"])
    communicator = _communicator("/ws/inbox/", cookie, origin=b"https://evil.example")

    connected, _ = await communicator.connect()

    assert not connected
    await communicator.disconnect()


async def test_ws_ticket_rejects_agent_of_another_team(world: dict[str, Any]) -> None:
    intruder = await sync_to_async(lambda: factories.agent_of(factories.TeamFactory()))()
    communicator = _communicator(
        f"/ws/tickets/{world['ticket'].public_id}/", await _session_cookie(intruder)
    )

    connected, code = await communicator.connect()

    assert not connected
    assert code == consumers.CLOSE_FORBIDDEN
    await communicator.disconnect()


async def test_ws_inbox_hears_new_message_as_ids_only(world: dict[str, Any]) -> None:
    communicator = await _connect("/ws/inbox/", world["agent"])

    await sync_to_async(add_message)(
        ticket=world["ticket"], kind="inbound", source="social", body="my mail is a@b.example"
    )
    frame = await _next_json(communicator)

    assert frame == {
        "type": "ticket_changed",
        "ticket": str(world["ticket"].public_id),
        "status": "open",
        "change": "message",
    }
    await communicator.disconnect()


async def test_ws_inbox_hears_a_batch_of_new_tickets_as_one_frame(world: dict[str, Any]) -> None:
    communicator = await _connect("/ws/inbox/", world["agent"])

    def create_batch() -> list[Ticket]:
        elsewhere = factories.make_channel(team=factories.TeamFactory())
        with transaction.atomic():
            tickets = [
                factories.make_ticket(channel=world["channel"]),
                factories.make_ticket(channel=elsewhere),
                factories.make_ticket(channel=world["channel"]),
            ]
            tickets_created_on_commit(tickets)
        return tickets

    ours, _, also_ours = await sync_to_async(create_batch)()
    frame = await _next_json(communicator)

    assert frame == {
        "type": "tickets_created",
        "tickets": [str(ours.public_id), str(also_ours.public_id)],
    }
    assert await communicator.receive_nothing(0.3)
    await communicator.disconnect()


async def test_ws_ticket_hears_message_note_and_status(world: dict[str, Any]) -> None:
    communicator = await _connect(f"/ws/tickets/{world['ticket'].public_id}/", world["agent"])

    note = await sync_to_async(services.add_note)(
        ticket=world["ticket"], agent=world["agent"], body="internal"
    )
    first = await _next_json(communicator)
    await sync_to_async(services.set_status)(
        ticket=world["ticket"], agent=world["agent"], status="pending"
    )
    second = await _next_json(communicator)

    assert first == {"type": "message_created", "message": str(note.public_id), "kind": "note"}
    assert second == {"type": "ticket_changed", "status": "pending", "change": "status"}
    await communicator.disconnect()


async def test_ws_event_dropped_after_agent_removed_from_team(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumers._AgentConsumer, "access_ttl", 0.0)
    inbox = await _connect("/ws/inbox/", world["agent"])
    page = await _connect(f"/ws/tickets/{world['ticket'].public_id}/", world["agent"])
    await sync_to_async(Membership.objects.filter(user=world["agent"]).delete)()

    await sync_to_async(add_message)(
        ticket=world["ticket"], kind="inbound", source="social", body="after leaving"
    )

    for communicator in (inbox, page):
        output = await communicator.receive_output(2)
        assert output == {"type": "websocket.close", "code": consumers.CLOSE_FORBIDDEN}
        await communicator.disconnect()


async def test_ws_access_recheck_is_cached_for_at_most_ttl(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumers._AgentConsumer, "access_ttl", 30.0)
    communicator = await _connect("/ws/inbox/", world["agent"])
    await sync_to_async(Membership.objects.filter(user=world["agent"]).delete)()

    await sync_to_async(add_message)(
        ticket=world["ticket"], kind="inbound", source="social", body="within ttl"
    )

    assert (await _next_json(communicator))["type"] == "ticket_changed"
    await communicator.disconnect()


async def test_customer_group_never_receives_note_event(world: dict[str, Any]) -> None:
    layer = get_channel_layer()
    customer = await layer.new_channel()
    await layer.group_add(events.ticket_customer_group(world["ticket"].public_id), customer)

    await sync_to_async(services.add_note)(
        ticket=world["ticket"], agent=world["agent"], body="internal only"
    )
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive(customer), timeout=0.5)
    reply = await sync_to_async(services.send_reply)(
        ticket=world["ticket"], agent=world["agent"], body="to the customer"
    )
    received = await asyncio.wait_for(layer.receive(customer), timeout=2)

    assert received == {
        "type": "portal.message_created",
        "ticket": str(world["ticket"].public_id),
        "message": str(reply.public_id),
    }


async def test_channel_layer_payloads_contain_ids_only(world: dict[str, Any]) -> None:
    layer = get_channel_layer()
    listener = await layer.new_channel()
    ticket: Ticket = world["ticket"]
    await layer.group_add(events.team_group(world["team"].public_id), listener)
    await layer.group_add(events.ticket_agents_group(ticket.public_id), listener)

    await sync_to_async(add_message)(
        ticket=ticket,
        kind=MessageKind.INBOUND,
        source=MessageSource.SOCIAL,
        body="canary-4711@example.invalid",
    )
    payloads = [await asyncio.wait_for(layer.receive(listener), timeout=2) for _ in range(2)]

    assert "canary-4711" not in json.dumps(payloads)
    assert {p["type"] for p in payloads} == {"ticket.message_created", "inbox.ticket_changed"}


async def test_ws_presence_reaches_other_agent_with_name(world: dict[str, Any]) -> None:
    colleague = await sync_to_async(factories.agent_of)(world["team"], username="colleague")
    path = f"/ws/tickets/{world['ticket'].public_id}/"
    first = await _connect(path, world["agent"])
    second = await _connect(path, colleague)

    joined = await _next_json(first)
    await second.send_json_to({"type": "presence", "state": "typing"})
    typing = await _next_json(first)
    viewing = await _next_json(second)  # the first agent answers the newcomer

    assert joined == {
        "type": "presence",
        "agent": colleague.pk,
        "name": "colleague",
        "state": "viewing",
    }
    assert typing["state"] == "typing"
    assert viewing["agent"] == world["agent"].pk
    await first.disconnect()
    await second.disconnect()


async def test_ws_ticket_refuses_unknown_frame(world: dict[str, Any]) -> None:
    communicator = await _connect(f"/ws/tickets/{world['ticket'].public_id}/", world["agent"])

    await communicator.send_json_to({"type": "reply", "body": "sneaky"})

    assert (await _next_json(communicator))["code"] == "unknown_frame"
    await communicator.disconnect()


async def test_ws_closes_oversized_frame(world: dict[str, Any]) -> None:
    communicator = await _connect(f"/ws/tickets/{world['ticket'].public_id}/", world["agent"])

    await communicator.send_to(text_data="x" * (consumers.MAX_FRAME_BYTES + 1))

    assert await communicator.receive_output(2) == {
        "type": "websocket.close",
        "code": consumers.CLOSE_TOO_BIG,
    }
    await communicator.disconnect()


async def test_ws_closes_on_logout(world: dict[str, Any]) -> None:
    client = Client()
    await sync_to_async(client.force_login)(world["agent"])
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    communicator = _communicator("/ws/inbox/", cookie)
    assert (await communicator.connect())[0]

    await sync_to_async(client.post)("/logout/", secure=True)

    assert await communicator.receive_output(2) == {
        "type": "websocket.close",
        "code": consumers.CLOSE_FORBIDDEN,
    }
    await communicator.disconnect()


async def test_ws_rejects_session_past_absolute_limit(world: dict[str, Any]) -> None:
    client = Client()
    await sync_to_async(client.force_login)(world["agent"])

    @sync_to_async
    def age_session() -> None:
        session = client.session
        session[sessions.AUTH_AT_KEY] = time.time() - 12 * 3600 - 1
        session.save()

    await age_session()
    communicator = _communicator("/ws/inbox/", client.cookies[settings.SESSION_COOKIE_NAME].value)

    connected, code = await communicator.connect()

    assert not connected
    assert code == consumers.CLOSE_FORBIDDEN
    await communicator.disconnect()


async def test_ws_rejects_staff_without_second_factor(world: dict[str, Any]) -> None:
    staff = await sync_to_async(factories.agent_of)(world["team"], is_staff=True)
    client = Client()

    @sync_to_async
    def visit() -> None:
        client.force_login(staff)
        client.get("/", secure=True)  # the middleware records that a second factor is required

    await visit()
    communicator = _communicator("/ws/inbox/", client.cookies[settings.SESSION_COOKIE_NAME].value)

    connected, _ = await communicator.connect()

    assert not connected
    await communicator.disconnect()
