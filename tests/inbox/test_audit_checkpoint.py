"""The audit checkpoint: quick checks read only new events and still catch every change to them."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from inbox import audit
from inbox.models import AuditCheckpoint, AuditEvent

pytestmark = pytest.mark.django_db


def _chain(n: int, start: int = 0) -> list[AuditEvent]:
    return [
        audit.record(actor=audit.Actor.system("test"), action="test.event", data={"n": i})
        for i in range(start, start + n)
    ]


def _tamper(event: AuditEvent) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE inbox_auditevent SET action = 'tampered' WHERE id = %s", [event.id])


def test_verify_recent_without_checkpoint_walks_everything_and_sets_it() -> None:
    events = _chain(4)

    result = audit.verify_recent()

    point = AuditCheckpoint.objects.get()
    assert result.ok
    assert (result.checked, result.walked, result.full) == (4, 4, True)
    assert (point.event_id, point.event_hash, point.checked) == (events[-1].id, events[-1].hash, 4)
    assert point.full_verified_at is not None


def test_verify_recent_reads_only_events_after_the_checkpoint() -> None:
    _chain(50)
    audit.verify_full()
    newer = _chain(3, start=50)

    result = audit.verify_recent()
    again = audit.verify_recent()

    assert result.ok
    assert (result.checked, result.walked, result.full) == (53, 3, False)
    assert AuditCheckpoint.objects.get().event_id == newer[-1].id
    assert (again.checked, again.walked) == (53, 0)


def test_verify_recent_detects_a_changed_new_event() -> None:
    _chain(5)
    audit.verify_full()
    newer = _chain(3, start=5)
    _tamper(newer[1])

    result = audit.verify_recent()

    assert result.first_break is not None
    assert result.first_break.event_id == newer[1].id
    assert "changed" in result.first_break.reason


def test_verify_recent_detects_a_deleted_new_event() -> None:
    _chain(5)
    audit.verify_full()
    newer = _chain(3, start=5)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM inbox_auditevent WHERE id = %s", [newer[0].id])

    result = audit.verify_recent()

    assert result.first_break is not None
    assert result.first_break.event_id == newer[1].id


def test_verify_recent_detects_deleted_newest_events() -> None:
    _chain(5)
    audit.verify_full()
    newer = _chain(2, start=5)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM inbox_auditevent WHERE id >= %s", [newer[0].id])

    result = audit.verify_recent()

    assert result.first_break is not None
    assert "newest" in result.first_break.reason


def test_verify_recent_detects_a_changed_or_missing_checkpoint_event() -> None:
    events = _chain(5)
    audit.verify_full()
    _tamper(events[-1])

    changed = audit.verify_recent()

    assert changed.first_break is not None
    assert changed.first_break.event_id == events[-1].id
    # The break forgets the checkpoint: the next check walks the whole chain and still sees it.
    assert not AuditCheckpoint.objects.exists()
    assert audit.verify_recent().first_break is not None


def test_verify_recent_follows_events_appended_while_it_walked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _chain(3)
    audit.verify_full()
    _chain(2, start=3)
    walk_once = audit._walk
    appended: list[AuditEvent] = []

    def walk_while_an_agent_reads(walk: audit._Walk) -> audit.ChainBreak | None:
        broken = walk_once(walk)
        if not appended:  # another process appends between the walk and the head read
            appended.extend(_chain(1, start=5))
        return broken

    monkeypatch.setattr(audit, "_walk", walk_while_an_agent_reads)

    result = audit.verify_recent()

    assert result.ok
    assert result.walked == 3
    assert AuditCheckpoint.objects.get().event_id == appended[0].id


def test_old_edit_is_left_to_the_full_check_which_then_keeps_reporting_it() -> None:
    events = _chain(5)
    audit.verify_full()
    _tamper(events[1])  # before the checkpoint

    quick = audit.verify_recent()
    full = audit.verify_full()
    after = audit.verify_recent()

    assert quick.ok  # the trade-off: old events are re-read only by a full check
    assert full.first_break is not None
    assert full.first_break.event_id == events[1].id
    assert after.first_break is not None
    assert after.first_break.event_id == events[1].id


def test_verify_audit_log_command_moves_the_checkpoint_and_forgets_it_on_a_break() -> None:
    events = _chain(3)

    call_command("verify_audit_log")
    assert AuditCheckpoint.objects.get().event_id == events[-1].id

    _tamper(events[0])
    with pytest.raises(CommandError, match=f"event {events[0].id}"):
        call_command("verify_audit_log")
    assert not AuditCheckpoint.objects.exists()
