"""Erasure by key destruction (GDPR Art. 17, SECURITY-DESIGN.md §2): tickets and their traces.

Erasing a ticket destroys its data key and deletes its ciphertext, blind indexes, outbox rows,
portal secrets and exports in one transaction, leaves a tombstone (ids, dates, reason), writes
the audit log and, after commit, closes the ticket's websockets. Inbound rows keep only their
``(channel, platform_message_id)`` key with status ``erased``, so a replayed webhook or an
overlapping poll is a duplicate and can never bring the content back. On request, Haven's own
public replies are queued for deletion in the same transaction (``reply_deletion``).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import QuerySet

from inbox import audit, events, vault
from inbox.exceptions import LegalHold
from inbox.models import (
    BlindIndex,
    InboundMessage,
    InboundStatus,
    Message,
    OutboxAction,
    PortalContact,
    PortalSecret,
    SubjectExport,
    Ticket,
    Tombstone,
)
from inbox.services import reply_deletion
from inbox.services.envelopes import erase_subject_envelopes
from inbox.services.subjects import Subject, find_subject, subject_messages

logger = logging.getLogger(__name__)


class Reason:
    SUBJECT_REQUEST = "subject_request"
    RETENTION = "retention"


def husk_inbound(queryset: QuerySet[InboundMessage], *, detach: bool = False) -> int:
    """Clear every personal field of inbound rows, keeping only the dedupe key and dates.

    With ``detach``, also unlink them from their ticket (about to be deleted) in the same write.
    """
    extra: dict[str, None] = {"ticket": None} if detach else {}
    return int(
        queryset.update(
            **extra,
            text_ciphertext=None,
            author_handle_ciphertext=None,
            author_name_ciphertext=None,
            author_external_id="",
            parent_external_id="",
            conversation_external_id="",
            permalink="",
            decision={},
            last_error_code="",
            status=InboundStatus.ERASED,
        )
    )


def _delete_exports_holding(
    ticket_ids: set[str], envelope_ids: Collection[str] = frozenset()
) -> int:
    """Delete the exports (still to be downloaded) that hold any of these tickets or kept
    webhook deliveries, by public id: an erasure must not leave a copy waiting for its link."""
    envelopes = set(envelope_ids)
    doomed = [
        e.pk
        for e in SubjectExport.objects.only("pk", "ticket_public_ids", "envelope_public_ids")
        if ticket_ids & {str(i) for i in e.ticket_public_ids}
        or envelopes & {str(i) for i in e.envelope_public_ids}
    ]
    if not doomed:
        return 0
    secret_ids = list(
        SubjectExport.objects.filter(pk__in=doomed).values_list("secret_id", flat=True)
    )
    PortalSecret.objects.filter(pk__in=secret_ids).delete()  # cascades to the export
    return len(doomed)


@dataclass(frozen=True, slots=True)
class ShredCounts:
    tickets: int
    messages: int
    inbound: int


def shred_tickets(
    tickets: Sequence[Ticket], *, reason: str, actor: audit.Actor, audit_each: bool = True
) -> ShredCounts:
    """Crypto-shred ``tickets`` (none may be under legal hold). Run inside a transaction.

    Deletes keys first, then every row holding their ciphertext or indexes; tombstones and
    audit events keep the ids. Broadcasts ``session.revoked`` on commit.
    """
    if not tickets:
        return ShredCounts(0, 0, 0)
    held = [t.pk for t in tickets if t.legal_hold]
    if held:
        raise LegalHold(f"tickets {held} are under legal hold")
    ids = [t.pk for t in tickets]
    vault.destroy_ticket_keys(tickets)
    inbound = husk_inbound(InboundMessage.objects.filter(ticket_id__in=ids), detach=True)
    # Only primary keys: the collector need not load the ciphertext it is about to delete.
    _, deleted = Message.objects.filter(ticket_id__in=ids).only("pk").delete()
    messages = deleted.get(Message._meta.label, 0)
    OutboxAction.objects.filter(ticket_id__in=ids).delete()
    BlindIndex.objects.filter(ticket_id__in=ids).delete()
    PortalSecret.objects.filter(ticket_id__in=ids).delete()
    _delete_exports_holding({str(t.public_id) for t in tickets})
    Tombstone.objects.bulk_create(
        [
            Tombstone(
                ticket_public_id=t.public_id,
                reference=t.reference,
                team_id=t.team_id,
                channel_id=t.channel_id,
                ticket_created_at=t.created_at,
                reason=reason,
            )
            for t in tickets
        ],
        ignore_conflicts=True,
    )
    Ticket.objects.filter(pk__in=ids).only("pk").delete()
    if audit_each:
        for t in tickets:
            audit.record(
                actor=actor,
                action="ticket.erase",
                object_type="ticket",
                object_id=t.public_id,
                ticket_public_id=t.public_id,
                purpose=reason,
                data={"reference": t.reference},
            )
    else:
        audit.record(
            actor=actor,
            action="ticket.purge",
            object_type="tickets",
            object_id=len(tickets),
            purpose=reason,
            data={"tickets": [str(t.public_id) for t in tickets]},
        )
    _revoke_live_access(tickets)
    return ShredCounts(len(tickets), messages, inbound)


def _revoke_live_access(tickets: Sequence[Ticket]) -> None:
    """On commit, close the tickets' customer and agent websockets and drop them from inboxes."""
    batch: list[tuple[str, events.Event]] = []
    for ticket in tickets:
        revoked = events.access_revoked(ticket_public_id=ticket.public_id)
        batch.append((events.ticket_customer_group(ticket.public_id), revoked))
        # Agent ticket sockets close on ``session.ended`` (the customer's on ``session.revoked``).
        batch.append((events.ticket_agents_group(ticket.public_id), events.session_ended()))
        batch.append(
            (
                events.team_group(ticket.team.public_id),
                events.ticket_changed(
                    ticket_public_id=ticket.public_id, status="erased", change="erased"
                ),
            )
        )
    transaction.on_commit(lambda: _send_batch(batch))


def _send_batch(batch: list[tuple[str, events.Event]]) -> None:
    # One event loop for the whole batch: ``events.send_now`` per event starts a thread each,
    # which made purging thousands of tickets spend most of its time in broadcasts.
    layer = get_channel_layer()
    if layer is None or not batch:
        return

    async def send_all() -> None:
        for group, event in batch:
            try:
                await layer.group_send(group, json.loads(json.dumps(event)))
            except Exception:  # noqa: BLE001 - a realtime hint must never fail the erasure
                logger.warning(
                    "broadcast failed group=%s type=%s", group.split(".")[0], event["type"]
                )

    async_to_sync(send_all)()


@transaction.atomic
def erase_ticket(
    *, ticket: Ticket, actor: audit.Actor, reason: str = Reason.SUBJECT_REQUEST
) -> None:
    """Erase one ticket. Raises LegalHold (and changes nothing) when it is held."""
    locked = Ticket.objects.select_for_update().select_related("team").get(pk=ticket.pk)
    shred_tickets([locked], reason=reason, actor=actor)
    logger.info("ticket erased ticket=%s reason=%s", locked.pk, reason)


@dataclass(frozen=True, slots=True)
class ErasureReport:
    tickets_erased: tuple[str, ...]
    tickets_held: tuple[str, ...]
    messages_erased_elsewhere: int
    inbound_erased: int
    tombstones: tuple[uuid.UUID, ...] = field(default=())
    # Groups the deletions of Haven's public replies this erasure queued (platform → count).
    erasure_id: uuid.UUID | None = None
    reply_deletions: Mapping[str, int] = field(default_factory=dict)
    # Kept webhook bodies (quarantined envelopes) that named the subject, deleted.
    envelopes_erased: int = 0

    @property
    def complete(self) -> bool:
        return not self.tickets_held


@transaction.atomic
def erase_subject(
    *,
    subject: Subject,
    actor: audit.Actor,
    reason: str = Reason.SUBJECT_REQUEST,
    delete_replies_on: Collection[str] = (),
) -> ErasureReport:
    """Erase everything about ``subject``, except tickets under legal hold (reported, kept).

    Their own tickets are crypto-shredded. Their social messages inside another person's ticket
    (a shared platform thread) are deleted, and that ticket's preview is cleared. Their stored
    platform items are reduced to dedupe keys, and kept webhook bodies that name them are
    deleted (``envelopes``). With ``delete_replies_on`` (platform slugs),
    Haven's public replies to them there are queued for deletion in the same transaction, and
    deleted from the platform after commit (``reply_deletion``).
    """
    match = find_subject(subject)
    ids = [t.pk for t in match.owned]
    locked = list(
        Ticket.objects.select_for_update().select_related("team").filter(pk__in=ids).order_by("pk")
    )
    held = [t for t in locked if t.legal_hold]
    erasable = [t for t in locked if not t.legal_hold]
    erasure_id = uuid.uuid4()
    replies: dict[str, int] = {}
    if delete_replies_on:
        # Before shredding: the outbox rows that hold the replies' ids go with their tickets.
        replies = reply_deletion.queue_reply_deletions(
            actions=reply_deletion.subject_replies(
                owned=locked, contributed=match.contributed, subject=subject
            ),
            platforms=delete_replies_on,
            erasure_id=erasure_id,
            actor=actor,
        )
    counts = shred_tickets(erasable, reason=reason, actor=actor)

    elsewhere = 0
    for ticket in match.contributed:
        if ticket.legal_hold:
            held.append(ticket)
            continue
        mine = subject_messages(ticket, subject, owned=False, contact_ids=match.contact_ids(ticket))
        inbound_ids = [m.inbound_id for m in mine if m.inbound_id]
        husk_inbound(InboundMessage.objects.filter(pk__in=inbound_ids))
        Message.objects.filter(pk__in=[m.pk for m in mine]).delete()
        # Their e-mail contact on this ticket, its portal grants (sessions) and links go too.
        PortalContact.objects.filter(pk__in=match.contact_ids(ticket)).delete()
        Ticket.objects.filter(pk=ticket.pk).update(preview_ciphertext=None)
        elsewhere += len(mine)
        audit.record(
            actor=actor,
            action="subject.erase_messages",
            object_type="ticket",
            object_id=ticket.public_id,
            ticket_public_id=ticket.public_id,
            purpose=reason,
            data={"messages": [str(m.public_id) for m in mine]},
        )
    # Rows in their own and shared tickets were cleared above; these are the ticket-less ones.
    loose = husk_inbound(InboundMessage.objects.filter(pk__in=[i.pk for i in match.inbound]))
    erased_envelopes = erase_subject_envelopes(subject=subject)
    envelopes = len(erased_envelopes)
    # Exports holding what was erased here and not by shred_tickets: the subject's messages
    # in other people's tickets, and kept deliveries (an export may hold only those).
    _delete_exports_holding(
        {str(t.public_id) for t in match.contributed if not t.legal_hold}, erased_envelopes
    )
    report = ErasureReport(
        tickets_erased=tuple(t.reference for t in erasable),
        tickets_held=tuple(t.reference for t in held),
        messages_erased_elsewhere=elsewhere,
        inbound_erased=counts.inbound + loose,
        tombstones=tuple(t.public_id for t in erasable),
        erasure_id=erasure_id,
        reply_deletions=replies,
        envelopes_erased=envelopes,
    )
    audit.record(
        actor=actor,
        action="subject.erase",
        object_type="subject",
        purpose=reason,
        data={
            "tickets": [str(t.public_id) for t in erasable],
            "held": [str(t.public_id) for t in held],
            "messages_elsewhere": elsewhere,
            "inbound": report.inbound_erased,
            "erasure": str(erasure_id),
            "reply_deletions": replies,
            "envelopes": envelopes,
        },
    )
    logger.info(
        "subject erased tickets=%s held=%s elsewhere=%s inbound=%s envelopes=%s",
        len(erasable),
        len(held),
        elsewhere,
        report.inbound_erased,
        envelopes,
    )
    return report
