"""Selectors: access decisions, decrypting with audit, redaction, keyset pages."""

from __future__ import annotations

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inbox import selectors, vault
from inbox.exceptions import TicketNotFound
from inbox.models import AuditEvent, Membership, Message, MessageKind, MessageSource, Ticket
from inbox.services.threads import add_message, open_ticket
from tests import factories

pytestmark = pytest.mark.django_db

EMAIL = "jon.roe@example.invalid"


def _ticket(channel: factories.Channel, *, body: str = f"mail {EMAIL} now") -> Ticket:
    ticket = open_ticket(
        team=channel.team, channel=channel, customer_handle="@jroe", customer_name="Jon"
    )
    add_message(
        ticket=ticket,
        kind=MessageKind.INBOUND,
        source=MessageSource.SOCIAL,
        body=body,
        findings=[{"entity": "EMAIL", "start": 5, "end": 5 + len(EMAIL), "score": 0.9}],
    )
    return ticket


def test_get_ticket_for_agent_raises_for_other_team(
    agent: factories.User, channel: factories.Channel
) -> None:
    foreign = _ticket(factories.make_channel(team=factories.TeamFactory()))

    with pytest.raises(TicketNotFound):
        selectors.get_ticket_for_agent(agent=agent, ticket_ref=foreign.public_id)


def test_get_ticket_for_agent_raises_for_missing(agent: factories.User) -> None:
    with pytest.raises(TicketNotFound):
        selectors.get_ticket_for_agent(agent=agent, ticket_ref=uuid.uuid4())


def test_agent_can_access_ticket_false_after_leaving_team(
    agent: factories.User, channel: factories.Channel
) -> None:
    ticket = _ticket(channel)
    assert selectors.agent_can_access_ticket(user_id=agent.pk, ticket_ref=ticket.public_id)

    Membership.objects.filter(user=agent).delete()

    assert not selectors.agent_can_access_ticket(user_id=agent.pk, ticket_ref=ticket.public_id)


def test_inbox_page_keyset_pages_do_not_overlap(
    agent: factories.User, channel: factories.Channel
) -> None:
    tickets = [_ticket(channel) for _ in range(5)]
    seen: list[int] = []
    cursor = ""
    while True:
        page = selectors.inbox_page(
            agent=agent, filters=selectors.InboxFilters(), cursor=cursor, limit=2
        )
        seen += [row.ticket.pk for row in page.rows]
        if not page.next_cursor:
            break
        cursor = page.next_cursor

    assert seen == [t.pk for t in reversed(tickets)]


def test_inbox_page_query_count_bounded(
    agent: factories.User, channel: factories.Channel, django_assert_max_num_queries: object
) -> None:
    for _ in range(30):
        _ticket(channel)

    with django_assert_max_num_queries(12):  # type: ignore[operator]
        page = selectors.inbox_page(agent=agent, filters=selectors.InboxFilters())

    assert len(page.rows) == selectors.INBOX_PAGE_SIZE


def _page_query_plan(agent: factories.User, cursor: str) -> str:
    """The database's plan for the inbox page query, forced off sequential scans on PostgreSQL
    (a handful of test rows would otherwise never use an index)."""
    with CaptureQueriesContext(connection) as ctx:
        selectors.inbox_page(agent=agent, filters=selectors.InboxFilters(), cursor=cursor)
    sql = next(q["sql"] for q in ctx.captured_queries if 'FROM "inbox_ticket"' in q["sql"])
    with connection.cursor() as cursor_:
        if connection.vendor == "postgresql":
            cursor_.execute("SET LOCAL enable_seqscan = off")
            cursor_.execute(f"EXPLAIN {sql}")
        else:
            cursor_.execute(f"EXPLAIN QUERY PLAN {sql}")
        return "\n".join(str(row[-1]) for row in cursor_.fetchall())


def test_inbox_page_cursor_bounds_the_index_range_scan(
    agent: factories.User, channel: factories.Channel
) -> None:
    """Page 500 costs what page 1 costs: the cursor is a bound of the index scan, not a filter
    over every newer row."""
    tickets = [_ticket(channel) for _ in range(3)]
    cursor = selectors.encode_cursor(tickets[1])

    plan = _page_query_plan(agent, cursor)

    if connection.vendor == "postgresql":
        index_conditions = [line for line in plan.splitlines() if "Index Cond" in line]
        assert any("last_activity_at" in line for line in index_conditions), plan
    else:
        assert re.search(r"USING (COVERING )?INDEX ticket_inbox_idx \(.*last_activity_at", plan)


def test_inbox_page_shows_a_channel_outside_the_agents_teams(
    agent: factories.User, team: factories.Team
) -> None:
    """Channels come from the teams' list; one that is not there is still loaded, not lost."""
    elsewhere = factories.make_channel(team=factories.TeamFactory(), name="Elsewhere page")
    ticket = Ticket.objects.create(team=team, channel=elsewhere, last_activity_at=timezone.now())
    vault.create_key(ticket)

    page = selectors.inbox_page(agent=agent, filters=selectors.InboxFilters())

    (row,) = page.rows
    assert row.ticket.channel is not None
    assert row.ticket.channel.name == "Elsewhere page"
    assert row.ticket.team == team
    assert elsewhere not in page.channels  # the filter still offers only the teams' channels


@pytest.mark.parametrize("cursor", ["", "not-base64!", "Zm9v", "MjAyNi0xMS0yOXx4"])
def test_decode_cursor_rejects_garbage(cursor: str) -> None:
    assert selectors.decode_cursor(cursor) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Mila\u202eevil", "Milaevil"),
        ("a\u200bb\u200dc\u2066d", "abcd"),
        ("plain", "plain"),
        ("nul\x00byte", "nulbyte"),
    ],
)
def test_clean_display_name_strips_bidi_and_zero_width(raw: str, expected: str) -> None:
    cleaned = selectors.clean_display_name(raw)

    assert cleaned is not None
    assert cleaned.text == expected
    assert cleaned.altered == (expected != raw.replace("\x00", ""))


def test_clean_body_keeps_joiners_for_emoji() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"

    cleaned = selectors.clean_body(f"{family} \u202ehi")

    assert cleaned is not None
    assert cleaned.text == f"{family} hi"
    assert cleaned.altered


def test_clean_display_name_replaces_lone_surrogates() -> None:
    cleaned = selectors.clean_display_name("a\ud800b")

    assert cleaned is not None
    assert cleaned.text == "a\ufffdb"


def test_ticket_page_redacts_social_message_and_audits_once(
    agent: factories.User, channel: factories.Channel
) -> None:
    ticket = _ticket(channel)
    before = AuditEvent.objects.count()

    page = selectors.ticket_page(agent=agent, ticket_ref=ticket.public_id)

    (item,) = page.thread
    assert item.redacted
    assert [s.text for s in item.segments] == ["mail ", "[EMAIL]", " now"]
    assert page.handle is not None
    assert page.handle.text == "@jroe"
    events = AuditEvent.objects.order_by("id")[before:]
    assert [(e.action, e.purpose) for e in events] == [("decrypt", "ticket_view")]


def test_ticket_page_shows_portal_message_in_full(
    agent: factories.User, channel: factories.Channel
) -> None:
    ticket = open_ticket(team=channel.team, channel=channel)
    add_message(ticket=ticket, kind="inbound", source="portal", body=f"it is {EMAIL}")

    page = selectors.ticket_page(agent=agent, ticket_ref=ticket.public_id)

    assert "".join(s.text for s in page.thread[0].segments) == f"it is {EMAIL}"
    assert not page.thread[0].redacted


def test_ticket_page_marks_drop_message_unverified(
    agent: factories.User, channel: factories.Channel
) -> None:
    ticket = open_ticket(team=channel.team, channel=channel)
    add_message(ticket=ticket, kind="inbound", source="drop", body="hello")

    page = selectors.ticket_page(agent=agent, ticket_ref=ticket.public_id)

    assert page.thread[0].unverified


def test_reveal_message_returns_values_with_audit_purpose(
    agent: factories.User, channel: factories.Channel
) -> None:
    ticket = _ticket(channel)
    message = Message.objects.get(ticket=ticket)

    item = selectors.reveal_message(
        agent=agent, ticket_ref=ticket.public_id, message_ref=message.public_id
    )

    assert [s.text for s in item.segments] == ["mail ", EMAIL, " now"]
    assert item.segments[1].label == "EMAIL"
    assert AuditEvent.objects.filter(
        purpose="reveal_personal_data", actor_id=str(agent.pk)
    ).exists()


def test_segments_ignore_out_of_range_and_overlapping_findings() -> None:
    findings: list[dict[str, object]] = [
        {"entity": "A", "start": 0, "end": 3},
        {"entity": "B", "start": 1, "end": 2},
        {"entity": "C", "start": 5, "end": 99},
        {"entity": "D", "start": "x", "end": 1},
    ]

    segments = selectors._segments("abcdefg", findings, reveal=False)

    assert [(s.text, s.label) for s in segments] == [("[A]", "A"), ("defg", "")]
