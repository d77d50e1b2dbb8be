"""Agent services: replies, notes, assignment, status, read markers, the customer's links and
e-mail contacts, canned replies, TOTP."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core import mail
from django.core.cache import cache
from django.utils import timezone
from django_otp.oath import totp

from channels_bridge.simulator import RunningSimulator
from inbox import audit, events, portal_selectors, services, vault
from inbox.exceptions import (
    ContactNotVerified,
    LinkExpired,
    PrivateLinkUnavailable,
    TicketClosed,
    TicketNotFound,
)
from inbox.models import (
    AuditEvent,
    CannedReply,
    Channel,
    ChannelPolicy,
    ChannelStatus,
    ContactMessage,
    InboundMessage,
    Message,
    OutboxAction,
    OutboxKind,
    OutboxState,
    PolicyMode,
    PortalContact,
    PortalSecret,
    SecretKind,
    Ticket,
    TicketStatus,
)
from inbox.services import pipeline, portal, secrets, threads
from inbox.services.agent import (
    DuplicateCannedReply,
    EmptyMessage,
    InvalidAssignee,
    InvalidStatus,
    InvalidToken,
)
from inbox.services.erasure import erase_ticket
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


def test_send_reply_same_key_twice_makes_one_message(agent: factories.User, ticket: Ticket) -> None:
    key = "5f0e7a52-3c1d-4b8e-9a51-0c2d7e6f1a93"

    first = services.send_reply(ticket=ticket, agent=agent, body="Once", idempotency_key=key)
    second = services.send_reply(ticket=ticket, agent=agent, body="Once", idempotency_key=key)

    assert first.pk == second.pk
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_send_reply_same_key_when_concurrent_submit_won_returns_its_message(
    agent: factories.User, ticket: Ticket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other submit commits between this one's look-up and its insert."""
    key = "race-key"
    first = services.send_reply(ticket=ticket, agent=agent, body="Once", idempotency_key=key)
    real_lookup = threads._message_with_key
    lookups: list[str] = []

    def lookup_before_winner_committed(t: Ticket, stored_key: str) -> Message | None:
        lookups.append(stored_key)
        return None if len(lookups) == 1 else real_lookup(t, stored_key)

    monkeypatch.setattr(threads, "_message_with_key", lookup_before_winner_committed)

    second = services.send_reply(ticket=ticket, agent=agent, body="Once", idempotency_key=key)

    assert second.pk == first.pk
    assert len(lookups) == 2
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_send_reply_resubmit_notifies_the_contact_once(
    agent: factories.User, ticket: Ticket, django_capture_on_commit_callbacks: CommitRunner
) -> None:
    contact = _contact(ticket)

    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            services.reply_to_contact(
                ticket=ticket, agent=agent, contact=contact, body="Once", idempotency_key="k-1"
            )

    assert len(mail.outbox) == 1


def test_add_note_same_key_twice_makes_one_note(agent: factories.User, ticket: Ticket) -> None:
    first = services.add_note(ticket=ticket, agent=agent, body="Once", idempotency_key="k-1")
    second = services.add_note(ticket=ticket, agent=agent, body="Once", idempotency_key="k-1")

    assert first.pk == second.pk
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_same_client_key_for_reply_note_and_contact_reply_makes_three_messages(
    agent: factories.User, ticket: Ticket
) -> None:
    """A key reused across forms never hands back (or re-addresses) another form's message."""
    contact = _contact(ticket)

    reply = services.send_reply(ticket=ticket, agent=agent, body="To all", idempotency_key="k-1")
    note = services.add_note(ticket=ticket, agent=agent, body="Internal", idempotency_key="k-1")
    to_contact = services.reply_to_contact(
        ticket=ticket, agent=agent, contact=contact, body="To one", idempotency_key="k-1"
    )

    assert len({reply.pk, note.pk, to_contact.pk}) == 3
    assert not ContactMessage.objects.filter(message=reply).exists()
    assert ContactMessage.objects.get(message=to_contact).contact_id == contact.pk


def test_send_reply_same_key_from_another_agent_makes_its_own_message(
    agent: factories.User, team: factories.Team, ticket: Ticket
) -> None:
    colleague = factories.agent_of(team)

    mine = services.send_reply(ticket=ticket, agent=agent, body="Noted", idempotency_key="k-1")
    theirs = services.send_reply(
        ticket=ticket, agent=colleague, body="Noted", idempotency_key="k-1"
    )

    assert mine.pk != theirs.pk
    assert theirs.author_id == colleague.pk


def test_send_reply_same_key_with_another_text_is_a_new_reply(
    agent: factories.User, ticket: Ticket
) -> None:
    """A page the browser restored (Back button) sends its old key with a new text."""
    first = services.send_reply(ticket=ticket, agent=agent, body="First", idempotency_key="k-2")
    second = services.send_reply(ticket=ticket, agent=agent, body="Second", idempotency_key="k-2")
    again = services.send_reply(ticket=ticket, agent=agent, body="Second", idempotency_key="k-2")

    assert first.pk != second.pk
    assert again.pk == second.pk
    assert Message.objects.filter(ticket=ticket, author=agent).count() == 2


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


# --- the customer's links and e-mail contacts ----------------------------------------------

SOCIAL_EMAIL_TEXT = "Order missing, mail me at lena.park@example.invalid"
CONTACT_EMAIL = "kim.muster@example.invalid"
CommitRunner = Callable[..., object]


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    cache.clear()  # portal rate limits live in the cache
    yield
    cache.clear()


def _session() -> SessionStore:
    session = SessionStore()
    session.create()
    return session


def _contact(ticket: Ticket, email: str = CONTACT_EMAIL, *, verified: bool = True) -> PortalContact:
    contact = PortalContact(
        ticket=ticket,
        email_digest=vault.blind_index("email", email),
        verified_at=timezone.now() if verified else None,
    )
    contact.email_ciphertext = vault.encrypt(ticket, contact, "email", email)
    contact.save()
    return contact


def _poll(channel: Channel, capture: CommitRunner) -> None:
    Channel.objects.filter(pk=channel.pk).update(next_poll_at=None)
    with capture(execute=True):
        pipeline.poll_channel(channel_id=channel.pk)


def _secret_in(text: str) -> str:
    return text.split("/r/#t=", 1)[1].split()[0].rstrip(".")


def test_rotate_drop_ref_kills_old_link_and_returns_new_one(
    agent: factories.User, ticket: Ticket
) -> None:
    old = secrets.issue_drop_ref(ticket=ticket)

    link = services.rotate_drop_ref(ticket=ticket, agent=agent)

    new = link.rsplit("/s/", 1)[1]
    assert new != old
    assert portal_selectors.drop_box_ticket(drop_ref=new) == ticket
    with pytest.raises(LinkExpired):
        portal_selectors.drop_box_ticket(drop_ref=old)
    event = AuditEvent.objects.get(action="portal.drop_ref_rotate")
    assert (event.actor_id, event.data) == (str(agent.pk), {"revoked": 1})
    assert new not in json.dumps(list(AuditEvent.objects.values("data")), default=str)


def test_rotate_drop_ref_broadcasts_ids_only_to_agents(
    agent: factories.User,
    ticket: Ticket,
    django_capture_on_commit_callbacks: CommitRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr(events, "send_now", lambda group, event: sent.append((group, event)))

    with django_capture_on_commit_callbacks(execute=True):
        link = services.rotate_drop_ref(ticket=ticket, agent=agent)

    assert sent
    assert all(group.startswith("agents.") for group, _ in sent)
    assert link.rsplit("/", 1)[1] not in json.dumps(sent)


def test_rotate_drop_ref_refuses_closed_ticket(agent: factories.User, ticket: Ticket) -> None:
    old = secrets.issue_drop_ref(ticket=ticket)
    Ticket.objects.filter(pk=ticket.pk).update(status=TicketStatus.CLOSED)

    with pytest.raises(TicketClosed):
        services.rotate_drop_ref(ticket=ticket, agent=agent)

    assert PortalSecret.objects.get(kind=SecretKind.DROP).secret_hash == vault.secret_hash(
        SecretKind.DROP, old
    )
    assert PortalSecret.objects.filter(kind=SecretKind.DROP, revoked_at__isnull=True).count() == 1


def test_rotate_drop_ref_refuses_agent_of_another_team(ticket: Ticket) -> None:
    stranger = factories.agent_of(factories.TeamFactory())
    secrets.issue_drop_ref(ticket=ticket)

    with pytest.raises(TicketNotFound):
        services.rotate_drop_ref(ticket=ticket, agent=stranger)

    assert PortalSecret.objects.filter(kind=SecretKind.DROP, revoked_at__isnull=True).count() == 1


def test_rotate_drop_ref_refuses_erased_ticket(agent: factories.User, ticket: Ticket) -> None:
    erase_ticket(ticket=ticket, actor=audit.Actor.user(agent.pk))

    with pytest.raises(TicketNotFound):
        services.rotate_drop_ref(ticket=ticket, agent=agent)

    assert not PortalSecret.objects.exists()


def test_end_portal_access_revokes_secrets_and_sessions(
    agent: factories.User, ticket: Ticket
) -> None:
    session = _session()
    portal.exchange_read_secret(session=session, secret=secrets.issue_read_secret(ticket=ticket))
    unused = secrets.issue_read_secret(ticket=ticket)
    drop_ref = secrets.issue_drop_ref(ticket=ticket)

    ended = services.end_portal_access(ticket=ticket, agent=agent)

    assert (ended.sessions, ended.action) == (1, None)
    with pytest.raises(TicketNotFound):
        portal_selectors.access_from_session(session)
    with pytest.raises(LinkExpired):
        portal.exchange_read_secret(session=_session(), secret=unused)
    assert portal_selectors.drop_box_ticket(drop_ref=drop_ref) == ticket  # the write link stays
    event = AuditEvent.objects.get(action="portal.access_end")
    assert event.actor_id == str(agent.pk)
    assert event.data["sessions"] == 1


def test_end_portal_access_closes_customer_sockets_on_commit(
    agent: factories.User,
    ticket: Ticket,
    django_capture_on_commit_callbacks: CommitRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr(events, "send_now", lambda group, event: sent.append((group, event)))

    with django_capture_on_commit_callbacks(execute=True):
        services.end_portal_access(ticket=ticket, agent=agent)

    customer = [e for g, e in sent if g == events.ticket_customer_group(ticket.public_id)]
    assert customer == [{"type": "session.revoked", "ticket": str(ticket.public_id)}]


def test_end_portal_access_cancels_unsent_private_messages(
    agent: factories.User, ticket: Ticket
) -> None:
    pending = ticket.actions.create(
        channel=ticket.channel,
        kind=OutboxKind.PRIVATE_MESSAGE,
        target_external_id="900",
        payload_ciphertext=b"x",
    )

    ended = services.end_portal_access(ticket=ticket, agent=agent)

    pending.refresh_from_db()
    assert ended.cancelled == 1
    assert (pending.state, pending.payload_ciphertext) == (OutboxState.CANCELLED, None)


def test_closing_a_ticket_cancels_unsent_private_messages(
    agent: factories.User, ticket: Ticket
) -> None:
    pending = ticket.actions.create(
        channel=ticket.channel,
        kind=OutboxKind.PRIVATE_MESSAGE,
        target_external_id="901",
        payload_ciphertext=b"x",
    )

    services.set_status(ticket=ticket, agent=agent, status=TicketStatus.CLOSED)

    pending.refresh_from_db()
    assert (pending.state, pending.payload_ciphertext) == (OutboxState.CANCELLED, None)


def test_end_portal_access_refuses_closed_ticket(agent: factories.User, ticket: Ticket) -> None:
    secrets.issue_read_secret(ticket=ticket)
    Ticket.objects.filter(pk=ticket.pk).update(status=TicketStatus.CLOSED)

    with pytest.raises(TicketClosed):
        services.end_portal_access(ticket=ticket, agent=agent)

    assert PortalSecret.objects.get(kind=SecretKind.READ).revoked_at is None


def test_end_portal_access_refuses_agent_of_another_team(ticket: Ticket) -> None:
    stranger = factories.agent_of(factories.TeamFactory())
    session = _session()
    portal.exchange_read_secret(session=session, secret=secrets.issue_read_secret(ticket=ticket))

    with pytest.raises(TicketNotFound):
        services.end_portal_access(ticket=ticket, agent=stranger)

    assert portal_selectors.access_from_session(session).ticket == ticket


def test_end_portal_access_refuses_erased_ticket(agent: factories.User, ticket: Ticket) -> None:
    erase_ticket(ticket=ticket, actor=audit.Actor.user(agent.pk))

    with pytest.raises(TicketNotFound):
        services.end_portal_access(ticket=ticket, agent=agent, send_new_link=True)

    assert not AuditEvent.objects.filter(action="portal.access_end").exists()


def test_end_portal_access_with_new_link_refused_without_platform_changes_nothing(
    agent: factories.User, ticket: Ticket
) -> None:
    secrets.issue_read_secret(ticket=ticket)  # the factory ticket has no platform item at all

    with pytest.raises(PrivateLinkUnavailable):
        services.end_portal_access(ticket=ticket, agent=agent, send_new_link=True)

    assert PortalSecret.objects.get(kind=SecretKind.READ).revoked_at is None
    assert not OutboxAction.objects.exists()


# --- a new private link through the platform (real connectors against the simulator) ------


def test_new_private_link_goes_into_the_x_dm_conversation_and_old_link_dies(
    agent: factories.User,
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    simulator.sim.customer_x_dm(f"Hi, my mail is {CONTACT_EMAIL}", customer="tom")
    _poll(x_channel, django_capture_on_commit_callbacks)
    ticket = Ticket.objects.get()
    first = _secret_in(str(simulator.sim.snapshot()["x"]["dms_sent"][0]["text"]))

    with django_capture_on_commit_callbacks(execute=True):
        ended = services.end_portal_access(ticket=ticket, agent=agent, send_new_link=True)

    dms = simulator.sim.snapshot()["x"]["dms_sent"]
    assert len(dms) == 2
    second = _secret_in(str(dms[1]["text"]))
    assert ended.action is not None
    ended.action.refresh_from_db()
    assert ended.action.state == OutboxState.SENT
    assert ended.action.payload_ciphertext is None
    with pytest.raises(LinkExpired):
        portal.exchange_read_secret(session=_session(), secret=first)
    assert portal.exchange_read_secret(session=_session(), secret=second) == ticket
    assert simulator.sim.snapshot()["x"]["replies"] == []  # nothing public


def test_new_private_link_lets_the_author_sign_in_with_x_again(
    agent: factories.User,
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    simulator.sim.customer_x_dm(f"Hi, my mail is {CONTACT_EMAIL}", customer="tom")
    _poll(x_channel, django_capture_on_commit_callbacks)
    ticket = Ticket.objects.get()

    services.end_portal_access(ticket=ticket, agent=agent)
    ticket.refresh_from_db()
    ended_at = ticket.portal_access_ended_at
    with django_capture_on_commit_callbacks(execute=True):
        services.end_portal_access(ticket=ticket, agent=agent, send_new_link=True)
    ticket.refresh_from_db()

    assert ended_at is not None
    assert ticket.portal_access_ended_at is None


def test_private_link_route_on_x_needs_a_dm_conversation(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    simulator.sim.customer_x_mention("call me on +49 151 23456789", customer="tom")
    _poll(x_channel, django_capture_on_commit_callbacks)

    route = services.private_link_route(ticket=Ticket.objects.get())

    assert not route.possible
    assert "direct-message conversation" in route.reason


def test_new_private_link_goes_to_a_facebook_comment_without_a_private_reply(
    agent: factories.User,
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    first = simulator.sim.customer_facebook_comment(SOCIAL_EMAIL_TEXT, customer="lena")
    _poll(fb_channel, django_capture_on_commit_callbacks)
    later = simulator.sim.customer_facebook_comment(
        "still waiting", customer="lena", parent_id=first["comment_id"]
    )
    _poll(fb_channel, django_capture_on_commit_callbacks)
    ticket = Ticket.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        ended = services.end_portal_access(ticket=ticket, agent=agent, send_new_link=True)

    assert ended.action is not None
    assert ended.action.target_external_id == later["comment_id"]
    private = simulator.sim.snapshot()["facebook"]["private_replies"]
    assert len(private) == 2
    assert "/r/#t=" in str(private[1])


def test_private_link_route_on_facebook_refuses_comment_that_had_its_private_reply(
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    simulator.sim.customer_facebook_comment(SOCIAL_EMAIL_TEXT, customer="lena")
    _poll(fb_channel, django_capture_on_commit_callbacks)

    route = services.private_link_route(ticket=Ticket.objects.get())

    assert not route.possible
    assert "one private reply per comment" in route.reason


def test_new_private_link_reuses_the_slot_of_a_failed_facebook_private_reply(
    agent: factories.User,
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    simulator.sim.customer_facebook_comment(SOCIAL_EMAIL_TEXT, customer="lena")
    _poll(fb_channel, django_capture_on_commit_callbacks)
    failed = OutboxAction.objects.get(kind=OutboxKind.PRIVATE_MESSAGE)
    OutboxAction.objects.filter(pk=failed.pk).update(state=OutboxState.FAILED)
    ticket = Ticket.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        ended = services.end_portal_access(ticket=ticket, agent=agent, send_new_link=True)

    assert ended.action is not None
    assert ended.action.pk == failed.pk
    assert OutboxAction.objects.filter(kind=OutboxKind.PRIVATE_MESSAGE).count() == 1
    ended.action.refresh_from_db()
    assert ended.action.state == OutboxState.SENT


def test_private_link_route_on_facebook_refuses_after_seven_days(
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    simulator.sim.customer_facebook_comment(SOCIAL_EMAIL_TEXT, customer="lena")
    _poll(fb_channel, django_capture_on_commit_callbacks)
    OutboxAction.objects.filter(kind=OutboxKind.PRIVATE_MESSAGE).update(state=OutboxState.FAILED)
    InboundMessage.objects.update(platform_created_at=timezone.now() - timedelta(days=8))

    route = services.private_link_route(ticket=Ticket.objects.get())

    assert not route.possible
    assert "7 days" in route.reason


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"mode": PolicyMode.OBSERVE}, "only observes"),
        ({"send_private_link": False}, "does not send private links"),
    ],
)
def test_private_link_route_follows_the_channel_policy(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
    change: dict[str, object],
    expected: str,
) -> None:
    simulator.sim.customer_x_dm(f"Hi, my mail is {CONTACT_EMAIL}", customer="tom")
    _poll(x_channel, django_capture_on_commit_callbacks)
    ChannelPolicy.objects.filter(channel=x_channel).update(**change)

    route = services.private_link_route(ticket=Ticket.objects.get())

    assert not route.possible
    assert expected in route.reason


def test_private_link_route_refuses_paused_channel(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    simulator.sim.customer_x_dm(f"Hi, my mail is {CONTACT_EMAIL}", customer="tom")
    _poll(x_channel, django_capture_on_commit_callbacks)
    Channel.objects.filter(pk=x_channel.pk).update(status=ChannelStatus.PAUSED)

    route = services.private_link_route(ticket=Ticket.objects.select_related("channel").get())

    assert not route.possible
    assert "not switched on" in route.reason


# --- e-mail contacts -----------------------------------------------------------------------


def test_reply_to_contact_is_addressed_to_that_contact_only(
    agent: factories.User, ticket: Ticket
) -> None:
    contact = _contact(ticket)

    message = services.reply_to_contact(
        ticket=ticket, agent=agent, contact=contact, body="Your refund is on its way"
    )

    assert (message.kind, message.author_id) == ("outbound", agent.pk)
    assert ContactMessage.objects.get(message=message).contact_id == contact.pk


def test_reply_to_contact_same_key_twice_makes_one_message(
    agent: factories.User, ticket: Ticket
) -> None:
    contact = _contact(ticket)

    first = services.reply_to_contact(
        ticket=ticket, agent=agent, contact=contact, body="Once", idempotency_key="k-1"
    )
    second = services.reply_to_contact(
        ticket=ticket, agent=agent, contact=contact, body="Once", idempotency_key="k-1"
    )

    assert first.pk == second.pk
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_reply_to_contact_refuses_closed_ticket(agent: factories.User, ticket: Ticket) -> None:
    contact = _contact(ticket)
    Ticket.objects.filter(pk=ticket.pk).update(status=TicketStatus.CLOSED)

    with pytest.raises(TicketClosed):
        services.reply_to_contact(ticket=ticket, agent=agent, contact=contact, body="hello")

    assert not Message.objects.exists()


def test_reply_to_contact_refuses_agent_of_another_team(ticket: Ticket) -> None:
    stranger = factories.agent_of(factories.TeamFactory())
    contact = _contact(ticket)

    with pytest.raises(TicketNotFound):
        services.reply_to_contact(ticket=ticket, agent=stranger, contact=contact, body="hello")

    assert not Message.objects.exists()


def test_reply_to_contact_refuses_erased_ticket(agent: factories.User, ticket: Ticket) -> None:
    contact = _contact(ticket)
    erase_ticket(ticket=ticket, actor=audit.Actor.user(agent.pk))

    with pytest.raises(TicketNotFound):
        services.reply_to_contact(ticket=ticket, agent=agent, contact=contact, body="hello")

    assert not Message.objects.exists()


def test_reply_to_contact_refuses_erased_contact(agent: factories.User, ticket: Ticket) -> None:
    contact = _contact(ticket)
    PortalContact.objects.filter(pk=contact.pk).delete()  # what erase_subject does to it

    with pytest.raises(TicketNotFound):
        services.reply_to_contact(ticket=ticket, agent=agent, contact=contact, body="hello")

    assert not Message.objects.exists()


def test_reply_to_contact_refuses_contact_of_another_ticket(
    agent: factories.User, ticket: Ticket, channel: Channel
) -> None:
    elsewhere = _contact(factories.make_ticket(channel=channel))

    with pytest.raises(TicketNotFound):
        services.reply_to_contact(ticket=ticket, agent=agent, contact=elsewhere, body="hello")


def test_reply_to_contact_refuses_unconfirmed_address(
    agent: factories.User, ticket: Ticket
) -> None:
    contact = _contact(ticket, verified=False)

    with pytest.raises(ContactNotVerified):
        services.reply_to_contact(ticket=ticket, agent=agent, contact=contact, body="hello")

    assert not Message.objects.exists()


def test_link_contact_to_author_records_who_and_when(agent: factories.User, ticket: Ticket) -> None:
    contact = _contact(ticket)

    linked = services.link_contact_to_author(ticket=ticket, agent=agent, contact=contact)

    assert linked.linked_at is not None
    assert linked.linked_by_id == agent.pk
    event = AuditEvent.objects.get(action="portal.contact_link")
    assert (event.actor_id, event.object_id) == (str(agent.pk), str(contact.public_id))
    assert CONTACT_EMAIL not in json.dumps(event.data)


def test_link_contact_to_author_twice_records_once(agent: factories.User, ticket: Ticket) -> None:
    contact = _contact(ticket)
    services.link_contact_to_author(ticket=ticket, agent=agent, contact=contact)

    services.link_contact_to_author(ticket=ticket, agent=agent, contact=contact)

    assert AuditEvent.objects.filter(action="portal.contact_link").count() == 1


def test_link_contact_to_author_refuses_closed_ticket(
    agent: factories.User, ticket: Ticket
) -> None:
    contact = _contact(ticket)
    Ticket.objects.filter(pk=ticket.pk).update(status=TicketStatus.CLOSED)

    with pytest.raises(TicketClosed):
        services.link_contact_to_author(ticket=ticket, agent=agent, contact=contact)

    contact.refresh_from_db()
    assert contact.linked_at is None


@pytest.mark.parametrize("linked", [False, True], ids=["link", "unlink"])
def test_changing_a_contact_link_refuses_agent_of_another_team(
    agent: factories.User, ticket: Ticket, linked: bool
) -> None:
    contact = _contact(ticket)
    if linked:
        services.link_contact_to_author(ticket=ticket, agent=agent, contact=contact)
    change = services.unlink_contact_from_author if linked else services.link_contact_to_author
    stranger = factories.agent_of(factories.TeamFactory())

    with pytest.raises(TicketNotFound):
        change(ticket=ticket, agent=stranger, contact=contact)

    contact.refresh_from_db()
    assert (contact.linked_at is not None) is linked


def test_unlink_contact_from_author_records_it_once_and_clears_the_link(
    agent: factories.User, ticket: Ticket
) -> None:
    contact = _contact(ticket)
    services.link_contact_to_author(ticket=ticket, agent=agent, contact=contact)

    unlinked = services.unlink_contact_from_author(ticket=ticket, agent=agent, contact=contact)
    services.unlink_contact_from_author(ticket=ticket, agent=agent, contact=contact)

    contact.refresh_from_db()
    assert (unlinked.linked_at, contact.linked_at, contact.linked_by_id) == (None, None, None)
    [event] = AuditEvent.objects.filter(action="portal.contact_unlink")
    assert (event.actor_id, event.object_id) == (str(agent.pk), str(contact.public_id))
    assert CONTACT_EMAIL not in json.dumps(event.data)


def test_unlink_contact_from_author_works_on_a_closed_ticket(
    agent: factories.User, ticket: Ticket
) -> None:
    """Taking access away is always allowed, unlike giving it."""
    contact = _contact(ticket)
    services.link_contact_to_author(ticket=ticket, agent=agent, contact=contact)
    Ticket.objects.filter(pk=ticket.pk).update(status=TicketStatus.CLOSED)

    services.unlink_contact_from_author(ticket=ticket, agent=agent, contact=contact)

    contact.refresh_from_db()
    assert contact.linked_at is None


def test_link_contact_to_author_refuses_erased_ticket(
    agent: factories.User, ticket: Ticket
) -> None:
    contact = _contact(ticket)
    erase_ticket(ticket=ticket, actor=audit.Actor.user(agent.pk))

    with pytest.raises(TicketNotFound):
        services.link_contact_to_author(ticket=ticket, agent=agent, contact=contact)

    assert not PortalContact.objects.exists()


def test_link_contact_to_author_refuses_unconfirmed_address(
    agent: factories.User, ticket: Ticket
) -> None:
    contact = _contact(ticket, verified=False)

    with pytest.raises(ContactNotVerified):
        services.link_contact_to_author(ticket=ticket, agent=agent, contact=contact)

    contact.refresh_from_db()
    assert contact.linked_at is None


def test_private_link_route_refuses_channel_with_unreadable_credentials(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    simulator.sim.customer_x_dm(f"Hi, my mail is {CONTACT_EMAIL}", customer="tom")
    _poll(x_channel, django_capture_on_commit_callbacks)
    Channel.objects.filter(pk=x_channel.pk).update(credentials_ciphertext=b"\x01" + b"0" * 40)

    route = services.private_link_route(ticket=Ticket.objects.select_related("channel").get())

    assert not route.possible
    assert "credentials are incomplete" in route.reason
