"""What agents do to a ticket: reply, note, assign, change status, mark read; the customer's
links and e-mail contacts; canned replies.

Callers have already checked access through ``inbox.selectors``; the link and contact actions
check it again under the ticket's row lock. Replies go to the customer's secure thread only.
The only platform side effect here is a new private link, queued through the outbox like the
pipeline's own.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from channels_bridge.errors import BridgeError
from inbox import audit, events, policies, selectors, vault
from inbox.exceptions import (
    ContactNotVerified,
    DuplicateCannedReply,
    EmptyMessage,
    InvalidAssignee,
    InvalidStatus,
    InvalidToken,
    PrivateLinkUnavailable,
    TicketClosed,
    TicketNotFound,
)
from inbox.models import (
    CannedReply,
    Channel,
    ChannelPolicy,
    ChannelStatus,
    InboundMessage,
    InboundStatus,
    ItemKind,
    Membership,
    Message,
    MessageKind,
    MessageSource,
    OutboxAction,
    OutboxKind,
    OutboxState,
    Platform,
    PolicyMode,
    PortalContact,
    SecretKind,
    Team,
    Ticket,
    TicketStatus,
)
from inbox.services import portal
from inbox.services import secrets as portal_secrets
from inbox.services.connectors import connector_for, enqueue_on_commit, item_from_inbound
from inbox.services.threads import add_message_once

logger = logging.getLogger(__name__)

MAX_BODY_LENGTH = 10_000


def _clean_body(body: str) -> str:
    body = body.replace("\x00", "").strip()
    if not body:
        raise EmptyMessage("empty body")
    if len(body) > MAX_BODY_LENGTH:
        raise EmptyMessage(f"body longer than {MAX_BODY_LENGTH}")
    return body


def _broadcast_ticket_changed(ticket: Ticket, change: str) -> None:
    event = events.ticket_changed(
        ticket_public_id=ticket.public_id, status=ticket.status, change=change
    )
    events.broadcast_on_commit(events.team_group(ticket.team.public_id), event)
    events.broadcast_on_commit(events.ticket_agents_group(ticket.public_id), event)


# A client key as the agent forms send it (a random UUID from app.js); anything else is ignored.
_CLIENT_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _submit_key(
    *,
    client_key: str | None,
    kind: str,
    agent: AbstractBaseUser,
    contact: PortalContact | None,
    body: str,
) -> str | None:
    """The stored idempotency key of one agent submit, or None when the form sent no usable key.

    The form's key is scoped to what was submitted (kind, agent, addressee and text), so a key
    reused for another form, by another agent or for another contact never returns someone
    else's message, and a page the browser restored with its old key (Back button) still sends
    a new text. A peppered HMAC: the text cannot be guessed from the stored key. Never meets the
    portal's own ``portal:`` keys.
    """
    if not client_key or not _CLIENT_KEY_RE.match(client_key):
        return None
    scope = f"{kind}|{agent.pk}|{contact.pk if contact else ''}|{client_key}|{body}"
    return "agent:" + vault.body_digest("agent-submit", scope.encode())[:48]


def _add_agent_message(
    *,
    ticket: Ticket,
    agent: AbstractBaseUser,
    kind: str,
    body: str,
    idempotency_key: str | None,
    contact: PortalContact | None = None,
) -> tuple[Message, bool]:
    """Add the agent's message once per form submit; return it and whether it is new.

    A second submit with the same key (double click, browser retry) gets the first message
    back and changes nothing, also when the two submits race each other.
    """
    key = _submit_key(
        client_key=idempotency_key, kind=kind, agent=agent, contact=contact, body=body
    )
    return add_message_once(
        ticket=ticket,
        kind=kind,
        source=MessageSource.AGENT,
        body=body,
        author=agent,
        idempotency_key=key,
        contact=contact,
    )


@transaction.atomic
def send_reply(
    *,
    ticket: Ticket,
    agent: AbstractBaseUser,
    body: str,
    idempotency_key: str | None = None,
    contact: PortalContact | None = None,
) -> Message:
    """Add an agent reply to the customer's secure thread and push it live. Raises TicketClosed.

    The customer reads it in the portal; it never goes to the social platform. With
    ``contact``, the reply is addressed to that e-mail contact only (``reply_to_contact``
    checks the contact first). The same idempotency key twice gives the first reply back.
    """
    if ticket.is_closed:
        raise TicketClosed(f"ticket {ticket.pk} is closed")
    message, created = _add_agent_message(
        ticket=ticket,
        agent=agent,
        kind=MessageKind.OUTBOUND,
        body=_clean_body(body),
        idempotency_key=idempotency_key,
        contact=contact,
    )
    if not created:
        logger.info("reply resubmitted ticket=%s message=%s", ticket.pk, message.pk)
        return message
    portal.notify_customer_of_reply(message=message)
    logger.info("reply added ticket=%s message=%s agent=%s", ticket.pk, message.pk, agent.pk)
    return message


@transaction.atomic
def add_note(
    *, ticket: Ticket, agent: AbstractBaseUser, body: str, idempotency_key: str | None = None
) -> Message:
    """Add an internal note. Notes reach agents only, never the customer.

    The same idempotency key twice gives the first note back.
    """
    message, created = _add_agent_message(
        ticket=ticket,
        agent=agent,
        kind=MessageKind.NOTE,
        body=_clean_body(body),
        idempotency_key=idempotency_key,
    )
    if not created:
        logger.info("note resubmitted ticket=%s message=%s", ticket.pk, message.pk)
        return message
    logger.info("note added ticket=%s message=%s agent=%s", ticket.pk, message.pk, agent.pk)
    return message


@transaction.atomic
def assign_ticket(
    *, ticket: Ticket, agent: AbstractBaseUser, assignee: AbstractBaseUser | None
) -> Ticket:
    """Assign the ticket to a member of its team, or unassign it (``assignee=None``).

    Raises InvalidAssignee for anyone outside the ticket's team. Broadcasts on commit.
    """
    if (
        assignee is not None
        and not Membership.objects.filter(team_id=ticket.team_id, user_id=assignee.pk).exists()
    ):
        raise InvalidAssignee(f"user {assignee.pk} is not in team {ticket.team_id}")
    ticket.assignee = assignee  # type: ignore[assignment]  # the configured user model
    ticket.save(update_fields=["assignee"])
    audit.record(
        actor=audit.Actor.user(agent.pk),
        action="ticket.assign",
        object_type="ticket",
        object_id=ticket.public_id,
        ticket_public_id=ticket.public_id,
        data={"assignee": assignee.pk if assignee else None},
    )
    _broadcast_ticket_changed(ticket, "assigned")
    logger.info("ticket assigned ticket=%s assignee=%s", ticket.pk, assignee.pk if assignee else 0)
    return ticket


@transaction.atomic
def set_status(*, ticket: Ticket, agent: AbstractBaseUser, status: str) -> Ticket:
    """Move the ticket to ``status``. Raises InvalidStatus. Broadcasts on commit."""
    if status not in TicketStatus.values:
        raise InvalidStatus(f"status {status!r} unknown")
    if status == ticket.status:
        return ticket
    ticket.status = status
    ticket.closed_at = timezone.now() if status == TicketStatus.CLOSED else None
    ticket.save(update_fields=["status", "closed_at"])
    if status == TicketStatus.CLOSED:
        # A closed conversation takes no more reading links, sessions, open sockets or
        # private messages carrying a link.
        portal.revoke_portal_access(
            ticket=ticket, actor=audit.Actor.user(agent.pk), reason="ticket_closed"
        )
    audit.record(
        actor=audit.Actor.user(agent.pk),
        action="ticket.status",
        object_type="ticket",
        object_id=ticket.public_id,
        ticket_public_id=ticket.public_id,
        data={"status": status},
    )
    _broadcast_ticket_changed(ticket, "status")
    logger.info("ticket status ticket=%s status=%s agent=%s", ticket.pk, status, agent.pk)
    return ticket


@transaction.atomic
def mark_read(*, ticket: Ticket, agent: AbstractBaseUser) -> Ticket:
    """Clear the unread marker once an agent has opened the ticket. A no-op when already read."""
    updated = Ticket.objects.filter(pk=ticket.pk, unread_for_agents=True).update(
        unread_for_agents=False
    )
    ticket.unread_for_agents = False
    if updated:
        _broadcast_ticket_changed(ticket, "read")
    return ticket


# --- the customer's links and e-mail contacts (SECURITY-DESIGN.md §1) -----------------------

# How many of the author's newest items are considered for a new private link.
PRIVATE_LINK_CANDIDATES = 20


# Stored on the outbox row in English, like the pipeline's own error texts.
def _lock_for_agent(ticket: Ticket, agent: AbstractBaseUser, *, closed_too: bool = False) -> Ticket:
    """The ticket, row-locked, for an active member of its team.

    Raises TicketNotFound when it was erased meanwhile or is not the agent's (the same error
    as a page would give), TicketClosed when it is closed (unless ``closed_too``).
    """
    locked = Ticket.objects.select_for_update().filter(pk=ticket.pk).first()
    if locked is None or not selectors.agent_can_access_ticket(
        user_id=int(agent.pk), ticket_ref=locked.public_id
    ):
        raise TicketNotFound(f"ticket {ticket.pk} not available to user {agent.pk}")
    if locked.is_closed and not closed_too:
        raise TicketClosed(f"ticket {locked.pk} is closed")
    return locked


@transaction.atomic
def rotate_drop_ref(*, ticket: Ticket, agent: AbstractBaseUser) -> str:
    """Replace the ticket's public drop-box link and return the new one, once.

    The old ``/s/<drop_ref>`` stops working at commit (the same 404 as an unknown link). Haven
    posts the new link nowhere: the agent passes it on privately. Only its hash is stored.
    Audited; broadcasts ids on commit. Raises TicketNotFound, TicketClosed.
    """
    locked = _lock_for_agent(ticket, agent)
    revoked = portal_secrets.revoke_ticket_secrets(ticket=locked, kinds=(SecretKind.DROP,))
    drop_ref = portal_secrets.issue_drop_ref(ticket=locked)
    audit.record(
        actor=audit.Actor.user(agent.pk),
        action="portal.drop_ref_rotate",
        object_type="ticket",
        object_id=locked.public_id,
        ticket_public_id=locked.public_id,
        data={"revoked": revoked},
    )
    _broadcast_ticket_changed(locked, "links")
    logger.info("drop link rotated ticket=%s revoked=%s agent=%s", locked.pk, revoked, agent.pk)
    return portal_secrets.drop_link(drop_ref)


@dataclass(frozen=True, slots=True)
class PrivateLinkRoute:
    """Where a new private link could go: the author's item to answer privately, or why not.

    ``reason`` is a sentence for the agent (translated), empty when a route exists.
    ``once_per_item``: the platform allows one private message per item (Facebook comments),
    so the new link takes the item's own outbox slot instead of a new one.
    """

    inbound: InboundMessage | None
    reason: str = ""
    once_per_item: bool = False
    cost_usd: float = 0.0

    @property
    def possible(self) -> bool:
        return self.inbound is not None


def _private_messages_used(inbound: InboundMessage) -> int:
    # Failed and cancelled rows never reached the customer; unknown ones may have.
    return (
        OutboxAction.objects.filter(inbound=inbound, kind=OutboxKind.PRIVATE_MESSAGE)
        .exclude(state__in=(OutboxState.FAILED, OutboxState.CANCELLED))
        .count()
    )


def private_link_route(*, ticket: Ticket) -> PrivateLinkRoute:
    """Whether the platform lets Haven send the social author a new private link, and where.

    Facebook: a Private Reply to one of the author's comments (one per comment, within 7 days)
    or a Messenger reply within 7 days. X: only into a direct-message conversation the author
    started (SECURITY-DESIGN.md §1). The channel must be on, its policy must send private
    links, and observe mode never acts. Reads only; builds the channel's connector (no
    network call).
    """
    channel = ticket.channel
    if channel is None:
        return PrivateLinkRoute(None, _("This conversation did not come from a social platform."))
    if ticket.is_closed:
        return PrivateLinkRoute(None, _("The conversation is closed."))
    if channel.status != ChannelStatus.ACTIVE:
        return PrivateLinkRoute(
            None, _("The channel is not switched on, so Haven cannot send anything through it.")
        )
    policy = ChannelPolicy.objects.filter(channel=channel).first()
    if policy is None or policy.mode == PolicyMode.OBSERVE:
        return PrivateLinkRoute(
            None, _("The channel only observes: Haven takes no action on the platform.")
        )
    if not policy.send_private_link:
        return PrivateLinkRoute(None, _("The channel's policy does not send private links."))
    candidates = InboundMessage.objects.filter(
        ticket=ticket,
        channel=channel,
        status=InboundStatus.PROCESSED,  # not erased items, which are husks
        from_self=False,
        author_external_id=ticket.author_external_id,
    ).exclude(author_external_id="")
    if channel.platform == Platform.X:
        candidates = candidates.filter(kind=ItemKind.DM)
    found = list(candidates.order_by("-platform_created_at", "-id")[:PRIVATE_LINK_CANDIDATES])
    if not found:
        if channel.platform == Platform.X:
            return PrivateLinkRoute(
                None,
                _(
                    "On X, Haven sends a private link only into a direct-message conversation, "
                    "and this customer has not written to the channel by direct message."
                ),
            )
        return PrivateLinkRoute(
            None, _("There is no message from this customer that Haven could answer privately.")
        )
    try:
        connector = connector_for(channel)
    except (BridgeError, ValueError, vault.DecryptionError):
        return PrivateLinkRoute(None, _("The channel's credentials are incomplete."))
    now = timezone.now()
    reason = ""
    for inbound in found:
        caps = connector.capabilities_for(item_from_inbound(inbound), now=now)
        if not caps.send_private:
            reason = reason or _(
                "The platform allows a private message only for a limited time after the "
                "customer's message (Facebook: 7 days), and that time has passed."
            )
            continue
        if caps.private_limit is not None and _private_messages_used(inbound) >= caps.private_limit:
            reason = reason or _(
                "Facebook allows one private reply per comment, and the customer's comments "
                "have had theirs."
            )
            continue
        return PrivateLinkRoute(
            inbound,
            once_per_item=caps.private_limit is not None,
            cost_usd=caps.private_cost_usd or 0.0,
        )
    return PrivateLinkRoute(None, reason)


def _broadcast_action(ticket: Ticket, action_ref: uuid.UUID, state: str) -> None:
    events.broadcast_on_commit(
        events.ticket_agents_group(ticket.public_id),
        events.action_changed(
            ticket_public_id=ticket.public_id, action_public_id=action_ref, status=state
        ),
    )


def new_private_link_text(*, ticket: Ticket, channel: Channel, inbound: InboundMessage) -> str:
    """Issue a new read secret for the ticket; return the private message that carries it.

    The secret lives as long as the platform lets the author answer privately: 7 days for a
    Facebook Private Reply, else 24 hours. Only its hash is stored; the text must go into an
    encrypted outbox payload, nowhere else.
    """
    ttl = (
        portal_secrets.READ_TTL_FACEBOOK_PRIVATE_REPLY
        if channel.platform == Platform.FACEBOOK and inbound.kind != ItemKind.DM
        else portal_secrets.READ_TTL_DEFAULT
    )
    secret = portal_secrets.issue_read_secret(ticket=ticket, ttl=ttl)
    return policies.private_text(
        language=ticket.language or "en", link=portal_secrets.read_link(secret)
    )


def _queue_private_link(*, ticket: Ticket, route: PrivateLinkRoute) -> OutboxAction:
    """Issue a read secret and queue the private message that carries it (sent on commit)."""
    inbound = route.inbound
    channel = ticket.channel
    if inbound is None or channel is None:
        raise PrivateLinkUnavailable(f"ticket {ticket.pk} has no private route")
    text = new_private_link_text(ticket=ticket, channel=channel, inbound=inbound)
    target = inbound.platform_message_id.split("#", 1)[0]
    action: OutboxAction | None = None
    if route.once_per_item:
        # The item's one private slot (unique per kind, channel and target) is free again only
        # when its earlier row failed or was cancelled: reuse that row.
        action = (
            OutboxAction.objects.select_for_update()
            .filter(kind=OutboxKind.PRIVATE_MESSAGE, channel=channel, target_external_id=target)
            .first()
        )
        if action is not None and action.state not in (OutboxState.FAILED, OutboxState.CANCELLED):
            raise PrivateLinkUnavailable(f"action {action.pk} already holds the private slot")
    else:
        # Direct messages allow more than one: each new link gets its own outbox key.
        used = OutboxAction.objects.filter(
            kind=OutboxKind.PRIVATE_MESSAGE,
            channel=channel,
            target_external_id__startswith=f"{target}#link-",
        ).count()
        target = f"{target}#link-{used + 1}"
    if action is None:
        action = OutboxAction(
            kind=OutboxKind.PRIVATE_MESSAGE,
            channel=channel,
            target_external_id=target,
            ticket=ticket,
            inbound=inbound,
            estimated_cost_usd=Decimal(str(round(route.cost_usd, 4))),
        )
        action.full_clean(
            exclude=["ticket", "channel", "inbound", "payload_ciphertext"],
            validate_unique=False,
            validate_constraints=False,
        )
    action.state = OutboxState.PENDING
    action.attempts = 0
    action.claimed_at = None
    action.next_attempt_at = None
    action.last_error_code = ""
    action.last_error_message = ""
    action.external_result_id = ""
    action.payload_ciphertext = vault.encrypt(ticket, action, "payload", text)
    action.save()
    _broadcast_action(ticket, action.public_id, action.state)
    enqueue_on_commit("perform_action", action_id=action.pk)
    return action


@dataclass(frozen=True, slots=True)
class AccessEnded:
    sessions: int
    cancelled: int
    action: OutboxAction | None


@transaction.atomic
def end_portal_access(
    *, ticket: Ticket, agent: AbstractBaseUser, send_new_link: bool = False
) -> AccessEnded:
    """End every way into the customer's thread; optionally send the author a new private link.

    Revokes the ticket's read and magic secrets and portal grants (open portal sockets close
    on commit), and cancels private messages not yet sent (their link is dead). With
    ``send_new_link``, issues a new read secret and queues it through the outbox to the
    platform's private channel; when the platform allows no such message, raises
    PrivateLinkUnavailable and changes nothing. Without a new link, "Sign in with X" is off
    for the ticket until a later new link. Audited. Raises TicketNotFound, TicketClosed.
    """
    locked = _lock_for_agent(ticket, agent)
    route = private_link_route(ticket=locked) if send_new_link else None
    if route is not None and not route.possible:
        raise PrivateLinkUnavailable(f"ticket {locked.pk} has no private route")
    actor = audit.Actor.user(agent.pk)
    revoked = portal.revoke_portal_access(ticket=locked, actor=actor, reason="agent")
    sessions, cancelled = revoked.sessions, revoked.cancelled
    action = _queue_private_link(ticket=locked, route=route) if route is not None else None
    # Without a new link nothing proves the author is still the right reader: "Sign in with
    # X" stays off until an agent sends one. With it, the link goes to that account anyway.
    locked.portal_access_ended_at = None if action is not None else timezone.now()
    locked.save(update_fields=["portal_access_ended_at"])
    audit.record(
        actor=actor,
        action="portal.access_end",
        object_type="ticket",
        object_id=locked.public_id,
        ticket_public_id=locked.public_id,
        data={
            "sessions": sessions,
            "cancelled": cancelled,
            "new_link_action": str(action.public_id) if action else None,
        },
    )
    _broadcast_ticket_changed(locked, "access")
    logger.info(
        "portal access ended ticket=%s sessions=%s cancelled=%s new_link=%s agent=%s",
        locked.pk,
        sessions,
        cancelled,
        action.pk if action else 0,
        agent.pk,
    )
    return AccessEnded(sessions=sessions, cancelled=cancelled, action=action)


def _lock_contact(ticket: Ticket, contact: PortalContact) -> PortalContact:
    current = PortalContact.objects.select_for_update().filter(pk=contact.pk, ticket=ticket).first()
    if current is None:
        # Erased with its subject, or never on this ticket: the same answer as a foreign id.
        raise TicketNotFound(f"contact {contact.pk} not on ticket {ticket.pk}")
    if current.verified_at is None:
        raise ContactNotVerified(f"contact {current.pk} not verified")
    return current


@transaction.atomic
def reply_to_contact(
    *,
    ticket: Ticket,
    agent: AbstractBaseUser,
    contact: PortalContact,
    body: str,
    idempotency_key: str | None = None,
) -> Message:
    """A reply addressed to one confirmed e-mail contact: only that contact reads it, never
    the social author. The contact gets an e-mail notice (no text) on commit.

    Raises TicketNotFound, TicketClosed, ContactNotVerified, EmptyMessage.
    """
    locked = _lock_for_agent(ticket, agent)
    current = _lock_contact(locked, contact)
    return portal.send_reply_to_contact(
        ticket=locked,
        agent=agent,
        contact=current,
        body=_clean_body(body),
        idempotency_key=idempotency_key,
    )


@transaction.atomic
def link_contact_to_author(
    *, ticket: Ticket, agent: AbstractBaseUser, contact: PortalContact
) -> PortalContact:
    """Record the agent's judgement that a confirmed e-mail contact is the social author.

    From then on the contact reads the author's whole thread too (SECURITY-DESIGN.md §1,
    rule 4); the author still sees nothing addressed to the contact. Audited; linking twice
    changes nothing. Raises TicketNotFound, TicketClosed, ContactNotVerified.
    """
    locked = _lock_for_agent(ticket, agent)
    current = _lock_contact(locked, contact)
    if current.linked_at is None:
        _change_link(locked, current, agent, linked=True)
    return current


@transaction.atomic
def unlink_contact_from_author(
    *, ticket: Ticket, agent: AbstractBaseUser, contact: PortalContact
) -> PortalContact:
    """Undo ``link_contact_to_author``: an agent's mistake must not keep the thread open.

    The contact reads only its own messages and the replies addressed to it again, and its
    open thread pages reload on commit; what it already read cannot be taken back. Allowed on
    a closed ticket too (taking access away always is). Audited; unlinking an unlinked contact
    changes nothing. Raises TicketNotFound, ContactNotVerified.
    """
    locked = _lock_for_agent(ticket, agent, closed_too=True)
    current = _lock_contact(locked, contact)
    if current.linked_at is not None:
        _change_link(locked, current, agent, linked=False)
    return current


def _change_link(
    ticket: Ticket, contact: PortalContact, agent: AbstractBaseUser, *, linked: bool
) -> None:
    """Set or clear the contact's link to the social author: saved, audited, broadcast."""
    contact.linked_at = timezone.now() if linked else None
    contact.linked_by = agent if linked else None  # type: ignore[assignment]  # the user model
    contact.save(update_fields=["linked_at", "linked_by"])
    audit.record(
        actor=audit.Actor.user(agent.pk),
        action="portal.contact_link" if linked else "portal.contact_unlink",
        object_type="portal_contact",
        object_id=contact.public_id,
        ticket_public_id=ticket.public_id,
        data={"linked_to" if linked else "unlinked_from": "social_author"},
    )
    _broadcast_ticket_changed(ticket, "contacts")
    events.broadcast_on_commit(
        events.ticket_customer_group(ticket.public_id),
        events.contact_access_changed(
            ticket_public_id=ticket.public_id, contact_public_id=contact.public_id
        ),
    )
    logger.info(
        "contact link changed ticket=%s contact=%s linked=%s agent=%s",
        ticket.pk,
        contact.pk,
        linked,
        agent.pk,
    )


def fill_canned_reply(*, canned: CannedReply, ticket: Ticket) -> str:
    """The canned body with ``{ref}`` replaced literally: nothing in it is ever evaluated."""
    return canned.body.replace("{ref}", ticket.reference)


@transaction.atomic
def create_canned_reply(
    *, team: Team, agent: AbstractBaseUser, title: str, body: str
) -> CannedReply:
    """Save a reply text for the team. Raises DuplicateCannedReply for a title already used."""
    canned = CannedReply(
        team=team,
        title=title.strip(),
        body=_clean_body(body),
        created_by=agent,  # type: ignore[misc]  # the configured user model
    )
    canned.full_clean(exclude=["team", "created_by"], validate_unique=False)
    try:
        with transaction.atomic():
            canned.save()
    except IntegrityError as exc:
        raise DuplicateCannedReply(f"team {team.pk} title taken") from exc
    logger.info("canned reply created team=%s canned=%s", team.pk, canned.pk)
    return canned


@transaction.atomic
def delete_canned_reply(*, canned: CannedReply, agent: AbstractBaseUser) -> None:
    """Delete a team's canned reply."""
    logger.info("canned reply deleted canned=%s agent=%s", canned.pk, agent.pk)
    canned.delete()


@transaction.atomic
def start_totp_enrolment(*, user: AbstractBaseUser) -> TOTPDevice:
    """The user's unconfirmed authenticator device, created on first use (idempotent)."""
    device = TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


@transaction.atomic
def confirm_totp_enrolment(*, user: AbstractBaseUser, token: str) -> TOTPDevice:
    """Confirm the pending device with a code it generated. Raises InvalidToken."""
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user_id=user.pk, confirmed=False)
        .order_by("id")
        .first()
    )
    if device is None or not device.verify_token(token):
        raise InvalidToken(f"totp enrolment failed user={user.pk}")
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit.record(
        actor=audit.Actor.user(user.pk),
        action="auth.totp_enrolled",
        object_type="user",
        object_id=user.pk,
    )
    logger.info("totp enrolled user=%s", user.pk)
    return device
