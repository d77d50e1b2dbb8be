"""Customer portal reads: the only place that resolves a secret or a portal session to a ticket.

Unknown, expired, used and revoked secrets all raise the same ``LinkExpired``, and a session
without access raises ``TicketNotFound``: a customer page never learns which one it was.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from inbox import audit, vault
from inbox.exceptions import LinkExpired, TicketNotFound
from inbox.models import (
    ChannelPolicy,
    Message,
    MessageKind,
    MessageSource,
    Platform,
    PortalContact,
    PortalGrant,
    PortalSecret,
    SecretKind,
    Ticket,
    TicketStatus,
)
from inbox.models.social import DEFAULT_RETENTION_DAYS
from inbox.selectors import clean_body

logger = logging.getLogger(__name__)

SESSION_KEY = "haven_portal"
IDLE_SECONDS = 30 * 60
ABSOLUTE_SECONDS = 24 * 60 * 60
PORTAL_THREAD_LIMIT = 500


@dataclass(frozen=True, slots=True)
class PortalAccess:
    """A portal session's right: one ticket, as its social author or as one e-mail contact."""

    ticket: Ticket
    grant: PortalGrant
    contact: PortalContact | None

    @property
    def actor(self) -> audit.Actor:
        return audit.Actor.customer(self.ticket.public_id)


@dataclass(frozen=True, slots=True)
class PortalMessage:
    public_id: uuid.UUID
    kind: str
    mine: bool
    body: str | None
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.public_id),
            "mine": self.mine,
            "body": self.body,
            "created_at": self.created_at.isoformat(),
        }


def drop_box_ticket(*, drop_ref: str) -> Ticket:
    """The ticket a public drop-box reference writes to. Raises LinkExpired otherwise.

    The drop reference only writes: callers must never show anything of the thread with it.
    """
    digest = vault.secret_hash(SecretKind.DROP, drop_ref)
    secret = (
        PortalSecret.objects.select_related("ticket", "ticket__channel")
        .filter(secret_hash=digest, kind=SecretKind.DROP, revoked_at__isnull=True)
        .exclude(ticket__status=TicketStatus.CLOSED)
        .first()
    )
    if secret is None or secret.ticket is None:
        raise LinkExpired("unknown or dead drop reference")
    if secret.expires_at is not None and secret.expires_at <= timezone.now():
        raise LinkExpired("expired drop reference")
    return secret.ticket


def ticket_id_for_secret(*, kind: str, secret: str) -> int | None:
    """The ticket id of a secret of ``kind``, dead or alive, for per-ticket rate limits only."""
    digest = vault.secret_hash(kind, secret)
    row = PortalSecret.objects.filter(secret_hash=digest, kind=kind).values_list("ticket_id")
    found = row.first()
    return found[0] if found else None


def secret_by_hash(*, secret_hash: str) -> PortalSecret | None:
    """A read or magic secret by its stored hash (asking for a new link after a failed one)."""
    return (
        PortalSecret.objects.select_related("ticket")
        .filter(secret_hash=secret_hash, kind__in=(SecretKind.READ, SecretKind.MAGIC))
        .exclude(ticket__isnull=True)
        .first()
    )


def ended_grant_ticket(*, session: Mapping[str, Any]) -> tuple[Ticket, PortalContact | None] | None:
    """The ticket (and contact) of the session's grant, live or not: asking for a new link."""
    grant_ref = grant_ref_from_session(session)
    if grant_ref is None:
        return None
    grant = (
        PortalGrant.objects.select_related("ticket", "contact").filter(public_id=grant_ref).first()
    )
    return (grant.ticket, grant.contact) if grant is not None else None


def retention_days(ticket: Ticket) -> int:
    """How long the channel keeps this conversation, for the drop-box page."""
    if ticket.channel_id is None:
        return DEFAULT_RETENTION_DAYS
    policy = ChannelPolicy.objects.filter(channel_id=ticket.channel_id).first()
    return policy.retention_days if policy is not None else DEFAULT_RETENTION_DAYS


@dataclass(frozen=True, slots=True)
class XSignInConfig:
    """The X app client a channel uses for "Sign in with X" (from its encrypted credentials)."""

    client_id: str
    client_secret: str | None = field(repr=False)
    api_base_url: str


def x_sign_in_config(ticket: Ticket) -> XSignInConfig | None:
    """Sign in with X for this ticket, or None: the ticket needs a social author id, an X
    channel whose credentials hold an OAuth 2.0 client id, and no access ended by an agent
    since the last private link. Machine use: not audited."""
    channel = ticket.channel
    if channel is None or channel.platform != Platform.X or not ticket.author_external_id:
        return None
    if ticket.portal_access_ended_at is not None:
        return None
    try:
        credentials = vault.decrypt_channel_credentials(channel)
    except vault.DecryptionError:
        logger.warning("x sign-in off: channel credentials unreadable channel=%s", channel.pk)
        return None
    client_id = credentials.get("oauth2_client_id", "")
    if not client_id:
        return None
    return XSignInConfig(
        client_id=client_id,
        client_secret=credentials.get("oauth2_client_secret") or None,
        api_base_url=channel.api_base_url,
    )


def x_sign_in_ticket(*, ticket_ref: str) -> Ticket:
    """The ticket a pending X sign-in is for, if it still takes portal sessions.

    Raises TicketNotFound when it is gone (erased), closed or has no social author.
    """
    try:
        public_id = uuid.UUID(ticket_ref)
    except ValueError:
        raise TicketNotFound("malformed ticket reference") from None
    ticket = (
        Ticket.objects.select_related("channel")
        .filter(public_id=public_id)
        .exclude(status=TicketStatus.CLOSED)
        .exclude(author_external_id="")
        .first()
    )
    if ticket is None:
        raise TicketNotFound("no open ticket for this sign-in")
    return ticket


def grant_ref_from_session(session: Mapping[str, Any]) -> uuid.UUID | None:
    state = session.get(SESSION_KEY)
    if not isinstance(state, dict):
        return None
    try:
        return uuid.UUID(str(state.get("grant")))
    except ValueError:
        return None


def access_from_session(
    session: MutableMapping[str, Any], *, ticket_ref: uuid.UUID | None = None
) -> PortalAccess:
    """The session's access, on ``ticket_ref`` if given. Raises TicketNotFound otherwise.

    Ends after 30 minutes idle or 24 hours in all, when the grant is revoked, or when the
    ticket is closed or erased. Touches the idle clock.
    """
    grant_ref = grant_ref_from_session(session)
    state = session.get(SESSION_KEY)
    if grant_ref is None or not isinstance(state, dict):
        raise TicketNotFound("no portal session")
    now = time.time()
    seen = float(state.get("seen") or 0)
    if now - seen > IDLE_SECONDS:
        raise TicketNotFound("portal session idle too long")
    grant = grant_by_ref(grant_ref=grant_ref)
    if grant is None or (ticket_ref is not None and grant.ticket.public_id != ticket_ref):
        raise TicketNotFound("portal session has no access to this ticket")
    state["seen"] = now
    session[SESSION_KEY] = state
    return PortalAccess(ticket=grant.ticket, grant=grant, contact=grant.contact)


def grant_by_ref(*, grant_ref: uuid.UUID) -> PortalGrant | None:
    """A live grant: not revoked, not past its absolute end, on a ticket that is not closed."""
    return (
        PortalGrant.objects.select_related("ticket", "ticket__team", "contact")
        .filter(
            public_id=grant_ref,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .exclude(ticket__status=TicketStatus.CLOSED)
        .first()
    )


def socket_access(*, grant_ref: uuid.UUID, seen: float) -> PortalAccess | None:
    """For websockets: the same checks as a page, without touching the session."""
    if time.time() - seen > IDLE_SECONDS:
        return None
    grant = grant_by_ref(grant_ref=grant_ref)
    if grant is None:
        return None
    return PortalAccess(ticket=grant.ticket, grant=grant, contact=grant.contact)


def visible_messages(access: PortalAccess) -> QuerySet[Message]:
    """What this session may read: never notes, never unverified drop-box messages.

    An e-mail contact sees only its own messages and the replies addressed to it; the social
    author sees the rest of the thread but nothing of any e-mail contact. A contact an agent
    linked to the social author also sees what the author sees (never another contact's).
    """
    qs = Message.objects.filter(
        ticket=access.ticket, kind__in=(MessageKind.INBOUND, MessageKind.OUTBOUND)
    )
    authors_view = Q(contact_link__isnull=True) & ~(
        Q(source=MessageSource.DROP) & Q(verified=False)
    )
    if access.contact is not None:
        own = Q(contact_link__contact=access.contact)
        if access.contact.linked_at is not None:
            return qs.filter(own | authors_view)
        return qs.filter(own)
    return qs.filter(authors_view)


def portal_thread(*, access: PortalAccess, after: uuid.UUID | None = None) -> list[PortalMessage]:
    """The session's readable thread (or what came after message ``after``), decrypted and
    audited as a customer read."""
    qs = visible_messages(access)
    if after is not None:
        anchor = qs.filter(public_id=after).values_list("created_at", "id").first()
        if anchor is not None:
            qs = qs.filter(Q(created_at__gt=anchor[0]) | Q(created_at=anchor[0], id__gt=anchor[1]))
    messages = list(qs.order_by("-created_at", "-id")[:PORTAL_THREAD_LIMIT])
    messages.reverse()
    if not messages:
        return []
    plain = vault.reveal(
        access.ticket,
        [vault.Sealed(m, "body", m.body_ciphertext) for m in messages],
        actor=access.actor,
        purpose="portal_view",
    )
    out = []
    for message, body in zip(messages, plain, strict=True):
        safe = clean_body(body)
        out.append(
            PortalMessage(
                public_id=message.public_id,
                kind=message.kind,
                mine=message.kind == MessageKind.INBOUND,
                body=safe.text if safe is not None else None,
                created_at=message.created_at,
            )
        )
    return out


def message_visible(*, access: PortalAccess, message_ref: uuid.UUID) -> bool:
    return visible_messages(access).filter(public_id=message_ref).exists()
