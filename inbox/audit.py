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

from inbox.models import AuditCheckpoint, AuditEvent, AuditHead

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
    """``checked`` events hold together; ``walked`` of them were read by this check.

    ``full`` is False for a check that started at the checkpoint (``verify_recent``);
    ``full_verified_at`` is when the whole chain was last walked from the start.
    """

    checked: int
    first_break: ChainBreak | None
    last_hash: str
    walked: int = 0
    full: bool = True
    full_verified_at: datetime | None = None
    last_event_id: int = 0

    @property
    def ok(self) -> bool:
        return self.first_break is None


def _events(*, after: int = 0, batch: int = 2000) -> Iterator[AuditEvent]:
    last_id = after
    while True:
        rows = list(AuditEvent.objects.filter(id__gt=last_id).order_by("id")[:batch])
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id


@dataclass(slots=True)
class _Walk:
    """Where a walk along the chain stands: the last good event and how many were read."""

    prev_hash: str = GENESIS_HASH
    prev_id: int = 0
    prev_time: datetime | None = None
    walked: int = 0


def _walk(walk: _Walk) -> ChainBreak | None:
    """Check every event after ``walk.prev_id`` against its predecessor; advance ``walk``."""
    for event in _events(after=walk.prev_id):
        if event.prev_hash != walk.prev_hash:
            return ChainBreak(
                event.id, "previous event missing or reordered (prev_hash does not match)"
            )
        if compute_hash(event) != event.hash:
            return ChainBreak(event.id, "event content was changed")
        if event.id <= walk.prev_id or (
            walk.prev_time is not None and event.created_at < walk.prev_time
        ):
            return ChainBreak(event.id, "events out of order")
        walk.prev_hash, walk.prev_id, walk.prev_time = event.hash, event.id, event.created_at
        walk.walked += 1
    return None


def _walk_to_head(walk: _Walk, *, total: int) -> ChainBreak | None:
    """Walk to the end and compare with the head row, following appends made meanwhile.

    Writers append all the time (every decryption is an event): when the head is ahead of the
    walk's end, the walk goes on from there, and only a head that stays ahead of events that
    are not there is a break.
    """
    seen_head_id: int | None = None
    for _ in range(5):
        broken = _walk(walk)
        if broken is not None:
            return broken
        head = AuditHead.objects.filter(id=1).first()
        if head is not None and total + walk.walked == 0 and head.last_event_id:
            return ChainBreak(head.last_event_id, "all events missing")
        if head is None or head.last_hash in (walk.prev_hash, GENESIS_HASH):
            return None
        if head.last_event_id <= walk.prev_id or head.last_event_id == seen_head_id:
            break
        seen_head_id = head.last_event_id
    return ChainBreak(walk.prev_id, "newest events missing (head differs)")


def verify() -> VerifyResult:
    """Walk the chain from the start; report the first edited, missing or reordered event.

    Reads only: ``verify_full`` also moves the checkpoint that ``verify_recent`` starts from.
    """
    walk = _Walk()
    broken = _walk_to_head(walk, total=0)
    return VerifyResult(
        walk.walked, broken, walk.prev_hash, walked=walk.walked, last_event_id=walk.prev_id
    )


def verify_full() -> VerifyResult:
    """``verify``, then remember the verified end as the checkpoint (or forget it on a break).

    Forgetting it on a break makes every later ``verify_recent`` walk from the start again, so
    a break in old events keeps showing until someone repairs the log.
    """
    result = verify()
    now = timezone.now()
    if not result.ok or result.checked == 0:
        AuditCheckpoint.objects.filter(id=1).delete()
        if result.first_break is not None:
            logger.error(
                "audit chain broken event=%s checked=%s",
                result.first_break.event_id,
                result.checked,
            )
        return result
    AuditCheckpoint.objects.update_or_create(
        id=1,
        defaults={
            "event_id": result.last_event_id,
            "event_hash": result.last_hash,
            "checked": result.checked,
            "verified_at": now,
            "full_verified_at": now,
        },
    )
    logger.info("audit chain verified in full events=%s", result.checked)
    return VerifyResult(
        result.checked,
        None,
        result.last_hash,
        walked=result.walked,
        full_verified_at=now,
        last_event_id=result.last_event_id,
    )


def verify_recent() -> VerifyResult:
    """Verify only the events after the checkpoint, then move the checkpoint to the end.

    Every new event is checked as ``verify`` checks it, chained to the checkpoint event, whose
    stored and recomputed hashes must still match the checkpoint. Events before the checkpoint
    are not re-read: edits there show up in ``verify_full`` (``manage.py verify_audit_log`` or
    the DPO page's button). Without a checkpoint, or after a break, this is ``verify_full``.
    """
    point = AuditCheckpoint.objects.filter(id=1).first()
    if point is None:
        return verify_full()
    anchor = AuditEvent.objects.filter(id=point.event_id).first()
    if anchor is None or anchor.hash != point.event_hash or compute_hash(anchor) != anchor.hash:
        AuditCheckpoint.objects.filter(id=1).delete()
        logger.error("audit checkpoint event missing or changed event=%s", point.event_id)
        reason = "checkpoint event missing or changed"
        return VerifyResult(
            point.checked,
            ChainBreak(point.event_id, reason),
            point.event_hash,
            full=False,
            full_verified_at=point.full_verified_at,
        )
    walk = _Walk(anchor.hash, anchor.id, anchor.created_at)
    broken = _walk_to_head(walk, total=point.checked)
    checked = point.checked + walk.walked
    if broken is not None:
        AuditCheckpoint.objects.filter(id=1).delete()
        logger.error("audit chain broken event=%s checked=%s", broken.event_id, checked)
    elif walk.walked:
        # Only forward: a slower concurrent check must not move the checkpoint back.
        AuditCheckpoint.objects.filter(id=1, event_id__lt=walk.prev_id).update(
            event_id=walk.prev_id,
            event_hash=walk.prev_hash,
            checked=checked,
            verified_at=timezone.now(),
        )
    return VerifyResult(
        checked,
        broken,
        walk.prev_hash,
        walked=walk.walked,
        full=False,
        full_verified_at=point.full_verified_at,
        last_event_id=walk.prev_id,
    )


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
