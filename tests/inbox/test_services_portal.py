"""Portal services: secret exchange, customer messages, e-mail contacts, notices, revocation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core import mail
from django.core.cache import cache
from django.utils import timezone

from inbox import portal_selectors, vault
from inbox.exceptions import LinkExpired, TicketNotFound
from inbox.models import (
    Message,
    MessageKind,
    MessageSource,
    PortalContact,
    PortalGrant,
    PortalSecret,
    SecretKind,
    Ticket,
)
from inbox.services import portal, secrets
from inbox.services.agent import (
    link_contact_to_author,
    reply_to_contact,
    send_reply,
    unlink_contact_from_author,
)
from inbox.services.threads import add_message
from tests import factories

pytestmark = pytest.mark.django_db
CommitRunner = Callable[..., object]


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def _session() -> SessionStore:
    session = SessionStore()
    session.create()
    return session


def test_exchange_read_secret_is_single_use(ticket: Ticket) -> None:
    secret = secrets.issue_read_secret(ticket=ticket)

    assert portal.exchange_read_secret(session=_session(), secret=secret) == ticket
    with pytest.raises(LinkExpired):
        portal.exchange_read_secret(session=_session(), secret=secret)
    assert PortalSecret.objects.get(kind=SecretKind.READ).used_at is not None


def test_exchange_refuses_drop_ref_as_read_secret(ticket: Ticket) -> None:
    drop_ref = secrets.issue_drop_ref(ticket=ticket)

    with pytest.raises(LinkExpired):
        portal.exchange_read_secret(session=_session(), secret=drop_ref)


def test_exchange_refuses_closed_ticket(ticket: Ticket) -> None:
    secret = secrets.issue_read_secret(ticket=ticket)
    Ticket.objects.filter(pk=ticket.pk).update(status="closed")

    with pytest.raises(LinkExpired):
        portal.exchange_read_secret(session=_session(), secret=secret)


def test_portal_session_ends_at_absolute_limit(ticket: Ticket) -> None:
    session = _session()
    portal.exchange_read_secret(session=session, secret=secrets.issue_read_secret(ticket=ticket))
    PortalGrant.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(TicketNotFound):
        portal_selectors.access_from_session(session, ticket_ref=ticket.public_id)


def test_portal_session_ends_after_idle_timeout(ticket: Ticket) -> None:
    session = _session()
    portal.exchange_read_secret(session=session, secret=secrets.issue_read_secret(ticket=ticket))
    state = session[portal_selectors.SESSION_KEY]
    state["seen"] -= portal_selectors.IDLE_SECONDS + 1
    session[portal_selectors.SESSION_KEY] = state

    with pytest.raises(TicketNotFound):
        portal_selectors.access_from_session(session, ticket_ref=ticket.public_id)


def test_add_customer_message_same_key_makes_one_message(ticket: Ticket) -> None:
    session = _session()
    portal.exchange_read_secret(session=session, secret=secrets.issue_read_secret(ticket=ticket))
    access = portal_selectors.access_from_session(session)

    first = portal.add_customer_message(access=access, body="Hello", idempotency_key="k" * 32)
    second = portal.add_customer_message(access=access, body="Hello", idempotency_key="k" * 32)

    assert first.pk == second.pk
    assert Message.objects.filter(ticket=ticket).count() == 1
    assert (first.source, first.verified) == (MessageSource.PORTAL, True)


def test_drop_message_is_unverified_and_hidden_from_author(ticket: Ticket) -> None:
    drop = portal.add_drop_message(ticket=ticket, body="From the drop box", idempotency_key=None)
    session = _session()
    portal.exchange_read_secret(session=session, secret=secrets.issue_read_secret(ticket=ticket))
    access = portal_selectors.access_from_session(session)

    assert (drop.source, drop.verified) == (MessageSource.DROP, False)
    assert portal_selectors.portal_thread(access=access) == []


def test_drop_message_with_email_mails_magic_link_without_text(
    ticket: Ticket, django_capture_on_commit_callbacks: CommitRunner
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        portal.add_drop_message(
            ticket=ticket,
            body="Secret order text",
            idempotency_key=None,
            email="kim.muster@example.invalid",
        )

    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["kim.muster@example.invalid"]
    assert "/m/#t=" in sent.body
    assert "Secret order text" not in sent.body
    contact = PortalContact.objects.get()
    assert b"kim.muster" not in bytes(contact.email_ciphertext)


def _magic_secret(body: str) -> str:
    return body.split("/m/#t=", 1)[1].split()[0]


def test_magic_link_exchange_makes_verified_contact_session(
    ticket: Ticket, django_capture_on_commit_callbacks: CommitRunner
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        portal.add_drop_message(
            ticket=ticket, body="Hi", idempotency_key=None, email="kim.muster@example.invalid"
        )
    session = _session()

    portal.exchange_magic_link(session=session, secret=_magic_secret(mail.outbox[0].body))

    access = portal_selectors.access_from_session(session)
    assert access.contact is not None
    assert access.contact.verified_at is not None
    assert [m.body for m in portal_selectors.portal_thread(access=access)] == ["Hi"]


def test_reply_to_contact_notifies_by_email_without_text(
    ticket: Ticket, agent: factories.User, django_capture_on_commit_callbacks: CommitRunner
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        portal.add_drop_message(
            ticket=ticket, body="Hi", idempotency_key=None, email="kim.muster@example.invalid"
        )
    portal.exchange_magic_link(session=_session(), secret=_magic_secret(mail.outbox[0].body))
    contact = PortalContact.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        portal.send_reply_to_contact(
            ticket=ticket, agent=agent, contact=contact, body="Your refund is 42 EUR"
        )

    notice = mail.outbox[-1]
    assert len(mail.outbox) == 2
    assert "42 EUR" not in notice.body + notice.subject
    assert ticket.reference in notice.subject
    assert "/m/#t=" in notice.body


def test_reply_to_author_sends_no_email(
    ticket: Ticket, agent: factories.User, django_capture_on_commit_callbacks: CommitRunner
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        send_reply(ticket=ticket, agent=agent, body="Hello there")

    assert mail.outbox == []


def test_request_new_link_after_failed_read_secret_tells_agents(ticket: Ticket) -> None:
    secret = secrets.issue_read_secret(ticket=ticket)
    portal.exchange_read_secret(session=_session(), secret=secret)
    session = _session()
    with pytest.raises(LinkExpired):
        portal.exchange_read_secret(session=session, secret=secret)

    portal.request_new_link(session=session)

    note = Message.objects.get(ticket=ticket)
    assert note.kind == MessageKind.NOTE


def test_request_new_link_for_unknown_secret_does_nothing(ticket: Ticket) -> None:
    session = _session()
    with pytest.raises(LinkExpired):
        portal.exchange_read_secret(session=session, secret="x" * 43)

    portal.request_new_link(session=session)

    assert not Message.objects.exists()


def test_customer_group_never_receives_note_event(
    ticket: Ticket, agent: factories.User, django_capture_on_commit_callbacks: CommitRunner
) -> None:
    from unittest import mock

    from inbox import events
    from inbox.services.agent import add_note

    sent: list[tuple[str, dict[str, object]]] = []
    with (
        mock.patch.object(events, "send_now", lambda g, e: sent.append((g, dict(e)))),
        django_capture_on_commit_callbacks(execute=True),
    ):
        add_note(ticket=ticket, agent=agent, body="internal only")
        send_reply(ticket=ticket, agent=agent, body="to the customer")

    customer = [e for g, e in sent if g == events.ticket_customer_group(ticket.public_id)]
    assert len(customer) == 1
    note = Message.objects.get(kind=MessageKind.NOTE)
    assert all(e.get("message") != str(note.public_id) for e in customer)
    assert all(set(e) <= {"type", "ticket", "message"} for e in customer)


def test_revoke_portal_access_ends_grants_and_secrets(ticket: Ticket) -> None:
    session = _session()
    portal.exchange_read_secret(session=session, secret=secrets.issue_read_secret(ticket=ticket))
    unused = secrets.issue_read_secret(ticket=ticket)

    ended = portal.revoke_portal_access(ticket=ticket, actor=portal_selectors.audit.Actor.user(1))

    assert ended.sessions == 1
    with pytest.raises(TicketNotFound):
        portal_selectors.access_from_session(session)
    with pytest.raises(LinkExpired):
        portal.exchange_read_secret(session=_session(), secret=unused)


def test_check_rate_raises_past_per_ip_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        portal.LIMITS, "read", (portal.Limit(2, 60), portal.Limit(100, 60), portal.Limit(100, 60))
    )
    portal.check_rate(scope="read", ip="192.0.2.1")
    portal.check_rate(scope="read", ip="192.0.2.1")

    with pytest.raises(portal.PortalRateLimited):
        portal.check_rate(scope="read", ip="192.0.2.1")
    portal.check_rate(scope="read", ip="192.0.2.2")


def test_check_ticket_rate_raises_past_per_ticket_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        portal.LIMITS, "drop", (portal.Limit(9, 60), portal.Limit(1, 60), portal.Limit(9, 60))
    )
    portal.check_ticket_rate(scope="drop", ticket_id=7)

    with pytest.raises(portal.PortalRateLimited):
        portal.check_ticket_rate(scope="drop", ticket_id=7)
    portal.check_ticket_rate(scope="drop", ticket_id=8)


def test_secret_hash_only_is_stored(ticket: Ticket) -> None:
    secret = secrets.issue_read_secret(ticket=ticket)

    row = PortalSecret.objects.get(kind=SecretKind.READ)
    assert row.secret_hash == vault.secret_hash(SecretKind.READ, secret)
    assert secret not in str(PortalSecret.objects.values().get())


def test_request_new_link_after_session_ended_tells_agents(ticket: Ticket) -> None:
    session = _session()
    portal.exchange_read_secret(session=session, secret=secrets.issue_read_secret(ticket=ticket))
    PortalGrant.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    portal.request_new_link(session=session)

    assert Message.objects.get(ticket=ticket).kind == MessageKind.NOTE
    assert portal_selectors.SESSION_KEY not in session


def test_request_new_link_for_contact_mails_a_fresh_magic_link(
    ticket: Ticket, django_capture_on_commit_callbacks: CommitRunner
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        portal.add_drop_message(
            ticket=ticket, body="Hi", idempotency_key=None, email="kim.muster@example.invalid"
        )
    first = _magic_secret(mail.outbox[0].body)
    portal.exchange_magic_link(session=_session(), secret=first)
    session = _session()
    with pytest.raises(LinkExpired):
        portal.exchange_magic_link(session=session, secret=first)

    with django_capture_on_commit_callbacks(execute=True):
        portal.request_new_link(session=session)

    assert len(mail.outbox) == 2
    assert _magic_secret(mail.outbox[1].body) != first


# --- replies to e-mail contacts never reach the social author, and the reverse --------------


def _contact_session(
    ticket: Ticket, capture: CommitRunner, *, email: str, body: str
) -> SessionStore:
    """A real e-mail contact: a drop-box message with an address, then its magic link."""
    before = len(mail.outbox)
    with capture(execute=True):
        portal.add_drop_message(ticket=ticket, body=body, idempotency_key=None, email=email)
    session = _session()
    portal.exchange_magic_link(session=session, secret=_magic_secret(mail.outbox[before].body))
    return session


def _author_session(ticket: Ticket) -> SessionStore:
    session = _session()
    portal.exchange_read_secret(session=session, secret=secrets.issue_read_secret(ticket=ticket))
    return session


def _bodies(session: SessionStore) -> list[str | None]:
    access = portal_selectors.access_from_session(session)
    return [m.body for m in portal_selectors.portal_thread(access=access)]


@pytest.fixture
def social_ticket(ticket: Ticket, agent: factories.User) -> Ticket:
    add_message(
        ticket=ticket,
        kind=MessageKind.INBOUND,
        source=MessageSource.SOCIAL,
        body="Parcel missing",
        verified=True,
    )
    send_reply(ticket=ticket, agent=agent, body="To the author")
    return ticket


def test_reply_to_contact_never_reaches_author_session_or_socket(
    social_ticket: Ticket,
    agent: factories.User,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    contact_session = _contact_session(
        social_ticket,
        django_capture_on_commit_callbacks,
        email="kim.muster@example.invalid",
        body="Hi",
    )
    author = _author_session(social_ticket)
    contact = PortalContact.objects.get()

    reply = reply_to_contact(
        ticket=social_ticket, agent=agent, contact=contact, body="For the contact only"
    )

    assert "For the contact only" not in _bodies(author)
    assert "For the contact only" in _bodies(contact_session)
    author_access = portal_selectors.access_from_session(author)
    assert not portal_selectors.message_visible(access=author_access, message_ref=reply.public_id)


def test_author_messages_and_replies_never_reach_contact_session(
    social_ticket: Ticket,
    agent: factories.User,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    contact_session = _contact_session(
        social_ticket,
        django_capture_on_commit_callbacks,
        email="kim.muster@example.invalid",
        body="Hi",
    )
    author = _author_session(social_ticket)
    access = portal_selectors.access_from_session(author)
    written = portal.add_customer_message(access=access, body="Author writes", idempotency_key=None)
    reply = send_reply(ticket=social_ticket, agent=agent, body="Second reply to the author")

    assert _bodies(contact_session) == ["Hi"]
    contact_access = portal_selectors.access_from_session(contact_session)
    for message in (written, reply):
        assert not portal_selectors.message_visible(
            access=contact_access, message_ref=message.public_id
        )


def test_linked_contact_reads_author_thread_but_no_other_contact(
    social_ticket: Ticket,
    agent: factories.User,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    linked_session = _contact_session(
        social_ticket,
        django_capture_on_commit_callbacks,
        email="kim.muster@example.invalid",
        body="Kim here",
    )
    jo_session = _contact_session(
        social_ticket,
        django_capture_on_commit_callbacks,
        email="jo.beispiel@example.invalid",
        body="Jo here",
    )
    author = _author_session(social_ticket)
    kim, jo = PortalContact.objects.order_by("id")
    reply_to_contact(ticket=social_ticket, agent=agent, contact=jo, body="For Jo only")
    assert _bodies(linked_session) == ["Kim here"]

    link_contact_to_author(ticket=social_ticket, agent=agent, contact=kim)

    assert _bodies(linked_session) == ["Parcel missing", "To the author", "Kim here"]
    assert _bodies(author) == ["Parcel missing", "To the author"]  # the author gains nothing
    assert _bodies(jo_session) == ["Jo here", "For Jo only"]


def test_unlinked_contact_reads_only_its_own_again_in_the_same_session(
    social_ticket: Ticket,
    agent: factories.User,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    session = _contact_session(
        social_ticket,
        django_capture_on_commit_callbacks,
        email="kim.muster@example.invalid",
        body="Kim here",
    )
    kim = PortalContact.objects.get()
    link_contact_to_author(ticket=social_ticket, agent=agent, contact=kim)
    assert _bodies(session) == ["Parcel missing", "To the author", "Kim here"]

    unlink_contact_from_author(ticket=social_ticket, agent=agent, contact=kim)

    assert _bodies(session) == ["Kim here"]
