"""Retention: each channel's policy, changing it safely, and purging what outlived it.

A longer retention applies at once; a shorter one only after ``RETENTION_GRACE_DAYS``
(SECURITY-DESIGN.md §4), so a hijacked admin account cannot shred history in one click.
Purging crypto-shreds tickets whose last activity is older than the channel's retention,
reduces stray inbound items to dedupe keys and deletes kept webhook bodies (``InboundEnvelope``)
after a week or the channel's retention, whichever is shorter. Tickets under legal hold are
never purged. Finished deletions of Haven's public replies (``ReplyDeletion``, deleted on the
platform or given up) are pruned ``REPLY_DELETION_KEEP_DAYS`` after they finished; unfinished
ones are never pruned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from inbox import audit
from inbox.models import (
    Channel,
    ChannelPolicy,
    InboundMessage,
    InboundStatus,
    PortalSecret,
    ReplyDeletion,
    ReplyDeletionState,
    SecretKind,
    SubjectExport,
    Ticket,
)
from inbox.models.social import DEFAULT_RETENTION_DAYS, RETENTION_GRACE_DAYS
from inbox.services.envelopes import purge_expired_envelopes
from inbox.services.erasure import Reason, husk_inbound, shred_tickets

logger = logging.getLogger(__name__)

PURGE_BATCH = 500

# How long a finished reply deletion (deleted on the platform, or given up as "Not deleted")
# stays on the DPO's page before the nightly purge deletes its row. 90 days covers the answer
# to the person (one month, extendable by two more: GDPR Art. 12(3)) and leaves a refused
# deletion three months to be finished by hand; after that the audit log's ``reply.deleted`` /
# ``reply.delete_failed`` events remain the record. Rows still waiting are never pruned.
REPLY_DELETION_KEEP_DAYS = 90


def effective_retention_days(policy: ChannelPolicy, *, now: datetime | None = None) -> int:
    """The retention in force: the pending shorter value only once its grace period is over."""
    now = now or timezone.now()
    if (
        policy.pending_retention_days is not None
        and policy.pending_retention_effective_at is not None
        and policy.pending_retention_effective_at <= now
    ):
        return policy.pending_retention_days
    return policy.retention_days


@dataclass(frozen=True, slots=True)
class RetentionChange:
    retention_days: int
    pending_days: int | None
    effective_at: datetime | None


@transaction.atomic
def change_retention(*, channel: Channel, days: int, actor: audit.Actor) -> RetentionChange:
    """Set a channel's retention. Longer (or equal) applies now; shorter is scheduled.

    Audited. Raises ValueError for fewer than one day.
    """
    if days < 1:
        raise ValueError("retention must be at least one day")
    policy = ChannelPolicy.objects.select_for_update().get(channel=channel)
    now = timezone.now()
    current = effective_retention_days(policy, now=now)
    if days >= current:
        policy.retention_days = days
        policy.pending_retention_days = None
        policy.pending_retention_effective_at = None
    else:
        policy.retention_days = current
        policy.pending_retention_days = days
        policy.pending_retention_effective_at = now + timedelta(days=RETENTION_GRACE_DAYS)
    policy.full_clean()
    policy.save(
        update_fields=[
            "retention_days",
            "pending_retention_days",
            "pending_retention_effective_at",
            "updated_at",
        ]
    )
    audit.record(
        actor=actor,
        action="policy.retention",
        object_type="channel",
        object_id=channel.public_id,
        data={
            "from_days": current,
            "to_days": days,
            "effective_at": (
                policy.pending_retention_effective_at.isoformat()
                if policy.pending_retention_effective_at
                else now.isoformat()
            ),
        },
    )
    logger.info("retention changed channel=%s from=%s to=%s", channel.pk, current, days)
    return RetentionChange(
        policy.retention_days, policy.pending_retention_days, policy.pending_retention_effective_at
    )


def _apply_due_pending(now: datetime) -> int:
    """Make due shortened retentions the policy of record (the grace period is over)."""
    applied = 0
    due = ChannelPolicy.objects.filter(
        pending_retention_days__isnull=False, pending_retention_effective_at__lte=now
    ).select_related("channel")
    for policy in due:
        with transaction.atomic():
            ChannelPolicy.objects.filter(pk=policy.pk).update(
                retention_days=policy.pending_retention_days,
                pending_retention_days=None,
                pending_retention_effective_at=None,
            )
            audit.record(
                actor=audit.Actor.system("retention"),
                action="policy.retention_applied",
                object_type="channel",
                object_id=policy.channel.public_id,
                data={"to_days": policy.pending_retention_days},
            )
        applied += 1
    return applied


@dataclass(frozen=True, slots=True)
class PurgeReport:
    tickets: int
    messages: int
    inbound: int
    held: int
    exports: int
    policies_applied: int
    envelopes: int = 0
    reply_deletions: int = 0


def _cutoffs(now: datetime) -> list[tuple[int | None, datetime]]:
    out: list[tuple[int | None, datetime]] = []
    for policy in ChannelPolicy.objects.all():
        days = effective_retention_days(policy, now=now)
        out.append((policy.channel_id, now - timedelta(days=days)))
    out.append((None, now - timedelta(days=DEFAULT_RETENTION_DAYS)))
    return out


def purge_expired(*, now: datetime | None = None, batch_size: int = PURGE_BATCH) -> PurgeReport:
    """Shred every ticket, stray inbound item and kept webhook body past its time. Idempotent.

    Commits one batch at a time, so a crash loses at most a batch in flight and a rerun
    continues. Tickets under legal hold are skipped and counted.
    """
    now = now or timezone.now()
    applied = _apply_due_pending(now)
    actor = audit.Actor.system("retention")
    tickets = messages = inbound = held = 0
    cutoffs = _cutoffs(now)
    for channel_id, cutoff in cutoffs:
        expired = Ticket.objects.filter(last_activity_at__lt=cutoff)
        expired = (
            expired.filter(channel_id=channel_id)
            if channel_id is not None
            else expired.filter(channel__isnull=True)
        )
        held += expired.filter(legal_hold=True).count()
        last_pk = 0
        while True:
            with transaction.atomic():
                # Keyset, not OFFSET or a rescan: the rows just deleted are dead index entries
                # every new scan from the start would have to step over.
                batch = list(
                    expired.filter(legal_hold=False, pk__gt=last_pk)
                    .select_for_update(skip_locked=True, of=("self",))
                    .select_related("team")
                    .order_by("pk")[:batch_size]
                )
                if not batch:
                    break
                last_pk = batch[-1].pk
                counts = shred_tickets(
                    batch, reason=Reason.RETENTION, actor=actor, audit_each=False
                )
            tickets += counts.tickets
            messages += counts.messages
            inbound += counts.inbound
        if channel_id is not None:
            with transaction.atomic():
                inbound += husk_inbound(
                    InboundMessage.objects.filter(
                        channel_id=channel_id, ticket__isnull=True, received_at__lt=cutoff
                    ).exclude(status=InboundStatus.ERASED)
                )
    exports = _purge_expired_exports(now)
    envelopes = purge_expired_envelopes(now=now, cutoffs=cutoffs)
    deletions = _prune_finished_reply_deletions(now)
    report = PurgeReport(tickets, messages, inbound, held, exports, applied, envelopes, deletions)
    logger.info(
        "purge done tickets=%s messages=%s inbound=%s held=%s exports=%s policies=%s "
        "envelopes=%s reply_deletions=%s",
        tickets,
        messages,
        inbound,
        held,
        exports,
        applied,
        envelopes,
        deletions,
    )
    return report


def _prune_finished_reply_deletions(now: datetime) -> int:
    """Delete reply-deletion rows that finished more than ``REPLY_DELETION_KEEP_DAYS`` ago.

    Done rows carry ``done_at``; a given-up row was last claimed just before it failed, so its
    ``claimed_at`` is when it finished. Pending and in-flight rows are kept whatever their age.
    """
    cutoff = now - timedelta(days=REPLY_DELETION_KEEP_DAYS)
    with transaction.atomic():
        _, per_model = (
            ReplyDeletion.objects.alias(finished_at=Coalesce("done_at", "claimed_at", "created_at"))
            .filter(
                state__in=[ReplyDeletionState.DONE, ReplyDeletionState.FAILED],
                finished_at__lt=cutoff,
            )
            .delete()
        )
    return per_model.get(ReplyDeletion._meta.label, 0)


def _purge_expired_exports(now: datetime) -> int:
    """Delete exports whose link expired or was used: nothing stays to be downloaded later."""
    with transaction.atomic():
        secret_ids = list(
            SubjectExport.objects.filter(secret__kind=SecretKind.EXPORT)
            .filter(secret__expires_at__lte=now)
            .values_list("secret_id", flat=True)
        )
        secret_ids += list(
            SubjectExport.objects.filter(downloaded_at__isnull=False).values_list(
                "secret_id", flat=True
            )
        )
        deleted, _ = PortalSecret.objects.filter(pk__in=secret_ids).delete()
    return len(set(secret_ids)) if deleted else 0
