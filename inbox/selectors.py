"""Reads, and the only place that decides who may see what."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from inbox.exceptions import TicketNotFound
from inbox.models import Team, Ticket


def teams_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Team]:
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user_id=user.pk)


def tickets_for_agent(*, agent: AbstractBaseUser | AnonymousUser) -> QuerySet[Ticket]:
    """The tickets of the agent's teams, newest activity first."""
    return (
        Ticket.objects.filter(team__in=teams_for(agent))
        .select_related("channel", "assignee", "team")
        .order_by("-last_activity_at", "-id")
    )


def get_ticket_for_agent(
    *, agent: AbstractBaseUser | AnonymousUser, ticket_ref: uuid.UUID
) -> Ticket:
    """One ticket of the agent's teams. Raises TicketNotFound for missing and for not-yours."""
    ticket = tickets_for_agent(agent=agent).filter(public_id=ticket_ref).first()
    if ticket is None:
        raise TicketNotFound(f"ticket {ticket_ref} not visible to user {agent.pk}")
    return ticket
