"""Realtime events: group names, one builder per event and audience, broadcast on commit.

Channel-layer events carry ids and statuses only (SECURITY-DESIGN.md §4); browsers fetch the
content over HTTPS, where access is checked and audited. Agent groups and customer groups are
separate, so an internal note can never reach a customer by mistake.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import threading
import uuid
from collections.abc import Sequence
from typing import Literal, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def team_group(team_public_id: uuid.UUID) -> str:
    """Every agent of a team: the live inbox list."""
    return f"agents.team.{team_public_id.hex}"


def ticket_agents_group(ticket_public_id: uuid.UUID) -> str:
    """Agents with a ticket page open."""
    return f"agents.ticket.{ticket_public_id.hex}"


def agent_user_group(user_id: int) -> str:
    """Every socket of one agent: closed together at logout or deactivation."""
    return f"agents.user.{int(user_id)}"


def ticket_customer_group(ticket_public_id: uuid.UUID) -> str:
    """The customer's portal session(s) of one ticket."""
    return f"customer.ticket.{ticket_public_id.hex}"


class TicketChanged(TypedDict):
    type: Literal["inbox.ticket_changed"]
    ticket: str
    status: str
    change: str


class TicketsCreated(TypedDict):
    type: Literal["inbox.tickets_created"]
    tickets: list[str]


class MessageCreated(TypedDict):
    type: Literal["ticket.message_created"]
    ticket: str
    message: str
    kind: str


class ActionChanged(TypedDict):
    type: Literal["ticket.action_changed"]
    ticket: str
    action: str
    status: str


class CustomerMessageCreated(TypedDict):
    type: Literal["portal.message_created"]
    ticket: str
    message: str


class AccessRevoked(TypedDict):
    type: Literal["session.revoked"]
    ticket: str


class Presence(TypedDict):
    type: Literal["ticket.presence"]
    ticket: str
    agent: int
    state: str


class SessionEnded(TypedDict):
    type: Literal["session.ended"]


Event = (
    TicketChanged
    | TicketsCreated
    | MessageCreated
    | ActionChanged
    | CustomerMessageCreated
    | AccessRevoked
    | Presence
    | SessionEnded
)

PRESENCE_STATES = frozenset({"joined", "viewing", "typing", "left"})


def ticket_changed(*, ticket_public_id: uuid.UUID, status: str, change: str) -> TicketChanged:
    return {
        "type": "inbox.ticket_changed",
        "ticket": str(ticket_public_id),
        "status": status,
        "change": change,
    }


def tickets_created(*, ticket_public_ids: Sequence[uuid.UUID]) -> TicketsCreated:
    """Several tickets of one team created in one commit (a pipeline batch): one event for the
    team's inbox instead of one per ticket, so every open inbox refreshes once."""
    return {"type": "inbox.tickets_created", "tickets": [str(t) for t in ticket_public_ids]}


def message_created(
    *, ticket_public_id: uuid.UUID, message_public_id: uuid.UUID, kind: str
) -> MessageCreated:
    return {
        "type": "ticket.message_created",
        "ticket": str(ticket_public_id),
        "message": str(message_public_id),
        "kind": kind,
    }


def action_changed(
    *, ticket_public_id: uuid.UUID, action_public_id: uuid.UUID, status: str
) -> ActionChanged:
    return {
        "type": "ticket.action_changed",
        "ticket": str(ticket_public_id),
        "action": str(action_public_id),
        "status": status,
    }


def customer_message_created(
    *, ticket_public_id: uuid.UUID, message_public_id: uuid.UUID, kind: str
) -> CustomerMessageCreated | None:
    """The customer hears of inbound and outbound messages only, never of notes."""
    if kind not in {"inbound", "outbound"}:
        return None
    return {
        "type": "portal.message_created",
        "ticket": str(ticket_public_id),
        "message": str(message_public_id),
    }


def access_revoked(*, ticket_public_id: uuid.UUID) -> AccessRevoked:
    return {"type": "session.revoked", "ticket": str(ticket_public_id)}


def presence(*, ticket_public_id: uuid.UUID, agent_id: int, state: str) -> Presence:
    """Another agent joined, is viewing, typing or left a ticket: for the ticket's agents only."""
    if state not in PRESENCE_STATES:
        raise ValueError(f"unknown presence state {state!r}")
    return {
        "type": "ticket.presence",
        "ticket": str(ticket_public_id),
        "agent": int(agent_id),
        "state": state,
    }


def session_ended() -> SessionEnded:
    return {"type": "session.ended"}


class _BackgroundSender:
    """One event loop thread per process for a network channel layer (Redis).

    ``async_to_sync`` per event would start a loop, and channels-redis a connection pool, for
    every message: milliseconds each. Sends are fire-and-forget: a realtime hint must never
    hold up the write it follows.
    """

    # Sends in flight at once. A burst (a batch of tickets) must queue here rather than ask
    # the layer's connection pool for a connection per event, which it refuses past its cap.
    MAX_IN_FLIGHT = 8

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def _ensure_loop(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Semaphore]:
        with self._lock:
            if self._loop is None or self._slots is None or self._pid != os.getpid():
                # A forked worker needs its own loop.
                loop = asyncio.new_event_loop()
                self._slots = asyncio.Semaphore(self.MAX_IN_FLIGHT)  # bound on first use
                threading.Thread(target=loop.run_forever, name="haven-events", daemon=True).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop, self._slots

    def send(self, layer: BaseChannelLayer, group: str, payload: dict[str, object]) -> None:
        loop, slots = self._ensure_loop()

        async def bounded() -> None:
            async with slots:
                await layer.group_send(group, payload)

        future = asyncio.run_coroutine_threadsafe(bounded(), loop)
        future.add_done_callback(lambda f: _log_failure(f, group, payload))


def _log_failure(
    future: concurrent.futures.Future[None], group: str, payload: dict[str, object]
) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning(
            "broadcast failed group=%s type=%s error=%s",
            group.split(".")[0],
            payload["type"],
            type(future.exception()).__name__,
        )


_background = _BackgroundSender()


def send_now(group: str, event: Event) -> None:
    """Send to a group now. A channel layer that is down loses the event, not the data:
    clients refetch state on reconnect and poll while live updates are paused."""
    layer = get_channel_layer()
    if layer is None:
        return
    payload = json.loads(json.dumps(event))  # ids and strings only: must survive JSON
    if not isinstance(layer, InMemoryChannelLayer):
        _background.send(layer, group, payload)
        return
    # The in-memory layer lives on the server's event loop: async_to_sync runs it there.
    try:
        async_to_sync(layer.group_send)(group, payload)
    except Exception:  # noqa: BLE001 - a realtime hint must never fail the write it follows
        logger.warning("broadcast failed group=%s type=%s", group.split(".")[0], event["type"])


def broadcast_on_commit(group: str, event: Event) -> None:
    """Send ``event`` to ``group`` once the current transaction commits (never on rollback)."""
    transaction.on_commit(lambda: send_now(group, event))
