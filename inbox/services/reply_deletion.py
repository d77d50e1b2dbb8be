"""Deleting Haven's own public replies after an erasure (GDPR Art. 17, docs/gdpr.md).

The erasure queues one ``ReplyDeletion`` per reply inside its own transaction: platform ids
only (the reply and its channel), never text or the person's ids. ``delete_public_reply``
carries one out with the outbox's rules (SECURITY-DESIGN.md §7): a compare-and-set claim that
commits before the platform is called, retries at the rate-limit reset or with backoff, a
channel that needs re-authorisation waits, and other refusals end as ``failed`` with a reason
people can read. Deleting is idempotent: a reply that is gone already counts as deleted, so a
lost answer or a dead worker is simply retried.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from channels_bridge.errors import (
    AuthExpired,
    NotFound,
    PermissionDenied,
    PlatformError,
    RateLimited,
    TransientError,
)
from channels_bridge.facebook import FACEBOOK_CAPABILITIES
from channels_bridge.items import Capabilities
from channels_bridge.items import ItemKind as BridgeKind
from channels_bridge.x import X_CAPABILITIES
from inbox import audit
from inbox.models import (
    ChannelStatus,
    InboundMessage,
    OutboxAction,
    OutboxKind,
    OutboxState,
    Platform,
    ReplyDeletion,
    ReplyDeletionState,
    Ticket,
    Tombstone,
)
from inbox.services.connectors import connector_for, enqueue_on_commit, mark_needs_reauth
from inbox.services.subjects import Subject, SubjectMatch

logger = logging.getLogger(__name__)

MAX_DELETE_ATTEMPTS = 8
MAX_BACKOFF = timedelta(minutes=10)
# A row still pending this long after it was queued lost its task (broker down): sweep it.
SWEEP_AFTER = timedelta(seconds=60)

_CAPABILITIES: Mapping[str, Mapping[BridgeKind, Capabilities]] = {
    Platform.FACEBOOK: FACEBOOK_CAPABILITIES,
    Platform.X: X_CAPABILITIES,
}
_AUDIT = audit.Actor.system("reply_deletion")


def platform_allows(platform: str, kind: str | None = None) -> bool:
    """Whether Haven may delete its own public reply on ``platform`` (to an item of ``kind``)."""
    capabilities = _CAPABILITIES.get(platform)
    if capabilities is None:
        return False
    if kind:
        caps = capabilities.get(BridgeKind(kind))
        return caps is not None and caps.delete_own_reply
    return any(caps.delete_own_reply for caps in capabilities.values())


def deletable_platforms() -> tuple[str, ...]:
    return tuple(p for p in Platform.values if platform_allows(p))


# --- what an erasure would delete ----------------------------------------------------------


def subject_replies(
    *, owned: Sequence[Ticket], contributed: Sequence[Ticket], subject: Subject
) -> list[OutboxAction]:
    """Haven's public replies that the platform confirmed, to ``subject``, that can go.

    The replies of their own conversations (``owned``), and in another person's conversation
    (``contributed``) the replies to their own messages. Conversations under legal hold are
    left out: they are not erased. Read it before the erasure deletes the outbox rows and
    clears the items' author ids.
    """
    owned_ids = [t.pk for t in owned if not t.legal_hold]
    mine_elsewhere: list[int] = []
    contributed_ids = [t.pk for t in contributed if not t.legal_hold]
    if contributed_ids and subject.platform and subject.author_id:
        mine_elsewhere = list(
            InboundMessage.objects.filter(
                ticket_id__in=contributed_ids,
                channel__platform=subject.platform,
                author_external_id=subject.author_id,
            ).values_list("pk", flat=True)
        )
    if not owned_ids and not mine_elsewhere:
        return []
    actions = (
        OutboxAction.objects.filter(Q(ticket_id__in=owned_ids) | Q(inbound_id__in=mine_elsewhere))
        .filter(kind=OutboxKind.PUBLIC_REPLY, state=OutboxState.SENT)
        .exclude(external_result_id="")
        .select_related("channel", "inbound", "ticket")
        .order_by("pk")
    )
    return [
        a
        for a in actions
        if platform_allows(a.channel.platform, a.inbound.kind if a.inbound else None)
    ]


def count_subject_replies(*, match: SubjectMatch, subject: Subject) -> dict[str, int]:
    """How many of Haven's public replies to ``subject`` could be deleted, per platform."""
    return count_by_platform(
        subject_replies(owned=match.owned, contributed=match.contributed, subject=subject)
    )


def count_by_platform(actions: Sequence[OutboxAction]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for action in actions:
        counts[action.channel.platform] = counts.get(action.channel.platform, 0) + 1
    return counts


def queue_reply_deletions(
    *,
    actions: Sequence[OutboxAction],
    platforms: Collection[str],
    erasure_id: uuid.UUID,
    actor: audit.Actor,
) -> dict[str, int]:
    """Queue the deletion of each reply in ``actions`` on one of ``platforms``. In a transaction.

    Rows carry platform ids only and outlive the tickets the erasure deletes; their tasks go out
    on commit (the sweeper catches them when the broker is down). A reply already queued by an
    earlier erasure is not queued twice. Audited. Returns how many were queued per platform.
    """
    chosen = [a for a in actions if a.channel.platform in platforms]
    ReplyDeletion.objects.bulk_create(
        [
            ReplyDeletion(
                erasure_id=erasure_id,
                channel_id=a.channel_id,
                reply_external_id=a.external_result_id,
                ticket_public_id=a.ticket.public_id,
            )
            for a in chosen
        ],
        ignore_conflicts=True,
    )
    queued = list(
        ReplyDeletion.objects.filter(erasure_id=erasure_id).select_related("channel").order_by("pk")
    )
    for deletion in queued:
        enqueue_on_commit("delete_public_reply", deletion_id=deletion.pk)
    counts: dict[str, int] = {}
    for deletion in queued:
        counts[deletion.channel.platform] = counts.get(deletion.channel.platform, 0) + 1
    if queued:
        audit.record(
            actor=actor,
            action="reply.delete_requested",
            object_type="erasure",
            object_id=erasure_id,
            data={"platforms": counts},
        )
    logger.info("reply deletions queued erasure=%s count=%s", erasure_id, len(queued))
    return counts


# --- carrying one out ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeleteOutcome:
    state: str
    retry_at: datetime | None = None


def _backoff(attempts: int) -> timedelta:
    base = min(timedelta(seconds=5 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)
    return base + timedelta(seconds=random.uniform(0, base.total_seconds() * 0.1))  # noqa: S311


def _claim(deletion_id: int) -> ReplyDeletion | None:
    """Claim a due row (committed before any platform call), or take over a dead worker's."""
    now = timezone.now()
    claimed = (
        ReplyDeletion.objects.filter(pk=deletion_id, state=ReplyDeletionState.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(state=ReplyDeletionState.IN_FLIGHT, claimed_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        # Deleting twice is harmless (the second answer is "not found"): no reconciling needed.
        stale = now - timedelta(seconds=settings.HAVEN_STALE_CLAIM_SECONDS)
        claimed = ReplyDeletion.objects.filter(
            pk=deletion_id, state=ReplyDeletionState.IN_FLIGHT, claimed_at__lt=stale
        ).update(claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return None
    return ReplyDeletion.objects.select_related("channel").get(pk=deletion_id)


def _audit_outcome(deletion: ReplyDeletion, action: str, code: str, **extra: str) -> None:
    audit.record(
        actor=_AUDIT,
        action=action,
        object_type="reply_deletion",
        object_id=deletion.public_id,
        data={
            "erasure": str(deletion.erasure_id),
            "platform": deletion.channel.platform,
            "code": code,
            **extra,
        },
    )


@transaction.atomic
def _done(deletion: ReplyDeletion, *, code: str) -> DeleteOutcome:
    ReplyDeletion.objects.filter(pk=deletion.pk).update(
        state=ReplyDeletionState.DONE,
        done_at=timezone.now(),
        # The reply is gone: its id points at nothing and is no longer needed.
        reply_external_id="",
        next_attempt_at=None,
        last_error_code=code,
        last_error_message="",
    )
    _audit_outcome(deletion, "reply.deleted", code)
    logger.info(
        "reply deleted deletion=%s platform=%s how=%s",
        deletion.pk,
        deletion.channel.platform,
        code or "deleted",
    )
    return DeleteOutcome(ReplyDeletionState.DONE)


@transaction.atomic
def _fail(deletion: ReplyDeletion, *, code: str, message: str) -> DeleteOutcome:
    ReplyDeletion.objects.filter(pk=deletion.pk).update(
        state=ReplyDeletionState.FAILED,
        next_attempt_at=None,
        last_error_code=code[:64],
        last_error_message=message[:300],
    )
    # The id of Haven's own reply (no personal data, see docs/gdpr.md) stays in the audit log:
    # the row is pruned after REPLY_DELETION_KEEP_DAYS, the post may still need deleting by hand.
    _audit_outcome(deletion, "reply.delete_failed", code[:64], reply=deletion.reply_external_id)
    logger.warning(
        "reply deletion failed deletion=%s platform=%s code=%s",
        deletion.pk,
        deletion.channel.platform,
        code,
    )
    return DeleteOutcome(ReplyDeletionState.FAILED)


def _release(
    deletion: ReplyDeletion,
    *,
    retry_at: datetime | None,
    code: str,
    message: str,
    count: bool = True,
) -> DeleteOutcome:
    """Back to pending, to retry at ``retry_at`` (None: when the channel is active again)."""
    if count and deletion.attempts >= MAX_DELETE_ATTEMPTS:
        return _fail(
            deletion,
            code=code,
            message=f"Gave up after {deletion.attempts} attempts. {message}",
        )
    ReplyDeletion.objects.filter(pk=deletion.pk).update(
        state=ReplyDeletionState.PENDING,
        next_attempt_at=retry_at,
        last_error_code=code[:64],
        last_error_message=message[:300],
        attempts=F("attempts") if count else F("attempts") - 1,
    )
    logger.warning(
        "reply deletion retry deletion=%s code=%s at=%s",
        deletion.pk,
        code,
        retry_at.isoformat() if retry_at else "when the channel is active",
    )
    return DeleteOutcome(ReplyDeletionState.PENDING, retry_at)


def delete_public_reply(*, deletion_id: int) -> DeleteOutcome:
    """Delete one queued reply from its platform. A no-op once it is done or failed.

    Must not run inside a transaction: the claim commits before the platform call. Returns
    when to retry (``retry_at``) after a rate limit or a transient error; "not found" counts as
    deleted; a refusal ends the row as ``failed`` with a reason the DPO can read.
    """
    deletion = _claim(deletion_id)
    if deletion is None:
        current = (
            ReplyDeletion.objects.filter(pk=deletion_id)
            .values_list("state", "next_attempt_at")
            .first()
        )
        if current is None:
            return DeleteOutcome("gone")
        state, next_attempt_at = current
        return DeleteOutcome(
            state, next_attempt_at if state == ReplyDeletionState.PENDING else None
        )
    channel = deletion.channel
    if not deletion.reply_external_id:
        return _fail(deletion, code="no_reply_id", message="Haven does not know the reply's id.")
    if channel.status != ChannelStatus.ACTIVE:
        return _release(
            deletion,
            retry_at=None,
            code="channel_inactive",
            message="Waiting for the channel to be switched on again.",
            count=False,
        )
    try:
        connector_for(channel).delete_reply(deletion.reply_external_id)
    except NotFound:
        return _done(deletion, code="already_gone")
    except RateLimited as exc:
        return _release(
            deletion,
            retry_at=exc.retry_at + timedelta(seconds=random.uniform(0, 1)),  # noqa: S311
            code="rate_limited",
            message="The platform is rate limiting Haven; retrying at its reset time.",
            count=False,
        )
    except TransientError as exc:  # AmbiguousOutcome too: deleting again is harmless
        return _release(
            deletion,
            retry_at=timezone.now() + _backoff(deletion.attempts),
            code=f"transient:{exc.status or exc.code or ''}",
            message="The platform did not answer properly; retrying.",
        )
    except AuthExpired:
        mark_needs_reauth(channel=channel)
        return _release(
            deletion,
            retry_at=None,
            code="auth_expired",
            message="The channel needs re-authorisation; the deletion resumes afterwards.",
            count=False,
        )
    except PermissionDenied:
        return _fail(
            deletion,
            code="PermissionDenied",
            message="The platform does not let Haven delete this reply: "
            "delete it in the platform's own tools.",
        )
    except PlatformError as exc:
        return _fail(
            deletion,
            code=f"PlatformError:{exc.code or ''}",
            message=f"The platform refused to delete the reply (code {exc.code or 'unknown'}).",
        )
    except ValueError:
        return _fail(
            deletion, code="bad_credentials", message="The channel's credentials are incomplete."
        )
    return _done(deletion, code="")


def sweep_reply_deletions(
    *, dispatch: Callable[[int], object], older_than: timedelta = SWEEP_AFTER
) -> int:
    """Dispatch deletions a lost task left behind: due pending rows and dead workers' claims."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.HAVEN_STALE_CLAIM_SECONDS)
    due = (
        ReplyDeletion.objects.filter(
            Q(
                state=ReplyDeletionState.PENDING,
                channel__status=ChannelStatus.ACTIVE,
            )
            & (
                Q(next_attempt_at__isnull=True, created_at__lte=now - older_than)
                | Q(next_attempt_at__lte=now)
            )
            | Q(state=ReplyDeletionState.IN_FLIGHT, claimed_at__lte=stale)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )
    ids = list(due)
    for deletion_id in ids:
        dispatch(deletion_id)
    if ids:
        logger.info("reply deletions swept count=%s", len(ids))
    return len(ids)


# --- what the DPO sees ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeletionRow:
    """One deletion as the DPO's page and the command show it: ids and states only."""

    public_id: uuid.UUID
    erasure_id: uuid.UUID
    platform: str
    platform_label: str
    ticket_reference: str
    state: str
    state_label: str
    reply_external_id: str
    attempts: int
    reason: str
    created_at: datetime
    done_at: datetime | None
    next_attempt_at: datetime | None


def list_deletions(*, erasure_id: uuid.UUID | None = None, limit: int = 200) -> list[DeletionRow]:
    """The newest deletions (of one erasure), newest first, with their tickets' references."""
    rows = ReplyDeletion.objects.select_related("channel").order_by("-created_at", "-id")
    if erasure_id is not None:
        rows = rows.filter(erasure_id=erasure_id)
    deletions = list(rows[:limit])
    ticket_ids = {d.ticket_public_id for d in deletions if d.ticket_public_id}
    references = dict(
        Tombstone.objects.filter(ticket_public_id__in=ticket_ids).values_list(
            "ticket_public_id", "reference"
        )
    )
    references.update(
        Ticket.objects.filter(public_id__in=ticket_ids).values_list("public_id", "reference")
    )
    labels = dict(ReplyDeletionState.choices)
    return [
        DeletionRow(
            public_id=d.public_id,
            erasure_id=d.erasure_id,
            platform=d.channel.platform,
            platform_label=d.channel.get_platform_display(),
            ticket_reference=references.get(d.ticket_public_id, "") if d.ticket_public_id else "",
            state=d.state,
            state_label=str(labels.get(d.state, d.state)),
            reply_external_id=d.reply_external_id,
            attempts=d.attempts,
            reason=d.last_error_message,
            created_at=d.created_at,
            done_at=d.done_at,
            next_attempt_at=d.next_attempt_at,
        )
        for d in deletions
    ]


def open_counts() -> dict[str, int]:
    """How many deletions wait and how many failed, for the DPO's home page."""
    waiting = ReplyDeletion.objects.filter(
        state__in=[ReplyDeletionState.PENDING, ReplyDeletionState.IN_FLIGHT]
    ).count()
    failed = ReplyDeletion.objects.filter(state=ReplyDeletionState.FAILED).count()
    return {"waiting": waiting, "failed": failed}
