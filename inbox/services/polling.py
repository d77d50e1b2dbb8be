"""Polling channels, the sweeper that recovers lost tasks, and the broker-free inline round."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from channels_bridge.errors import (
    AuthExpired,
    BridgeError,
    RateLimited,
)
from inbox.models import (
    Channel,
    ChannelStatus,
    InboundMessage,
    InboundStatus,
    OutboxAction,
    OutboxState,
)
from inbox.services.connectors import connector_for, mark_needs_reauth
from inbox.services.ingest import ingest_items
from inbox.services.outbox import MAX_BACKOFF, perform_action
from inbox.services.processing import MAX_PROCESS_ATTEMPTS, RedactionFailed, process_message
from inbox.services.reply_deletion import delete_public_reply, sweep_reply_deletions

logger = logging.getLogger(__name__)

SWEEP_AFTER = timedelta(seconds=60)
MAX_PAGES_PER_POLL = 20


@dataclass(frozen=True, slots=True)
class PollOutcome:
    status: str
    stored: int = 0
    retry_at: datetime | None = None


def poll_channel(*, channel_id: int) -> PollOutcome:
    """Fetch everything since the channel's cursor and ingest it, page by page.

    Backs off on RateLimited (until its reset), stops the channel on AuthExpired, and backs
    off on other errors. Must not run inside a transaction (each page commits).
    """
    channel = Channel.objects.select_related("team").filter(pk=channel_id).first()
    now = timezone.now()
    if channel is None or channel.status != ChannelStatus.ACTIVE:
        return PollOutcome("skipped")
    if channel.rate_limited_until and channel.rate_limited_until > now:
        return PollOutcome("rate_limited", retry_at=channel.rate_limited_until)
    stored = 0
    cursor = channel.poll_cursor or None
    try:
        connector = connector_for(channel)
        for _ in range(MAX_PAGES_PER_POLL):
            batch = connector.fetch_since(cursor)
            result = ingest_items(
                channel=channel, items=batch.items, cursor=batch.next_cursor or cursor or ""
            )
            stored += result.stored
            if not batch.items or not batch.next_cursor or batch.next_cursor == cursor:
                break
            cursor = batch.next_cursor
    except RateLimited as exc:
        Channel.objects.filter(pk=channel.pk).update(
            rate_limited_until=exc.retry_at,
            next_poll_at=exc.retry_at,
            last_error_code="rate_limited",
            last_error_at=now,
        )
        logger.warning(
            "poll rate limited channel=%s until=%s", channel.pk, exc.retry_at.isoformat()
        )
        return PollOutcome("rate_limited", stored, exc.retry_at)
    except AuthExpired:
        mark_needs_reauth(channel=channel)
        return PollOutcome("needs_reauth", stored)
    except (BridgeError, ValueError) as exc:
        retry_at = now + min(timedelta(seconds=channel.poll_interval_seconds * 2), MAX_BACKOFF)
        Channel.objects.filter(pk=channel.pk).update(
            next_poll_at=retry_at, last_error_code=type(exc).__name__, last_error_at=now
        )
        logger.warning("poll failed channel=%s error=%s", channel.pk, type(exc).__name__)
        return PollOutcome("error", stored, retry_at)
    Channel.objects.filter(pk=channel.pk).update(
        last_polled_at=timezone.now(),
        next_poll_at=timezone.now() + timedelta(seconds=channel.poll_interval_seconds),
        rate_limited_until=None,
        last_error_code="",
    )
    return PollOutcome("ok", stored)


def claim_due_channels(*, now: datetime | None = None) -> list[int]:
    """Channels due for a poll, each claimed by moving its next poll forward (compare-and-set)."""
    now = now or timezone.now()
    due: list[int] = []
    for channel_id, interval, next_at in (
        Channel.objects.filter(status=ChannelStatus.ACTIVE)
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .values_list("id", "poll_interval_seconds", "next_poll_at")
    ):
        took = Channel.objects.filter(pk=channel_id, next_poll_at=next_at).update(
            next_poll_at=now + timedelta(seconds=interval)
        )
        if took:
            due.append(channel_id)
    return due


@dataclass(frozen=True, slots=True)
class SweepResult:
    inbound: int
    actions: int
    reconcile: int


def sweep(
    *,
    dispatch_process: Callable[[int], object],
    dispatch_action: Callable[[int, bool], object],
    older_than: timedelta = SWEEP_AFTER,
) -> SweepResult:
    """Dispatch what a lost broker message left behind: unprocessed inbound rows, due pending
    actions, and claims whose worker died. Needs no broker when the dispatchers run inline."""
    now = timezone.now()
    cutoff = now - older_than
    inbound_ids = list(
        InboundMessage.objects.filter(
            status__in=[InboundStatus.RECEIVED, InboundStatus.FAILED],
            received_at__lte=cutoff,
            attempts__lt=MAX_PROCESS_ATTEMPTS,
        )
        .order_by("id")
        .values_list("id", flat=True)[:1000]
    )
    action_ids = list(
        OutboxAction.objects.filter(
            state=OutboxState.PENDING,
            channel__status=ChannelStatus.ACTIVE,
        )
        .filter(
            Q(next_attempt_at__isnull=True, created_at__lte=cutoff) | Q(next_attempt_at__lte=now)
        )
        .order_by("id")
        .values_list("id", flat=True)[:1000]
    )
    stale = now - timedelta(seconds=settings.HAVEN_STALE_CLAIM_SECONDS)
    stale_ids = list(
        OutboxAction.objects.filter(state=OutboxState.IN_FLIGHT, claimed_at__lte=stale)
        .order_by("id")
        .values_list("id", flat=True)[:1000]
    )
    for inbound_id in inbound_ids:
        dispatch_process(inbound_id)
    for action_id in action_ids:
        dispatch_action(action_id, False)
    for action_id in stale_ids:
        dispatch_action(action_id, True)
    if inbound_ids or action_ids or stale_ids:
        logger.info(
            "sweep dispatched inbound=%s actions=%s reconcile=%s",
            len(inbound_ids),
            len(action_ids),
            len(stale_ids),
        )
    return SweepResult(len(inbound_ids), len(action_ids), len(stale_ids))


@dataclass(frozen=True, slots=True)
class TickResult:
    polled: int
    stored: int
    swept: SweepResult | None
    # Reply deletions (after an erasure) carried out by the sweep; None when it did not run.
    reply_deletions: int | None = None


def run_inline(
    *, poll: bool = True, sweep_too: bool = True, older_than: timedelta = SWEEP_AFTER
) -> TickResult:
    """One round without a broker: poll every due channel, then sweep, all in this process.

    The sweep covers what Celery beat's sweepers do: inbound items, outbox actions and the
    deletions of public replies that erasures queued, so a cron-only deployment loses none.
    For cron or systemd users (``manage.py poll --sweep``) and the single-process demo.
    """
    polled = stored = 0
    if poll:
        for channel_id in claim_due_channels():
            outcome = poll_channel(channel_id=channel_id)
            polled += 1
            stored += outcome.stored
    swept = None
    deletions = None
    if sweep_too:
        swept = sweep(
            dispatch_process=_process_quietly,
            dispatch_action=lambda action_id, reconcile: perform_action(
                action_id=action_id, reconcile=reconcile
            ),
            older_than=older_than,
        )
        deletions = sweep_reply_deletions(
            dispatch=lambda deletion_id: delete_public_reply(deletion_id=deletion_id),
            older_than=older_than,
        )
    return TickResult(polled, stored, swept, deletions)


def _process_quietly(inbound_id: int) -> None:
    # A redaction failure is marked on the row and counted; the next sweep retries it.
    with contextlib.suppress(RedactionFailed):
        process_message(inbound_id=inbound_id)
