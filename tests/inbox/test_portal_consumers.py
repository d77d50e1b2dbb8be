"""The customer websocket through the real ASGI stack: portal session only, one ticket, ids."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.core import mail
from django.core.cache import cache

from config.asgi import application
from inbox import portal_selectors
from inbox.models import MessageKind, MessageSource, PortalContact, Ticket
from inbox.services import portal as portal_services
from inbox.services import secrets
from inbox.services.agent import (
    add_note,
    link_contact_to_author,
    send_reply,
    unlink_contact_from_author,
)
from inbox.services.threads import add_message, open_ticket
from tests import factories
from tests.conftest import HttpsClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

ORIGIN = b"http://localhost"
PATH = "/ws/portal/"


def _communicator(cookie: str | None, origin: bytes = ORIGIN) -> WebsocketCommunicator:
    headers = [(b"origin", origin), (b"host", b"localhost")]
    if cookie is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    return WebsocketCommunicator(application, PATH, headers=headers)


@sync_to_async
def _world() -> dict[str, Any]:
    cache.clear()
    team = factories.TeamFactory()
    agent = factories.agent_of(team)
    channel = factories.make_channel(team=team)
    ticket = open_ticket(team=team, channel=channel, customer_handle="@someone")
    return {"agent": agent, "ticket": ticket, "channel": channel}


@sync_to_async
def _portal_cookie(ticket: Ticket) -> str:
    client = HttpsClient()
    client.get("/r/")
    response = client.post("/r/", {"t": secrets.issue_read_secret(ticket=ticket)})
    assert response.status_code == 303
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@sync_to_async
def _drop_cookie(ticket: Ticket) -> str | None:
    client = HttpsClient()
    drop_ref = secrets.issue_drop_ref(ticket=ticket)
    client.get(f"/s/{drop_ref}")
    client.post(f"/s/{drop_ref}", {"body": "hello", "key": "d" * 32})
    cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
    return cookie.value if cookie else None


@sync_to_async
def _contact_cookie(ticket: Ticket, email: str) -> tuple[str, PortalContact]:
    """An e-mail contact's portal session: a drop-box message with its address, its magic link."""
    before = len(mail.outbox)
    portal_services.add_drop_message(ticket=ticket, body="Hello", idempotency_key=None, email=email)
    secret = mail.outbox[before].body.split("/m/#t=", 1)[1].split()[0]
    session = SessionStore()
    session.create()
    portal_services.exchange_magic_link(session=session, secret=secret)
    session.save()  # what the session middleware does at the end of the request
    contact = PortalContact.objects.order_by("-id").first()
    assert contact is not None
    return str(session.session_key), contact


async def _next(communicator: WebsocketCommunicator, wait: float = 2) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads((await communicator.receive_output(wait))["text"])
    return frame


async def test_portal_ws_rejects_without_portal_session() -> None:
    communicator = _communicator(None)
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4403


async def test_drop_ref_grants_no_read_or_websocket() -> None:
    world = await _world()
    cookie = await _drop_cookie(world["ticket"])

    communicator = _communicator(cookie or "none")
    connected, code = await communicator.connect()

    assert not connected
    assert code == 4403


async def test_portal_ws_rejects_foreign_origin() -> None:
    world = await _world()
    cookie = await _portal_cookie(world["ticket"])

    communicator = _communicator(cookie, origin=b"https://evil.example")
    connected, _ = await communicator.connect()

    assert not connected


async def test_portal_ws_receives_agent_reply_ids_only_and_never_notes() -> None:
    world = await _world()
    ticket, agent = world["ticket"], world["agent"]
    communicator = _communicator(await _portal_cookie(ticket))
    connected, _ = await communicator.connect()
    assert connected

    await sync_to_async(add_note)(ticket=ticket, agent=agent, body="internal")
    reply = await sync_to_async(send_reply)(ticket=ticket, agent=agent, body="Hello customer")

    frame = await _next(communicator)
    assert frame == {"type": "message_created", "message": str(reply.public_id)}
    assert await communicator.receive_nothing(0.3)
    await communicator.disconnect()


async def test_portal_ws_hears_nothing_of_other_tickets_or_drop_messages() -> None:
    world = await _world()
    ticket = world["ticket"]
    other = await sync_to_async(factories.make_ticket)(channel=world["channel"])
    communicator = _communicator(await _portal_cookie(ticket))
    connected, _ = await communicator.connect()
    assert connected

    await sync_to_async(add_message)(
        ticket=other, kind=MessageKind.INBOUND, source=MessageSource.PORTAL, body="other"
    )
    await sync_to_async(portal_services.add_drop_message)(
        ticket=ticket, body="unverified", idempotency_key=None
    )

    assert await communicator.receive_nothing(0.5)
    await communicator.disconnect()


async def test_revoke_ends_portal_sessions() -> None:
    world = await _world()
    ticket = world["ticket"]
    communicator = _communicator(await _portal_cookie(ticket))
    connected, _ = await communicator.connect()
    assert connected

    await sync_to_async(portal_services.revoke_portal_access)(
        ticket=ticket, actor=portal_selectors.audit.Actor.system("test")
    )

    output = await communicator.receive_output(2)
    assert output == {"type": "websocket.close", "code": 4403}
    again = _communicator(await _portal_cookie_cached(communicator))
    connected, _ = await again.connect()
    assert not connected


async def _portal_cookie_cached(communicator: WebsocketCommunicator) -> str:
    for name, value in communicator.scope["headers"]:
        if name == b"cookie":
            return value.decode().split("=", 1)[1]
    return ""


async def test_portal_ws_caps_sockets_per_session(monkeypatch: pytest.MonkeyPatch) -> None:
    from inbox import portal_consumers

    monkeypatch.setattr(portal_consumers, "MAX_SOCKETS_PER_GRANT", 1)
    world = await _world()
    cookie = await _portal_cookie(world["ticket"])
    first = _communicator(cookie)
    assert (await first.connect())[0]

    second = _communicator(cookie)
    connected, code = await second.connect()

    assert not connected
    assert code == 4429
    await first.disconnect()


async def test_linking_or_unlinking_a_contact_reloads_only_its_open_pages() -> None:
    world = await _world()
    ticket, agent = world["ticket"], world["agent"]
    kim_cookie, kim = await _contact_cookie(ticket, "kim.muster@example.invalid")
    jo_cookie, _ = await _contact_cookie(ticket, "jo.beispiel@example.invalid")
    sockets = {
        "kim": _communicator(kim_cookie),
        "jo": _communicator(jo_cookie),
        "author": _communicator(await _portal_cookie(ticket)),
    }
    for name, communicator in sockets.items():
        connected, code = await communicator.connect()
        assert connected, (name, code)

    for change in (link_contact_to_author, unlink_contact_from_author):
        await sync_to_async(change)(ticket=ticket, agent=agent, contact=kim)

        assert await _next(sockets["kim"]) == {"type": "access_changed"}
        assert await sockets["jo"].receive_nothing(0.3)
        assert await sockets["author"].receive_nothing(0.1)
    for communicator in sockets.values():
        await communicator.disconnect()
