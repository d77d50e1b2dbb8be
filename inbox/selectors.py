"""Reads, and the only place that decides who may see what.

Plaintext for people comes from here only: every decrypt is written to the audit log.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from inbox import audit, vault
from inbox.exceptions import TicketNotFound
from inbox.models import (
    BlindIndex,
    CannedReply,
    Channel,
    ContactMessage,
    Membership,
    Message,
    MessageSource,
    OutboxAction,
    PortalContact,
    PortalGrant,
    PortalSecret,
    Role,
    SecretKind,
    Team,
    Ticket,
    TicketStatus,
)

AnyUser = AbstractBaseUser | AnonymousUser

INBOX_PAGE_SIZE = 25
THREAD_LIMIT = 500

# SECURITY-DESIGN.md §3: direction controls reorder what a reader sees; zero-width characters
# hide look-alikes. Names lose both; message bodies lose the direction controls and the
# zero-width characters that carry no meaning in any script (joiners stay: emoji and Indic
# scripts need them).
_BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_ZERO_WIDTH_ALWAYS = "\u200b\u2060\ufeff\u180e"
_ZERO_WIDTH_JOINERS = "\u200c\u200d"
_NAME_STRIP = re.compile(f"[{_BIDI_CONTROLS}{_ZERO_WIDTH_ALWAYS}{_ZERO_WIDTH_JOINERS}]")
_BODY_STRIP = re.compile(f"[{_BIDI_CONTROLS}{_ZERO_WIDTH_ALWAYS}]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_REFERENCE_RE = re.compile(r"^HV-[0-9A-Z]{8}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_RE = re.compile(r"^\+?[\d\s().-]{6,}$")


@dataclass(frozen=True, slots=True)
class SafeText:
    """Text fit for display; ``altered`` means invisible or reordering characters were removed."""

    text: str
    altered: bool = False


def _clean(value: str, pattern: re.Pattern[str]) -> SafeText:
    text = value.replace("\x00", "")
    text = _LONE_SURROGATE.sub("\ufffd", text)
    stripped = pattern.sub("", text)
    return SafeText(stripped, altered=stripped != value.replace("\x00", ""))


def clean_display_name(value: str | None) -> SafeText | None:
    """A display name or handle without direction controls and zero-width characters."""
    if value is None:
        return None
    return _clean(value, _NAME_STRIP)


def clean_body(value: str | None) -> SafeText | None:
    """Message text without direction controls or meaningless zero-width characters."""
    if value is None:
        return None
    return _clean(value, _BODY_STRIP)


# --- access --------------------------------------------------------------------------------


def teams_for(user: AnyUser) -> QuerySet[Team]:
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user_id=user.pk)


def team_public_ids_for(*, user_id: int) -> list[uuid.UUID]:
    """The public ids of an agent's teams: the inbox groups their sockets join."""
    return list(
        Team.objects.filter(memberships__user_id=user_id, memberships__user__is_active=True)
        .order_by("id")
        .values_list("public_id", flat=True)
    )


def user_needs_second_factor(user: AnyUser) -> bool:
    """Admins (staff, superusers, team admins) must use two-factor; agents may."""
    if not user.is_authenticated:
        return False
    if getattr(user, "is_staff", False) or getattr(user, "is_superuser", False):
        return True
    return Membership.objects.filter(user_id=user.pk, role=Role.ADMIN).exists()


def tickets_for_agent(*, agent: AnyUser) -> QuerySet[Ticket]:
    """The tickets of the agent's teams, newest activity first."""
    if not agent.is_authenticated or not agent.is_active:
        return Ticket.objects.none()
    return (
        Ticket.objects.filter(team__memberships__user_id=agent.pk)
        .select_related("channel", "assignee", "team")
        .order_by("-last_activity_at", "-id")
    )


def get_ticket_for_agent(*, agent: AnyUser, ticket_ref: uuid.UUID) -> Ticket:
    """One ticket of the agent's teams. Raises TicketNotFound for missing and for not-yours."""
    ticket = tickets_for_agent(agent=agent).filter(public_id=ticket_ref).first()
    if ticket is None:
        raise TicketNotFound(f"ticket {ticket_ref} not visible to user {agent.pk}")
    return ticket


def agent_can_access_ticket(*, user_id: int, ticket_ref: uuid.UUID) -> bool:
    """For sockets: is this active user still in the ticket's team?"""
    return Ticket.objects.filter(
        public_id=ticket_ref,
        team__memberships__user_id=user_id,
        team__memberships__user__is_active=True,
    ).exists()


def get_canned_for_agent(*, agent: AnyUser, canned_ref: uuid.UUID) -> CannedReply:
    """A canned reply of one of the agent's teams. Raises TicketNotFound (404) otherwise."""
    canned = CannedReply.objects.filter(public_id=canned_ref, team__in=teams_for(agent)).first()
    if canned is None:
        raise TicketNotFound(f"canned reply {canned_ref} not visible to user {agent.pk}")
    return canned


def get_team_for_agent(*, agent: AnyUser, team_ref: uuid.UUID) -> Team:
    team = teams_for(agent).filter(public_id=team_ref).first()
    if team is None:
        raise TicketNotFound(f"team {team_ref} not visible to user {agent.pk}")
    return team


def team_member_for_ticket(*, ticket: Ticket, user_id: int) -> AbstractBaseUser | None:
    """An active member of the ticket's team, or None."""
    return (
        get_user_model()
        .objects.filter(pk=user_id, is_active=True, memberships__team_id=ticket.team_id)
        .first()
    )


def agent_usernames(*, user_ids: Sequence[int]) -> dict[int, str]:
    user_model = get_user_model()
    return dict(
        user_model.objects.filter(pk__in=list(user_ids)).values_list(
            "pk", user_model.USERNAME_FIELD
        )
    )


# --- the inbox list ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboxFilters:
    status: str = TicketStatus.OPEN
    channel: uuid.UUID | None = None
    assigned: str = ""  # "", "mine" or "unassigned"
    query: str = ""


@dataclass(frozen=True, slots=True)
class InboxRow:
    ticket: Ticket
    handle: SafeText | None
    name: SafeText | None
    preview: SafeText | None

    @property
    def unverified(self) -> bool:
        return not self.ticket.customer_verified


@dataclass(frozen=True, slots=True)
class InboxPage:
    rows: list[InboxRow]
    next_cursor: str | None
    channels: list[Channel] = field(default_factory=list)


def encode_cursor(ticket: Ticket) -> str:
    raw = f"{ticket.last_activity_at.isoformat()}|{ticket.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    """Parse a keyset cursor; anything malformed means "start from the top"."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, pk = raw.partition("|")
        when = parse_datetime(stamp)
        return (when, int(pk)) if when is not None else None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _search(tickets: QuerySet[Ticket], query: str) -> QuerySet[Ticket]:
    """Exact search: ticket reference, or handle, e-mail or phone through the blind index."""
    query = query.strip()
    if _REFERENCE_RE.match(query.upper()):
        return tickets.filter(reference=query.upper())
    kinds = ["handle"]
    if _EMAIL_RE.match(query):
        kinds = ["email"]
    elif _PHONE_RE.match(query):
        kinds = ["phone", "handle"]
    match = Q()
    for kind in kinds:
        match |= Q(kind=kind, digest=vault.blind_index(kind, query))
    return tickets.filter(Exists(BlindIndex.objects.filter(match, ticket_id=OuterRef("pk"))))


def _reveal_rows(tickets: Sequence[Ticket], *, actor: audit.Actor) -> list[InboxRow]:
    """Decrypt each row's handle, name and preview; one audit event for the whole page.

    One audit event names every ticket read: what the audit log needs to answer "who saw
    what", without fifty events for a page of fifty.
    """
    fields = ("customer_handle", "customer_name", "preview")
    plain = vault.reveal_many(
        [
            (
                ticket,
                [
                    vault.Sealed(ticket, fields[0], ticket.customer_handle_ciphertext),
                    vault.Sealed(ticket, fields[1], ticket.customer_name_ciphertext),
                    vault.Sealed(ticket, fields[2], ticket.preview_ciphertext),
                ],
            )
            for ticket in tickets
        ],
        actor=actor,
        purpose="inbox_list",
    )
    return [
        InboxRow(
            ticket=ticket,
            handle=clean_display_name(values[0]),
            name=clean_display_name(values[1]),
            preview=clean_body(values[2]),
        )
        for ticket, values in zip(tickets, plain, strict=True)
    ]


def inbox_page(
    *,
    agent: AnyUser,
    filters: InboxFilters,
    cursor: str = "",
    limit: int = INBOX_PAGE_SIZE,
) -> InboxPage:
    """One keyset page of the agent's inbox, decrypted and audited.

    The query count is constant in the number of tickets: one for the teams, one per team for
    the page, one for the channels, and the audit append.
    """
    if not agent.is_authenticated or not agent.is_active:
        return InboxPage(rows=[], next_cursor=None)
    teams = {team.pk: team for team in teams_for(agent).order_by("id")}
    # Channels and teams are attached from their own lists below, not joined into every row.
    tickets = Ticket.objects.select_related("assignee").order_by("-last_activity_at", "-id")
    if filters.status:
        tickets = tickets.filter(status=filters.status)
    if filters.channel:
        tickets = tickets.filter(channel__public_id=filters.channel)
    if filters.assigned == "mine":
        tickets = tickets.filter(assignee_id=agent.pk)
    elif filters.assigned == "unassigned":
        tickets = tickets.filter(assignee__isnull=True)
    if filters.query:
        tickets = _search(tickets, filters.query)
    position = decode_cursor(cursor) if cursor else None
    if position is not None:
        when, pk = position
        # The "<=" bound is redundant for the result but starts the index range scan at the
        # cursor: without it the OR is only a filter, and page 500 reads every earlier row.
        tickets = tickets.filter(
            Q(last_activity_at__lt=when) | Q(last_activity_at=when, id__lt=pk),
            last_activity_at__lte=when,
        )
    # One index range scan per team (ticket_inbox_idx / ticket_team_recent_idx), merged here:
    # a join through memberships or an IN list makes PostgreSQL sort every matching ticket.
    page: list[Ticket] = []
    for team_id in teams:
        page += list(tickets.filter(team_id=team_id)[: limit + 1])
    page.sort(key=lambda t: (t.last_activity_at, t.pk), reverse=True)
    has_next = len(page) > limit
    page = page[:limit]
    channels = list(Channel.objects.filter(team_id__in=list(teams)).order_by("name", "id"))
    _attach_relations(page, teams=teams, channels=channels)
    return InboxPage(
        rows=_reveal_rows(page, actor=audit.Actor.user(agent.pk)),
        next_cursor=encode_cursor(page[-1]) if has_next and page else None,
        channels=channels,
    )


def _attach_relations(
    tickets: Sequence[Ticket], *, teams: dict[int, Team], channels: Sequence[Channel]
) -> None:
    """Give each ticket its team and channel from lists the page loads anyway.

    A ticket whose channel is not one of its teams' (never made by Haven) gets it from one
    more query, so the page shows it as a join would.
    """
    by_id = {channel.pk: channel for channel in channels}
    missing = {t.channel_id for t in tickets if t.channel_id is not None} - by_id.keys()
    if missing:
        by_id.update(Channel.objects.in_bulk(list(missing)))
    for ticket in tickets:
        ticket.team = teams[ticket.team_id]
        if ticket.channel_id is not None:
            ticket.channel = by_id[ticket.channel_id]


# --- one ticket ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of message text; ``label`` is set for personal data (redacted or revealed)."""

    text: str
    label: str = ""


@dataclass(frozen=True, slots=True)
class TicketContact:
    """A confirmed e-mail contact of a ticket, its address decrypted for this agent.

    It is not the social author: it reads only its own messages and the replies addressed to
    it, unless an agent linked it to the author (``linked``).
    """

    contact: PortalContact
    email: SafeText | None

    @property
    def public_id(self) -> uuid.UUID:
        return self.contact.public_id

    @property
    def linked(self) -> bool:
        return self.contact.linked_at is not None


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    message: Message
    segments: list[Segment]
    altered: bool
    redacted: bool
    unavailable: bool
    # Written by, or addressed to, an e-mail contact: the social author never sees it.
    via_contact: bool = False
    # That contact, when confirmed (unconfirmed addresses are not decrypted).
    contact: TicketContact | None = None

    @property
    def unverified(self) -> bool:
        return self.message.source == MessageSource.DROP and not self.message.verified


@dataclass(frozen=True, slots=True)
class PortalAccessSummary:
    """How many ways into the customer's thread are open right now (counts only)."""

    sessions: int
    links: int


@dataclass(frozen=True, slots=True)
class TicketPage:
    ticket: Ticket
    handle: SafeText | None
    name: SafeText | None
    thread: list[ThreadMessage]
    actions: list[OutboxAction]
    members: Sequence[AbstractBaseUser]
    canned: list[CannedReply]
    contacts: list[TicketContact] = field(default_factory=list)
    unconfirmed_contacts: int = 0
    access: PortalAccessSummary | None = None


def _segments(body: str, findings: Sequence[dict[str, object]], *, reveal: bool) -> list[Segment]:
    """Split ``body`` at its findings. Redacted spans carry only their label."""
    out: list[Segment] = []
    cursor = 0
    spans = []
    for finding in findings:
        try:
            start, end = int(str(finding["start"])), int(str(finding["end"]))
            label = str(finding["entity"])
        except (KeyError, TypeError, ValueError):
            continue
        if 0 <= start < end <= len(body):
            spans.append((start, end, label))
    for start, end, label in sorted(spans, key=lambda s: (s[0], -s[1])):
        if start < cursor:
            continue
        if start > cursor:
            out.append(Segment(body[cursor:start]))
        out.append(Segment(body[start:end] if reveal else f"[{label}]", label=label))
        cursor = end
    if cursor < len(body):
        out.append(Segment(body[cursor:]))
    return out


def _contact_id(message: Message) -> int | None:
    """The e-mail contact a message belongs to (needs ``select_related("contact_link")``)."""
    try:
        return message.contact_link.contact_id
    except ContactMessage.DoesNotExist:
        return None


def _thread_message(
    message: Message,
    body: str | None,
    *,
    reveal: bool,
    contacts: dict[int, TicketContact] | None = None,
) -> ThreadMessage:
    contact_id = _contact_id(message) if contacts is not None else None
    contact = (contacts or {}).get(contact_id) if contact_id is not None else None
    if body is None:
        return ThreadMessage(
            message,
            [],
            altered=False,
            redacted=False,
            unavailable=True,
            via_contact=contact_id is not None,
            contact=contact,
        )
    redact = message.source == MessageSource.SOCIAL and bool(message.findings) and not reveal
    segments = _segments(body, message.findings or [], reveal=not redact)
    cleaned: list[Segment] = []
    altered = False
    for seg in segments:
        safe = clean_body(seg.text)
        assert safe is not None  # noqa: S101 - seg.text is a str
        altered = altered or safe.altered
        cleaned.append(Segment(safe.text, seg.label))
    return ThreadMessage(
        message,
        cleaned,
        altered=altered,
        redacted=redact,
        unavailable=False,
        via_contact=contact_id is not None,
        contact=contact,
    )


def ticket_page(*, agent: AnyUser, ticket_ref: uuid.UUID) -> TicketPage:
    """The ticket, its decrypted thread (social messages redacted), actions, pickers, and its
    confirmed e-mail contacts.

    Raises TicketNotFound. Writes one audit event for the decrypt (bodies, the author's name
    and handle, the contacts' addresses).
    """
    ticket = get_ticket_for_agent(agent=agent, ticket_ref=ticket_ref)
    messages = list(
        Message.objects.filter(ticket=ticket)
        .select_related("author", "contact_link")
        .order_by("-created_at", "-id")[:THREAD_LIMIT]
    )
    messages.reverse()
    all_contacts = list(PortalContact.objects.filter(ticket=ticket).order_by("created_at", "id"))
    confirmed = [c for c in all_contacts if c.verified_at is not None]
    sealed = [
        vault.Sealed(ticket, "customer_handle", ticket.customer_handle_ciphertext),
        vault.Sealed(ticket, "customer_name", ticket.customer_name_ciphertext),
        *(vault.Sealed(m, "body", m.body_ciphertext) for m in messages),
        *(vault.Sealed(c, "email", c.email_ciphertext) for c in confirmed),
    ]
    plain = vault.reveal(ticket, sealed, actor=audit.Actor.user(agent.pk), purpose="ticket_view")
    bodies = plain[2 : 2 + len(messages)]
    contacts = [
        TicketContact(contact=c, email=clean_display_name(email))
        for c, email in zip(confirmed, plain[2 + len(messages) :], strict=True)
    ]
    by_id = {c.contact.pk: c for c in contacts}
    thread = [
        _thread_message(m, body, reveal=False, contacts=by_id)
        for m, body in zip(messages, bodies, strict=True)
    ]
    user_model = get_user_model()
    members = list(
        user_model.objects.filter(memberships__team_id=ticket.team_id, is_active=True).order_by(
            user_model.USERNAME_FIELD
        )
    )
    return TicketPage(
        ticket=ticket,
        handle=clean_display_name(plain[0]),
        name=clean_display_name(plain[1]),
        thread=thread,
        actions=list(OutboxAction.objects.filter(ticket=ticket).order_by("created_at", "id")),
        members=members,
        canned=list(CannedReply.objects.filter(team_id=ticket.team_id)),
        contacts=contacts,
        unconfirmed_contacts=len(all_contacts) - len(confirmed),
        access=portal_access_summary(ticket=ticket),
    )


def portal_access_summary(*, ticket: Ticket) -> PortalAccessSummary:
    """Live portal sessions and unused private links (read and magic) of the ticket: counts."""
    now = timezone.now()
    sessions = PortalGrant.objects.filter(
        ticket=ticket, revoked_at__isnull=True, expires_at__gt=now
    ).count()
    links = PortalSecret.objects.filter(
        ticket=ticket,
        kind__in=(SecretKind.READ, SecretKind.MAGIC),
        used_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=now,
    ).count()
    return PortalAccessSummary(sessions=sessions, links=links)


def get_contact_for_agent(
    *, agent: AnyUser, ticket_ref: uuid.UUID, contact_ref: uuid.UUID
) -> tuple[Ticket, PortalContact]:
    """A confirmed e-mail contact of one of the agent's tickets. Raises TicketNotFound for a
    missing, foreign or unconfirmed contact alike."""
    ticket = get_ticket_for_agent(agent=agent, ticket_ref=ticket_ref)
    contact = PortalContact.objects.filter(
        ticket=ticket, public_id=contact_ref, verified_at__isnull=False
    ).first()
    if contact is None:
        raise TicketNotFound(f"contact {contact_ref} not on ticket {ticket.pk}")
    return ticket, contact


@dataclass(frozen=True, slots=True)
class ContactPage:
    ticket: Ticket
    contact: TicketContact
    # The messages tied to this contact: what it wrote and the replies addressed to it.
    thread: list[ThreadMessage]


def contact_page(*, agent: AnyUser, ticket_ref: uuid.UUID, contact_ref: uuid.UUID) -> ContactPage:
    """One e-mail contact, its address and its own conversation, decrypted for this agent.

    Raises TicketNotFound. Writes one audit event (purpose ``contact_view``).
    """
    ticket, contact = get_contact_for_agent(
        agent=agent, ticket_ref=ticket_ref, contact_ref=contact_ref
    )
    messages = list(
        Message.objects.filter(ticket=ticket, contact_link__contact=contact)
        .select_related("author", "contact_link")
        .order_by("-created_at", "-id")[:THREAD_LIMIT]
    )
    messages.reverse()
    sealed = [
        vault.Sealed(contact, "email", contact.email_ciphertext),
        *(vault.Sealed(m, "body", m.body_ciphertext) for m in messages),
    ]
    plain = vault.reveal(ticket, sealed, actor=audit.Actor.user(agent.pk), purpose="contact_view")
    shown = TicketContact(contact=contact, email=clean_display_name(plain[0]))
    by_id = {contact.pk: shown}
    return ContactPage(
        ticket=ticket,
        contact=shown,
        thread=[
            _thread_message(m, body, reveal=False, contacts=by_id)
            for m, body in zip(messages, plain[1:], strict=True)
        ],
    )


def reveal_message(
    *, agent: AnyUser, ticket_ref: uuid.UUID, message_ref: uuid.UUID
) -> ThreadMessage:
    """The message with its personal data shown, for an agent who asked to see it.

    Raises TicketNotFound for a ticket or message the agent may not see. Audited with the
    purpose ``reveal_personal_data``.
    """
    ticket = get_ticket_for_agent(agent=agent, ticket_ref=ticket_ref)
    message = (
        Message.objects.filter(ticket=ticket, public_id=message_ref)
        .select_related("author")
        .first()
    )
    if message is None:
        raise TicketNotFound(f"message {message_ref} not in ticket {ticket.pk}")
    (body,) = vault.reveal(
        ticket,
        [vault.Sealed(message, "body", message.body_ciphertext)],
        actor=audit.Actor.user(agent.pk),
        purpose="reveal_personal_data",
    )
    return _thread_message(message, body, reveal=True)


def canned_for_agent(*, agent: AnyUser) -> list[CannedReply]:
    """Every canned reply of the agent's teams, for the management page."""
    return list(CannedReply.objects.filter(team__in=teams_for(agent)).select_related("team"))
