"""An agent's retry of a failed or unknown platform action: the compare-and-set, its refusals,
the audit event, the broadcast and the task on commit, and the real outbox path afterwards
(real connectors against the simulator, eager tasks)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone

from channels_bridge.simulator import RunningSimulator
from inbox import events, services, vault
from inbox.exceptions import (
    ActionNotRetryable,
    ChannelNotActive,
    LinkExpired,
    PolicyViolation,
    PortalAccessEnded,
    RetryNotConfirmed,
    TicketClosed,
    TicketNotFound,
)
from inbox.models import (
    AuditEvent,
    Channel,
    ChannelPolicy,
    ChannelStatus,
    OutboxAction,
    OutboxKind,
    OutboxState,
    PolicyMode,
    Ticket,
    TicketStatus,
)
from inbox.services import pipeline, portal
from inbox.services import retry as retry_service
from inbox.services.connectors import item_from_inbound
from inbox.services.retry import action_rows, retry_token
from tests import factories

pytestmark = pytest.mark.django_db

PHONE_TEXT = "my parcel never came, call me on +49 151 23456789 please"
EMAIL_TEXT = "Order missing, mail me at lena.park@example.invalid"
CommitRunner = Callable[..., object]


def _ingest(channel: Channel) -> None:
    """Pull and process without running on-commit work: the actions stay pending."""
    batch = pipeline.connector_for(channel).fetch_since(None)
    result = pipeline.ingest_items(channel=channel, items=batch.items)
    for inbound_id in result.new_inbound_ids:
        pipeline.process_message(inbound_id=inbound_id)


def _failed_reply(
    channel: Channel, simulator: RunningSimulator, *, refusals: int = 1
) -> OutboxAction:
    """A public reply the platform refused (403) through the real outbox path."""
    simulator.sim.customer_x_mention(PHONE_TEXT)
    _ingest(channel)
    action = OutboxAction.objects.get(kind=OutboxKind.PUBLIC_REPLY)
    simulator.sim.add_fault(
        "server_error", platform="x", method="POST", path="/2/tweets", status=403, times=refusals
    )
    assert pipeline.perform_action(action_id=action.pk).state == OutboxState.FAILED
    action.refresh_from_db()
    return action


def _unknown_dm(channel: Channel, simulator: RunningSimulator) -> OutboxAction:
    """A private message on X whose send answered 503: it may have arrived, so ``unknown``."""
    simulator.sim.customer_x_dm(f"Hi, {EMAIL_TEXT}", customer="tom")
    _ingest(channel)
    action = OutboxAction.objects.get(kind=OutboxKind.PRIVATE_MESSAGE)
    simulator.sim.add_fault(
        "server_error", platform="x", method="POST", path="/2/dm_conversations/*", status=503
    )
    assert pipeline.perform_action(action_id=action.pk).state == OutboxState.UNKNOWN
    action.refresh_from_db()
    return action


def _retry(
    action: OutboxAction, agent: factories.User, *, seen: str | None = None, checked: bool = False
) -> OutboxAction:
    return services.retry_action(
        ticket=action.ticket,
        agent=agent,
        action_ref=action.public_id,
        seen=retry_token(action) if seen is None else seen,
        checked=checked,
    )


def _secret_in(text: str) -> str:
    return text.split("/r/#t=", 1)[1].split()[0].rstrip(".")


def _session() -> SessionStore:
    session = SessionStore()
    session.create()
    return session


# --- what a retry does ---------------------------------------------------------------------


def test_retry_action_posts_failed_reply_through_the_outbox(
    agent: factories.User,
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    action = _failed_reply(x_channel, simulator)

    with django_capture_on_commit_callbacks(execute=True):
        _retry(action, agent)

    action.refresh_from_db()
    replies = simulator.sim.snapshot()["x"]["replies"]
    assert len(replies) == 1
    assert action.ticket.reference in str(replies[0]["text"])
    assert (action.state, action.external_result_id) == (OutboxState.SENT, replies[0]["id"])
    assert (action.attempts, action.last_error_message) == (1, "")


def test_retry_action_resets_the_row_and_queues_the_task_on_commit_only(
    agent: factories.User,
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    action = _failed_reply(x_channel, simulator)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _retry(action, agent)

    action.refresh_from_db()
    assert action.state == OutboxState.PENDING
    assert (action.attempts, action.claimed_at) == (0, None)
    assert (action.last_error_code, action.last_error_message) == ("", "")
    assert action.next_attempt_at is not None
    assert action.next_attempt_at <= timezone.now()
    assert simulator.sim.snapshot()["x"]["replies"] == []  # nothing before the commit
    for callback in callbacks:  # type: ignore[attr-defined]
        callback()
    assert len(simulator.sim.snapshot()["x"]["replies"]) == 1


def test_retry_action_double_click_while_pending_posts_once(
    agent: factories.User,
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    action = _failed_reply(x_channel, simulator)
    seen = retry_token(action)

    with django_capture_on_commit_callbacks(execute=True):
        _retry(action, agent, seen=seen)
        with pytest.raises(ActionNotRetryable):
            _retry(action, agent, seen=seen)

    assert len(simulator.sim.snapshot()["x"]["replies"]) == 1
    assert AuditEvent.objects.filter(action="outbox.retry").count() == 1


def test_retry_action_second_submit_of_the_page_refused_after_first_retry_failed_again(
    agent: factories.User,
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    """With eager tasks the first retry has already ended ``failed`` when the second arrives."""
    action = _failed_reply(x_channel, simulator, refusals=2)
    seen = retry_token(action)
    with django_capture_on_commit_callbacks(execute=True):
        _retry(action, agent, seen=seen)
    action.refresh_from_db()
    assert action.state == OutboxState.FAILED

    with pytest.raises(ActionNotRetryable):
        _retry(action, agent, seen=seen)

    assert AuditEvent.objects.filter(action="outbox.retry").count() == 1
    assert retry_token(action) != seen


def test_retry_action_loses_the_race_when_the_row_changes_after_it_was_read(
    agent: factories.User,
    x_channel: Channel,
    simulator: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The compare-and-set UPDATE itself refuses, and the new secret is rolled back."""
    action = _unknown_dm(x_channel, simulator)
    secrets_before = action.ticket.secrets.count()
    real_refusal = retry_service.retry_refusal

    def refusal_then_other_request_wins(**kwargs: object) -> object:
        OutboxAction.objects.filter(pk=action.pk).update(state=OutboxState.PENDING)
        return real_refusal(**kwargs)

    monkeypatch.setattr(retry_service, "retry_refusal", refusal_then_other_request_wins)

    with pytest.raises(ActionNotRetryable):
        _retry(action, agent, checked=True)

    assert action.ticket.secrets.count() == secrets_before
    assert not AuditEvent.objects.filter(action="outbox.retry").exists()


def test_retry_action_of_unknown_private_message_sends_a_new_link(
    agent: factories.User,
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    action = _unknown_dm(x_channel, simulator)
    ticket = action.ticket
    old_text = vault.decrypt(ticket, action, "payload", action.payload_ciphertext)
    assert old_text is not None

    with django_capture_on_commit_callbacks(execute=True):
        _retry(action, agent, checked=True)

    action.refresh_from_db()
    dms = simulator.sim.snapshot()["x"]["dms_sent"]
    assert len(dms) == 1
    new_secret = _secret_in(str(dms[0]["text"]))
    assert new_secret != _secret_in(old_text)
    assert action.state == OutboxState.SENT
    assert portal.exchange_read_secret(session=_session(), secret=new_secret) == ticket
    # The old link is revoked: the ticket counts one private link, not two.
    with pytest.raises(LinkExpired):
        portal.exchange_read_secret(session=_session(), secret=_secret_in(old_text))
    assert ticket.secrets.filter(kind="read", revoked_at__isnull=True).count() == 1


def test_retry_action_of_unknown_reply_finds_it_on_the_platform_instead_of_posting_again(
    agent: factories.User,
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    # The reply did land, and the agent overlooked it: the outbox still finds it first.
    simulator.sim.customer_x_mention(PHONE_TEXT)
    _ingest(x_channel)
    action = OutboxAction.objects.select_related("ticket", "inbound__channel").get(
        kind=OutboxKind.PUBLIC_REPLY
    )
    text = vault.decrypt(action.ticket, action, "payload", action.payload_ciphertext) or ""
    posted = pipeline.connector_for(x_channel).reply_publicly(
        item_from_inbound(action.inbound), text
    )
    OutboxAction.objects.filter(pk=action.pk).update(
        state=OutboxState.UNKNOWN, claimed_at=timezone.now(), last_error_code="ambiguous"
    )
    action.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        _retry(action, agent, checked=True)

    action.refresh_from_db()
    assert len(simulator.sim.snapshot()["x"]["replies"]) == 1
    assert (action.state, action.external_result_id) == (OutboxState.SENT, posted)


def test_retry_action_of_unknown_refused_until_the_agent_checked(
    agent: factories.User,
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    action = _unknown_dm(x_channel, simulator)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RetryNotConfirmed):
        _retry(action, agent, checked=False)

    action.refresh_from_db()
    assert action.state == OutboxState.UNKNOWN
    assert simulator.sim.snapshot()["x"]["dms_sent"] == []


def test_retry_action_records_an_audit_event_with_ids_only(
    agent: factories.User, x_channel: Channel, simulator: RunningSimulator
) -> None:
    action = _unknown_dm(x_channel, simulator)
    old_text = vault.decrypt(action.ticket, action, "payload", action.payload_ciphertext)

    _retry(action, agent, checked=True)

    event = AuditEvent.objects.get(action="outbox.retry")
    assert (event.actor_type, event.actor_id) == ("user", str(agent.pk))
    assert (event.object_type, event.object_id) == ("outbox_action", str(action.public_id))
    assert event.ticket_public_id == action.ticket.public_id
    assert event.data == {
        "kind": "private_message",
        "from": "unknown",
        "new_link": True,
        "old_link_revoked": True,
    }
    assert old_text is not None
    assert _secret_in(old_text) not in json.dumps(list(AuditEvent.objects.values("data")))


def test_retry_action_broadcasts_the_pending_state_to_the_tickets_agents_on_commit(
    agent: factories.User,
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    action = _failed_reply(x_channel, simulator)
    sent: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr(events, "send_now", lambda group, event: sent.append((group, event)))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _retry(action, agent)
    assert sent == []
    with django_capture_on_commit_callbacks(execute=True):  # and what the task commits
        for callback in callbacks:  # type: ignore[attr-defined]
            callback()

    statuses = [e["status"] for g, e in sent if e.get("action") == str(action.public_id)]
    assert statuses == [OutboxState.PENDING, OutboxState.SENT]
    assert {g for g, _ in sent} == {events.ticket_agents_group(action.ticket.public_id)}


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "state",
    [OutboxState.PENDING, OutboxState.IN_FLIGHT, OutboxState.SENT, OutboxState.CANCELLED],
)
def test_retry_action_refuses_action_in_other_states(
    agent: factories.User, x_channel: Channel, simulator: RunningSimulator, state: str
) -> None:
    action = _failed_reply(x_channel, simulator)
    OutboxAction.objects.filter(pk=action.pk).update(state=state)
    action.refresh_from_db()

    with pytest.raises(ActionNotRetryable):
        _retry(action, agent, checked=True)

    action.refresh_from_db()
    assert (action.state, action.attempts) == (state, 1)
    assert not AuditEvent.objects.filter(action="outbox.retry").exists()


def _channel_status(status: str) -> Callable[[OutboxAction], object]:
    return lambda action: Channel.objects.filter(pk=action.channel_id).update(status=status)


# What happens to a failed reply's channel or ticket, and the refusal its retry then meets.
REFUSALS = [
    *(
        pytest.param(_channel_status(status), ChannelNotActive, id=f"channel-{status}")
        for status in (ChannelStatus.PAUSED, ChannelStatus.NEEDS_REAUTH, ChannelStatus.DRAFT)
    ),
    pytest.param(
        lambda action: ChannelPolicy.objects.filter(channel_id=action.channel_id).update(
            mode=PolicyMode.OBSERVE
        ),
        PolicyViolation,
        id="channel-observes-only",
    ),
    pytest.param(
        lambda action: Ticket.objects.filter(pk=action.ticket_id).update(
            status=TicketStatus.CLOSED
        ),
        TicketClosed,
        id="ticket-closed",
    ),
]


@pytest.mark.parametrize(("change", "refusal"), REFUSALS)
def test_retry_action_of_a_failed_reply_is_refused(
    agent: factories.User,
    x_channel: Channel,
    simulator: RunningSimulator,
    change: Callable[[OutboxAction], object],
    refusal: type[Exception],
) -> None:
    action = _failed_reply(x_channel, simulator)
    change(action)

    with pytest.raises(refusal):
        _retry(action, agent)

    action.refresh_from_db()
    assert action.state == OutboxState.FAILED
    assert not AuditEvent.objects.filter(action="outbox.retry").exists()


def test_retry_action_refuses_a_page_that_showed_another_outcome(
    agent: factories.User, x_channel: Channel, simulator: RunningSimulator
) -> None:
    """A page that showed ``failed`` cannot retry what became ``unknown`` without a check."""
    action = _failed_reply(x_channel, simulator)
    seen = retry_token(action)
    OutboxAction.objects.filter(pk=action.pk).update(
        state=OutboxState.UNKNOWN, claimed_at=timezone.now() + timedelta(seconds=1)
    )

    with pytest.raises(ActionNotRetryable):
        _retry(action, agent, seen=seen)

    action.refresh_from_db()
    assert action.state == OutboxState.UNKNOWN


def test_retry_action_refuses_agent_of_another_team(
    x_channel: Channel, simulator: RunningSimulator
) -> None:
    action = _failed_reply(x_channel, simulator)
    stranger = factories.agent_of(factories.TeamFactory())

    with pytest.raises(TicketNotFound):
        _retry(action, stranger)

    action.refresh_from_db()
    assert action.state == OutboxState.FAILED


def test_retry_action_refuses_action_of_another_ticket(
    agent: factories.User, x_channel: Channel, simulator: RunningSimulator
) -> None:
    action = _failed_reply(x_channel, simulator)
    other = factories.make_ticket(channel=x_channel)

    with pytest.raises(TicketNotFound):
        services.retry_action(
            ticket=other, agent=agent, action_ref=action.public_id, seen=retry_token(action)
        )

    action.refresh_from_db()
    assert action.state == OutboxState.FAILED


def test_retry_action_hides_on_closed_ticket(
    agent: factories.User,
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    """Hiding personal data is still worth doing after the conversation was closed."""
    comment = simulator.sim.customer_facebook_comment(EMAIL_TEXT, customer="lena")
    _ingest(fb_channel)
    hide = OutboxAction.objects.get(kind=OutboxKind.HIDE)
    OutboxAction.objects.filter(pk=hide.pk).update(
        state=OutboxState.FAILED, claimed_at=timezone.now()
    )
    hide.refresh_from_db()
    Ticket.objects.filter(pk=hide.ticket_id).update(status=TicketStatus.CLOSED)

    with django_capture_on_commit_callbacks(execute=True):
        _retry(hide, agent)

    hide.refresh_from_db()
    assert hide.state == OutboxState.SENT
    assert simulator.sim.snapshot()["facebook"]["hidden_comment_ids"] == [comment["comment_id"]]


def test_retry_action_refuses_private_message_after_access_was_ended(
    agent: factories.User, x_channel: Channel, simulator: RunningSimulator
) -> None:
    action = _unknown_dm(x_channel, simulator)
    services.end_portal_access(ticket=action.ticket, agent=agent)
    secrets_before = action.ticket.secrets.count()

    with pytest.raises(PortalAccessEnded):
        _retry(action, agent, checked=True)

    action.refresh_from_db()
    assert action.state == OutboxState.UNKNOWN
    assert action.ticket.secrets.count() == secrets_before


# --- what the ticket page offers -----------------------------------------------------------


def test_action_rows_offer_retry_for_failed_and_checked_retry_for_unknown(
    x_channel: Channel, simulator: RunningSimulator
) -> None:
    failed = _failed_reply(x_channel, simulator)
    unknown = _unknown_dm(x_channel, simulator)
    sent = OutboxAction.objects.create(
        ticket=failed.ticket,
        channel=x_channel,
        kind=OutboxKind.HIDE,
        target_external_id="sent-1",
        state=OutboxState.SENT,
    )
    ticket = Ticket.objects.select_related("channel").get(pk=failed.ticket_id)

    rows = action_rows(ticket=ticket, actions=[failed, unknown, sent])

    assert [(r.retry_token != "", r.needs_check, r.retry_note) for r in rows] == [
        (True, False, ""),
        (True, True, ""),
        (False, False, ""),
    ]


def test_action_rows_say_why_no_retry_while_the_channel_is_paused(
    x_channel: Channel, simulator: RunningSimulator
) -> None:
    failed = _failed_reply(x_channel, simulator)
    Channel.objects.filter(pk=x_channel.pk).update(status=ChannelStatus.PAUSED)
    ticket = Ticket.objects.select_related("channel").get(pk=failed.ticket_id)

    (row,) = action_rows(ticket=ticket, actions=[failed])

    assert row.retry_token == ""
    assert "not switched on" in row.retry_note
