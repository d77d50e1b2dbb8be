"""Agent services: replies, notes, assignment, status, read markers, canned replies, TOTP."""

from __future__ import annotations

import pytest
from django_otp.oath import totp

from inbox import events, services
from inbox.exceptions import TicketClosed
from inbox.models import AuditEvent, CannedReply, Message, Ticket, TicketStatus
from inbox.services.agent import (
    DuplicateCannedReply,
    EmptyMessage,
    InvalidAssignee,
    InvalidStatus,
    InvalidToken,
)
from tests import factories

pytestmark = pytest.mark.django_db


def test_send_reply_adds_outbound_agent_message(agent: factories.User, ticket: Ticket) -> None:
    message = services.send_reply(ticket=ticket, agent=agent, body="  On it  ")

    assert (message.kind, message.source, message.author_id) == ("outbound", "agent", agent.pk)
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_send_reply_refuses_closed_ticket(agent: factories.User, ticket: Ticket) -> None:
    ticket.status = TicketStatus.CLOSED

    with pytest.raises(TicketClosed):
        services.send_reply(ticket=ticket, agent=agent, body="hello")


def test_send_reply_refuses_empty_body(agent: factories.User, ticket: Ticket) -> None:
    with pytest.raises(EmptyMessage):
        services.send_reply(ticket=ticket, agent=agent, body="\x00  ")


def test_add_note_broadcasts_to_agents_only(
    agent: factories.User,
    ticket: Ticket,
    django_capture_on_commit_callbacks: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[str] = []
    monkeypatch.setattr(events, "send_now", lambda group, event: sent.append(group))

    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        services.add_note(ticket=ticket, agent=agent, body="internal")

    assert sent
    assert not [g for g in sent if g.startswith("customer.")]


def test_assign_ticket_to_member_records_audit(
    agent: factories.User, team: factories.Team, ticket: Ticket
) -> None:
    colleague = factories.agent_of(team)

    services.assign_ticket(ticket=ticket, agent=agent, assignee=colleague)

    ticket.refresh_from_db()
    assert ticket.assignee_id == colleague.pk
    assert AuditEvent.objects.filter(action="ticket.assign").exists()


def test_assign_ticket_refuses_non_member(agent: factories.User, ticket: Ticket) -> None:
    stranger = factories.agent_of(factories.TeamFactory())

    with pytest.raises(InvalidAssignee):
        services.assign_ticket(ticket=ticket, agent=agent, assignee=stranger)


def test_assign_ticket_none_unassigns(agent: factories.User, ticket: Ticket) -> None:
    services.assign_ticket(ticket=ticket, agent=agent, assignee=agent)

    services.assign_ticket(ticket=ticket, agent=agent, assignee=None)

    ticket.refresh_from_db()
    assert ticket.assignee_id is None


def test_set_status_closed_sets_closed_at(agent: factories.User, ticket: Ticket) -> None:
    services.set_status(ticket=ticket, agent=agent, status="closed")

    ticket.refresh_from_db()
    assert ticket.status == "closed"
    assert ticket.closed_at is not None


def test_set_status_refuses_unknown(agent: factories.User, ticket: Ticket) -> None:
    with pytest.raises(InvalidStatus):
        services.set_status(ticket=ticket, agent=agent, status="nope")


def test_mark_read_clears_unread_once(
    agent: factories.User,
    ticket: Ticket,
    django_capture_on_commit_callbacks: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[str] = []
    monkeypatch.setattr(events, "send_now", lambda group, event: sent.append(event["type"]))

    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        services.mark_read(ticket=ticket, agent=agent)
    first = len(sent)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        services.mark_read(ticket=ticket, agent=agent)

    ticket.refresh_from_db()
    assert not ticket.unread_for_agents
    assert first == len(sent) == 2  # team + ticket group, and nothing for the no-op


def test_fill_canned_reply_substitutes_literally(
    agent: factories.User, team: factories.Team, ticket: Ticket
) -> None:
    canned = services.create_canned_reply(
        team=team, agent=agent, title="Ref", body="Ref {ref} {0} {ticket.team} %(x)s"
    )

    text = services.fill_canned_reply(canned=canned, ticket=ticket)

    assert text == f"Ref {ticket.reference} {{0}} {{ticket.team}} %(x)s"


def test_create_canned_reply_refuses_duplicate_title(
    agent: factories.User, team: factories.Team
) -> None:
    services.create_canned_reply(team=team, agent=agent, title="Hi", body="a")

    with pytest.raises(DuplicateCannedReply):
        services.create_canned_reply(team=team, agent=agent, title="Hi", body="b")

    assert CannedReply.objects.count() == 1


def test_totp_enrolment_is_idempotent_and_confirms_with_valid_code(agent: factories.User) -> None:
    device = services.start_totp_enrolment(user=agent)
    assert services.start_totp_enrolment(user=agent).pk == device.pk
    token = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"

    confirmed = services.confirm_totp_enrolment(user=agent, token=token)

    assert confirmed.confirmed


def test_totp_enrolment_refuses_wrong_code(agent: factories.User) -> None:
    services.start_totp_enrolment(user=agent)

    with pytest.raises(InvalidToken):
        services.confirm_totp_enrolment(user=agent, token="000000")
