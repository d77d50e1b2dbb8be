"""Opening tickets and adding encrypted messages: the primitives every other service uses."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from inbox import events, vault
from inbox.models import (
    BlindIndex,
    Channel,
    ContactMessage,
    Message,
    MessageKind,
    PortalContact,
    Team,
    Ticket,
    TicketKey,
    TicketStatus,
)
from inbox.services.subjects import finding_index_rows

logger = logging.getLogger(__name__)

PREVIEW_LENGTH = 120


class FindingMeta(TypedDict):
    """A finding as stored beside a message: the label and the span, never the value."""

    entity: str
    start: int
    end: int
    score: float


def redacted_preview(body: str, findings: Sequence[FindingMeta]) -> str:
    """One line for the inbox list, with every finding replaced by its label."""
    out: list[str] = []
    cursor = 0
    for finding in sorted(findings, key=lambda f: (f["start"], -f["end"])):
        if finding["start"] < cursor:
            continue
        out.append(body[cursor : finding["start"]])
        out.append(f"[{finding['entity']}]")
        cursor = finding["end"]
    out.append(body[cursor:])
    line = " ".join("".join(out).split())
    return line if len(line) <= PREVIEW_LENGTH else line[: PREVIEW_LENGTH - 1] + "…"


def add_blind_index(*, ticket: Ticket, kind: str, value: str) -> None:
    add_blind_indexes(ticket=ticket, values=[(kind, value)])


def add_blind_indexes(*, ticket: Ticket, values: Sequence[tuple[str, str]]) -> None:
    """Index exact values (kind, value) for search; duplicates are ignored by the database."""
    BlindIndex.objects.bulk_create(blind_index_rows(ticket, values), ignore_conflicts=True)


def blind_index_rows(ticket: Ticket, values: Sequence[tuple[str, str]]) -> list[BlindIndex]:
    return [
        BlindIndex(ticket=ticket, kind=kind, digest=vault.blind_index(kind, value))
        for kind, value in values
        if value
    ]


@dataclass(slots=True)
class NewTicket:
    """A ticket built in memory with its data key and search indexes, none of them saved."""

    ticket: Ticket
    key: TicketKey
    indexes: list[BlindIndex]


def build_ticket(
    *,
    team: Team,
    channel: Channel | None,
    author_external_id: str = "",
    conversation_external_id: str = "",
    customer_handle: str = "",
    customer_name: str = "",
    language: str = "",
) -> NewTicket:
    """Build a ticket with its own data key, the customer's handle and name encrypted.

    Nothing is saved: ``open_ticket`` saves one, the pipeline saves many in bulk.
    """
    ticket = Ticket(
        team=team,
        channel=channel,
        author_external_id=author_external_id,
        conversation_external_id=conversation_external_id,
        language=language[:8],
        last_activity_at=timezone.now(),
    )
    # Uniqueness (random UUID and reference) is the database's job, and the team and channel
    # are rows the caller holds: skip the SELECTs.
    ticket.full_clean(
        exclude=[
            "customer_handle_ciphertext",
            "customer_name_ciphertext",
            "preview_ciphertext",
            "team",
            "channel",
        ],
        validate_unique=False,
        validate_constraints=False,
    )
    key = vault.new_ticket_key(ticket)
    if customer_handle:
        ticket.customer_handle_ciphertext = vault.encrypt(
            ticket, ticket, "customer_handle", customer_handle
        )
    if customer_name:
        ticket.customer_name_ciphertext = vault.encrypt(
            ticket, ticket, "customer_name", customer_name
        )
    indexes = blind_index_rows(
        ticket,
        [
            ("handle", customer_handle),
            (
                "author_id",
                f"{channel.platform}:{author_external_id}"
                if channel and author_external_id
                else "",
            ),
        ],
    )
    return NewTicket(ticket, key, indexes)


def tickets_created_on_commit(tickets: Sequence[Ticket]) -> None:
    """Tell each team, once the creating transaction commits, of its new tickets: one event
    per team (``inbox.ticket_changed`` for a single ticket), not one per ticket."""
    by_team: dict[int, list[Ticket]] = {}
    for ticket in tickets:
        by_team.setdefault(ticket.team_id, []).append(ticket)
    for created in by_team.values():
        if len(created) == 1:
            ticket_created_on_commit(created[0])
            continue
        events.broadcast_on_commit(
            events.team_group(created[0].team.public_id),
            events.tickets_created(ticket_public_ids=[t.public_id for t in created]),
        )


def ticket_created_on_commit(ticket: Ticket) -> None:
    """Tell the ticket's team, once the creating transaction commits, that it exists."""
    events.broadcast_on_commit(
        events.team_group(ticket.team.public_id),
        events.ticket_changed(
            ticket_public_id=ticket.public_id, status=ticket.status, change="created"
        ),
    )


@transaction.atomic
def open_ticket(
    *,
    team: Team,
    channel: Channel | None,
    author_external_id: str = "",
    conversation_external_id: str = "",
    customer_handle: str = "",
    customer_name: str = "",
    language: str = "",
) -> Ticket:
    """Create a ticket with its own data key; encrypt the customer's handle and name.

    Broadcasts ``inbox.ticket_changed`` to the team on commit.
    """
    new = build_ticket(
        team=team,
        channel=channel,
        author_external_id=author_external_id,
        conversation_external_id=conversation_external_id,
        customer_handle=customer_handle,
        customer_name=customer_name,
        language=language,
    )
    ticket = new.ticket
    ticket.save()
    new.key.save()
    BlindIndex.objects.bulk_create(new.indexes, ignore_conflicts=True)
    ticket_created_on_commit(ticket)
    logger.info("ticket opened ticket=%s channel=%s", ticket.pk, channel.pk if channel else None)
    return ticket


def build_message(
    *,
    ticket: Ticket,
    kind: str,
    source: str,
    body: str,
    author: AbstractBaseUser | None = None,
    findings: Sequence[FindingMeta] = (),
    verified: bool = False,
    inbound_id: int | None = None,
    idempotency_key: str | None = None,
) -> tuple[Message, list[BlindIndex]]:
    """Build an encrypted message and its search indexes, unsaved (see ``add_message``)."""
    message = Message(
        ticket=ticket,
        kind=kind,
        source=source,
        author=author,  # type: ignore[misc]  # the configured user model
        findings=list(findings),
        verified=verified,
        inbound_id=inbound_id,
        idempotency_key=idempotency_key,
    )
    # The idempotency key's uniqueness is enforced by the database constraint.
    message.full_clean(
        exclude=["body_ciphertext", "ticket", "author", "inbound"],
        validate_unique=False,
        validate_constraints=False,
    )
    message.body_ciphertext = vault.encrypt(ticket, message, "body", body)
    indexes: list[BlindIndex] = []
    if kind == MessageKind.INBOUND and verified and findings:
        # The author's e-mail and phone as blind indexes, so a DPO can find the subject.
        indexes = finding_index_rows(ticket=ticket, body=body, findings=findings)
    return message, indexes


def touch_ticket(
    ticket: Ticket, *, kind: str, body: str, findings: Sequence[FindingMeta]
) -> list[str]:
    """Update a ticket in memory for a new message; return the fields that changed.

    Inbound messages mark the ticket unread and reopen a solved one.
    """
    fields = ["last_activity_at"]
    ticket.last_activity_at = timezone.now()
    if kind != MessageKind.NOTE:
        ticket.preview_ciphertext = vault.encrypt(
            ticket, ticket, "preview", redacted_preview(body, findings)
        )
        fields.append("preview_ciphertext")
    if kind == MessageKind.INBOUND:
        ticket.unread_for_agents = True
        fields.append("unread_for_agents")
        if ticket.status == TicketStatus.SOLVED:
            ticket.status = TicketStatus.OPEN
            fields.append("status")
    return fields


def message_created_on_commit(ticket: Ticket, message: Message) -> None:
    """Tell the right audiences of a new message once the transaction commits.

    Agents hear of every message; the customer's portal of inbound and outbound ones only.
    """
    events.broadcast_on_commit(
        events.ticket_agents_group(ticket.public_id),
        events.message_created(
            ticket_public_id=ticket.public_id,
            message_public_id=message.public_id,
            kind=message.kind,
        ),
    )
    events.broadcast_on_commit(
        events.team_group(ticket.team.public_id),
        events.ticket_changed(
            ticket_public_id=ticket.public_id, status=ticket.status, change="message"
        ),
    )
    customer_event = events.customer_message_created(
        ticket_public_id=ticket.public_id, message_public_id=message.public_id, kind=message.kind
    )
    if customer_event is not None:
        events.broadcast_on_commit(events.ticket_customer_group(ticket.public_id), customer_event)


@transaction.atomic
def add_message(
    *,
    ticket: Ticket,
    kind: str,
    source: str,
    body: str,
    author: AbstractBaseUser | None = None,
    findings: Sequence[FindingMeta] = (),
    verified: bool = False,
    inbound_id: int | None = None,
    idempotency_key: str | None = None,
) -> Message:
    """Append an encrypted message to a ticket's thread and tell the right audiences on commit.

    Agents hear of every message; the customer's portal hears of inbound and outbound ones
    only. Inbound messages mark the ticket unread and reopen a solved one.
    """
    message, indexes = build_message(
        ticket=ticket,
        kind=kind,
        source=source,
        body=body,
        author=author,
        findings=findings,
        verified=verified,
        inbound_id=inbound_id,
        idempotency_key=idempotency_key,
    )
    message.save()
    BlindIndex.objects.bulk_create(indexes, ignore_conflicts=True)
    ticket.save(update_fields=touch_ticket(ticket, kind=kind, body=body, findings=findings))
    message_created_on_commit(ticket, message)
    return message


def _message_with_key(ticket: Ticket, idempotency_key: str) -> Message | None:
    return Message.objects.filter(ticket=ticket, idempotency_key=idempotency_key).first()


def add_message_once(
    *,
    ticket: Ticket,
    kind: str,
    source: str,
    body: str,
    idempotency_key: str | None,
    contact: PortalContact | None = None,
    author: AbstractBaseUser | None = None,
    findings: Sequence[FindingMeta] = (),
    verified: bool = False,
) -> tuple[Message, bool]:
    """``add_message`` once per idempotency key; returns the message and whether it is new.

    A second call with the same key (double click, browser retry) gets the first message back
    and changes nothing, also when the two race each other (the unique constraint decides, in
    a savepoint). Without a key every call adds. With ``contact`` the message belongs to that
    e-mail contact.
    """
    if idempotency_key is not None:
        existing = _message_with_key(ticket, idempotency_key)
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            message = add_message(
                ticket=ticket,
                kind=kind,
                source=source,
                body=body,
                author=author,
                findings=findings,
                verified=verified,
                idempotency_key=idempotency_key,
            )
            if contact is not None:
                ContactMessage.objects.create(message=message, contact=contact)
    except IntegrityError:
        if idempotency_key is None:
            raise
        # A concurrent submit with the same key won the race: its message is the one.
        existing = _message_with_key(ticket, idempotency_key)
        if existing is None:
            raise
        return existing, False
    return message, True
