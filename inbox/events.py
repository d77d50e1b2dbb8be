"""Realtime events: group names, one builder per event and audience, broadcast on commit.

Channel-layer events carry ids and statuses only (SECURITY-DESIGN.md §4); browsers fetch the
content over HTTPS, where access is checked and audited. Agent groups and customer groups are
separate, so an internal note can never reach a customer by mistake.
"""

from __future__ import annotations

import asyncio
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


class ContactAccessChanged(TypedDict):
    type: Literal["portal.contact_access_changed"]
    ticket: str
    contact: str


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
    | ContactAccessChanged
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


def contact_access_changed(
    *, ticket_public_id: uuid.UUID, contact_public_id: uuid.UUID
) -> ContactAccessChanged:
    """An agent linked or unlinked an e-mail contact: its open pages show what they may now."""
    return {
        "type": "portal.contact_access_changed",
        "ticket": str(ticket_public_id),
        "contact": str(contact_public_id),
    }


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
    """One event loop thread per process for a network channel layer (Redis), sending in bursts.

    ``async_to_sync`` per event would start a loop, and channels-redis a connection pool, for
    every message: milliseconds each. Sends are fire-and-forget: a realtime hint must never
    hold up the write it follows.

    Events wait up to ``FLUSH_AFTER`` seconds and then go out together: each group's in the
    order they were sent, several groups at once. One pipelined round trip first asks which
    of the burst's groups have members, and only those get a ``group_send``: most events of a
    pipeline burst are for tickets nobody has open, and a ``group_send`` costs two round trips
    and a fifth of a millisecond of CPU even to an empty group (``bench/events.py``).
    """

    FLUSH_AFTER = 0.01
    # Groups sent to at once. A burst must not ask the layer's connection pool for more
    # connections than it allows (it refuses past its cap and the events are lost).
    MAX_IN_FLIGHT = 8

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._pending: list[tuple[BaseChannelLayer, str, dict[str, object]]] = []
        self._scheduled = False
        self._flushing: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, layer: BaseChannelLayer, group: str, payload: dict[str, object]) -> None:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                # A forked worker needs its own loop (and none of its parent's queue).
                self._loop = asyncio.new_event_loop()
                self._pid, self._pending, self._scheduled = os.getpid(), [], False
                self._flushing, self._tasks = None, set()
                threading.Thread(
                    target=self._loop.run_forever, name="haven-events", daemon=True
                ).start()
            self._pending.append((layer, group, payload))
            if self._scheduled:
                return
            self._scheduled = True
            loop = self._loop
        loop.call_soon_threadsafe(loop.call_later, self.FLUSH_AFTER, self._flush)

    def _flush(self) -> None:
        """On the loop: take what is queued and deliver it after any delivery still running."""
        with self._lock:
            batch, self._pending, self._scheduled = self._pending, [], False
        task = asyncio.get_running_loop().create_task(self._deliver(batch))
        self._tasks.add(task)  # the loop keeps weak references only
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, batch: list[tuple[BaseChannelLayer, str, dict[str, object]]]) -> None:
        if self._flushing is None:
            self._flushing = asyncio.Lock()
        async with self._flushing:
            layers: dict[int, tuple[BaseChannelLayer, list[tuple[str, dict[str, object]]]]] = {}
            for layer, group, payload in batch:
                layers.setdefault(id(layer), (layer, []))[1].append((group, payload))
            for layer, sends in layers.values():
                try:
                    watched = await _groups_with_members(layer, {group for group, _ in sends})
                except Exception as exc:  # noqa: BLE001 - a realtime hint is never worth a crash
                    logger.warning(
                        "broadcast failed events=%s error=%s", len(sends), type(exc).__name__
                    )
                    continue
                by_group: dict[str, list[dict[str, object]]] = {}
                for group, payload in sends:
                    if group in watched:
                        by_group.setdefault(group, []).append(payload)
                slots = asyncio.Semaphore(self.MAX_IN_FLIGHT)
                await asyncio.gather(
                    *(
                        _send_in_order(layer, group, payloads, slots)
                        for group, payloads in by_group.items()
                    )
                )


async def _send_in_order(
    layer: BaseChannelLayer,
    group: str,
    payloads: list[dict[str, object]],
    slots: asyncio.Semaphore,
) -> None:
    """One group's events, one after another: a page hears "pending" before "sent"."""
    async with slots:
        for payload in payloads:
            try:
                await layer.group_send(group, payload)
            except Exception as exc:  # noqa: BLE001 - a realtime hint is never worth a crash
                logger.warning(
                    "broadcast failed group=%s type=%s error=%s",
                    group.split(".")[0],
                    payload["type"],
                    type(exc).__name__,
                )


async def _groups_with_members(layer: BaseChannelLayer, groups: set[str]) -> set[str]:
    """The groups that have members, asked of channels-redis in one round trip per shard.

    A group without members would take the layer's ``group_send`` two round trips to find
    that out and send nothing. Members whose membership expired still count here; the
    ``group_send`` that follows prunes them, as it would have. Other layers: every group.
    Reads channels-redis 4's layout, a sorted set per group at ``_group_key(group)``; the
    integration tests check it against a real Redis, so an upgrade that changes it fails them.
    """
    shard_of = getattr(layer, "consistent_hash", None)
    group_key = getattr(layer, "_group_key", None)
    if shard_of is None or group_key is None:
        return groups
    shards: dict[int, list[str]] = {}
    for group in groups:
        shards.setdefault(shard_of(group), []).append(group)
    watched: set[str] = set()
    for index, names in shards.items():
        pipe = layer.connection(index).pipeline(transaction=False)
        for name in names:
            pipe.zcard(group_key(name))
        counts = await pipe.execute()
        watched.update(name for name, count in zip(names, counts, strict=True) if count)
    return watched


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
