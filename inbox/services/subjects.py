"""Finding a data subject through blind indexes, and who read their data (the access report).

A subject is described by the identifiers the data-protection officer was given: a platform
author id, a handle, an e-mail address or a phone number. Only peppered HMACs of those values are
stored (``BlindIndex``), so a search never needs plaintext in the database.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth import get_user_model

from inbox import vault
from inbox.models import (
    AuditEvent,
    BlindIndex,
    ContactMessage,
    InboundMessage,
    InboundStatus,
    Message,
    MessageKind,
    MessageSource,
    PortalContact,
    Ticket,
)

logger = logging.getLogger(__name__)

# Labels of findings whose exact value is indexed for subject search (SECURITY-DESIGN.md §2).
INDEXED_FINDINGS = {"EMAIL": "email", "PHONE": "phone"}


def digest_for(kind: str, value: str) -> str:
    """The blind-index digest of one identifier: ``vault.blind_index``, as the agent search uses.

    Phone numbers match when written with the same country code form (``+49 151 …``); the
    vault normalises spacing and punctuation only.
    """
    return vault.blind_index(kind, value)


def index_findings(*, ticket: Ticket, body: str, findings: Sequence[object]) -> int:
    """Add blind indexes for the e-mail addresses and phone numbers found in a message body.

    Called by ``threads.add_message`` inside its transaction for verified inbound messages, so
    the index goes with the message and is deleted with its ticket. Returns how many values
    were offered (duplicates are ignored by the database).
    """
    rows = finding_index_rows(ticket=ticket, body=body, findings=findings)
    BlindIndex.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def finding_index_rows(
    *, ticket: Ticket, body: str, findings: Sequence[object]
) -> list[BlindIndex]:
    """The unsaved blind-index rows for the e-mail addresses and phone numbers in ``body``."""
    rows: list[BlindIndex] = []
    for finding in findings:
        if not isinstance(finding, dict):
            continue
        kind = INDEXED_FINDINGS.get(str(finding.get("entity", "")))
        start, end = finding.get("start"), finding.get("end")
        if kind is None or not isinstance(start, int) or not isinstance(end, int):
            continue
        value = body[start:end].strip()
        if value:
            rows.append(BlindIndex(ticket=ticket, kind=kind, digest=digest_for(kind, value)))
    return rows


@dataclass(frozen=True, slots=True)
class Subject:
    """The identifiers of one data subject. Its repr never shows them."""

    platform: str = ""
    author_id: str = ""
    handle: str = ""
    email: str = ""
    phone: str = ""

    def __repr__(self) -> str:
        given = [n for n in ("author_id", "handle", "email", "phone") if getattr(self, n)]
        return f"Subject(platform={self.platform!r}, given={given})"

    @property
    def is_empty(self) -> bool:
        return not (self.author_id or self.handle or self.email or self.phone)

    def digests(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.author_id and self.platform:
            out.append(("author_id", digest_for("author_id", f"{self.platform}:{self.author_id}")))
        if self.handle:
            out.append(("handle", digest_for("handle", self.handle)))
        if self.email:
            out.append(("email", digest_for("email", self.email)))
        if self.phone:
            out.append(("phone", digest_for("phone", self.phone)))
        return out


@dataclass(slots=True)
class SubjectMatch:
    """Where a subject's data lives.

    ``owned`` tickets are the subject's conversations (found by a blind index): every message
    of them concerns the subject. ``contributed`` tickets belong to someone else but hold
    social messages the subject wrote (same platform thread): only those messages are theirs.
    ``inbound`` are platform items by the subject that never became (or left) a ticket.
    ``contacts`` are the portal e-mail contacts the subject's address proved, per ticket: on
    another person's ticket, their messages and the replies addressed to them are theirs.
    """

    owned: list[Ticket] = field(default_factory=list)
    contributed: list[Ticket] = field(default_factory=list)
    matched_by: dict[int, list[str]] = field(default_factory=dict)
    inbound: list[InboundMessage] = field(default_factory=list)
    contacts: dict[int, list[PortalContact]] = field(default_factory=dict)

    def contact_ids(self, ticket: Ticket) -> frozenset[int]:
        return frozenset(c.pk for c in self.contacts.get(ticket.pk, []))

    @property
    def tickets(self) -> list[Ticket]:
        return [*self.owned, *self.contributed]

    @property
    def ticket_public_ids(self) -> list[uuid.UUID]:
        return [t.public_id for t in self.tickets]


def find_subject(subject: Subject) -> SubjectMatch:
    """Every ticket and stored platform item of ``subject``. Reads no ciphertext."""
    match = SubjectMatch()
    if subject.is_empty:
        return match
    matched_by: dict[int, set[str]] = {}
    for kind, digest in subject.digests():
        for ticket_id in BlindIndex.objects.filter(kind=kind, digest=digest).values_list(
            "ticket_id", flat=True
        ):
            matched_by.setdefault(ticket_id, set()).add(kind)
    own_inbound = InboundMessage.objects.none()
    if subject.platform and subject.author_id:
        own_inbound = InboundMessage.objects.filter(
            channel__platform=subject.platform, author_external_id=subject.author_id
        ).exclude(status=InboundStatus.ERASED)
    # One pass over the subject's rows (the author id is not indexed on inbound rows).
    rows = list(own_inbound.values_list("pk", "ticket_id"))
    contributed_ids = {ticket_id for _, ticket_id in rows if ticket_id is not None}
    if subject.email:
        digest = vault.blind_index("email", subject.email)
        for contact in PortalContact.objects.filter(email_digest=digest).order_by("pk"):
            match.contacts.setdefault(contact.ticket_id, []).append(contact)
            contributed_ids.add(contact.ticket_id)
    contributed_ids -= set(matched_by)
    loose_ids = [pk for pk, ticket_id in rows if ticket_id is None]
    tickets = Ticket.objects.select_related("channel", "team").order_by("created_at", "id")
    match.owned = list(tickets.filter(pk__in=matched_by))
    match.contributed = list(tickets.filter(pk__in=contributed_ids))
    match.matched_by = {k: sorted(v) for k, v in matched_by.items()}
    match.inbound = list(
        InboundMessage.objects.filter(pk__in=loose_ids)
        .select_related("channel")
        .order_by("received_at")
    )
    logger.info(
        "subject search owned=%s contributed=%s inbound=%s",
        len(match.owned),
        len(match.contributed),
        len(match.inbound),
    )
    return match


def subject_messages(
    ticket: Ticket, subject: Subject, *, owned: bool, contact_ids: frozenset[int] = frozenset()
) -> list[Message]:
    """The messages of ``ticket`` that concern ``subject`` (GDPR Art. 15), oldest first.

    In an owned ticket: the subject's own social and portal messages, the replies addressed to
    them, and internal notes about them (Art. 15 covers opinions about a person; agents' names
    are left out of the export under Art. 15(4)). Excluded, because they may be a third
    party's data: social messages by other authors, unverified drop-box messages (anyone
    holding the public link can write them), and what an e-mail contact wrote or was sent. In
    a contributed ticket: only the subject's own social messages, and the messages of their
    e-mail contacts (``contact_ids``): what they wrote and the replies addressed to them.
    """
    messages = list(
        Message.objects.filter(ticket=ticket).select_related("inbound").order_by("created_at", "id")
    )
    links = dict(
        ContactMessage.objects.filter(message__ticket=ticket).values_list(
            "message_id", "contact_id"
        )
    )
    out: list[Message] = []
    for message in messages:
        contact_id = links.get(message.pk)
        if contact_id is not None:
            if contact_id in contact_ids:
                out.append(message)
            continue
        own_social = _written_by(message, subject, ticket, owned=owned)
        if not owned:
            if own_social:
                out.append(message)
            continue
        if message.source == MessageSource.DROP:
            continue
        if message.kind == MessageKind.INBOUND and message.source == MessageSource.SOCIAL:
            if own_social:
                out.append(message)
            continue
        out.append(message)
    return out


def _written_by(message: Message, subject: Subject, ticket: Ticket, *, owned: bool) -> bool:
    if message.kind != MessageKind.INBOUND or message.source != MessageSource.SOCIAL:
        return False
    inbound = message.inbound
    author = inbound.author_external_id if inbound is not None else ticket.author_external_id
    if subject.author_id:
        return author == subject.author_id
    # Found by handle, e-mail or phone only: in their own ticket, its author is the subject;
    # in another person's ticket, no social message can be attributed to them.
    return owned and author == ticket.author_external_id


# --- access report -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessRow:
    at: datetime
    actor_type: str
    actor_id: str
    actor_name: str
    purpose: str
    ticket_public_id: str
    ticket_reference: str
    objects: int


def access_report(
    *, match: SubjectMatch, since: datetime | None = None, until: datetime | None = None
) -> list[AccessRow]:
    """Who read this person's data, when and why: every audited decryption of their tickets."""
    refs = {t.public_id: t.reference for t in match.tickets}
    events = AuditEvent.objects.filter(action="decrypt", ticket_public_id__in=list(refs))
    if since is not None:
        events = events.filter(created_at__gte=since)
    if until is not None:
        events = events.filter(created_at__lte=until)
    rows = list(events.order_by("created_at", "id"))
    user_ids = {int(e.actor_id) for e in rows if e.actor_type == "user" and e.actor_id.isdigit()}
    names = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "username"))
    return [
        AccessRow(
            at=e.created_at,
            actor_type=e.actor_type,
            actor_id=e.actor_id,
            actor_name=str(names.get(int(e.actor_id), "")) if e.actor_id.isdigit() else "",
            purpose=e.purpose,
            ticket_public_id=str(e.ticket_public_id),
            ticket_reference=refs.get(e.ticket_public_id, "") if e.ticket_public_id else "",
            objects=len(e.data.get("objects", [])) if isinstance(e.data, dict) else 0,
        )
        for e in rows
    ]
