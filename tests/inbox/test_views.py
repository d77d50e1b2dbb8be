"""Agent pages: access, rendering of untrusted text, actions, sign-in rules."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.template import Context, Template
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from inbox import portal_selectors, selectors, services, sessions, vault, views
from inbox.models import (
    AuditEvent,
    CannedReply,
    Channel,
    ChannelStatus,
    Membership,
    Message,
    MessageKind,
    MessageSource,
    OutboxAction,
    PortalContact,
    PortalSecret,
    Role,
    Ticket,
    TicketStatus,
)
from inbox.services import secrets
from inbox.services.retry import retry_token
from inbox.services.threads import add_blind_index, add_message, open_ticket
from tests import factories
from tests.conftest import HttpsClient

pytestmark = pytest.mark.django_db

EMAIL = "mila.vogt@example.invalid"
BODY = f"Hi, my mail is {EMAIL} please help"
FINDINGS = [{"entity": "EMAIL", "start": 15, "end": 15 + len(EMAIL), "score": 0.99}]
HOSTILE = (
    '<script>alert(1)</script><img src=x onerror="alert(2)">'
    '<a href="javascript:alert(3)">x</a> \u202egnp.exe\u202c zero\u200bwidth'
)


def social_ticket(
    channel: factories.Channel,
    *,
    handle: str = "@mila_v",
    name: str = "Mila",
    body: str = BODY,
) -> Ticket:
    ticket = open_ticket(
        team=channel.team,
        channel=channel,
        author_external_id="1001",
        customer_handle=handle,
        customer_name=name,
    )
    add_message(
        ticket=ticket,
        kind=MessageKind.INBOUND,
        source=MessageSource.SOCIAL,
        body=body,
        findings=FINDINGS if body == BODY else [],  # type: ignore[arg-type]
    )
    return ticket


@pytest.fixture
def logged_in(client: Client, agent: factories.User) -> Client:
    client.force_login(agent)
    return client


@pytest.fixture
def other_agent() -> factories.User:
    return factories.agent_of(factories.TeamFactory())


# --- access --------------------------------------------------------------------------------


def test_inbox_list_redirects_anonymous_to_login(client: Client) -> None:
    response = client.get(reverse("inbox:list"))

    assert response.status_code == 302
    assert response.headers["Location"].startswith(reverse("login"))


def test_ticket_detail_redirects_anonymous_to_login(client: Client, ticket: Ticket) -> None:
    response = client.get(ticket.get_absolute_url())

    assert response.status_code == 302


def test_ticket_detail_404_for_agent_of_another_team(
    client: Client, ticket: Ticket, other_agent: factories.User
) -> None:
    client.force_login(other_agent)

    response = client.get(ticket.get_absolute_url())

    assert response.status_code == 404


def test_inbox_list_hides_other_teams_tickets(
    logged_in: Client, channel: factories.Channel
) -> None:
    mine = social_ticket(channel)
    foreign = social_ticket(factories.make_channel(team=factories.TeamFactory()))

    html = logged_in.get(reverse("inbox:list")).content.decode()

    assert mine.reference in html
    assert foreign.reference not in html


# --- the list ------------------------------------------------------------------------------


def test_inbox_list_shows_decrypted_handle_preview_and_markers(
    logged_in: Client, channel: factories.Channel
) -> None:
    ticket = social_ticket(channel)

    html = logged_in.get(reverse("inbox:list")).content.decode()

    assert "@mila_v" in html
    assert "Hi, my mail is [EMAIL] please help" in html
    assert EMAIL not in html
    assert "is-unread" in html
    assert "unverified" in html
    assert ticket.reference in html


def test_inbox_list_writes_one_audit_event_per_render(
    logged_in: Client, channel: factories.Channel
) -> None:
    for _ in range(3):
        social_ticket(channel)
    before = AuditEvent.objects.count()

    logged_in.get(reverse("inbox:list"))

    events = list(AuditEvent.objects.order_by("id")[before:])
    assert [(e.action, e.purpose) for e in events] == [("decrypt", "inbox_list")]
    assert len(events[0].data["objects"]) == 3


def _count_list_queries(client: Client, query: dict[str, str] | None = None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("inbox:list"), query)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_inbox_list_query_count_constant_in_number_of_tickets(
    logged_in: Client, channel: factories.Channel, django_assert_max_num_queries: object
) -> None:
    for _ in range(3):
        social_ticket(channel)
    _count_list_queries(logged_in)  # the first request of a session also settles its MFA state
    few = _count_list_queries(logged_in)
    for _ in range(60):
        social_ticket(channel)

    many = _count_list_queries(logged_in)

    assert many == few
    with django_assert_max_num_queries(20):  # type: ignore[operator]
        logged_in.get(reverse("inbox:list"))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=pending", {"pending"}),
        ("status=", {"open", "pending", "closed"}),
        ("", {"open"}),
    ],
)
def test_inbox_list_filters_by_status(
    logged_in: Client, channel: factories.Channel, query: str, expected: set[str]
) -> None:
    refs = {}
    for status in ("open", "pending", "closed"):
        ticket = social_ticket(channel)
        Ticket.objects.filter(pk=ticket.pk).update(status=status)
        refs[status] = ticket.reference

    html = logged_in.get(reverse("inbox:list") + "?" + query).content.decode()

    assert {s for s, ref in refs.items() if ref in html} == expected


def test_inbox_list_filters_mine_and_unassigned(
    logged_in: Client, agent: factories.User, channel: factories.Channel
) -> None:
    mine = social_ticket(channel)
    nobody = social_ticket(channel)
    Ticket.objects.filter(pk=mine.pk).update(assignee=agent)

    mine_html = logged_in.get(reverse("inbox:list") + "?assigned=mine").content.decode()
    nobody_html = logged_in.get(reverse("inbox:list") + "?assigned=unassigned").content.decode()

    assert mine.reference in mine_html
    assert nobody.reference not in mine_html
    assert nobody.reference in nobody_html
    assert mine.reference not in nobody_html


def test_inbox_list_unassigned_shows_only_open_unassigned_tickets_of_the_agents_teams(
    logged_in: Client, agent: factories.User, channel: factories.Channel
) -> None:
    second_team = factories.TeamFactory()
    Membership.objects.create(team=second_team, user=agent, role=Role.AGENT)
    colleague = factories.agent_of(channel.team)
    wanted = [social_ticket(channel), social_ticket(factories.make_channel(team=second_team))]
    mine, colleagues, pending = (social_ticket(channel) for _ in range(3))
    Ticket.objects.filter(pk=mine.pk).update(assignee=agent)
    Ticket.objects.filter(pk=colleagues.pk).update(assignee=colleague)
    Ticket.objects.filter(pk=pending.pk).update(status=TicketStatus.PENDING)
    foreign = social_ticket(factories.make_channel(team=factories.TeamFactory()))

    html = logged_in.get(reverse("inbox:list"), {"assigned": "unassigned"}).content.decode()

    every = [*wanted, mine, colleagues, pending, foreign]
    assert {t.reference for t in every if t.reference in html} == {t.reference for t in wanted}


@pytest.mark.parametrize("other_filter", ["status", "channel", "q", "q_of_assigned"])
def test_inbox_list_unassigned_composes_with_the_other_filters(
    logged_in: Client, agent: factories.User, team: factories.Team, other_filter: str
) -> None:
    first, second = factories.make_channel(team=team), factories.make_channel(team=team)
    open_first = social_ticket(first)
    pending_first = social_ticket(first)
    open_second = social_ticket(second)
    assigned_open = social_ticket(second)
    assigned_pending = social_ticket(second)
    Ticket.objects.filter(pk__in=[pending_first.pk, assigned_pending.pk]).update(
        status=TicketStatus.PENDING
    )
    Ticket.objects.filter(pk__in=[assigned_open.pk, assigned_pending.pk]).update(assignee=agent)
    other, expected = {
        "status": ({"status": TicketStatus.PENDING}, [pending_first]),
        "channel": ({"channel": str(second.public_id)}, [open_second]),
        "q": ({"q": open_first.reference}, [open_first]),
        "q_of_assigned": ({"q": assigned_open.reference}, []),
    }[other_filter]

    # The rows fragment: the full page echoes the search term in its search box.
    html = logged_in.get(
        reverse("inbox:rows"), {"assigned": "unassigned", **other}
    ).content.decode()

    every = [open_first, pending_first, open_second, assigned_open, assigned_pending]
    assert [t.reference for t in every if t.reference in html] == [t.reference for t in expected]


def _assigned_select(html: str) -> str:
    match = re.search(r'<select name="assigned".*?</select>', html, re.DOTALL)
    assert match, "no assigned filter on the page"
    return match.group(0)


def test_inbox_list_shows_the_unassigned_filter_as_active(logged_in: Client) -> None:
    default = _assigned_select(logged_in.get(reverse("inbox:list")).content.decode())
    filtered = _assigned_select(
        logged_in.get(reverse("inbox:list"), {"assigned": "unassigned"}).content.decode()
    )

    assert '<option value="unassigned" selected>' in filtered
    assert '<option value="" selected>' not in filtered
    assert '<option value="unassigned" selected>' not in default


def test_inbox_list_unassigned_label_is_translated(logged_in: Client) -> None:
    html = logged_in.get(reverse("inbox:list"), HTTP_ACCEPT_LANGUAGE="de").content.decode()

    assert '<option value="unassigned">Nicht zugewiesen</option>' in _assigned_select(html)


def test_inbox_list_unassigned_filter_costs_no_extra_query(
    logged_in: Client, agent: factories.User, channel: factories.Channel
) -> None:
    for _ in range(3):
        social_ticket(channel)
    Ticket.objects.filter(pk=social_ticket(channel).pk).update(assignee=agent)
    _count_list_queries(logged_in)  # the first request of a session also settles its MFA state

    unfiltered = _count_list_queries(logged_in)
    filtered = _count_list_queries(logged_in, {"assigned": "unassigned"})

    assert filtered == unfiltered


def test_inbox_list_filters_by_channel(logged_in: Client, team: factories.Team) -> None:
    first = social_ticket(factories.make_channel(team=team))
    other_channel = factories.make_channel(team=team, name="Other page")
    second = social_ticket(other_channel)

    html = logged_in.get(
        reverse("inbox:list") + f"?channel={other_channel.public_id}"
    ).content.decode()

    assert second.reference in html
    assert first.reference not in html


@pytest.mark.parametrize("search", ["@MILA_V", "mila_v", "mila.vogt@example.invalid", "reference"])
def test_inbox_search_finds_exact_reference_handle_or_email(
    logged_in: Client, channel: factories.Channel, search: str
) -> None:
    target = social_ticket(channel)
    add_blind_index(ticket=target, kind="email", value=EMAIL)
    other = social_ticket(channel, handle="@someone_else", body="Nothing personal here")
    if search == "reference":
        search = target.reference.lower()

    html = logged_in.get(reverse("inbox:list"), {"q": search}).content.decode()

    assert target.reference in html
    assert other.reference not in html


def test_inbox_search_does_not_match_partial_handle(
    logged_in: Client, channel: factories.Channel
) -> None:
    target = social_ticket(channel)

    html = logged_in.get(reverse("inbox:list"), {"q": "mila"}).content.decode()

    assert target.reference not in html


def test_inbox_rows_fragment_has_rows_without_page_chrome(
    logged_in: Client, channel: factories.Channel
) -> None:
    ticket = social_ticket(channel)

    html = logged_in.get(reverse("inbox:rows")).content.decode()

    assert ticket.reference in html
    assert "<html" not in html
    assert 'id="inbox-rows-body"' in html


def test_inbox_list_paginates_with_keyset_cursor(
    logged_in: Client, channel: factories.Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("inbox.selectors.INBOX_PAGE_SIZE", 2)
    monkeypatch.setattr("inbox.selectors.inbox_page.__kwdefaults__", {"cursor": "", "limit": 2})
    refs = [social_ticket(channel).reference for _ in range(5)]
    newest_first = list(reversed(refs))
    seen: list[str] = []
    url = reverse("inbox:list")
    for _ in range(3):
        html = logged_in.get(url).content.decode()
        seen += [r for r in newest_first if r in html]
        match = re.search(r'href="\?([^"]*after=[^"]+)" rel="next"', html)
        if not match:
            break
        url = reverse("inbox:list") + "?" + match.group(1).replace("&amp;", "&")

    assert seen == newest_first


@pytest.mark.parametrize("language", ["en", "de"])
def test_list_rows_print_link_and_times_as_the_template_did(language: str) -> None:
    """The row link and times worked out in Python equal ``get_absolute_url`` and the
    ``date`` filters (local time, active language) for every month."""
    tickets = [
        Ticket(last_activity_at=datetime(2026, month, 28, month * 2 - 1, month * 4, 9, tzinfo=UTC))
        for month in range(1, 13)
    ]
    template = Template(
        '{{ t.last_activity_at|date:"c" }}|{{ t.last_activity_at|date:"M j, H:i" }}'
    )
    rows = [selectors.InboxRow(ticket=t, handle=None, name=None, preview=None) for t in tickets]

    with translation.override(language), timezone.override("Europe/Berlin"):
        printed = views.list_rows(rows)
        expected = [
            (t.get_absolute_url(), *template.render(Context({"t": t})).split("|")) for t in tickets
        ]

    assert [(r.url, r.time_iso, r.time_label) for r in printed] == expected


def test_inbox_rows_fragment_skips_the_navigation_query(
    logged_in: Client, channel: factories.Channel
) -> None:
    """Only full pages check whether to link the channel admin; the refetched rows don't."""
    social_ticket(channel)
    logged_in.get(reverse("inbox:rows"))  # the first request of a session settles its MFA state
    with CaptureQueriesContext(connection) as rows:
        logged_in.get(reverse("inbox:rows"))
    with CaptureQueriesContext(connection) as page:
        logged_in.get(reverse("inbox:list"))

    def role_checks(ctx: CaptureQueriesContext) -> list[str]:
        return [q["sql"] for q in ctx.captured_queries if '"role"' in q["sql"]]

    assert len(role_checks(page)) == 1
    assert role_checks(rows) == []


def test_channels_link_shown_to_channel_admins_only(
    client: Client, team: factories.Team, agent: factories.User
) -> None:
    team_admin = factories.agent_of(team, role=Role.ADMIN)
    device = TOTPDevice.objects.create(user=team_admin, name="phone", confirmed=True)
    client.force_login(agent)
    agent_html = client.get(reverse("inbox:list")).content.decode()
    client.force_login(team_admin)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()

    admin_html = client.get(reverse("inbox:list")).content.decode()

    link = f'href="{reverse("channel_admin:list")}"'
    assert link in admin_html
    assert link not in agent_html


# --- untrusted text ------------------------------------------------------------------------


def test_hostile_name_and_message_render_escaped_without_controls(
    logged_in: Client, channel: factories.Channel
) -> None:
    ticket = open_ticket(
        team=channel.team, channel=channel, customer_handle="@e\u200bvil", customer_name=HOSTILE
    )
    add_message(ticket=ticket, kind="inbound", source="portal", body=HOSTILE)

    for url in (reverse("inbox:list"), ticket.get_absolute_url()):
        html = logged_in.get(url).content.decode()

        assert "<script>alert" not in html
        assert 'onerror="alert' not in html
        assert 'href="javascript:' not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "\u202e" not in html
        assert "\u200b" not in html
        assert "<bdi" in html


def test_pages_load_only_external_module_scripts(logged_in: Client, ticket: Ticket) -> None:
    html = logged_in.get(ticket.get_absolute_url()).content.decode()

    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts
    assert all('src="' in s or 'type="application/json"' in s for s in scripts)
    assert (
        "unsafe-inline"
        not in logged_in.get(reverse("inbox:list")).headers["Content-Security-Policy"]
    )


# --- the ticket page -----------------------------------------------------------------------


def test_ticket_detail_shows_social_message_redacted_by_default(
    logged_in: Client, channel: factories.Channel
) -> None:
    ticket = social_ticket(channel)

    html = logged_in.get(ticket.get_absolute_url()).content.decode()

    assert EMAIL not in html
    assert "[EMAIL]" in html
    assert "Reveal personal data" in html
    assert "Unverified customer." in html


def test_ticket_detail_marks_ticket_read(logged_in: Client, channel: factories.Channel) -> None:
    ticket = social_ticket(channel)

    logged_in.get(ticket.get_absolute_url())

    ticket.refresh_from_db()
    assert ticket.unread_for_agents is False


def test_reveal_shows_values_and_writes_audit_event(
    logged_in: Client, agent: factories.User, channel: factories.Channel
) -> None:
    ticket = social_ticket(channel)
    message = Message.objects.get(ticket=ticket)

    response = logged_in.post(
        reverse("inbox:reveal", args=[ticket.public_id, message.public_id]),
        HTTP_X_REQUESTED_WITH="fetch",
    )

    assert EMAIL in response.content.decode()
    event = AuditEvent.objects.filter(purpose="reveal_personal_data").get()
    assert event.actor_id == str(agent.pk)
    assert event.ticket_public_id == ticket.public_id
    assert f"message:{message.pk}" in event.data["objects"]


def test_reveal_refuses_get(logged_in: Client, channel: factories.Channel) -> None:
    ticket = social_ticket(channel)
    message = Message.objects.get(ticket=ticket)

    response = logged_in.get(reverse("inbox:reveal", args=[ticket.public_id, message.public_id]))

    assert response.status_code == 405
    assert not AuditEvent.objects.filter(purpose="reveal_personal_data").exists()


def test_reveal_404_for_message_of_another_ticket(
    logged_in: Client, channel: factories.Channel
) -> None:
    ticket = social_ticket(channel)
    other = Message.objects.get(ticket=social_ticket(channel))

    response = logged_in.post(reverse("inbox:reveal", args=[ticket.public_id, other.public_id]))

    assert response.status_code == 404


def test_reply_adds_outbound_message_to_secure_thread(
    logged_in: Client, agent: factories.User, ticket: Ticket
) -> None:
    response = logged_in.post(
        reverse("inbox:reply", args=[ticket.public_id]), {"reply-body": "We are on it."}
    )

    assert response.status_code == 303
    message = Message.objects.get(ticket=ticket)
    assert (message.kind, message.source, message.author_id) == ("outbound", "agent", agent.pk)


def test_reply_refused_on_closed_ticket(logged_in: Client, ticket: Ticket) -> None:
    Ticket.objects.filter(pk=ticket.pk).update(status=TicketStatus.CLOSED)

    response = logged_in.post(
        reverse("inbox:reply", args=[ticket.public_id]), {"reply-body": "Hello"}
    )

    assert response.status_code == 409
    assert not Message.objects.filter(ticket=ticket).exists()


def test_reply_with_same_idempotency_key_twice_creates_one_message(
    logged_in: Client, ticket: Ticket
) -> None:
    data = {"reply-body": "Once", "reply-idempotency_key": "k-1"}

    first = logged_in.post(reverse("inbox:reply", args=[ticket.public_id]), data)
    second = logged_in.post(reverse("inbox:reply", args=[ticket.public_id]), data)

    assert first.status_code == second.status_code == 303
    assert second["Location"] == first["Location"]
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_note_with_same_idempotency_key_twice_creates_one_note(
    logged_in: Client, ticket: Ticket
) -> None:
    data = {"note-body": "Once", "note-idempotency_key": "k-1"}

    first = logged_in.post(reverse("inbox:note", args=[ticket.public_id]), data)
    second = logged_in.post(reverse("inbox:note", args=[ticket.public_id]), data)

    assert first.status_code == second.status_code == 303
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_note_adds_note(logged_in: Client, ticket: Ticket) -> None:
    logged_in.post(reverse("inbox:note", args=[ticket.public_id]), {"note-body": "Check order"})

    assert Message.objects.get(ticket=ticket).kind == "note"


def test_empty_reply_is_refused(logged_in: Client, ticket: Ticket) -> None:
    response = logged_in.post(reverse("inbox:reply", args=[ticket.public_id]), {"reply-body": " "})

    assert response.status_code == 400
    assert not Message.objects.exists()


def test_assign_to_team_member(logged_in: Client, team: factories.Team, ticket: Ticket) -> None:
    colleague = factories.agent_of(team)

    logged_in.post(reverse("inbox:assign", args=[ticket.public_id]), {"assignee": colleague.pk})

    ticket.refresh_from_db()
    assert ticket.assignee_id == colleague.pk


def test_assign_refuses_user_outside_team(
    logged_in: Client, ticket: Ticket, other_agent: factories.User
) -> None:
    response = logged_in.post(
        reverse("inbox:assign", args=[ticket.public_id]), {"assignee": other_agent.pk}
    )

    assert response.status_code == 400
    ticket.refresh_from_db()
    assert ticket.assignee_id is None


def test_status_change(logged_in: Client, ticket: Ticket) -> None:
    logged_in.post(reverse("inbox:status", args=[ticket.public_id]), {"status": "solved"})

    ticket.refresh_from_db()
    assert ticket.status == "solved"


def test_status_change_refuses_unknown_status(logged_in: Client, ticket: Ticket) -> None:
    response = logged_in.post(
        reverse("inbox:status", args=[ticket.public_id]), {"status": "deleted"}
    )

    assert response.status_code == 400


def test_ticket_live_fragment_has_thread_and_side(logged_in: Client, ticket: Ticket) -> None:
    html = logged_in.get(reverse("inbox:ticket_live", args=[ticket.public_id])).content.decode()

    assert 'id="ticket-thread"' in html
    assert 'id="ticket-side"' in html
    assert "<html" not in html


def test_ticket_page_lists_platform_actions_with_errors(logged_in: Client, ticket: Ticket) -> None:
    ticket.actions.create(
        channel=ticket.channel,
        kind="public_reply",
        target_external_id="555",
        state="failed",
        last_error_message="The platform refused the reply (code 187).",
    )

    html = logged_in.get(ticket.get_absolute_url()).content.decode()

    assert "Public reply with the link" in html
    assert "The platform refused the reply (code 187)." in html


# --- canned replies ------------------------------------------------------------------------


def test_canned_reply_create_and_list(logged_in: Client, team: factories.Team) -> None:
    logged_in.post(
        reverse("inbox:canned"),
        {"team": str(team.public_id), "title": "Thanks", "body": "Thanks! Ref {ref}."},
    )

    assert CannedReply.objects.get(team=team).title == "Thanks"
    assert "Thanks! Ref {ref}." in logged_in.get(reverse("inbox:canned")).content.decode()


def test_canned_reply_for_foreign_team_is_404(logged_in: Client) -> None:
    foreign = factories.TeamFactory()

    response = logged_in.post(
        reverse("inbox:canned"), {"team": str(foreign.public_id), "title": "x", "body": "y"}
    )

    assert response.status_code == 404
    assert not CannedReply.objects.exists()


def test_canned_reply_offered_on_ticket_page(
    logged_in: Client, agent: factories.User, team: factories.Team, ticket: Ticket
) -> None:
    services.create_canned_reply(team=team, agent=agent, title="Greeting", body="Hello </script>")

    html = logged_in.get(ticket.get_absolute_url()).content.decode()

    assert "Greeting" in html
    assert 'id="canned-data"' in html
    assert "Hello </script>" not in html  # json_script escapes it


# --- sign-in rules -------------------------------------------------------------------------


def test_staff_without_device_is_sent_to_two_factor_setup(
    client: Client, team: factories.Team
) -> None:
    admin = factories.agent_of(team, is_staff=True)
    client.force_login(admin)

    response = client.get(reverse("inbox:list"))

    assert response.status_code == 302
    assert response.headers["Location"].startswith(reverse("inbox:otp_setup"))


def test_team_admin_must_enrol_second_factor(client: Client, team: factories.Team) -> None:
    admin = factories.agent_of(team, role=Role.ADMIN)
    client.force_login(admin)

    response = client.get(reverse("inbox:list"))

    assert response.headers["Location"].startswith(reverse("inbox:otp_setup"))


def test_agent_without_device_may_work_without_second_factor(logged_in: Client) -> None:
    assert logged_in.get(reverse("inbox:list")).status_code == 200


def test_otp_setup_shows_provisioning_uri_and_confirms_device(
    client: Client, team: factories.Team
) -> None:
    admin = factories.agent_of(team, is_staff=True)
    client.force_login(admin)

    html = client.get(reverse("inbox:otp_setup")).content.decode()
    assert "otpauth://totp/" in html
    device = TOTPDevice.objects.get(user=admin)
    token = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    response = client.post(reverse("inbox:otp_setup"), {"token": token})

    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(reverse("inbox:list")).status_code == 200


def test_otp_setup_rejects_wrong_code(client: Client, team: factories.Team) -> None:
    admin = factories.agent_of(team, is_staff=True)
    client.force_login(admin)
    client.get(reverse("inbox:otp_setup"))

    response = client.post(reverse("inbox:otp_setup"), {"token": "000000"})

    assert response.status_code == 400
    assert not TOTPDevice.objects.filter(user=admin, confirmed=True).exists()


def test_agent_with_device_must_verify_after_password(
    client: Client, agent: factories.User
) -> None:
    device = TOTPDevice.objects.create(user=agent, name="app", confirmed=True)
    client.post(reverse("login"), {"username": agent.username, "password": "correct horse battery"})

    assert (
        client.get(reverse("inbox:list"))
        .headers["Location"]
        .startswith(reverse("inbox:otp_verify"))
    )
    token = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    client.post(reverse("inbox:otp_verify"), {"token": token})
    assert client.get(reverse("inbox:list")).status_code == 200


def test_staff_signs_in_with_a_single_use_backup_code(client: Client, team: factories.Team) -> None:
    admin = factories.agent_of(team, is_staff=True)
    device = StaticDevice.objects.create(user=admin, name="backup")
    code = StaticToken.random_token()
    device.token_set.create(token=code)
    client.post(reverse("login"), {"username": admin.username, "password": "correct horse battery"})

    client.post(reverse("inbox:otp_verify"), {"token": code.upper()})
    reached = client.get(reverse("inbox:list")).status_code
    client.logout()
    client.post(reverse("login"), {"username": admin.username, "password": "correct horse battery"})
    client.post(reverse("inbox:otp_verify"), {"token": code})

    assert reached == 200
    assert client.get(reverse("inbox:list")).status_code == 302  # the code was used up


def test_login_with_password_reaches_inbox(client: Client, agent: factories.User) -> None:
    response = client.post(
        reverse("login"), {"username": agent.username, "password": "correct horse battery"}
    )

    assert response.status_code == 302
    assert client.get(reverse("inbox:list")).status_code == 200


def test_session_ends_at_absolute_limit(logged_in: Client) -> None:
    logged_in.get(reverse("inbox:list"))
    session = logged_in.session
    session[sessions.AUTH_AT_KEY] = time.time() - 12 * 3600 - 1
    session.save()

    response = logged_in.get(reverse("inbox:list"))

    assert response.status_code == 302
    assert response.headers["Location"] == reverse("login")
    assert logged_in.get(reverse("inbox:list")).status_code == 302


def test_logout_ends_session(logged_in: Client) -> None:
    logged_in.post(reverse("logout"))

    assert logged_in.get(reverse("inbox:list")).status_code == 302


def test_deactivated_agent_sees_no_tickets(
    client: Client, agent: factories.User, ticket: Ticket
) -> None:
    client.force_login(agent)
    Membership.objects.filter(user=agent).delete()

    assert client.get(ticket.get_absolute_url()).status_code == 404


# --- the customer's links and e-mail contacts ----------------------------------------------

CONTACT_EMAIL = "kim.muster@example.invalid"


def confirmed_contact(
    ticket: Ticket, email: str = CONTACT_EMAIL, *, verified: bool = True
) -> PortalContact:
    contact = PortalContact(
        ticket=ticket,
        email_digest=vault.blind_index("email", email),
        verified_at=timezone.now() if verified else None,
    )
    contact.email_ciphertext = vault.encrypt(ticket, contact, "email", email)
    contact.save()
    return contact


def _without_tokens(html: str) -> str:
    return re.sub(r'value="[^"]+"', "", html)


def _contact_url(name: str, contact: PortalContact) -> str:
    return reverse(f"inbox:{name}", args=[contact.ticket.public_id, contact.public_id])


@pytest.fixture
def _no_portal_rate_limits() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.mark.parametrize("name", ["rotate_link", "end_access"])
def test_link_pages_redirect_anonymous_to_login(client: Client, ticket: Ticket, name: str) -> None:
    response = client.get(reverse(f"inbox:{name}", args=[ticket.public_id]))

    assert response.status_code == 302
    assert response.headers["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", ["contact", "contact_reply", "contact_link", "contact_unlink"])
def test_contact_pages_redirect_anonymous_to_login(
    client: Client, ticket: Ticket, name: str
) -> None:
    response = client.post(_contact_url(name, confirmed_contact(ticket)))

    assert response.status_code in (302, 405)
    assert not Message.objects.exists()


def test_ticket_page_lists_confirmed_contacts_decrypted_and_audited(
    logged_in: Client, agent: factories.User, channel: factories.Channel
) -> None:
    ticket = social_ticket(channel)
    contact = confirmed_contact(ticket)
    confirmed_contact(ticket, "not.yet@example.invalid", verified=False)

    html = logged_in.get(ticket.get_absolute_url()).content.decode()

    assert CONTACT_EMAIL in html
    assert _contact_url("contact", contact) in html
    assert "not.yet@example.invalid" not in html
    assert "1 address given in the public form is not confirmed yet." in html
    event = AuditEvent.objects.filter(purpose="ticket_view").latest("id")
    assert event.actor_id == str(agent.pk)
    assert f"portalcontact:{contact.pk}" in event.data["objects"]


def test_ticket_page_marks_replies_to_a_contact(
    logged_in: Client, agent: factories.User, ticket: Ticket
) -> None:
    contact = confirmed_contact(ticket)
    services.reply_to_contact(ticket=ticket, agent=agent, contact=contact, body="Only for Kim")

    html = logged_in.get(ticket.get_absolute_url()).content.decode()

    assert "Reply to an e-mail contact" in html
    assert "The social author does not see this message." in html


def test_ticket_page_counts_open_sessions_and_links(logged_in: Client, ticket: Ticket) -> None:
    secrets.issue_read_secret(ticket=ticket)

    html = logged_in.get(ticket.get_absolute_url()).content.decode()

    assert "0 open portal sessions" in html
    assert "1 unused private link" in html


def test_rotate_link_get_asks_for_confirmation_and_changes_nothing(
    logged_in: Client, ticket: Ticket
) -> None:
    old = secrets.issue_drop_ref(ticket=ticket)

    response = logged_in.get(reverse("inbox:rotate_link", args=[ticket.public_id]))

    assert response.status_code == 200
    assert 'name="confirm"' in response.content.decode()
    assert portal_selectors.drop_box_ticket(drop_ref=old) == ticket


def test_rotate_link_post_without_confirmation_is_refused(
    logged_in: Client, ticket: Ticket
) -> None:
    old = secrets.issue_drop_ref(ticket=ticket)

    response = logged_in.post(reverse("inbox:rotate_link", args=[ticket.public_id]))

    assert response.status_code == 400
    assert portal_selectors.drop_box_ticket(drop_ref=old) == ticket


@pytest.mark.usefixtures("_no_portal_rate_limits")
def test_rotate_link_shows_new_link_once_and_old_link_gets_unknown_404(
    logged_in: Client, ticket: Ticket
) -> None:
    old = secrets.issue_drop_ref(ticket=ticket)

    response = logged_in.post(
        reverse("inbox:rotate_link", args=[ticket.public_id]), {"confirm": "on"}
    )

    html = response.content.decode()
    new = re.search(r'value="([^"]+/s/([^"]+))"', html)
    assert response.status_code == 200
    assert new is not None
    assert "no-store" in response.headers["Cache-Control"]
    assert "Haven did not post it." in html
    customer = HttpsClient()
    dead = customer.get(f"/s/{old}")
    unknown = customer.get("/s/" + "U" * 22)
    assert dead.status_code == unknown.status_code == 404
    assert _without_tokens(dead.content.decode()) == _without_tokens(unknown.content.decode())
    assert customer.get(f"/s/{new.group(2)}").status_code == 200


def test_rotate_link_404_for_agent_of_another_team(
    client: Client, ticket: Ticket, other_agent: factories.User
) -> None:
    old = secrets.issue_drop_ref(ticket=ticket)
    client.force_login(other_agent)

    response = client.post(reverse("inbox:rotate_link", args=[ticket.public_id]), {"confirm": "on"})

    assert response.status_code == 404
    assert portal_selectors.drop_box_ticket(drop_ref=old) == ticket


def test_rotate_link_refused_on_closed_ticket(logged_in: Client, ticket: Ticket) -> None:
    Ticket.objects.filter(pk=ticket.pk).update(status=TicketStatus.CLOSED)

    response = logged_in.post(
        reverse("inbox:rotate_link", args=[ticket.public_id]), {"confirm": "on"}
    )

    assert response.status_code == 409
    assert not PortalSecret.objects.filter(kind="drop").exists()


def test_end_access_page_says_why_no_new_private_link(logged_in: Client, ticket: Ticket) -> None:
    html = logged_in.get(reverse("inbox:end_access", args=[ticket.public_id])).content.decode()

    assert "No new private link can be sent through the platform." in html
    assert "The channel is not switched on" in html
    assert 'value="send"' not in html


def test_end_access_post_ends_sessions_and_redirects_with_notice(
    logged_in: Client, ticket: Ticket
) -> None:
    unused = secrets.issue_read_secret(ticket=ticket)

    response = logged_in.post(
        reverse("inbox:end_access", args=[ticket.public_id]),
        {"confirm": "on", "action": "revoke"},
    )

    assert response.status_code == 303
    assert response.headers["Location"].endswith("?done=access_ended")
    assert "Access ended" in logged_in.get(response.headers["Location"]).content.decode()
    assert PortalSecret.objects.get(secret_hash=vault.secret_hash("read", unused)).revoked_at


def test_end_access_post_requires_confirmation(logged_in: Client, ticket: Ticket) -> None:
    secrets.issue_read_secret(ticket=ticket)

    response = logged_in.post(
        reverse("inbox:end_access", args=[ticket.public_id]), {"action": "revoke"}
    )

    assert response.status_code == 400
    assert PortalSecret.objects.get().revoked_at is None


def test_end_access_send_refused_when_platform_allows_none(
    logged_in: Client, ticket: Ticket
) -> None:
    secrets.issue_read_secret(ticket=ticket)

    response = logged_in.post(
        reverse("inbox:end_access", args=[ticket.public_id]),
        {"confirm": "on", "action": "send"},
    )

    assert response.status_code == 409
    assert PortalSecret.objects.get().revoked_at is None
    assert not OutboxAction.objects.exists()


def test_end_access_404_for_agent_of_another_team(
    client: Client, ticket: Ticket, other_agent: factories.User
) -> None:
    secrets.issue_read_secret(ticket=ticket)
    client.force_login(other_agent)

    response = client.post(
        reverse("inbox:end_access", args=[ticket.public_id]),
        {"confirm": "on", "action": "revoke"},
    )

    assert response.status_code == 404
    assert PortalSecret.objects.get().revoked_at is None


def test_contact_page_shows_address_and_its_own_messages_audited(
    logged_in: Client, agent: factories.User, channel: factories.Channel
) -> None:
    ticket = social_ticket(channel)
    contact = confirmed_contact(ticket)
    services.reply_to_contact(ticket=ticket, agent=agent, contact=contact, body="Only for Kim")

    html = logged_in.get(_contact_url("contact", contact)).content.decode()

    assert CONTACT_EMAIL in html
    assert "Only for Kim" in html
    assert "[EMAIL]" not in html  # the social author's message is not this contact's
    event = AuditEvent.objects.get(purpose="contact_view")
    assert event.actor_id == str(agent.pk)
    assert f"portalcontact:{contact.pk}" in event.data["objects"]


def test_contact_page_404_for_unconfirmed_contact(logged_in: Client, ticket: Ticket) -> None:
    contact = confirmed_contact(ticket, verified=False)

    assert logged_in.get(_contact_url("contact", contact)).status_code == 404


def test_contact_reply_is_addressed_to_the_contact(
    logged_in: Client, agent: factories.User, ticket: Ticket
) -> None:
    contact = confirmed_contact(ticket)

    response = logged_in.post(
        _contact_url("contact_reply", contact), {"contact-body": "Your refund is on its way"}
    )

    assert response.status_code == 303
    assert response.headers["Location"].endswith("?done=contact_replied")
    message = Message.objects.get(ticket=ticket)
    assert (message.kind, message.author_id) == ("outbound", agent.pk)
    assert message.contact_link.contact_id == contact.pk


def test_contact_reply_double_submit_makes_one_message(logged_in: Client, ticket: Ticket) -> None:
    contact = confirmed_contact(ticket)
    data = {"contact-body": "Once", "contact-idempotency_key": "k-1"}

    first = logged_in.post(_contact_url("contact_reply", contact), data)
    second = logged_in.post(_contact_url("contact_reply", contact), data)

    assert first.status_code == second.status_code == 303
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_contact_reply_404_for_contact_of_another_ticket(
    logged_in: Client, ticket: Ticket, channel: factories.Channel
) -> None:
    other = confirmed_contact(factories.make_ticket(channel=channel))
    url = reverse("inbox:contact_reply", args=[ticket.public_id, other.public_id])

    response = logged_in.post(url, {"contact-body": "hello"})

    assert response.status_code == 404
    assert not Message.objects.exists()


def test_contact_reply_404_for_agent_of_another_team(
    client: Client, ticket: Ticket, other_agent: factories.User
) -> None:
    contact = confirmed_contact(ticket)
    client.force_login(other_agent)

    response = client.post(_contact_url("contact_reply", contact), {"contact-body": "hello"})

    assert response.status_code == 404
    assert not Message.objects.exists()


def test_contact_reply_refused_on_closed_ticket(logged_in: Client, ticket: Ticket) -> None:
    contact = confirmed_contact(ticket)
    Ticket.objects.filter(pk=ticket.pk).update(status=TicketStatus.CLOSED)

    response = logged_in.post(_contact_url("contact_reply", contact), {"contact-body": "hello"})

    assert response.status_code == 409
    assert not Message.objects.exists()


@pytest.mark.parametrize("name", ["contact_reply", "contact_link", "contact_unlink"])
def test_contact_actions_refuse_get(logged_in: Client, ticket: Ticket, name: str) -> None:
    contact = confirmed_contact(ticket)

    assert logged_in.get(_contact_url(name, contact)).status_code == 405
    contact.refresh_from_db()
    assert contact.linked_at is None


def test_contact_page_warns_before_linking(logged_in: Client, ticket: Ticket) -> None:
    contact = confirmed_contact(ticket)

    html = logged_in.get(_contact_url("contact", contact)).content.decode()

    assert "Only if you are sure this is the same person." in html
    assert _contact_url("contact_link", contact) in html


def test_contact_link_requires_confirmation(logged_in: Client, ticket: Ticket) -> None:
    contact = confirmed_contact(ticket)

    response = logged_in.post(_contact_url("contact_link", contact))

    assert response.status_code == 400
    contact.refresh_from_db()
    assert contact.linked_at is None


def test_contact_link_links_and_audits(
    logged_in: Client, agent: factories.User, ticket: Ticket
) -> None:
    contact = confirmed_contact(ticket)

    response = logged_in.post(_contact_url("contact_link", contact), {"confirm": "on"})

    assert response.status_code == 303
    contact.refresh_from_db()
    assert contact.linked_by_id == agent.pk
    assert AuditEvent.objects.filter(action="portal.contact_link").exists()
    html = logged_in.get(response.headers["Location"]).content.decode()
    assert "linked to the customer" in html
    assert "Only if you are sure" not in html


def test_contact_unlink_unlinks_audits_and_offers_the_link_again(
    logged_in: Client, agent: factories.User, ticket: Ticket
) -> None:
    contact = confirmed_contact(ticket)
    logged_in.post(_contact_url("contact_link", contact), {"confirm": "on"})
    html = logged_in.get(_contact_url("contact", contact)).content.decode()
    assert _contact_url("contact_unlink", contact) in html

    response = logged_in.post(_contact_url("contact_unlink", contact))

    assert response.status_code == 303
    contact.refresh_from_db()
    assert contact.linked_at is None
    assert AuditEvent.objects.filter(action="portal.contact_unlink").exists()
    html = logged_in.get(response.headers["Location"]).content.decode()
    assert "Unlinked." in html
    assert "Only if you are sure" in html
    assert _contact_url("contact_unlink", contact) not in html


def test_contact_link_404_for_agent_of_another_team(
    client: Client, ticket: Ticket, other_agent: factories.User
) -> None:
    contact = confirmed_contact(ticket)
    client.force_login(other_agent)

    response = client.post(_contact_url("contact_link", contact), {"confirm": "on"})

    assert response.status_code == 404
    contact.refresh_from_db()
    assert contact.linked_at is None


def test_link_and_contact_pages_load_only_external_scripts(
    logged_in: Client, ticket: Ticket
) -> None:
    contact = confirmed_contact(ticket)
    pages = [
        logged_in.get(reverse("inbox:rotate_link", args=[ticket.public_id])),
        logged_in.post(reverse("inbox:rotate_link", args=[ticket.public_id]), {"confirm": "on"}),
        logged_in.get(reverse("inbox:end_access", args=[ticket.public_id])),
        logged_in.get(_contact_url("contact", contact)),
    ]

    for page in pages:
        html = page.content.decode()
        scripts = re.findall(r"<script[^>]*>", html)
        assert page.status_code == 200
        assert all('src="' in s or 'type="application/json"' in s for s in scripts)
        assert " on" + "click=" not in html


def test_contact_page_in_german(logged_in: Client, ticket: Ticket) -> None:
    contact = confirmed_contact(ticket)

    html = logged_in.get(
        _contact_url("contact", contact), HTTP_ACCEPT_LANGUAGE="de"
    ).content.decode()

    assert "Nur an diesen Kontakt antworten" in html


def _count_ticket_queries(client: Client, ticket: Ticket) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(ticket.get_absolute_url())
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_ticket_page_query_count_constant_in_contacts_and_their_messages(
    logged_in: Client, agent: factories.User, ticket: Ticket
) -> None:
    first = confirmed_contact(ticket)
    services.reply_to_contact(ticket=ticket, agent=agent, contact=first, body="One")
    _count_ticket_queries(logged_in, ticket)  # settles the session's MFA state
    few = _count_ticket_queries(logged_in, ticket)
    for n in range(5):
        contact = confirmed_contact(ticket, f"contact{n}@example.invalid")
        services.reply_to_contact(ticket=ticket, agent=agent, contact=contact, body="More")

    many = _count_ticket_queries(logged_in, ticket)

    assert many == few


def test_contact_reply_mails_the_contact_a_notice_without_text(
    logged_in: Client, ticket: Ticket, django_capture_on_commit_callbacks: Any
) -> None:
    contact = confirmed_contact(ticket)

    with django_capture_on_commit_callbacks(execute=True):
        logged_in.post(_contact_url("contact_reply", contact), {"contact-body": "Refund: 42 EUR"})

    assert [m.to for m in mail.outbox] == [[CONTACT_EMAIL]]
    assert "42 EUR" not in mail.outbox[0].subject + mail.outbox[0].body
    assert "/m/#t=" in mail.outbox[0].body


def test_ticket_page_in_german_translates_the_models_labels(
    logged_in: Client, ticket: Ticket
) -> None:
    add_message(ticket=ticket, kind=MessageKind.INBOUND, source=MessageSource.SOCIAL, body="Hallo")

    html = logged_in.get(ticket.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="de").content.decode()

    assert "Von der sozialen Plattform übernommen" in html  # MessageSource.SOCIAL
    assert "Imported from the social platform" not in html
    assert ">Offen<" in html  # TicketStatus.OPEN in the status menu


# --- retrying a platform action ------------------------------------------------------------


def _retry_url(action: OutboxAction) -> str:
    return reverse("inbox:action_retry", args=[action.ticket.public_id, action.public_id])


def _retry_form(action: OutboxAction, **extra: str) -> dict[str, str]:
    return {"seen": retry_token(action), **extra}


def test_ticket_page_offers_retry_for_failed_action(logged_in: Client, ticket: Ticket) -> None:
    action = factories.ended_action(ticket)

    html = logged_in.get(ticket.get_absolute_url()).content.decode()

    assert f'action="{_retry_url(action)}"' in html
    assert f'value="{retry_token(action)}"' in html
    # Each button names its action for screen readers: a page can have several.
    assert f'Retry<span class="visually-hidden">: {action.get_kind_display()}</span>' in html
    assert 'name="checked"' not in html


def test_ticket_page_asks_for_a_check_before_retrying_unknown_reply(
    logged_in: Client, ticket: Ticket
) -> None:
    factories.ended_action(ticket, state="unknown")

    html = logged_in.get(ticket.get_absolute_url()).content.decode()

    assert 'name="checked" required' in html
    assert "I checked: the reply is not on the platform." in html


def test_ticket_page_offers_no_retry_for_sent_action_or_inactive_channel(
    logged_in: Client, ticket: Ticket
) -> None:
    factories.ended_action(ticket, state="sent")
    factories.ended_action(ticket, kind="hide")
    Channel.objects.filter(pk=ticket.channel_id).update(status=ChannelStatus.PAUSED)

    html = logged_in.get(ticket.get_absolute_url()).content.decode()

    assert ">Retry<" not in html
    assert "The channel is not switched on" in html


def test_action_retry_requeues_failed_action_and_redirects_with_notice(
    logged_in: Client, ticket: Ticket
) -> None:
    action = factories.ended_action(ticket)

    response = logged_in.post(_retry_url(action), _retry_form(action))

    assert response.status_code == 303
    assert response.headers["Location"].endswith("?done=action_retried")
    assert "Haven is trying again." in logged_in.get(response.headers["Location"]).content.decode()
    action.refresh_from_db()
    assert (action.state, action.last_error_message) == ("pending", "")


def test_action_retry_of_unknown_refused_without_the_check(
    logged_in: Client, ticket: Ticket
) -> None:
    action = factories.ended_action(ticket, state="unknown")

    response = logged_in.post(_retry_url(action), _retry_form(action))

    assert response.status_code == 400
    assert "Check the post on the platform first" in response.content.decode()
    action.refresh_from_db()
    assert action.state == "unknown"


def test_action_retry_of_unknown_after_the_check(logged_in: Client, ticket: Ticket) -> None:
    action = factories.ended_action(ticket, state="unknown")

    response = logged_in.post(_retry_url(action), _retry_form(action, checked="on"))

    assert response.status_code == 303
    action.refresh_from_db()
    assert action.state == "pending"


def test_action_retry_twice_from_one_page_is_refused_the_second_time(
    logged_in: Client, ticket: Ticket
) -> None:
    action = factories.ended_action(ticket)
    form = _retry_form(action)

    first = logged_in.post(_retry_url(action), form)
    second = logged_in.post(_retry_url(action), form)

    assert (first.status_code, second.status_code) == (303, 409)
    assert "Open the conversation again" in second.content.decode()
    assert AuditEvent.objects.filter(action="outbox.retry").count() == 1


def test_action_retry_redirects_anonymous_to_login(client: Client, ticket: Ticket) -> None:
    action = factories.ended_action(ticket)

    response = client.post(_retry_url(action), _retry_form(action))

    assert response.status_code == 302
    assert response.headers["Location"].startswith(reverse("login"))
    action.refresh_from_db()
    assert action.state == "failed"


def test_action_retry_404_for_agent_of_another_team(
    client: Client, ticket: Ticket, other_agent: factories.User
) -> None:
    action = factories.ended_action(ticket)
    client.force_login(other_agent)

    response = client.post(_retry_url(action), _retry_form(action, checked="on"))

    assert response.status_code == 404
    action.refresh_from_db()
    assert action.state == "failed"


def test_action_retry_404_for_action_of_another_ticket(
    logged_in: Client, ticket: Ticket, channel: factories.Channel
) -> None:
    action = factories.ended_action(ticket)
    other = factories.make_ticket(channel=channel)
    url = reverse("inbox:action_retry", args=[other.public_id, action.public_id])

    response = logged_in.post(url, _retry_form(action))

    assert response.status_code == 404
    action.refresh_from_db()
    assert action.state == "failed"


def test_action_retry_refuses_get(logged_in: Client, ticket: Ticket) -> None:
    action = factories.ended_action(ticket)

    response = logged_in.get(_retry_url(action))

    assert response.status_code == 405
    action.refresh_from_db()
    assert action.state == "failed"


def test_action_retry_needs_the_csrf_token_of_the_page(
    agent: factories.User, ticket: Ticket
) -> None:
    action = factories.ended_action(ticket)
    client = HttpsClient(enforce_csrf_checks=True)
    client.force_login(agent)
    referer = f"https://testserver{ticket.get_absolute_url()}"  # HTTPS posts need one

    forged = client.post(_retry_url(action), _retry_form(action), HTTP_REFERER=referer)
    action.refresh_from_db()
    assert (forged.status_code, action.state) == (403, "failed")
    page = client.get(ticket.get_absolute_url()).content.decode()
    token = re.search(
        rf'action="{re.escape(_retry_url(action))}"[^>]*>\s*'
        r'<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)"',
        page,
    )
    assert token is not None
    real = client.post(
        _retry_url(action),
        _retry_form(action, csrfmiddlewaretoken=token[1]),
        HTTP_REFERER=referer,
    )

    assert real.status_code == 303
    action.refresh_from_db()
    assert action.state == "pending"


def test_ticket_page_retry_in_german(logged_in: Client, ticket: Ticket) -> None:
    factories.ended_action(ticket, state="unknown")

    html = logged_in.get(ticket.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="de").content.decode()

    assert 'Erneut versuchen<span class="visually-hidden">: ' in html
    assert "Ich habe geprüft: Die Antwort ist nicht auf der Plattform." in html
