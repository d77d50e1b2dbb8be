"""What agents do to a ticket: reply, note, assign, change status, mark read; canned replies.

Callers have already checked access through ``inbox.selectors``. Replies go to the customer's
secure thread only; nothing here posts to a social platform.
"""

from __future__ import annotations

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from inbox import audit, events
from inbox.exceptions import (
    DuplicateCannedReply,
    EmptyMessage,
    InvalidAssignee,
    InvalidStatus,
    InvalidToken,
    TicketClosed,
)
from inbox.models import (
    CannedReply,
    Membership,
    Message,
    MessageKind,
    MessageSource,
    Team,
    Ticket,
    TicketStatus,
)
from inbox.services import portal
from inbox.services.threads import add_message

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


@transaction.atomic
def send_reply(
    *, ticket: Ticket, agent: AbstractBaseUser, body: str, idempotency_key: str | None = None
) -> Message:
    """Add an agent reply to the customer's secure thread and push it live. Raises TicketClosed.

    The customer reads it in the portal; it never goes to the social platform.
    """
    if ticket.is_closed:
        raise TicketClosed(f"ticket {ticket.pk} is closed")
    message = add_message(
        ticket=ticket,
        kind=MessageKind.OUTBOUND,
        source=MessageSource.AGENT,
        body=_clean_body(body),
        author=agent,
        idempotency_key=idempotency_key,
    )
    portal.notify_customer_of_reply(message=message)
    logger.info("reply added ticket=%s message=%s agent=%s", ticket.pk, message.pk, agent.pk)
    return message


@transaction.atomic
def add_note(
    *, ticket: Ticket, agent: AbstractBaseUser, body: str, idempotency_key: str | None = None
) -> Message:
    """Add an internal note. Notes reach agents only, never the customer."""
    message = add_message(
        ticket=ticket,
        kind=MessageKind.NOTE,
        source=MessageSource.AGENT,
        body=_clean_body(body),
        author=agent,
        idempotency_key=idempotency_key,
    )
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
        # A closed conversation takes no more reading links, sessions or open sockets.
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
