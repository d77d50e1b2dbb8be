"""An agent's retry of a platform action that ended ``failed`` or ``unknown``.

One compare-and-set UPDATE puts the action back to ``pending``; the outbox's own
``perform_action`` then carries it out under its usual rules (SECURITY-DESIGN.md §7). Knows
nothing of how the platform is called. Callers have already checked access through
``inbox.selectors``; ``retry_action`` checks it again under the ticket's row lock.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from inbox import audit, events, selectors, vault
from inbox.exceptions import (
    ActionNotRetryable,
    ChannelNotActive,
    HavenError,
    PolicyViolation,
    PortalAccessEnded,
    RetryNotConfirmed,
    TicketClosed,
    TicketNotFound,
)
from inbox.models import (
    ChannelPolicy,
    ChannelStatus,
    OutboxAction,
    OutboxKind,
    OutboxState,
    PolicyMode,
    Ticket,
)
from inbox.services import secrets as portal_secrets
from inbox.services.agent import new_private_link_text
from inbox.services.connectors import enqueue_on_commit

logger = logging.getLogger(__name__)

RETRYABLE_STATES = (OutboxState.FAILED, OutboxState.UNKNOWN)


def retry_token(action: OutboxAction) -> str:
    """The outcome of the action that a page shows: its state and the claim that ended in it.

    The retry form sends it back, and the retry goes through only while the action still has
    that outcome. Every attempt claims the action anew, so a second submit of the same page
    (a double click, a stale tab, a second agent) is refused even when the first retry has
    already ended ``failed`` or ``unknown`` again, as it can within the request when Celery
    runs eagerly.
    """
    claimed = action.claimed_at.isoformat() if action.claimed_at else "-"
    return f"{action.state}@{claimed}"


def retry_refusal(*, ticket: Ticket, action: OutboxAction) -> HavenError | None:
    """Why the action cannot be retried now, or None when a retry can be offered.

    Reads the ticket, the action and its channel only (no query when the action's channel is
    the ticket's, loaded with it); ``retry_action`` also checks the channel's policy.
    """
    if action.state not in RETRYABLE_STATES:
        return ActionNotRetryable(f"action {action.pk} is {action.state}")
    channel = ticket.channel if ticket.channel_id == action.channel_id else action.channel
    if channel is None or channel.status != ChannelStatus.ACTIVE:
        return ChannelNotActive(f"channel {action.channel_id} is not active")
    if action.inbound_id is None:
        return ActionNotRetryable(f"action {action.pk} lost its item")
    if ticket.is_closed and action.kind != OutboxKind.HIDE:
        # Hiding personal data is still worth doing once the conversation is closed; a reply
        # or a private link into a closed conversation is not: its links are dead.
        return TicketClosed(f"ticket {ticket.pk} is closed")
    if action.kind == OutboxKind.PRIVATE_MESSAGE and ticket.portal_access_ended_at is not None:
        # An agent ended access without sending a new link: only that page sends one again.
        return PortalAccessEnded(f"ticket {ticket.pk} access ended")
    if action.kind == OutboxKind.PUBLIC_REPLY and action.payload_ciphertext is None:
        return ActionNotRetryable(f"action {action.pk} has no text to post")
    return None


@dataclass(frozen=True, slots=True)
class ActionRow:
    """One platform action as the ticket page lists it, with what its retry form needs.

    ``retry_token`` is set when a retry can be offered; ``needs_check`` when the action is
    ``unknown`` and the agent must confirm having looked at the platform first;
    ``retry_note`` says, for a failed or unknown action, why it cannot be retried now.
    """

    action: OutboxAction
    retry_token: str = ""
    needs_check: bool = False
    retry_note: str = ""


def action_rows(*, ticket: Ticket, actions: Iterable[OutboxAction]) -> list[ActionRow]:
    """The ticket's actions with their retry offers. Reads only; no query per action."""
    rows = []
    for action in actions:
        if action.state not in RETRYABLE_STATES:
            rows.append(ActionRow(action))
            continue
        refusal = retry_refusal(ticket=ticket, action=action)
        if refusal is None:
            rows.append(
                ActionRow(
                    action,
                    retry_token=retry_token(action),
                    needs_check=action.state == OutboxState.UNKNOWN,
                )
            )
        elif isinstance(refusal, ActionNotRetryable):
            rows.append(ActionRow(action))
        else:
            rows.append(ActionRow(action, retry_note=str(refusal.message)))
    return rows


@transaction.atomic
def retry_action(
    *,
    ticket: Ticket,
    agent: AbstractBaseUser,
    action_ref: uuid.UUID,
    seen: str,
    checked: bool = False,
) -> OutboxAction:
    """Put a ``failed`` or ``unknown`` action of the ticket back to ``pending``, once.

    ``seen`` is the ``retry_token`` the agent's page showed: the compare-and-set UPDATE
    matches only that outcome, so a double click queues one attempt. An ``unknown`` action
    may already be on the platform, and retrying it may post twice: ``checked`` is the
    agent's word that they looked and did not find it. A private message carries a new read
    secret (the old link may have expired), and the old one is revoked unless the customer
    already used it, so the ticket does not count a link nobody received. Attempts start
    again from zero.

    Audited (ids only). On commit, broadcasts the new state to the ticket's agents and
    queues ``perform_action``. Raises TicketNotFound (also for an action of another ticket),
    ActionNotRetryable, RetryNotConfirmed, ChannelNotActive, PolicyViolation (the channel
    only observes), TicketClosed, PortalAccessEnded.
    """
    locked = Ticket.objects.select_for_update().filter(pk=ticket.pk).first()
    if locked is None or not selectors.agent_can_access_ticket(
        user_id=int(agent.pk), ticket_ref=locked.public_id
    ):
        raise TicketNotFound(f"ticket {ticket.pk} not available to user {agent.pk}")
    action = (
        OutboxAction.objects.select_related("channel", "inbound")
        .filter(ticket=locked, public_id=action_ref)
        .first()
    )
    if action is None:
        raise TicketNotFound(f"action {action_ref} not on ticket {locked.pk}")
    if seen != retry_token(action):
        raise ActionNotRetryable(f"action {action.pk} changed since the page showed it")
    refusal = retry_refusal(ticket=locked, action=action)
    if refusal is not None:
        raise refusal
    if action.state == OutboxState.UNKNOWN and not checked:
        raise RetryNotConfirmed(f"action {action.pk} is unknown and was not checked")
    mode = ChannelPolicy.objects.filter(channel_id=action.channel_id).values_list("mode", flat=True)
    if mode.first() == PolicyMode.OBSERVE:
        raise PolicyViolation(f"channel {action.channel_id} only observes")
    previous = action.state
    changes: dict[str, object] = {
        "state": OutboxState.PENDING,
        "attempts": 0,
        "claimed_at": None,
        "next_attempt_at": timezone.now(),
        "last_error_code": "",
        "last_error_message": "",
    }
    if previous == OutboxState.UNKNOWN and action.kind == OutboxKind.PUBLIC_REPLY:
        # The agent looked; the outbox still looks for its own reply before it posts again,
        # and posts at most once more (SECURITY-DESIGN.md §7).
        changes["last_error_code"] = "ambiguous"
    new_link = action.kind == OutboxKind.PRIVATE_MESSAGE
    superseded = ""
    if new_link and action.inbound is not None:  # retry_refusal made sure the item is there
        superseded = vault.decrypt(locked, action, "payload", action.payload_ciphertext) or ""
        text = new_private_link_text(ticket=locked, channel=action.channel, inbound=action.inbound)
        changes["payload_ciphertext"] = vault.encrypt(locked, action, "payload", text)
    updated = OutboxAction.objects.filter(
        pk=action.pk, state=previous, claimed_at=action.claimed_at
    ).update(**changes)
    if not updated:
        # Another request retried it meanwhile (or a worker changed it): raising rolls back
        # the new secret with everything else.
        raise ActionNotRetryable(f"action {action.pk} changed before the retry")
    old_link_revoked = bool(superseded) and portal_secrets.revoke_read_secret_in(
        ticket=locked, text=superseded
    )
    audit.record(
        actor=audit.Actor.user(agent.pk),
        action="outbox.retry",
        object_type="outbox_action",
        object_id=action.public_id,
        ticket_public_id=locked.public_id,
        data={
            "kind": action.kind,
            "from": previous,
            "new_link": new_link,
            "old_link_revoked": old_link_revoked,
        },
    )
    events.broadcast_on_commit(
        events.ticket_agents_group(locked.public_id),
        events.action_changed(
            ticket_public_id=locked.public_id,
            action_public_id=action.public_id,
            status=OutboxState.PENDING,
        ),
    )
    enqueue_on_commit("perform_action", action_id=action.pk)
    logger.info(
        "action retry queued action=%s kind=%s from=%s agent=%s",
        action.pk,
        action.kind,
        previous,
        agent.pk,
    )
    action.refresh_from_db()
    return action
