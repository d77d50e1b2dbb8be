"""Celery tasks: interfaces like views. Ids in, one service call, the retry policy, None out."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.utils import timezone

from inbox.services import pipeline

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name="inbox.process_message",
    acks_late=True,
    max_retries=pipeline.MAX_PROCESS_ATTEMPTS,
    soft_time_limit=30,
    time_limit=60,
)
def process_message(self: Task, inbound_id: int) -> None:
    try:
        pipeline.process_message(inbound_id=inbound_id)
    except pipeline.RedactionFailed as exc:
        if not self.request.is_eager:
            raise self.retry(exc=exc, countdown=min(60 * 2**self.request.retries, 600)) from exc


@shared_task(
    bind=True,
    name="inbox.process_messages",
    acks_late=True,
    max_retries=pipeline.MAX_PROCESS_ATTEMPTS,
    soft_time_limit=60,
    time_limit=90,
)
def process_messages(self: Task, inbound_ids: list[int]) -> None:
    """A batch of inbound items (at most ``pipeline.PROCESS_BATCH``), one service call."""
    result = pipeline.process_messages(inbound_ids=inbound_ids)
    if result.failed and not self.request.is_eager:
        # Only the items whose scan failed go round again; the rest are done.
        raise self.retry(
            kwargs={"inbound_ids": list(result.failed)},
            countdown=min(60 * 2**self.request.retries, 600),
        )


@shared_task(
    bind=True,
    name="inbox.perform_actions",
    acks_late=True,
    max_retries=None,  # the service counts attempts and dead-letters; rate limits don't count
    soft_time_limit=120,
    time_limit=150,
)
def perform_actions(self: Task, action_ids: list[int]) -> None:
    """A batch of outbox actions; each one left pending with a retry time is queued again."""
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    outcomes = pipeline.perform_actions(action_ids=action_ids, reconcile=redelivered)
    if self.request.is_eager:
        return  # eager (single-process) mode has no delayed tasks: the sweeper retries
    for action_id, outcome in outcomes.items():
        if outcome.retry_at is not None:
            perform_action.apply_async((action_id,), eta=max(outcome.retry_at, timezone.now()))


@shared_task(
    bind=True,
    name="inbox.perform_action",
    acks_late=True,
    max_retries=None,  # the service counts attempts and dead-letters; rate limits don't count
    soft_time_limit=60,
    time_limit=90,
)
def perform_action(self: Task, action_id: int, reconcile: bool = False) -> None:
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    outcome = pipeline.perform_action(action_id=action_id, reconcile=reconcile or redelivered)
    if outcome.retry_at is not None and not self.request.is_eager:
        # Eager (single-process) mode has no delayed tasks: the sweeper retries instead.
        eta = max(outcome.retry_at, timezone.now())
        raise self.retry(eta=eta)


@shared_task(
    bind=True, name="inbox.poll_channel", acks_late=True, soft_time_limit=120, time_limit=150
)
def poll_channel(self: Task, channel_id: int) -> None:
    pipeline.poll_channel(channel_id=channel_id)


@shared_task(name="inbox.poll_due_channels", acks_late=True, soft_time_limit=30, time_limit=60)
def poll_due_channels() -> None:
    for channel_id in pipeline.claim_due_channels():
        poll_channel.delay(channel_id)


@shared_task(name="inbox.sweep", acks_late=True, soft_time_limit=60, time_limit=90)
def sweep() -> None:
    pipeline.sweep(
        dispatch_process=lambda inbound_id: process_message.delay(inbound_id),
        dispatch_action=lambda action_id, reconcile: perform_action.delay(action_id, reconcile),
    )


@shared_task(name="inbox.purge_expired", acks_late=True, soft_time_limit=3000, time_limit=3300)
def purge_expired() -> None:
    """Daily retention purge (Celery beat). Batches commit one by one, so a rerun resumes."""
    from inbox.services import gdpr  # appended task: imports above belong to the pipeline's owner

    gdpr.purge_expired()


@shared_task(
    bind=True,
    name="inbox.delete_public_reply",
    acks_late=True,
    max_retries=None,  # the service counts attempts and gives up; rate limits don't count
    soft_time_limit=60,
    time_limit=90,
)
def delete_public_reply(self: Task, deletion_id: int) -> None:
    """Delete one of Haven's public replies queued by an erasure. Safe to run twice."""
    from inbox.services import reply_deletion  # appended task: see purge_expired

    outcome = reply_deletion.delete_public_reply(deletion_id=deletion_id)
    if outcome.retry_at is not None and not self.request.is_eager:
        # Eager (single-process) mode has no delayed tasks: the sweeper retries instead.
        raise self.retry(eta=max(outcome.retry_at, timezone.now()))


@shared_task(name="inbox.sweep_reply_deletions", acks_late=True, soft_time_limit=60, time_limit=90)
def sweep_reply_deletions() -> None:
    """Dispatch reply deletions whose task was lost or whose retry is due (Celery beat)."""
    from inbox.services import reply_deletion

    reply_deletion.sweep_reply_deletions(
        dispatch=lambda deletion_id: delete_public_reply.delay(deletion_id)
    )
