"""Deleting Haven's public replies after an erasure: real connectors against the simulator."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from channels_bridge.simulator import RunningSimulator
from inbox import audit, tasks
from inbox.models import (
    AuditEvent,
    Channel,
    ChannelStatus,
    OutboxAction,
    OutboxKind,
    OutboxState,
    Platform,
    ReplyDeletion,
    ReplyDeletionState,
    Team,
    Ticket,
    Tombstone,
)
from inbox.services import erasure, gdpr, pipeline, reply_deletion, retention
from tests import factories

pytestmark = pytest.mark.django_db

CommitRunner = Callable[..., object]
EMAIL_TEXT = "parcel lost, write to lena.synthetic@example.org please"
PHONE_TEXT = "my parcel never came, call me on +49 151 23456789 please"
ACTOR = audit.Actor.system("test")


def _answered(
    channel: Channel, simulator: RunningSimulator, capture: CommitRunner, *, customer: str
) -> Ticket:
    """A customer post that Haven answered publicly on the platform; returns its ticket."""
    if channel.platform == Platform.FACEBOOK:
        simulator.sim.customer_facebook_comment(EMAIL_TEXT, customer=customer)
    else:
        simulator.sim.customer_x_mention(PHONE_TEXT, customer=customer)
    Channel.objects.filter(pk=channel.pk).update(next_poll_at=None)
    with capture(execute=True):
        pipeline.poll_channel(channel_id=channel.pk)
    ticket = Ticket.objects.filter(channel=channel).order_by("-pk").first()
    assert ticket is not None
    action = OutboxAction.objects.get(ticket=ticket, kind=OutboxKind.PUBLIC_REPLY)
    assert action.state == OutboxState.SENT
    return ticket


def _subject(ticket: Ticket) -> gdpr.Subject:
    assert ticket.channel is not None
    return gdpr.Subject(platform=ticket.channel.platform, author_id=ticket.author_external_id)


def _replies(simulator: RunningSimulator, platform: str) -> dict[str, bool]:
    """Haven's replies on the platform: id → deleted."""
    state = simulator.sim.snapshot()[platform]
    return {str(r["id"]): bool(r["deleted"]) for r in state["replies"]}


def _queued(channel: Channel, simulator: RunningSimulator, capture: CommitRunner) -> ReplyDeletion:
    """Erase a customer with reply deletion requested, without running the deletion yet."""
    ticket = _answered(channel, simulator, capture, customer="lena")
    with capture(execute=False):
        gdpr.erase_subject(
            subject=_subject(ticket), actor=ACTOR, delete_replies_on=[channel.platform]
        )
    return ReplyDeletion.objects.get()


@pytest.mark.parametrize("platform", [Platform.FACEBOOK, Platform.X])
def test_erase_subject_deletes_havens_public_reply_after_commit(
    team: Team,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
    platform: str,
) -> None:
    channel = factories.simulated_channel(team=team, simulator=simulator, platform=platform)
    ticket = _answered(channel, simulator, django_capture_on_commit_callbacks, customer="lena")
    reply_id = OutboxAction.objects.get(kind=OutboxKind.PUBLIC_REPLY).external_result_id
    assert _replies(simulator, platform) == {reply_id: False}

    with django_capture_on_commit_callbacks(execute=True):
        report = gdpr.erase_subject(
            subject=_subject(ticket), actor=ACTOR, delete_replies_on=[platform]
        )

    assert report.reply_deletions == {platform: 1}
    assert not Ticket.objects.filter(pk=ticket.pk).exists()
    assert _replies(simulator, platform) == {reply_id: True}
    deletion = ReplyDeletion.objects.get()
    assert deletion.state == ReplyDeletionState.DONE
    assert deletion.erasure_id == report.erasure_id
    assert deletion.reply_external_id == ""  # forgotten once the reply is gone
    assert Tombstone.objects.filter(ticket_public_id=deletion.ticket_public_id).exists()
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions.index("reply.delete_requested") < actions.index("subject.erase")
    assert "reply.deleted" in actions
    assert audit.verify().ok


def test_erase_subject_leaves_replies_unless_asked(
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    ticket = _answered(fb_channel, simulator, django_capture_on_commit_callbacks, customer="lena")

    with django_capture_on_commit_callbacks(execute=True):
        report = gdpr.erase_subject(subject=_subject(ticket), actor=ACTOR)

    assert report.reply_deletions == {}
    assert not ReplyDeletion.objects.exists()
    assert list(_replies(simulator, "facebook").values()) == [False]


def test_erase_subject_deletes_only_on_the_chosen_platforms_and_only_their_replies(
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    lena = _answered(fb_channel, simulator, django_capture_on_commit_callbacks, customer="lena")
    tom = _answered(fb_channel, simulator, django_capture_on_commit_callbacks, customer="tom")
    lenas_reply = OutboxAction.objects.get(ticket=lena, kind=OutboxKind.PUBLIC_REPLY)
    toms_reply = OutboxAction.objects.get(ticket=tom, kind=OutboxKind.PUBLIC_REPLY)

    with django_capture_on_commit_callbacks(execute=True):
        report = gdpr.erase_subject(subject=_subject(lena), actor=ACTOR, delete_replies_on=["x"])

    assert report.tickets_erased == (lena.reference,)
    assert report.reply_deletions == {}
    assert not ReplyDeletion.objects.exists()
    assert _replies(simulator, "facebook") == {
        lenas_reply.external_result_id: False,
        toms_reply.external_result_id: False,
    }


def test_reply_deletion_rows_hold_platform_ids_only(
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    deletion = _queued(fb_channel, simulator, django_capture_on_commit_callbacks)

    row = ReplyDeletion.objects.filter(pk=deletion.pk).values().get()

    assert set(row) == {
        "id",
        "public_id",
        "erasure_id",
        "channel_id",
        "reply_external_id",
        "ticket_public_id",
        "state",
        "attempts",
        "claimed_at",
        "next_attempt_at",
        "last_error_code",
        "last_error_message",
        "created_at",
        "done_at",
    }
    assert row["reply_external_id"] in _replies(simulator, "facebook")
    assert "lena" not in repr(row).lower()


def test_erasure_and_queued_deletion_roll_back_together(
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticket = _answered(fb_channel, simulator, django_capture_on_commit_callbacks, customer="lena")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("shredding failed")

    monkeypatch.setattr(erasure, "shred_tickets", broken)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        gdpr.erase_subject(subject=_subject(ticket), actor=ACTOR, delete_replies_on=["facebook"])

    assert callbacks == []
    assert not ReplyDeletion.objects.exists()
    assert Ticket.objects.filter(pk=ticket.pk).exists()
    assert list(_replies(simulator, "facebook").values()) == [False]


def test_erase_subject_queues_nothing_for_a_ticket_under_legal_hold(
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    ticket = _answered(fb_channel, simulator, django_capture_on_commit_callbacks, customer="lena")
    Ticket.objects.filter(pk=ticket.pk).update(legal_hold=True)
    match = gdpr.find_subject(_subject(ticket))

    counts = reply_deletion.count_subject_replies(match=match, subject=_subject(ticket))
    with django_capture_on_commit_callbacks(execute=True):
        report = gdpr.erase_subject(
            subject=_subject(ticket), actor=ACTOR, delete_replies_on=["facebook"]
        )

    assert counts == {}
    assert report.tickets_held == (ticket.reference,)
    assert not ReplyDeletion.objects.exists()


def test_delete_public_reply_second_run_is_a_no_op(
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    deletion = _queued(fb_channel, simulator, django_capture_on_commit_callbacks)
    first = reply_deletion.delete_public_reply(deletion_id=deletion.pk)
    writes = simulator.sim.write_count()

    second = reply_deletion.delete_public_reply(deletion_id=deletion.pk)

    assert (first.state, second.state) == (ReplyDeletionState.DONE, ReplyDeletionState.DONE)
    assert simulator.sim.write_count() == writes
    assert AuditEvent.objects.filter(action="reply.deleted").count() == 1


def test_delete_public_reply_already_gone_counts_as_done(
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    deletion = _queued(fb_channel, simulator, django_capture_on_commit_callbacks)
    pipeline.connector_for(fb_channel).delete_reply(deletion.reply_external_id)  # by hand

    outcome = reply_deletion.delete_public_reply(deletion_id=deletion.pk)

    deletion.refresh_from_db()
    assert outcome.state == ReplyDeletionState.DONE
    assert deletion.last_error_code == "already_gone"


def test_delete_public_reply_crash_after_delete_is_retried_and_done(
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    deletion = _queued(fb_channel, simulator, django_capture_on_commit_callbacks)
    simulator.sim.add_fault("crash_after_write", platform="facebook", method="DELETE")

    first = reply_deletion.delete_public_reply(deletion_id=deletion.pk)
    ReplyDeletion.objects.filter(pk=deletion.pk).update(next_attempt_at=timezone.now())
    second = reply_deletion.delete_public_reply(deletion_id=deletion.pk)

    assert first.state == ReplyDeletionState.PENDING
    assert first.retry_at is not None
    assert second.state == ReplyDeletionState.DONE
    assert list(_replies(simulator, "facebook").values()) == [True]


def test_rate_limited_deletion_waits_until_reset_then_completes(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    deletion = _queued(x_channel, simulator, django_capture_on_commit_callbacks)
    simulator.sim.add_fault("rate_limit", platform="x", method="DELETE", reset_after_s=90)

    limited = reply_deletion.delete_public_reply(deletion_id=deletion.pk)
    too_early = reply_deletion.delete_public_reply(deletion_id=deletion.pk)

    deletion.refresh_from_db()
    assert limited.state == ReplyDeletionState.PENDING
    assert limited.retry_at is not None
    assert limited.retry_at > timezone.now() + timedelta(seconds=80)
    assert too_early.state == ReplyDeletionState.PENDING
    assert deletion.attempts == 0  # rate limits do not count towards giving up
    assert list(_replies(simulator, "x").values()) == [False]
    ReplyDeletion.objects.filter(pk=deletion.pk).update(next_attempt_at=timezone.now())
    done = reply_deletion.delete_public_reply(deletion_id=deletion.pk)
    assert done.state == ReplyDeletionState.DONE
    assert list(_replies(simulator, "x").values()) == [True]


def test_server_errors_retry_with_backoff_then_fail(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    deletion = _queued(x_channel, simulator, django_capture_on_commit_callbacks)
    simulator.sim.add_fault("server_error", platform="x", method="DELETE", times=None, status=503)

    states = []
    for _ in range(reply_deletion.MAX_DELETE_ATTEMPTS + 1):
        ReplyDeletion.objects.filter(pk=deletion.pk).update(next_attempt_at=None)
        states.append(reply_deletion.delete_public_reply(deletion_id=deletion.pk).state)

    deletion.refresh_from_db()
    assert states[0] == ReplyDeletionState.PENDING
    assert deletion.state == ReplyDeletionState.FAILED
    assert "Gave up" in deletion.last_error_message
    assert deletion.reply_external_id  # kept, so the DPO can delete it by hand
    failed = AuditEvent.objects.get(action="reply.delete_failed")
    # ...and in the audit log, which outlives the row (pruned after 90 days).
    assert failed.data["reply"] == deletion.reply_external_id


def test_permission_denied_fails_with_a_reason_and_no_retry(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    deletion = _queued(x_channel, simulator, django_capture_on_commit_callbacks)
    simulator.sim.add_fault("server_error", platform="x", method="DELETE", status=403)

    outcome = reply_deletion.delete_public_reply(deletion_id=deletion.pk)
    again = reply_deletion.delete_public_reply(deletion_id=deletion.pk)

    deletion.refresh_from_db()
    assert (outcome.state, again.state) == (ReplyDeletionState.FAILED, ReplyDeletionState.FAILED)
    assert outcome.retry_at is None
    assert "platform's own tools" in deletion.last_error_message
    assert list(_replies(simulator, "x").values()) == [False]


def test_auth_expired_waits_for_reauthorisation_then_the_sweeper_resumes(
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    deletion = _queued(fb_channel, simulator, django_capture_on_commit_callbacks)
    simulator.sim.add_fault("expired_token", platform="facebook", method="DELETE")

    outcome = reply_deletion.delete_public_reply(deletion_id=deletion.pk)

    fb_channel.refresh_from_db()
    deletion.refresh_from_db()
    assert outcome.state == ReplyDeletionState.PENDING
    assert fb_channel.status == ChannelStatus.NEEDS_REAUTH
    assert deletion.attempts == 0
    assert (
        reply_deletion.sweep_reply_deletions(dispatch=lambda i: None, older_than=timedelta(0)) == 0
    )

    Channel.objects.filter(pk=fb_channel.pk).update(status=ChannelStatus.ACTIVE)
    swept = reply_deletion.sweep_reply_deletions(
        dispatch=lambda i: reply_deletion.delete_public_reply(deletion_id=i),
        older_than=timedelta(0),
    )

    deletion.refresh_from_db()
    assert swept == 1
    assert deletion.state == ReplyDeletionState.DONE


def test_paused_channel_keeps_the_deletion_waiting(
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    deletion = _queued(fb_channel, simulator, django_capture_on_commit_callbacks)
    Channel.objects.filter(pk=fb_channel.pk).update(status=ChannelStatus.PAUSED)

    outcome = reply_deletion.delete_public_reply(deletion_id=deletion.pk)

    deletion.refresh_from_db()
    assert outcome.state == ReplyDeletionState.PENDING
    assert deletion.attempts == 0
    assert deletion.last_error_code == "channel_inactive"
    assert list(_replies(simulator, "facebook").values()) == [False]


def test_sweeper_takes_over_a_dead_workers_claim(
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    deletion = _queued(fb_channel, simulator, django_capture_on_commit_callbacks)
    # A worker deleted the reply, then died before recording it.
    pipeline.connector_for(fb_channel).delete_reply(deletion.reply_external_id)
    ReplyDeletion.objects.filter(pk=deletion.pk).update(
        state=ReplyDeletionState.IN_FLIGHT, claimed_at=timezone.now() - timedelta(minutes=10)
    )

    swept = reply_deletion.sweep_reply_deletions(
        dispatch=lambda i: reply_deletion.delete_public_reply(deletion_id=i)
    )

    deletion.refresh_from_db()
    assert swept == 1
    assert deletion.state == ReplyDeletionState.DONE
    assert deletion.last_error_code == "already_gone"


def test_sweeper_leaves_fresh_pending_rows_to_their_task(
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    _queued(fb_channel, simulator, django_capture_on_commit_callbacks)

    assert reply_deletion.sweep_reply_deletions(dispatch=lambda i: None) == 0


def test_poll_sweep_command_carries_out_a_reply_deletion_whose_task_was_lost(
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    """A cron-only deployment (no Celery beat) relies on ``poll --sweep`` alone."""
    deletion = _queued(fb_channel, simulator, django_capture_on_commit_callbacks)
    out = StringIO()

    call_command("poll", "--sweep", "--min-age", "0", stdout=out)

    deletion.refresh_from_db()
    assert deletion.state == ReplyDeletionState.DONE
    assert list(_replies(simulator, "facebook").values()) == [True]
    assert "1 reply deletions" in out.getvalue()


def test_poll_without_sweep_leaves_reply_deletions_alone(
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    deletion = _queued(fb_channel, simulator, django_capture_on_commit_callbacks)

    call_command("poll", stdout=StringIO())

    deletion.refresh_from_db()
    assert deletion.state == ReplyDeletionState.PENDING
    assert list(_replies(simulator, "facebook").values()) == [False]


def _deletion_row(
    channel: Channel, state: str, *, reply_id: str = "", **dates: datetime
) -> ReplyDeletion:
    deletion = ReplyDeletion.objects.create(
        erasure_id=uuid.uuid4(), channel=channel, reply_external_id=reply_id, state=state
    )
    ReplyDeletion.objects.filter(pk=deletion.pk).update(**dates)
    return deletion


def test_purge_expired_prunes_reply_deletions_finished_long_ago(team: Team) -> None:
    channel = factories.make_channel(team=team)
    now = timezone.now()
    old = now - timedelta(days=retention.REPLY_DELETION_KEEP_DAYS + 1)
    recent = now - timedelta(days=retention.REPLY_DELETION_KEEP_DAYS - 1)
    done_long_ago = _deletion_row(
        channel, ReplyDeletionState.DONE, created_at=old, claimed_at=old, done_at=old
    )
    given_up_long_ago = _deletion_row(
        channel, ReplyDeletionState.FAILED, reply_id="1801", created_at=old, claimed_at=old
    )
    done_lately = _deletion_row(
        channel, ReplyDeletionState.DONE, created_at=old, claimed_at=recent, done_at=recent
    )
    given_up_lately = _deletion_row(
        channel, ReplyDeletionState.FAILED, reply_id="1802", created_at=old, claimed_at=recent
    )

    report = gdpr.purge_expired(now=now)

    kept = set(ReplyDeletion.objects.values_list("pk", flat=True))
    assert report.reply_deletions == 2
    assert done_long_ago.pk not in kept
    assert given_up_long_ago.pk not in kept
    assert kept == {done_lately.pk, given_up_lately.pk}


def test_purge_expired_keeps_unfinished_reply_deletions_however_old(team: Team) -> None:
    channel = factories.make_channel(team=team)
    long_ago = timezone.now() - timedelta(days=10 * retention.REPLY_DELETION_KEEP_DAYS)
    waiting = _deletion_row(
        channel, ReplyDeletionState.PENDING, reply_id="1803", created_at=long_ago
    )
    deleting = _deletion_row(
        channel,
        ReplyDeletionState.IN_FLIGHT,
        reply_id="1804",
        created_at=long_ago,
        claimed_at=long_ago,
    )

    report = gdpr.purge_expired()

    assert report.reply_deletions == 0
    assert set(ReplyDeletion.objects.values_list("pk", flat=True)) == {waiting.pk, deleting.pk}


def test_delete_public_reply_task_runs_the_service(
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    deletion = _queued(fb_channel, simulator, django_capture_on_commit_callbacks)

    tasks.delete_public_reply.apply(args=(deletion.pk,))
    tasks.delete_public_reply.apply(args=(deletion.pk,))

    deletion.refresh_from_db()
    assert tasks.delete_public_reply.name == "inbox.delete_public_reply"
    assert tasks.sweep_reply_deletions.name == "inbox.sweep_reply_deletions"
    assert deletion.state == ReplyDeletionState.DONE


def test_erase_subject_command_deletes_public_replies_when_asked(
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ticket = _answered(fb_channel, simulator, django_capture_on_commit_callbacks, customer="lena")
    args = ["erase_subject", "--platform", "facebook", "--author-id", ticket.author_external_id]

    with pytest.raises(CommandError):
        call_command(*args, "--delete-public-replies")
    listed = capsys.readouterr().out
    with django_capture_on_commit_callbacks(execute=True):
        call_command(*args, "--delete-public-replies", "--yes")
    erased = capsys.readouterr().out
    call_command("reply_deletions")
    status = capsys.readouterr().out

    assert "Haven's public replies on facebook: 1 (will be deleted)" in listed
    assert "public replies queued for deletion: facebook=1" in erased
    assert f"ticket={ticket.reference} facebook done" in status
    assert list(_replies(simulator, "facebook").values()) == [True]


def test_reply_deletions_command_runs_due_rows_and_fails_on_refusals(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
    capsys: pytest.CaptureFixture[str],
) -> None:
    deletion = _queued(x_channel, simulator, django_capture_on_commit_callbacks)
    simulator.sim.add_fault("server_error", platform="x", method="DELETE", status=403)

    with pytest.raises(CommandError):
        call_command("reply_deletions", "--run", "--erasure", str(deletion.erasure_id))

    out = capsys.readouterr().out
    assert "carried out 1 due deletion(s)" in out
    assert f"x failed reply={deletion.reply_external_id}" in out
