"""Processing: scan, decide and move one inbound item into an encrypted ticket with its actions."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

import redaction
from channels_bridge.errors import (
    BridgeError,
)
from channels_bridge.items import Capabilities
from inbox import events, policies, vault
from inbox.models import (
    Channel,
    ChannelPolicy,
    InboundMessage,
    InboundStatus,
    MessageKind,
    MessageSource,
    OutboxAction,
    OutboxKind,
    Platform,
    Ticket,
    TicketStatus,
)
from inbox.services import secrets as portal_secrets
from inbox.services import threads
from inbox.services.connectors import connector_for, enqueue_on_commit, item_from_inbound

logger = logging.getLogger(__name__)

OPEN_STATES = (TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.SOLVED)
MAX_PROCESS_ATTEMPTS = 10


class RedactionFailed(Exception):
    """Scanning a message failed: nothing was stored or shown unredacted; retry later."""


def _policy_view(policy: ChannelPolicy) -> policies.PolicyView:
    return policies.PolicyView(
        mode=policy.mode,
        trigger_labels=frozenset(policy.trigger_labels or ()),
        min_score=policy.min_score,
        hide_original=policy.hide_original,
        send_private_link=policy.send_private_link,
        x_reply_style=policy.x_reply_style,
    )


def _allowed(caps: Capabilities) -> policies.Allowed:
    return policies.Allowed(
        reply_publicly=caps.reply_publicly,
        hide=caps.hide,
        send_private=caps.send_private,
        reply_cost_usd=caps.reply_cost_usd or 0.0,
        reply_url_cost_usd=caps.reply_url_cost_usd or caps.reply_cost_usd or 0.0,
        private_cost_usd=caps.private_cost_usd or 0.0,
    )


def _lock_author(channel_id: int, author_id: str) -> None:
    """Serialise processing per (channel, author) so one thread never opens two tickets."""
    if connection.vendor != "postgresql":
        return  # SQLite serialises writers already
    key = int.from_bytes(
        hashlib.blake2b(f"{channel_id}|{author_id}".encode(), digest_size=8).digest(),
        "big",
        signed=True,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _open_ticket_for(channel: Channel, inbound: InboundMessage) -> Ticket | None:
    """The author's open ticket this item belongs to: same thread, or any for a DM."""
    if not inbound.author_external_id:
        return None
    qs = Ticket.objects.filter(
        channel=channel, author_external_id=inbound.author_external_id, status__in=OPEN_STATES
    )
    if inbound.kind != "dm":
        if not inbound.conversation_external_id:
            return None  # no thread to join: an unknown conversation is not "the same" one
        qs = qs.filter(conversation_external_id=inbound.conversation_external_id)
    return qs.order_by("-last_activity_at").first()


def _awaits_dm(ticket: Ticket) -> bool:
    return not OutboxAction.objects.filter(ticket=ticket, kind=OutboxKind.PRIVATE_MESSAGE).exists()


@dataclass(frozen=True, slots=True)
class ProcessOutcome:
    status: str
    ticket_id: int | None = None
    actions: tuple[int, ...] = ()


def process_message(*, inbound_id: int) -> ProcessOutcome:
    """Scan, decide and move one inbound item. A second run is a no-op.

    Raises RedactionFailed (the row is marked failed and retried: nothing unredacted is kept
    anywhere new). Queues the outbox actions on commit.
    """
    inbound = (
        InboundMessage.objects.select_related("channel", "channel__policy", "channel__team")
        .filter(pk=inbound_id)
        .first()
    )
    if inbound is None or inbound.status not in (InboundStatus.RECEIVED, InboundStatus.FAILED):
        return ProcessOutcome("noop")
    channel = inbound.channel
    text = vault.decrypt(channel, inbound, "text", inbound.text_ciphertext) or ""
    try:
        found = redaction.scan(text)
    except Exception as exc:
        InboundMessage.objects.filter(pk=inbound.pk).update(
            status=InboundStatus.FAILED,
            attempts=F("attempts") + 1,
            last_error_code="redaction_failed",
        )
        logger.exception("redaction failed inbound=%s", inbound.pk)
        raise RedactionFailed(f"inbound {inbound.pk}") from exc

    findings: list[threads.FindingMeta] = [
        {"entity": f.entity, "start": f.start, "end": f.end, "score": round(f.score, 3)}
        for f in found
    ]
    with transaction.atomic():
        _lock_author(channel.pk, inbound.author_external_id)
        locked = InboundMessage.objects.select_for_update().get(pk=inbound.pk)
        if locked.status not in (InboundStatus.RECEIVED, InboundStatus.FAILED):
            return ProcessOutcome("noop")
        return _move(channel=channel, inbound=locked, text=text, findings=findings)


def _move(
    *,
    channel: Channel,
    inbound: InboundMessage,
    text: str,
    findings: list[threads.FindingMeta],
) -> ProcessOutcome:
    policy = ChannelPolicy.objects.get(channel=channel)
    existing = _open_ticket_for(channel, inbound)
    item = item_from_inbound(inbound, text=text)
    try:
        caps = connector_for(channel).capabilities_for(item, now=timezone.now())
    except (BridgeError, ValueError):
        caps = Capabilities(reply_publicly=False, hide=False, send_private=False)
    facts = policies.ItemFacts(
        platform=channel.platform,
        kind=inbound.kind,
        from_self=inbound.from_self,
        support_cue=policies.find_support_cue(text, policy.support_cues or ()),
        joins_open_ticket=existing is not None,
        ticket_awaits_dm=existing is not None and _awaits_dm(existing),
    )
    decision = policies.decide(
        _policy_view(policy),
        [policies.FindingView(f["entity"], f["score"]) for f in findings],
        facts,
        _allowed(caps),
    )
    now = timezone.now()
    inbound.decision = decision.as_json()
    inbound.processed_at = now
    inbound.attempts += 1
    if not decision.open_ticket:
        inbound.status = InboundStatus.IGNORED
        _clear_inbound_copies(inbound)
        inbound.save()
        logger.info("inbound ignored inbound=%s reasons=%s", inbound.pk, len(decision.reasons))
        return ProcessOutcome("ignored")

    language = policies.guess_language(text)
    ticket = existing or threads.open_ticket(
        team=channel.team,
        channel=channel,
        author_external_id=inbound.author_external_id,
        conversation_external_id=inbound.conversation_external_id,
        customer_handle=vault.decrypt(
            channel, inbound, "author_handle", inbound.author_handle_ciphertext
        )
        or "",
        customer_name=vault.decrypt(channel, inbound, "author_name", inbound.author_name_ciphertext)
        or "",
        language=language,
    )
    threads.add_message(
        ticket=ticket,
        kind=MessageKind.INBOUND,
        source=MessageSource.SOCIAL,
        body=text,
        findings=findings,
        verified=True,  # the platform authenticated the author of a social item
        inbound_id=inbound.pk,
    )
    actions = _plan_actions(
        channel=channel,
        policy=policy,
        ticket=ticket,
        inbound=inbound,
        decision=decision,
        language=ticket.language or language,
        caps=caps,
    )
    inbound.status = InboundStatus.PROCESSED
    inbound.ticket = ticket
    _clear_inbound_copies(inbound)
    inbound.save()
    for action in actions:
        enqueue_on_commit("perform_action", action_id=action.pk)
    logger.info(
        "inbound processed inbound=%s ticket=%s joined=%s actions=%s",
        inbound.pk,
        ticket.pk,
        existing is not None,
        len(actions),
    )
    return ProcessOutcome("processed", ticket.pk, tuple(a.pk for a in actions))


def _clear_inbound_copies(inbound: InboundMessage) -> None:
    # The text now lives in the ticket (under its key) or nowhere: keep no second copy.
    inbound.text_ciphertext = None
    inbound.author_handle_ciphertext = None
    inbound.author_name_ciphertext = None


def _plan_actions(
    *,
    channel: Channel,
    policy: ChannelPolicy,
    ticket: Ticket,
    inbound: InboundMessage,
    decision: policies.Decision,
    language: str,
    caps: Capabilities,
) -> list[OutboxAction]:
    target = inbound.platform_message_id.split("#", 1)[0]
    planned: list[tuple[str, str | None, float]] = []
    if decision.public_reply:
        drop_ref = portal_secrets.issue_drop_ref(ticket=ticket)
        template = policies.template_for(
            policy.reply_templates or {}, decision.reply_style, language
        )
        link = portal_secrets.drop_link(drop_ref)
        text = policies.render_reply(template, link=link, ref=ticket.reference)
        cost = (
            (caps.reply_url_cost_usd or caps.reply_cost_usd or 0.0)
            if decision.reply_style == policies.STYLE_LINK
            else (caps.reply_cost_usd or 0.0)
        )
        planned.append((OutboxKind.PUBLIC_REPLY, text, cost))
    if decision.hide:
        planned.append((OutboxKind.HIDE, None, 0.0))
    if decision.send_private:
        ttl = (
            portal_secrets.READ_TTL_FACEBOOK_PRIVATE_REPLY
            if channel.platform == Platform.FACEBOOK and inbound.kind != "dm"
            else portal_secrets.READ_TTL_DEFAULT
        )
        secret = portal_secrets.issue_read_secret(ticket=ticket, ttl=ttl)
        text = policies.private_text(language=language, link=portal_secrets.read_link(secret))
        planned.append((OutboxKind.PRIVATE_MESSAGE, text, caps.private_cost_usd or 0.0))

    rows = []
    for kind, payload, cost in planned:
        action = OutboxAction(
            kind=kind,
            channel=channel,
            target_external_id=target,
            ticket=ticket,
            inbound=inbound,
            estimated_cost_usd=Decimal(str(round(cost, 4))),
        )
        if payload is not None:
            action.payload_ciphertext = vault.encrypt(ticket, action, "payload", payload)
        rows.append(action)
    # One public reply, one hide, one private message per platform item: the unique
    # constraint drops a second one (an edit of an item already acted on).
    OutboxAction.objects.bulk_create(rows, ignore_conflicts=True)
    actions = list(OutboxAction.objects.filter(public_id__in=[r.public_id for r in rows]))
    for action in actions:
        events.broadcast_on_commit(
            events.ticket_agents_group(ticket.public_id),
            events.action_changed(
                ticket_public_id=ticket.public_id,
                action_public_id=action.public_id,
                status=action.state,
            ),
        )
    return actions
