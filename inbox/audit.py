"""Appending to and verifying the hash-chained audit log. Events carry no personal data."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from inbox.models import AuditEvent, AuditHead

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something: an agent or admin (user id), a customer session, or the system."""

    type: str
    id: str = ""

    @classmethod
    def user(cls, user_id: int | None) -> Actor:
        return cls("user", str(user_id or ""))

    @classmethod
    def customer(cls, ticket_public_id: uuid.UUID | str) -> Actor:
        return cls("customer", str(ticket_public_id))

    @classmethod
    def system(cls, component: str) -> Actor:
        return cls("system", component)


def _canonical(event: AuditEvent) -> bytes:
    # The id is left out (it is known only after the insert); prev_hash fixes the order.
    body = {
        "created_at": event.created_at.isoformat(),
        "actor_type": event.actor_type,
        "actor_id": event.actor_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "ticket": str(event.ticket_public_id) if event.ticket_public_id else "",
        "purpose": event.purpose,
        "data": event.data,
        "prev": event.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def compute_hash(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    """One event to append: what ``record`` takes, for appending several at once."""

    actor: Actor
    action: str
    object_type: str = ""
    object_id: object = ""
    ticket_public_id: uuid.UUID | None = None
    purpose: str = ""
    data: Mapping[str, object] | None = None


def record(
    *,
    actor: Actor,
    action: str,
    object_type: str = "",
    object_id: object = "",
    ticket_public_id: uuid.UUID | None = None,
    purpose: str = "",
    data: Mapping[str, object] | None = None,
) -> AuditEvent:
    """Append one event to the chain. ``data`` must hold ids, counts and codes only."""
    entry = Entry(actor, action, object_type, object_id, ticket_public_id, purpose, data)
    return record_many([entry])[0]


@transaction.atomic
def record_many(entries: Sequence[Entry]) -> list[AuditEvent]:
    """Append events to the chain in order, under one lock of its head.

    The head row is written first: on PostgreSQL that takes its row lock, on SQLite the write
    lock, so concurrent appenders chain strictly one after another.
    """
    if not entries:
        return []
    if not AuditHead.objects.filter(id=1).update(last_hash=F("last_hash")):  # takes the lock
        AuditHead.objects.get_or_create(id=1)
    head = AuditHead.objects.select_for_update().get(id=1)
    prev_hash = head.last_hash
    now = timezone.now()
    events: list[AuditEvent] = []
    for entry in entries:
        event = AuditEvent(
            created_at=now,
            actor_type=entry.actor.type,
            actor_id=entry.actor.id,
            action=entry.action,
            object_type=entry.object_type,
            object_id=str(entry.object_id),
            ticket_public_id=entry.ticket_public_id,
            purpose=entry.purpose,
            data=dict(entry.data or {}),
            prev_hash=prev_hash,
        )
        event.hash = prev_hash = compute_hash(event)
        events.append(event)
    if len(events) == 1:
        events[0].save()
    else:
        # Ids must follow the chain's order: PostgreSQL assigns them in insert order within
        # one statement, and SQLite inserts row by row.
        AuditEvent.objects.bulk_create(events)
    AuditHead.objects.filter(id=1).update(last_event_id=events[-1].id, last_hash=prev_hash)
    return events


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first place where the chain does not hold, and why."""

    event_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class VerifyResult:
    checked: int
    first_break: ChainBreak | None
    last_hash: str

    @property
    def ok(self) -> bool:
        return self.first_break is None


def _events(batch: int = 2000) -> Iterator[AuditEvent]:
    last_id = 0
    while True:
        rows = list(AuditEvent.objects.filter(id__gt=last_id).order_by("id")[:batch])
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id


def verify() -> VerifyResult:
    """Walk the chain from the start; report the first edited, missing or reordered event."""
    prev_hash = GENESIS_HASH
    prev_id = 0
    prev_time: datetime | None = None
    checked = 0
    for event in _events():
        if event.prev_hash != prev_hash:
            reason = "previous event missing or reordered (prev_hash does not match)"
            return VerifyResult(checked, ChainBreak(event.id, reason), prev_hash)
        if compute_hash(event) != event.hash:
            return VerifyResult(
                checked, ChainBreak(event.id, "event content was changed"), prev_hash
            )
        if event.id <= prev_id or (prev_time is not None and event.created_at < prev_time):
            return VerifyResult(checked, ChainBreak(event.id, "events out of order"), prev_hash)
        prev_hash, prev_id, prev_time = event.hash, event.id, event.created_at
        checked += 1
    head = AuditHead.objects.filter(id=1).first()
    if head is not None and head.last_hash not in (prev_hash, GENESIS_HASH) and checked:
        return VerifyResult(
            checked, ChainBreak(prev_id, "newest events missing (head differs)"), prev_hash
        )
    if head is not None and checked == 0 and head.last_event_id:
        return VerifyResult(0, ChainBreak(head.last_event_id, "all events missing"), prev_hash)
    return VerifyResult(checked, None, prev_hash)


def record_after_commit(**event: object) -> None:
    """Append an event once the current transaction commits, in its own short transaction.

    For events of high-volume system work (the pipeline issuing secrets): appending inside
    the caller's transaction would hold the chain's head lock for all of it and serialise
    every worker behind it.
    """
    transaction.on_commit(lambda: record(**event))  # type: ignore[arg-type]


def record_many_after_commit(entries: Sequence[Entry]) -> None:
    """``record_after_commit`` for several events: one short transaction, one head lock."""
    if entries:
        batch = list(entries)
        transaction.on_commit(lambda: record_many(batch))
