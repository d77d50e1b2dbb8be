"""Processing: scan, decide and move inbound items into encrypted tickets with their actions.

Items are processed in batches: one transaction per channel and a few bulk statements per
batch, so the cost per message is the scan and the encryption, not database round trips.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

import redaction
from channels_bridge.errors import BridgeError
from channels_bridge.items import Capabilities
from channels_bridge.protocol import Connector
from inbox import events, policies, vault
from inbox.models import (
    BlindIndex,
    Channel,
    ChannelPolicy,
    InboundMessage,
    InboundStatus,
    Message,
    MessageKind,
    MessageSource,
    OutboxAction,
    OutboxKind,
    Platform,
    PortalSecret,
    SecretKind,
    Ticket,
    TicketKey,
    TicketStatus,
)
from inbox.services import secrets as portal_secrets
from inbox.services import threads
from inbox.services.connectors import connector_for, enqueue_on_commit, item_from_inbound

logger = logging.getLogger(__name__)

OPEN_STATES = (TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.SOLVED)
MAX_PROCESS_ATTEMPTS = 10
# Inbound items per task: a batch has a fixed cost of a dozen statements and a task; 100 rather
# than 50 gave about a tenth more throughput in bench/ingest.py (docs/pipeline.md).
PROCESS_BATCH = 100
ACTION_BATCH = 20  # outbox actions per task: platform calls are sequential within one


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


def _author_lock_key(channel_id: int, author_id: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(f"{channel_id}|{author_id}".encode(), digest_size=8).digest(),
        "big",
        signed=True,
    )


def _lock_authors(channel_id: int, author_ids: Iterable[str]) -> None:
    """Serialise processing per (channel, author) so one thread never opens two tickets.

    The locks are taken in key order, so two batches sharing authors cannot deadlock.
    """
    if connection.vendor != "postgresql":
        return  # SQLite serialises writers already
    keys = sorted({_author_lock_key(channel_id, a) for a in author_ids})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(k)) FROM "
            "(SELECT k FROM unnest(%s::bigint[]) AS k ORDER BY k) AS ordered",
            [keys],
        )


@dataclass(frozen=True, slots=True)
class ProcessOutcome:
    status: str
    ticket_id: int | None = None
    actions: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What ``process_messages`` did per inbound id, and which ids failed to scan."""

    outcomes: dict[int, ProcessOutcome]
    failed: tuple[int, ...] = ()


def process_message(*, inbound_id: int) -> ProcessOutcome:
    """Scan, decide and move one inbound item (see ``process_messages``).

    Raises RedactionFailed when its scan failed.
    """
    result = process_messages(inbound_ids=[inbound_id])
    if result.failed:
        raise RedactionFailed(f"inbound {inbound_id}")
    return result.outcomes.get(inbound_id, ProcessOutcome("noop"))


def process_messages(*, inbound_ids: Sequence[int]) -> BatchOutcome:
    """Scan, decide and move inbound items: one transaction per channel, bulk writes.

    A second run is a no-op per item. An item whose scan fails is marked failed and listed in
    ``failed`` (nothing unredacted is kept anywhere new); the others go on. Queues the outbox
    actions and broadcasts on commit.
    """
    rows = list(
        InboundMessage.objects.filter(
            pk__in=inbound_ids, status__in=(InboundStatus.RECEIVED, InboundStatus.FAILED)
        ).order_by("pk")
    )
    # One instance per channel (and its team), not one per row as a join would build.
    channels = Channel.objects.select_related("team").in_bulk({r.channel_id for r in rows})
    for inbound in rows:
        inbound.channel = channels[inbound.channel_id]
    outcomes = {pk: ProcessOutcome("noop") for pk in inbound_ids}
    failed: list[int] = []
    by_channel: dict[int, list[_Scanned]] = {}
    for inbound in rows:
        text = vault.decrypt(inbound.channel, inbound, "text", inbound.text_ciphertext) or ""
        try:
            found = redaction.scan(text)
        except Exception:
            InboundMessage.objects.filter(pk=inbound.pk).update(
                status=InboundStatus.FAILED,
                attempts=F("attempts") + 1,
                last_error_code="redaction_failed",
            )
            logger.exception("redaction failed inbound=%s", inbound.pk)
            failed.append(inbound.pk)
            continue
        findings: list[threads.FindingMeta] = [
            {"entity": f.entity, "start": f.start, "end": f.end, "score": round(f.score, 3)}
            for f in found
        ]
        by_channel.setdefault(inbound.channel_id, []).append(_Scanned(inbound, text, findings))
    for scanned in by_channel.values():
        with transaction.atomic():
            outcomes.update(_Batch(scanned[0].inbound.channel).move(scanned))
    return BatchOutcome(outcomes, tuple(failed))


@dataclass(frozen=True, slots=True)
class _Scanned:
    inbound: InboundMessage
    text: str
    findings: list[threads.FindingMeta]


class _Batch:
    """Moves a channel's scanned items into tickets inside one transaction, with bulk writes.

    Items are decided one by one in id order, against the open tickets as they stand after
    the items before them, so a thread split across the batch still lands in one ticket.
    """

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.new_tickets: list[threads.NewTicket] = []
        self.touched: dict[uuid.UUID, tuple[Ticket, set[str]]] = {}
        self.messages: list[Message] = []
        self.indexes: list[BlindIndex] = []
        self.secret_requests: list[portal_secrets.SecretRequest] = []
        self.secret_rows: list[PortalSecret] = []
        self.actions: list[OutboxAction] = []
        self.inbound_rows: list[InboundMessage] = []
        self.open_by_author: dict[str, list[Ticket]] = {}
        self.with_private: set[uuid.UUID] = set()

    def move(self, scanned: list[_Scanned]) -> dict[int, ProcessOutcome]:
        channel = self.channel
        _lock_authors(channel.pk, (s.inbound.author_external_id for s in scanned))
        # Lock the rows still to do (another worker may have done some since they were read);
        # only their ids come back: the rows themselves were read with the batch.
        locked = set(
            InboundMessage.objects.select_for_update()
            .filter(
                pk__in=[s.inbound.pk for s in scanned],
                status__in=(InboundStatus.RECEIVED, InboundStatus.FAILED),
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not locked:
            return {}
        self.policy = ChannelPolicy.objects.get(channel=channel)
        self.policy_view = _policy_view(self.policy)
        try:
            self.connector: Connector | None = connector_for(channel)
        except (BridgeError, ValueError):
            self.connector = None
        self._load_open_tickets(scanned)
        planned: list[tuple[int, Ticket, bool, list[OutboxAction]]] = []
        outcomes: dict[int, ProcessOutcome] = {}
        for item in scanned:
            inbound = item.inbound
            if inbound.pk not in locked:
                continue  # another worker got there first
            result = self._decide_one(inbound, item.text, item.findings)
            self.inbound_rows.append(inbound)
            if result is None:
                outcomes[inbound.pk] = ProcessOutcome("ignored")
            else:
                planned.append((inbound.pk, *result))
        self._save()
        for inbound_id, ticket, joined, actions in planned:
            ids = tuple(a.pk for a in actions if a.pk is not None)
            outcomes[inbound_id] = ProcessOutcome("processed", ticket.pk, ids)
            logger.info(
                "inbound processed inbound=%s ticket=%s joined=%s actions=%s",
                inbound_id,
                ticket.pk,
                joined,
                len(ids),
            )
        return outcomes

    def _load_open_tickets(self, scanned: list[_Scanned]) -> None:
        """Load the open tickets the batch's items could join: their threads, or their DMs."""
        rows = [s.inbound for s in scanned if s.inbound.author_external_id]
        threads_q = Q(
            conversation_external_id__in={
                r.conversation_external_id
                for r in rows
                if r.kind != "dm" and r.conversation_external_id
            }
        )
        dm_authors = {r.author_external_id for r in rows if r.kind == "dm"}
        tickets = list(
            Ticket.objects.select_related("team")
            .filter(
                channel=self.channel,
                author_external_id__in={r.author_external_id for r in rows},
                status__in=OPEN_STATES,
            )
            .filter(threads_q | Q(author_external_id__in=dm_authors))
            .order_by("-last_activity_at")
        )
        for ticket in tickets:
            self.open_by_author.setdefault(ticket.author_external_id, []).append(ticket)
        vault.load_ticket_keys(tickets)  # a joined ticket's key: one query for the batch
        self.with_private = set(
            OutboxAction.objects.filter(
                ticket__in=tickets, kind=OutboxKind.PRIVATE_MESSAGE
            ).values_list("ticket__public_id", flat=True)
        )

    def _open_ticket_for(self, inbound: InboundMessage) -> Ticket | None:
        """The author's open ticket this item belongs to: same thread, or any for a DM."""
        if not inbound.author_external_id:
            return None
        tickets = self.open_by_author.get(inbound.author_external_id, [])
        if inbound.kind != "dm":
            if not inbound.conversation_external_id:
                return None  # no thread to join: an unknown conversation is not "the same" one
            tickets = [
                t for t in tickets if t.conversation_external_id == inbound.conversation_external_id
            ]
        return tickets[0] if tickets else None

    def _decide_one(
        self, inbound: InboundMessage, text: str, findings: list[threads.FindingMeta]
    ) -> tuple[Ticket, bool, list[OutboxAction]] | None:
        channel, policy = self.channel, self.policy
        existing = self._open_ticket_for(inbound)
        item = item_from_inbound(inbound, text=text)
        caps = Capabilities(reply_publicly=False, hide=False, send_private=False)
        if self.connector is not None:
            with contextlib.suppress(BridgeError, ValueError):
                caps = self.connector.capabilities_for(item, now=timezone.now())
        facts = policies.ItemFacts(
            platform=channel.platform,
            kind=inbound.kind,
            from_self=inbound.from_self,
            support_cue=policies.find_support_cue(text, policy.support_cues or ()),
            joins_open_ticket=existing is not None,
            ticket_awaits_dm=existing is not None and existing.public_id not in self.with_private,
        )
        decision = policies.decide(
            self.policy_view,
            [policies.FindingView(f["entity"], f["score"]) for f in findings],
            facts,
            _allowed(caps),
        )
        inbound.decision = decision.as_json()
        if not decision.open_ticket:
            inbound.status = InboundStatus.IGNORED
            logger.info("inbound ignored inbound=%s reasons=%s", inbound.pk, len(decision.reasons))
            return None

        language = policies.guess_language(text)
        if existing is None:
            new = threads.build_ticket(
                team=channel.team,
                channel=channel,
                author_external_id=inbound.author_external_id,
                conversation_external_id=inbound.conversation_external_id,
                customer_handle=vault.decrypt(
                    channel, inbound, "author_handle", inbound.author_handle_ciphertext
                )
                or "",
                customer_name=vault.decrypt(
                    channel, inbound, "author_name", inbound.author_name_ciphertext
                )
                or "",
                language=language,
            )
            self.new_tickets.append(new)
            ticket = new.ticket
        else:
            ticket = existing
            self.open_by_author[inbound.author_external_id].remove(ticket)
        # The ticket now has the newest activity of its author's open tickets.
        self.open_by_author.setdefault(inbound.author_external_id, []).insert(0, ticket)
        message, indexes = threads.build_message(
            ticket=ticket,
            kind=MessageKind.INBOUND,
            source=MessageSource.SOCIAL,
            body=text,
            findings=findings,
            verified=True,  # the platform authenticated the author of a social item
            inbound_id=inbound.pk,
        )
        self.messages.append(message)
        self.indexes.extend(indexes)
        fields = threads.touch_ticket(
            ticket, kind=MessageKind.INBOUND, body=text, findings=findings
        )
        if existing is not None:
            self.touched.setdefault(ticket.public_id, (ticket, set()))[1].update(fields)
        actions = self._plan_actions(
            ticket=ticket,
            inbound=inbound,
            decision=decision,
            language=ticket.language or language,
            caps=caps,
        )
        inbound.status = InboundStatus.PROCESSED
        inbound.ticket = ticket
        return ticket, existing is not None, actions

    def _plan_actions(
        self,
        *,
        ticket: Ticket,
        inbound: InboundMessage,
        decision: policies.Decision,
        language: str,
        caps: Capabilities,
    ) -> list[OutboxAction]:
        channel = self.channel
        target = inbound.platform_message_id.split("#", 1)[0]
        planned: list[tuple[str, str | None, float]] = []
        if decision.public_reply:
            drop_ref = self._secret(ticket, SecretKind.DROP, None, portal_secrets.DROP_REF_BYTES)
            template = policies.template_for(
                self.policy.reply_templates or {}, decision.reply_style, language
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
            secret = self._secret(ticket, SecretKind.READ, ttl, portal_secrets.READ_SECRET_BYTES)
            text = policies.private_text(language=language, link=portal_secrets.read_link(secret))
            planned.append((OutboxKind.PRIVATE_MESSAGE, text, caps.private_cost_usd or 0.0))
            self.with_private.add(ticket.public_id)

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
        self.actions.extend(rows)
        return rows

    def _secret(self, ticket: Ticket, kind: str, ttl: timedelta | None, nbytes: int) -> str:
        request = portal_secrets.SecretRequest(ticket, kind, ttl, nbytes)
        issued, rows = portal_secrets.prepare_secrets([request])
        self.secret_requests.append(request)
        self.secret_rows.extend(rows)
        return issued[0]

    def _save(self) -> None:
        """Write everything decided, a few statements for the whole batch, then queue."""
        Ticket.objects.bulk_create([n.ticket for n in self.new_tickets])
        TicketKey.objects.bulk_create([n.key for n in self.new_tickets])
        BlindIndex.objects.bulk_create(
            [*(i for n in self.new_tickets for i in n.indexes), *self.indexes],
            ignore_conflicts=True,
        )
        Message.objects.bulk_create(self.messages)
        portal_secrets.save_secrets(self.secret_requests, self.secret_rows)
        # One public reply, one hide, one private message per platform item: the unique
        # constraint drops a second one (an edit of an item already acted on).
        OutboxAction.objects.bulk_create(self.actions, ignore_conflicts=True)
        stored = dict(
            OutboxAction.objects.filter(
                public_id__in=[a.public_id for a in self.actions]
            ).values_list("public_id", "pk")
        )
        for action in self.actions:
            action.pk = stored.get(action.public_id)
        for ticket, fields in self.touched.values():
            ticket.save(update_fields=sorted(fields))
        self._update_inbound_rows()
        # Nobody can be watching a ticket that did not exist before this commit: the new
        # tickets need one event per team, for its inbox; joined tickets get the full set.
        new_ids = {n.ticket.public_id for n in self.new_tickets}
        threads.tickets_created_on_commit([n.ticket for n in self.new_tickets])
        for message in self.messages:
            if message.ticket.public_id not in new_ids:
                threads.message_created_on_commit(message.ticket, message)
        kept = [a for a in self.actions if a.pk is not None]
        for action in kept:
            if action.ticket.public_id in new_ids:
                continue
            events.broadcast_on_commit(
                events.ticket_agents_group(action.ticket.public_id),
                events.action_changed(
                    ticket_public_id=action.ticket.public_id,
                    action_public_id=action.public_id,
                    status=action.state,
                ),
            )
        ids = [a.pk for a in kept]
        for start in range(0, len(ids), ACTION_BATCH):
            enqueue_on_commit("perform_actions", action_ids=ids[start : start + ACTION_BATCH])

    def _update_inbound_rows(self) -> None:
        """Store each row's outcome: one UPDATE per (status, decision), not one per row.

        A processed row's ticket is its message's, written just before.
        """
        groups: dict[tuple[str, str], list[InboundMessage]] = {}
        for inbound in self.inbound_rows:
            key = (inbound.status, json.dumps(inbound.decision, sort_keys=True))
            groups.setdefault(key, []).append(inbound)
        now = timezone.now()
        ticket_of_message = Subquery(
            Message.objects.filter(inbound_id=OuterRef("pk")).values("ticket_id")[:1]
        )
        for (status, _), rows in groups.items():
            InboundMessage.objects.filter(pk__in=[r.pk for r in rows]).update(
                status=status,
                decision=rows[0].decision,
                processed_at=now,
                attempts=F("attempts") + 1,
                ticket_id=ticket_of_message if status == InboundStatus.PROCESSED else None,
                # The text now lives in the ticket (under its key) or nowhere.
                text_ciphertext=None,
                author_handle_ciphertext=None,
                author_name_ciphertext=None,
            )
