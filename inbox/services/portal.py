"""Customer portal writes (SECURITY-DESIGN.md §1): exchange secrets for a session on one ticket,
add customer and drop-box messages, magic links for e-mail contacts, reply notices, revocation
and rate limits.

Callers resolve access through ``inbox.portal_selectors`` first. Nothing here logs text,
addresses or secrets: ids, kinds and counts only.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

import redaction
from channels_bridge.errors import BridgeError
from channels_bridge.x_oauth import XSignIn
from inbox import audit, events, portal_selectors, vault
from inbox.exceptions import (
    EmptyCustomerMessage,
    InvalidEmail,
    LinkExpired,
    PortalRateLimited,
    TicketClosed,
    TicketNotFound,
    XSignInFailed,
)
from inbox.models import (
    ContactMessage,
    Message,
    MessageKind,
    MessageSource,
    OutboxAction,
    OutboxKind,
    OutboxState,
    PortalContact,
    PortalGrant,
    PortalSecret,
    SecretKind,
    Ticket,
)
from inbox.services import secrets as portal_secrets
from inbox.services.threads import FindingMeta, add_message, add_message_once

logger = logging.getLogger(__name__)

MAX_BODY_LENGTH = 10_000
MAGIC_TTL = timedelta(hours=24)
SESSION_LIFETIME = timedelta(seconds=portal_selectors.ABSOLUTE_SECONDS)
LAST_FAILED_KEY = "haven_portal_failed"
_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{8,60}$")
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$")


# --- rate limits ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    seconds: int


# (per IP, per ticket, global) for each portal entry point. Per-ticket buckets count only
# requests whose ticket is known (a live or dead secret of that ticket).
LIMITS: dict[str, tuple[Limit, Limit, Limit]] = {
    "drop": (Limit(30, 600), Limit(60, 3600), Limit(2000, 60)),
    "read": (Limit(30, 600), Limit(30, 3600), Limit(2000, 60)),
    "exchange": (Limit(10, 600), Limit(10, 3600), Limit(600, 60)),
    "thread": (Limit(120, 600), Limit(120, 600), Limit(5000, 60)),
    "new_link": (Limit(5, 3600), Limit(3, 3600), Limit(200, 60)),
    # E-mails a stranger can trigger through the public drop box, to any address.
    "mail": (Limit(5, 3600), Limit(5, 3600), Limit(300, 60)),
    # "Sign in with X" buttons pressed (each sends the browser to X); the callback counts as
    # an "exchange".
    "x_sign_in": (Limit(10, 600), Limit(30, 3600), Limit(600, 60)),
}


def _bucket(name: str, limit: Limit) -> None:
    key = f"haven:rl:{name}:{int(timezone.now().timestamp()) // limit.seconds}"
    if cache.add(key, 1, timeout=limit.seconds + 1):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=limit.seconds + 1)
            count = 1
    if count > limit.count:
        logger.warning("portal rate limit hit bucket=%s", name.split(":")[0])
        raise PortalRateLimited(f"rate limit {name.split(':')[0]}")


def check_rate(*, scope: str, ip: str) -> None:
    """Count one request of ``scope`` globally and per IP; raise PortalRateLimited past either.

    Fixed windows in Django's cache (Redis in production, shared by every process). The IP is
    kept only as a peppered hash.
    """
    per_ip, _per_ticket, overall = LIMITS[scope]
    _bucket(f"{scope}:all", overall)
    _bucket(f"{scope}:ip:{vault.secret_hash('ratelimit-ip', ip)[:32]}", per_ip)


def check_ticket_rate(*, scope: str, ticket_id: int | None) -> None:
    """Count one request of ``scope`` against its ticket, once the ticket is known."""
    if ticket_id is not None:
        _bucket(f"{scope}:ticket:{ticket_id}", LIMITS[scope][1])


# --- sessions ------------------------------------------------------------------------------


def _start_session(session: SessionBase, grant: PortalGrant) -> None:
    # A new key: whatever id the browser had before the exchange is worthless afterwards.
    session.cycle_key()
    session.pop(LAST_FAILED_KEY, None)
    session[portal_selectors.SESSION_KEY] = {
        "grant": str(grant.public_id),
        "seen": timezone.now().timestamp(),
    }


def _consume(kind: str, secret: str) -> PortalSecret | None:
    """Mark an unused, unrevoked, unexpired secret used, exactly once, in one UPDATE."""
    digest = vault.secret_hash(kind, secret)
    now = timezone.now()
    updated = PortalSecret.objects.filter(
        secret_hash=digest,
        kind=kind,
        used_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=now,
        ticket__isnull=False,
    ).update(used_at=now)
    if updated != 1:
        return None
    return PortalSecret.objects.select_related("ticket").get(secret_hash=digest)


@transaction.atomic
def exchange_read_secret(*, session: SessionBase, secret: str) -> Ticket:
    """Trade a private read secret for a portal session on its ticket, once.

    Rotates the session key. Raises LinkExpired for unknown, expired, used and revoked
    secrets alike, and for closed tickets.
    """
    return _exchange(session=session, kind=SecretKind.READ, secret=secret)


@transaction.atomic
def exchange_magic_link(*, session: SessionBase, secret: str) -> Ticket:
    """Trade an e-mail magic link for a session as that e-mail contact (not the author)."""
    return _exchange(session=session, kind=SecretKind.MAGIC, secret=secret)


def _exchange(*, session: SessionBase, kind: str, secret: str) -> Ticket:
    consumed = _consume(kind, secret) if secret else None
    if consumed is None or consumed.ticket is None or consumed.ticket.is_closed:
        session[LAST_FAILED_KEY] = vault.secret_hash(kind, secret or "-")
        raise LinkExpired(f"{kind} secret not exchangeable")
    ticket = consumed.ticket
    contact = None
    if kind == SecretKind.MAGIC:
        contact = _contact_for_magic(consumed)
        if contact is None:
            raise LinkExpired("magic link without a contact")
        if contact.verified_at is None:
            contact.verified_at = timezone.now()
            contact.save(update_fields=["verified_at"])
    _open_grant(session=session, ticket=ticket, contact=contact, kind=kind)
    return ticket


# --- Sign in with X (SECURITY-DESIGN.md §1, row 3) ----------------------------------------

X_SIGN_IN_KEY = "haven_portal_x"
X_SIGN_IN_TTL_SECONDS = 10 * 60
X_SIGN_IN_KIND = "x_sign_in"


def _x_sign_in(config: portal_selectors.XSignInConfig) -> XSignIn:
    return XSignIn(
        client_id=config.client_id,
        client_secret=config.client_secret,
        redirect_uri=f"{settings.HAVEN_BASE_URL}{reverse('portal:x_callback')}",
        base_url=config.api_base_url or settings.HAVEN_PLATFORM_BASE_URL or None,
        timeout=settings.HAVEN_PLATFORM_TIMEOUT,
    )


def x_sign_in_origin(*, ticket: Ticket) -> str | None:
    """The origin "Sign in with X" sends the browser to (for the page's CSP ``form-action``),
    or None when the ticket offers no sign-in."""
    config = portal_selectors.x_sign_in_config(ticket)
    return _x_sign_in(config).authorize_origin if config is not None else None


def start_x_sign_in(*, session: SessionBase, ticket: Ticket) -> str:
    """Begin "Sign in with X" for ``ticket`` and return X's authorize URL.

    The state, the PKCE verifier and the ticket wait in the server-side session for
    ``X_SIGN_IN_TTL_SECONDS``; a second start replaces the first. Raises XSignInFailed when
    the ticket offers no sign-in.
    """
    config = portal_selectors.x_sign_in_config(ticket)
    if config is None:
        raise XSignInFailed(f"ticket {ticket.pk} offers no x sign-in")
    begun = _x_sign_in(config).begin()
    session[X_SIGN_IN_KEY] = {
        "state": begun.state,
        "verifier": begun.code_verifier,
        "ticket": str(ticket.public_id),
        "expires": time.time() + X_SIGN_IN_TTL_SECONDS,
    }
    logger.info("x sign-in started ticket=%s", ticket.pk)
    return begun.url


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


def finish_x_sign_in(*, session: SessionBase, state: str, code: str, error: str) -> Ticket:
    """X's callback: when X proves the signed-in account is the ticket's social author, start
    the same one-ticket portal session as a read-secret exchange (the session key rotates).

    The pending sign-in is used up by this call, whatever the outcome. The code is exchanged
    for a token that is used once for ``GET /2/users/me``, revoked and never stored. Raises
    XSignInFailed alike for a missing, stale or forged state, a refusal at X, an X error, a
    closed or erased ticket and another X account; PortalRateLimited past the ticket's
    exchange limit.
    """
    pending = session.pop(X_SIGN_IN_KEY, None)
    if not isinstance(pending, dict):
        raise XSignInFailed("no pending x sign-in")
    if not _same(str(pending.get("state") or "-"), state or ""):
        raise XSignInFailed("x sign-in state does not match")
    if float(pending.get("expires") or 0) < time.time():
        raise XSignInFailed("x sign-in expired")
    if error or not code:
        raise XSignInFailed("x sign-in not approved at x")
    try:
        ticket = portal_selectors.x_sign_in_ticket(ticket_ref=str(pending.get("ticket")))
    except TicketNotFound:
        raise XSignInFailed("x sign-in ticket closed or gone") from None
    check_ticket_rate(scope="exchange", ticket_id=ticket.pk)
    config = portal_selectors.x_sign_in_config(ticket)
    if config is None:
        raise XSignInFailed(f"ticket {ticket.pk} no longer offers x sign-in")
    try:
        user_id = _x_sign_in(config).signed_in_user_id(
            code=code, code_verifier=str(pending.get("verifier") or "")
        )
    except BridgeError as exc:
        logger.warning(
            "x sign-in failed at x ticket=%s error=%s code=%s",
            ticket.pk,
            type(exc).__name__,
            exc.code,
        )
        raise XSignInFailed(f"x sign-in refused error={type(exc).__name__}") from None
    if not _same(user_id, ticket.author_external_id):
        audit.record(
            actor=audit.Actor.customer(ticket.public_id),
            action="portal.x_sign_in_refused",
            object_type="ticket",
            object_id=ticket.public_id,
            ticket_public_id=ticket.public_id,
            data={"reason": "other_account"},
        )
        logger.info("x sign-in by another account ticket=%s", ticket.pk)
        raise XSignInFailed("x sign-in by another account")
    return _grant_x_sign_in(session=session, ticket=ticket)


@transaction.atomic
def _grant_x_sign_in(*, session: SessionBase, ticket: Ticket) -> Ticket:
    _open_grant(session=session, ticket=ticket, contact=None, kind=X_SIGN_IN_KIND)
    return ticket


def _open_grant(
    *, session: SessionBase, ticket: Ticket, contact: PortalContact | None, kind: str
) -> PortalGrant:
    """Start a one-ticket portal session (the session key rotates), audited as an exchange."""
    grant = PortalGrant.objects.create(
        ticket=ticket, contact=contact, expires_at=timezone.now() + SESSION_LIFETIME
    )
    _start_session(session, grant)
    audit.record(
        actor=audit.Actor.customer(ticket.public_id),
        action="secret.exchange",
        object_type="ticket",
        object_id=ticket.public_id,
        ticket_public_id=ticket.public_id,
        data={"kind": kind, "grant": str(grant.public_id), "contact": contact is not None},
    )
    logger.info("portal secret exchanged ticket=%s kind=%s grant=%s", ticket.pk, kind, grant.pk)
    return grant


def _contact_for_magic(secret: PortalSecret) -> PortalContact | None:
    assert secret.ticket is not None  # noqa: S101 - checked by the caller
    email = vault.decrypt(secret.ticket, secret, "contact", secret.contact_ciphertext)
    if not email:
        return None
    return PortalContact.objects.filter(
        ticket=secret.ticket, email_digest=vault.blind_index("email", email)
    ).first()


def end_session(*, session: SessionBase) -> None:
    session.pop(portal_selectors.SESSION_KEY, None)


# --- messages ------------------------------------------------------------------------------


def _clean(body: str) -> str:
    body = body.replace("\x00", "").strip()
    if not body or len(body) > MAX_BODY_LENGTH:
        raise EmptyCustomerMessage("empty or too long")
    return body


def _key(idempotency_key: str | None) -> str | None:
    if idempotency_key and _KEY_RE.match(idempotency_key):
        return f"portal:{idempotency_key}"
    return None


def _findings(body: str) -> list[FindingMeta]:
    return [
        {"entity": f.entity, "start": f.start, "end": f.end, "score": round(f.score, 3)}
        for f in redaction.scan(body)
    ]


def _add_customer_message(
    *,
    ticket: Ticket,
    body: str,
    source: str,
    verified: bool,
    idempotency_key: str | None,
    contact: PortalContact | None,
) -> Message:
    if ticket.is_closed:
        raise TicketClosed(f"ticket {ticket.pk} is closed")
    body = _clean(body)
    message, created = add_message_once(
        ticket=ticket,
        kind=MessageKind.INBOUND,
        source=source,
        body=body,
        findings=_findings(body),
        verified=verified,
        idempotency_key=_key(idempotency_key),
        contact=contact,
    )
    if not created:
        return message
    logger.info(
        "customer message added ticket=%s message=%s source=%s", ticket.pk, message.pk, source
    )
    return message


@transaction.atomic
def add_customer_message(
    *, access: portal_selectors.PortalAccess, body: str, idempotency_key: str | None
) -> Message:
    """A message from a portal session. The same client key twice makes one message.

    Raises TicketClosed, EmptyCustomerMessage. Broadcasts on commit (via add_message).
    """
    return _add_customer_message(
        ticket=access.ticket,
        body=body,
        source=MessageSource.PORTAL,
        verified=access.contact is None,
        idempotency_key=idempotency_key,
        contact=access.contact,
    )


@transaction.atomic
def add_drop_message(
    *,
    ticket: Ticket,
    body: str,
    idempotency_key: str | None,
    email: str = "",
    language: str = "",
) -> Message:
    """A message through the public drop box: shown to agents as unverified.

    With an e-mail address, it belongs to that (not yet proven) contact, and a magic link is
    mailed to the address on commit.
    """
    contact = _contact(ticket=ticket, email=email, language=language) if email else None
    message = _add_customer_message(
        ticket=ticket,
        body=body,
        source=MessageSource.DROP,
        verified=False,
        idempotency_key=idempotency_key,
        contact=contact,
    )
    if contact is not None:
        _send_magic_link(ticket=ticket, contact=contact, email=email, reason="confirm")
    return message


def _contact(*, ticket: Ticket, email: str, language: str) -> PortalContact:
    email = email.strip()
    if not _EMAIL_RE.match(email):
        raise InvalidEmail("malformed address")
    digest = vault.blind_index("email", email)
    contact = PortalContact.objects.filter(ticket=ticket, email_digest=digest).first()
    if contact is not None:
        return contact
    contact = PortalContact(ticket=ticket, email_digest=digest, language=language[:8])
    contact.email_ciphertext = vault.encrypt(ticket, contact, "email", email)
    contact.save()
    return contact


def _send_magic_link(*, ticket: Ticket, contact: PortalContact, email: str, reason: str) -> None:
    secret = portal_secrets.issue_secret(ticket=ticket, kind=SecretKind.MAGIC, ttl=MAGIC_TTL)
    row = PortalSecret.objects.get(secret_hash=vault.secret_hash(SecretKind.MAGIC, secret))
    row.contact_ciphertext = vault.encrypt(ticket, row, "contact", email)
    row.save(update_fields=["contact_ciphertext"])
    link = f"{settings.HAVEN_BASE_URL}/m/#t={secret}"
    reference = ticket.reference
    language = contact.language or "en"
    contact_id = contact.pk

    def deliver() -> None:
        _mail(
            to=email,
            template=f"portal/email/{reason}",
            context={"link": link, "reference": reference},
            language=language,
        )
        logger.info("portal mail sent contact=%s reason=%s", contact_id, reason)

    transaction.on_commit(deliver)


def _mail(*, to: str, template: str, context: dict[str, str], language: str) -> None:
    with translation.override(language):
        context = {**context, "organisation": settings.HAVEN_ORGANISATION_NAME}
        subject = render_to_string(f"{template}_subject.txt", context).strip()
        body = render_to_string(f"{template}.txt", context)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
    except Exception:
        logger.exception("portal mail failed template=%s", template.rsplit("/", 1)[-1])


# --- replies to e-mail contacts and reply notices -------------------------------------------


@transaction.atomic
def send_reply_to_contact(
    *,
    ticket: Ticket,
    agent: AbstractBaseUser,
    contact: PortalContact,
    body: str,
    idempotency_key: str | None = None,
) -> Message:
    """An agent reply addressed to one e-mail contact: only that contact reads it.

    The agent reply service e-mails the contact a notice (without the text) on commit. The
    same idempotency key twice gives the first reply back. Agents call it through
    ``services.agent.reply_to_contact``, which checks access and the contact under lock.
    """
    from inbox.services.agent import send_reply  # agent.py imports this module

    if contact.ticket_id != ticket.pk:
        raise TicketNotFound(f"contact {contact.pk} is not on ticket {ticket.pk}")
    return send_reply(
        ticket=ticket, agent=agent, body=body, idempotency_key=idempotency_key, contact=contact
    )


def notify_customer_of_reply(*, message: Message) -> None:
    """After commit, e-mail the contact a reply is addressed to: no message text, only a fresh
    magic link. Replies to the social author reach them through the portal and its socket."""
    message_id = message.pk
    transaction.on_commit(lambda: _notify(message_id))


def _notify(message_id: int) -> None:
    link = (
        ContactMessage.objects.select_related("contact", "message__ticket")
        .filter(message_id=message_id, contact__verified_at__isnull=False)
        .first()
    )
    if link is None:
        return
    ticket = link.message.ticket
    contact = link.contact
    email = vault.decrypt(ticket, contact, "email", contact.email_ciphertext)
    if not email or ticket.is_closed:
        return
    with transaction.atomic():
        _send_magic_link(ticket=ticket, contact=contact, email=email, reason="reply")


# --- asking for a new link and revoking -----------------------------------------------------


@transaction.atomic
def request_new_link(*, session: SessionBase) -> None:
    """The customer's link or session failed: tell the team, or re-mail an e-mail contact.

    Uses the last failed secret of this browser, else its ended portal session. Does the same
    visible nothing when neither is known, so the answer is no oracle.
    """
    digest = session.pop(LAST_FAILED_KEY, None)
    secret = portal_selectors.secret_by_hash(secret_hash=str(digest)) if digest else None
    contact: PortalContact | None = None
    if secret is not None and secret.ticket is not None:
        ticket = secret.ticket
        kind = secret.kind
        if kind == SecretKind.MAGIC:
            contact = _contact_for_magic(secret)
    else:
        ended = portal_selectors.ended_grant_ticket(session=session)
        if ended is None:
            return
        ticket, contact = ended
        kind = SecretKind.MAGIC if contact is not None else SecretKind.READ
    end_session(session=session)
    if ticket.is_closed:
        return
    try:
        check_ticket_rate(scope="new_link", ticket_id=ticket.pk)
    except PortalRateLimited:
        return  # silently: a different answer would tell that the link was real
    if contact is not None:
        email = vault.decrypt(ticket, contact, "email", contact.email_ciphertext)
        if email:
            _send_magic_link(ticket=ticket, contact=contact, email=email, reason="confirm")
    else:
        with translation.override(ticket.language or settings.LANGUAGE_CODE):
            text = str(
                _(
                    "The customer opened an expired or used private link and asked for a new "
                    "one. Send it through the platform's private channel."
                )
            )
        add_message(ticket=ticket, kind=MessageKind.NOTE, source=MessageSource.PORTAL, body=text)
    audit.record(
        actor=audit.Actor.customer(ticket.public_id),
        action="secret.request_new",
        object_type="ticket",
        object_id=ticket.public_id,
        ticket_public_id=ticket.public_id,
        data={"kind": kind},
    )
    logger.info("new portal link requested ticket=%s kind=%s", ticket.pk, kind)


@dataclass(frozen=True, slots=True)
class RevokedAccess:
    sessions: int  # portal sessions ended
    cancelled: int  # private messages not yet sent, cancelled


_SUPERSEDED = "Not sent: the customer's access was ended, so its link no longer works."


@transaction.atomic
def revoke_portal_access(
    *, ticket: Ticket, actor: audit.Actor, reason: str = "revoked"
) -> RevokedAccess:
    """Revoke the ticket's read and magic secrets, end every portal session on it (open sockets
    close on commit) and cancel private messages still waiting, whose link is dead now."""
    portal_secrets.revoke_ticket_secrets(ticket=ticket, kinds=(SecretKind.READ, SecretKind.MAGIC))
    ended = PortalGrant.objects.filter(ticket=ticket, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    cancelled = _cancel_pending_private_messages(ticket)
    events.broadcast_on_commit(
        events.ticket_customer_group(ticket.public_id),
        events.access_revoked(ticket_public_id=ticket.public_id),
    )
    audit.record(
        actor=actor,
        action="portal.revoke",
        object_type="ticket",
        object_id=ticket.public_id,
        ticket_public_id=ticket.public_id,
        data={"sessions": ended, "cancelled": cancelled, "reason": reason},
    )
    logger.info(
        "portal access revoked ticket=%s sessions=%s cancelled=%s", ticket.pk, ended, cancelled
    )
    return RevokedAccess(sessions=ended, cancelled=cancelled)


def _cancel_pending_private_messages(ticket: Ticket) -> int:
    pending = list(
        OutboxAction.objects.filter(
            ticket=ticket, kind=OutboxKind.PRIVATE_MESSAGE, state=OutboxState.PENDING
        ).values_list("pk", "public_id")
    )
    cancelled = 0
    for pk, public_id in pending:
        # Compare-and-set: a worker may claim the row between the SELECT and this UPDATE.
        if OutboxAction.objects.filter(pk=pk, state=OutboxState.PENDING).update(
            state=OutboxState.CANCELLED,
            payload_ciphertext=None,
            last_error_code="superseded",
            last_error_message=_SUPERSEDED,
            next_attempt_at=None,
        ):
            cancelled += 1
            events.broadcast_on_commit(
                events.ticket_agents_group(ticket.public_id),
                events.action_changed(
                    ticket_public_id=ticket.public_id,
                    action_public_id=public_id,
                    status=OutboxState.CANCELLED,
                ),
            )
    return cancelled


def new_idempotency_key() -> str:
    return uuid.UUID(bytes=secrets.token_bytes(16)).hex
