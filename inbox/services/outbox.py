"""The outbox: carry out one platform action at most once (SECURITY-DESIGN.md §7).

An action is claimed with a compare-and-set UPDATE that commits before the platform is called;
after a crash or an ambiguous answer the next attempt looks for its own reply before it posts.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from channels_bridge.errors import (
    AlreadyReplied,
    AmbiguousOutcome,
    AuthExpired,
    NotFound,
    PermissionDenied,
    PlatformError,
    RateLimited,
    TransientError,
)
from channels_bridge.items import Item
from channels_bridge.protocol import Connector
from inbox import events, vault
from inbox.models import (
    Channel,
    ChannelStatus,
    OutboxAction,
    OutboxKind,
    OutboxState,
    Platform,
)
from inbox.services.connectors import connector_for, item_from_inbound, mark_needs_reauth

logger = logging.getLogger(__name__)

MAX_ACTION_ATTEMPTS = 8
MAX_BACKOFF = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class PerformOutcome:
    state: str
    retry_at: datetime | None = None


def _backoff(attempts: int) -> timedelta:
    base = min(timedelta(seconds=5 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)
    return base + timedelta(seconds=random.uniform(0, base.total_seconds() * 0.1))  # noqa: S311


def _broadcast_action(action: OutboxAction) -> None:
    events.send_now(
        events.ticket_agents_group(action.ticket.public_id),
        events.action_changed(
            ticket_public_id=action.ticket.public_id,
            action_public_id=action.public_id,
            status=action.state,
        ),
    )


def mark_sent(action: OutboxAction, external_id: str, *, how: str) -> PerformOutcome:
    """Record that the platform has the action. Safe to lose in a database crash (see below)."""
    if _store_sent_many({action.pk: external_id}):
        _sent_stored(action, how)
    return PerformOutcome(OutboxState.SENT)


def _sent_stored(action: OutboxAction, how: str) -> None:
    action.state = OutboxState.SENT
    transaction.on_commit(lambda: _broadcast_action(action))
    logger.info(
        "action sent action=%s kind=%s channel=%s how=%s",
        action.pk,
        action.kind,
        action.channel_id,
        how,
    )


# One statement, one round trip: the CTE relaxes this statement's own transaction (is_local),
# and referencing it makes PostgreSQL evaluate it.
_STORE_SENT_RELAXED = """
WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true))
UPDATE {table} SET state = %s, external_result_id = result.external_id, sent_at = %s,
    payload_ciphertext = NULL, last_error_code = '', last_error_message = '',
    next_attempt_at = NULL
FROM relaxed, unnest(%s::bigint[], %s::varchar[]) AS result(id, external_id)
WHERE {table}.id = result.id AND {table}.state <> %s
RETURNING {table}.id
"""


def _store_sent_many(results: Mapping[int, str]) -> set[int]:
    """Set the actions ``sent`` with their platform ids, unless they already are.

    Returns the ids this call changed. On PostgreSQL, outside a caller's transaction, it is
    one statement whose commit does not wait for the disk. It is the only write relaxed so,
    because its loss is already recovered: the action would be back to ``in_flight`` as it was
    claimed (that claim committed normally), the sweeper finds the stale claim, and
    ``find_own_reply`` confirms what was posted instead of posting again (a private message
    it cannot look up becomes ``unknown`` for a person to check, never a second message). It
    saves a disk flush and two round trips per write, and one write serves a whole batch of
    results (``_SentResults``). Never inside a caller's transaction: that would relax the
    caller's commit too.
    """
    if not results:
        return set()
    results = {pk: external_id[:128] for pk, external_id in results.items()}  # the column's size
    now = timezone.now()
    connection = transaction.get_connection()
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        changed = set()
        for action_id, external_id in results.items():
            if (
                OutboxAction.objects.filter(pk=action_id)
                .exclude(state=OutboxState.SENT)
                .update(
                    state=OutboxState.SENT,
                    external_result_id=external_id,
                    sent_at=now,
                    payload_ciphertext=None,
                    last_error_code="",
                    last_error_message="",
                    next_attempt_at=None,
                )
            ):
                changed.add(action_id)
        return changed
    table = connection.ops.quote_name(OutboxAction._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            _STORE_SENT_RELAXED.format(table=table),
            [OutboxState.SENT, now, list(results), list(results.values()), OutboxState.SENT],
        )
        return {row[0] for row in cursor.fetchall()}


class _SentResults:
    """Platform results of a batch that wait to be stored together (``perform_actions``).

    Only what the recovery above finds again without posting twice may wait: a public reply
    (``find_own_reply``) and a hide (hiding twice is harmless). A private message is stored
    as soon as the platform answers. The results go out in one statement at the end of the
    batch, or before the next platform call once the oldest has waited ``FLUSH_AFTER``
    seconds: with a slow platform each result is stored before the next call, as one at a
    time would, and a crash leaves at most that wait and one call's results to reconcile.
    """

    FLUSH_AFTER = 0.25

    def __init__(self) -> None:
        self._waiting: dict[int, tuple[OutboxAction, str]] = {}
        self._since = 0.0

    def add(self, action: OutboxAction, external_id: str) -> PerformOutcome:
        if not self._waiting:
            self._since = time.monotonic()
        self._waiting[action.pk] = (action, external_id)
        return PerformOutcome(OutboxState.SENT)

    def flush_if_due(self) -> None:
        if self._waiting and time.monotonic() - self._since >= self.FLUSH_AFTER:
            self.flush()

    def flush(self) -> None:
        waiting, self._waiting = self._waiting, {}
        if not waiting:
            return
        changed = _store_sent_many({pk: external_id for pk, (_, external_id) in waiting.items()})
        for pk, (action, _) in waiting.items():
            if pk in changed:
                _sent_stored(action, "posted")


def _finish(action: OutboxAction, state: str, code: str, message: str) -> PerformOutcome:
    OutboxAction.objects.filter(pk=action.pk).update(
        state=state, last_error_code=code[:64], last_error_message=message[:300]
    )
    action.state = state
    _broadcast_action(action)
    logger.warning("action %s action=%s kind=%s code=%s", state, action.pk, action.kind, code)
    return PerformOutcome(state)


def _release(
    action: OutboxAction, *, retry_at: datetime | None, code: str, message: str, count: bool = True
) -> PerformOutcome:
    """Put a claimed action back to pending, to retry at ``retry_at`` (dead-letter when spent)."""
    if count and action.attempts >= MAX_ACTION_ATTEMPTS:
        return _finish(
            action,
            OutboxState.FAILED,
            code,
            f"Gave up after {action.attempts} attempts. {message}".strip(),
        )
    OutboxAction.objects.filter(pk=action.pk).update(
        state=OutboxState.PENDING,
        next_attempt_at=retry_at,
        last_error_code=code,
        last_error_message=message[:300],
        attempts=F("attempts") if count else F("attempts") - 1,
    )
    logger.warning(
        "action retry action=%s kind=%s code=%s at=%s",
        action.pk,
        action.kind,
        code,
        retry_at.isoformat() if retry_at else "after reauth",
    )
    return PerformOutcome(OutboxState.PENDING, retry_at)


def _with_relations(action_ids: Sequence[int]) -> list[OutboxAction]:
    """The actions by id order, with what a platform call needs, in two queries.

    A batch's actions share one or two channels: each is built once, not once per row as a
    join would build it.
    """
    actions = list(
        OutboxAction.objects.select_related("ticket", "inbound")
        .filter(pk__in=action_ids)
        .order_by("pk")
    )
    channels = Channel.objects.in_bulk({a.channel_id for a in actions})
    for action in actions:
        action.channel = channels[action.channel_id]
        if action.inbound is not None and action.inbound.channel_id == action.channel_id:
            action.inbound.channel = action.channel
    return actions


def _claim(action_id: int, *, reconcile: bool) -> tuple[OutboxAction | None, bool]:
    """Claim the action (committed before any platform call). Returns (action, must_reconcile)."""
    now = timezone.now()
    claimed = (
        OutboxAction.objects.filter(pk=action_id, state=OutboxState.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(state=OutboxState.IN_FLIGHT, claimed_at=now, attempts=F("attempts") + 1)
    )
    action = next(iter(_with_relations([action_id])), None)
    if action is None:
        return None, False
    if claimed:
        return action, action.last_error_code.startswith("ambiguous")
    stale_before = now - timedelta(seconds=settings.HAVEN_STALE_CLAIM_SECONDS)
    if action.state == OutboxState.IN_FLIGHT and (
        reconcile or (action.claimed_at is not None and action.claimed_at < stale_before)
    ):
        # The claimer died mid-call (worker killed, lost task): take over, then reconcile.
        took = OutboxAction.objects.filter(
            pk=action_id, state=OutboxState.IN_FLIGHT, claimed_at=action.claimed_at
        ).update(claimed_at=now, attempts=F("attempts") + 1)
        if took:
            action.refresh_from_db()
            return action, True
    return None, False


def perform_action(*, action_id: int, reconcile: bool = False) -> PerformOutcome:
    """Carry out one outbox action through the connector, at most once on the platform.

    Must not run inside a transaction: the claim is committed before the platform call, so a
    crash leaves an ``in_flight`` row that the next attempt reconciles with ``find_own_reply``
    instead of posting again. Returns when to retry (``retry_at``) for rate limits and
    transient errors; other platform errors end the action as ``failed`` with a reason people
    can read.
    """
    action, must_reconcile = _claim(action_id, reconcile=reconcile)
    if action is None:
        current = (
            OutboxAction.objects.filter(pk=action_id)
            .values_list("state", "next_attempt_at")
            .first()
        )
        if current and current[0] == OutboxState.PENDING:
            return PerformOutcome(OutboxState.PENDING, current[1])
        return PerformOutcome(current[0] if current else "gone")
    return _perform_claimed(action, must_reconcile=must_reconcile)


def perform_actions(
    *, action_ids: Sequence[int], reconcile: bool = False
) -> dict[int, PerformOutcome]:
    """Carry out several outbox actions: one claim for all that are due, then one by one.

    The same rules as ``perform_action``: the claim commits before any platform call. The
    results that a crash may lose safely are stored together (``_SentResults``); the others
    as soon as the platform answers. Actions this batch could not claim (claimed elsewhere,
    not yet due, stale claims) go through ``perform_action``.
    """
    now = timezone.now()
    with transaction.atomic():
        due = list(
            OutboxAction.objects.select_for_update(skip_locked=True)
            .filter(pk__in=action_ids, state=OutboxState.PENDING)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .values_list("pk", flat=True)
        )
        OutboxAction.objects.filter(pk__in=due).update(
            state=OutboxState.IN_FLIGHT, claimed_at=now, attempts=F("attempts") + 1
        )
    actions = _with_relations(due)
    vault.load_ticket_keys(a.ticket for a in actions)  # one query, not one per payload
    # Past half the stale-claim time, the sweeper could soon take a claim over and post it
    # itself: the rest go back unposted (slow platform calls, timeouts).
    deadline = time.monotonic() + settings.HAVEN_STALE_CLAIM_SECONDS / 2
    outcomes: dict[int, PerformOutcome] = {}
    results = _SentResults()
    try:
        for action in actions:
            results.flush_if_due()
            if time.monotonic() > deadline:
                outcomes[action.pk] = _unclaim(action, claimed_at=now)
                continue
            must_reconcile = action.last_error_code.startswith("ambiguous")
            outcomes[action.pk] = _perform_claimed(
                action, must_reconcile=must_reconcile, results=results
            )
    finally:
        results.flush()
    for action_id in action_ids:
        if action_id not in outcomes:
            outcomes[action_id] = perform_action(action_id=action_id, reconcile=reconcile)
    return outcomes


def _unclaim(action: OutboxAction, *, claimed_at: datetime) -> PerformOutcome:
    """Give back a claim this batch did not get to use: pending again, due at once."""
    now = timezone.now()
    OutboxAction.objects.filter(
        pk=action.pk, state=OutboxState.IN_FLIGHT, claimed_at=claimed_at
    ).update(state=OutboxState.PENDING, next_attempt_at=now, attempts=F("attempts") - 1)
    logger.info("action unclaimed action=%s kind=%s: batch out of time", action.pk, action.kind)
    return PerformOutcome(OutboxState.PENDING, now)


def _perform_claimed(
    action: OutboxAction, *, must_reconcile: bool, results: _SentResults | None = None
) -> PerformOutcome:
    channel = action.channel
    if action.inbound is None:
        return _finish(action, OutboxState.CANCELLED, "item_gone", "The original item is gone.")
    if channel.status != ChannelStatus.ACTIVE:
        return _release(
            action,
            retry_at=None,
            code="channel_inactive",
            message="Waiting for the channel to be switched on again.",
            count=False,
        )
    item = item_from_inbound(action.inbound)
    try:
        connector = connector_for(channel)
        return _call_platform(
            connector, action, item, must_reconcile=must_reconcile, results=results
        )
    except AlreadyReplied:
        return mark_sent(action, "", how="already_replied")
    except RateLimited as exc:
        retry_at = exc.retry_at + timedelta(seconds=random.uniform(0, 1))  # noqa: S311
        return _release(
            action,
            retry_at=retry_at,
            code="rate_limited",
            message="The platform is rate limiting us; retrying at its reset time.",
            count=False,
        )
    except AmbiguousOutcome:
        return _ambiguous(action, channel)
    except TransientError as exc:
        return _release(
            action,
            retry_at=timezone.now() + _backoff(action.attempts),
            code=f"transient:{exc.status or exc.code or ''}",
            message="The platform did not answer properly; retrying.",
        )
    except AuthExpired:
        mark_needs_reauth(channel=channel)
        return _release(
            action,
            retry_at=None,
            code="auth_expired",
            message="The channel needs re-authorisation; the action resumes afterwards.",
            count=False,
        )
    except (PermissionDenied, NotFound, PlatformError) as exc:
        reason = {
            PermissionDenied: "The platform does not allow this action on this item.",
            NotFound: "The item no longer exists on the platform.",
        }.get(type(exc), f"The platform refused the action (code {exc.code}).")
        return _finish(action, OutboxState.FAILED, type(exc).__name__, reason)
    except ValueError:
        return _finish(
            action,
            OutboxState.FAILED,
            "bad_credentials",
            "The channel's credentials are incomplete.",
        )


def _call_platform(
    connector: Connector,
    action: OutboxAction,
    item: Item,
    *,
    must_reconcile: bool,
    results: _SentResults | None = None,
) -> PerformOutcome:
    ticket = action.ticket
    if must_reconcile and action.kind == OutboxKind.PUBLIC_REPLY:
        found = connector.find_own_reply(item)
        if found:
            return mark_sent(action, found, how="reconciled")
        if action.last_error_code == "ambiguous_resent":
            return _finish(
                action,
                OutboxState.UNKNOWN,
                "ambiguous",
                "The platform's answer was unclear twice; check the post before retrying.",
            )
        OutboxAction.objects.filter(pk=action.pk).update(last_error_code="ambiguous_resent")
        action.last_error_code = "ambiguous_resent"
    if (
        must_reconcile
        and action.kind == OutboxKind.PRIVATE_MESSAGE
        and not _platform_dedupes_private(action)
    ):
        return _finish(
            action,
            OutboxState.UNKNOWN,
            "ambiguous",
            "The private message may have been sent; check before sending another link.",
        )
    payload = vault.decrypt(ticket, action, "payload", action.payload_ciphertext)
    if action.kind == OutboxKind.PUBLIC_REPLY:
        external_id = connector.reply_publicly(item, payload or "")
    elif action.kind == OutboxKind.HIDE:
        connector.hide(item)
        external_id = ""
    else:
        return mark_sent(action, connector.send_private(item, payload or ""), how="posted")
    if results is not None:
        return results.add(action, external_id)
    return mark_sent(action, external_id, how="posted")


def _platform_dedupes_private(action: OutboxAction) -> bool:
    # Meta allows one private reply per comment and refuses a second: resending is safe there.
    return (
        action.channel.platform == Platform.FACEBOOK
        and action.inbound is not None
        and (action.inbound.kind != "dm")
    )


def _ambiguous(action: OutboxAction, channel: Channel) -> PerformOutcome:
    if action.kind == OutboxKind.HIDE:
        return _release(
            action,
            retry_at=timezone.now() + _backoff(action.attempts),
            code="transient:ambiguous",
            message="Hiding may not have worked; retrying (hiding twice is harmless).",
        )
    if action.kind == OutboxKind.PRIVATE_MESSAGE and not _platform_dedupes_private(action):
        return _finish(
            action,
            OutboxState.UNKNOWN,
            "ambiguous",
            "The private message may have been sent; check before sending another link.",
        )
    code = "ambiguous_resent" if action.last_error_code == "ambiguous_resent" else "ambiguous"
    # Retry at once: the next attempt looks for our reply before it posts anything.
    return _release(
        action,
        retry_at=timezone.now(),
        code=code,
        message="The platform's answer was unclear; checking whether the reply exists.",
    )
