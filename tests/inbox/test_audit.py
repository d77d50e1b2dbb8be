"""Audit log: append-only, hash-chained, and verification finds the first broken link."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from inbox import audit
from inbox.models import AuditEvent

pytestmark = pytest.mark.django_db


def _chain(n: int) -> list[AuditEvent]:
    return [
        audit.record(actor=audit.Actor.system("test"), action="test.event", data={"n": i})
        for i in range(n)
    ]


def test_verify_accepts_an_intact_chain() -> None:
    _chain(5)

    result = audit.verify()

    assert result.ok
    assert result.checked == 5


def test_record_links_each_event_to_the_previous() -> None:
    events = _chain(3)

    assert events[0].prev_hash == audit.GENESIS_HASH
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash


def test_verify_audit_log_detects_edited_event() -> None:
    events = _chain(5)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE inbox_auditevent SET action = %s WHERE id = %s", ["tampered", events[2].id]
        )

    result = audit.verify()

    assert result.first_break is not None
    assert result.first_break.event_id == events[2].id
    assert "changed" in result.first_break.reason


def test_verify_audit_log_detects_deleted_event() -> None:
    events = _chain(5)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM inbox_auditevent WHERE id = %s", [events[1].id])

    result = audit.verify()

    assert result.first_break is not None
    assert result.first_break.event_id == events[2].id


def test_verify_audit_log_detects_deleted_newest_event() -> None:
    events = _chain(4)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM inbox_auditevent WHERE id = %s", [events[-1].id])

    result = audit.verify()

    assert result.first_break is not None
    assert "newest" in result.first_break.reason


def test_verify_audit_log_detects_reordered_events() -> None:
    events = _chain(5)
    a, b = events[1], events[3]
    with connection.cursor() as cursor:
        # Swap the content of two events, hashes included, keeping their ids.
        for target, source in ((a.id, b), (b.id, a)):
            cursor.execute(
                "UPDATE inbox_auditevent SET action=%s, prev_hash=%s, hash=%s WHERE id=%s",
                [source.action, source.prev_hash, f"tmp{target}", target],
            )
        cursor.execute("UPDATE inbox_auditevent SET hash=%s WHERE id=%s", [b.hash, a.id])
        cursor.execute("UPDATE inbox_auditevent SET hash=%s WHERE id=%s", [a.hash, b.id])

    result = audit.verify()

    assert result.first_break is not None
    assert result.first_break.event_id == a.id


def test_audit_event_refuses_update_and_delete_through_the_orm() -> None:
    event = _chain(1)[0]
    event.action = "changed"

    with pytest.raises(RuntimeError, match="append-only"):
        event.save()
    with pytest.raises(RuntimeError, match="append-only"):
        event.delete()


def test_verify_audit_log_command_exit_status() -> None:
    events = _chain(3)
    call_command("verify_audit_log")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE inbox_auditevent SET actor_id = 'x' WHERE id = %s", [events[0].id])

    with pytest.raises(CommandError, match=f"event {events[0].id}"):
        call_command("verify_audit_log")


@pytest.mark.django_db
def test_record_many_chains_in_order_and_verifies() -> None:
    audit.record(actor=audit.Actor.system("test"), action="before")
    events = audit.record_many(
        [audit.Entry(actor=audit.Actor.system("test"), action=f"batch.{i}") for i in range(5)]
    )

    assert [e.action for e in AuditEvent.objects.order_by("id")][-5:] == [
        f"batch.{i}" for i in range(5)
    ]
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert audit.verify().ok
    AuditEvent.objects.filter(pk=events[2].pk).update(action="batch.edited")
    assert audit.verify().first_break is not None
