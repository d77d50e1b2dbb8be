"""The pipeline against the platform simulator: real connectors, real SDKs, eager tasks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import redaction
from channels_bridge.items import Item, ItemKind
from channels_bridge.simulator import RunningSimulator
from inbox import events, services, vault
from inbox.models import (
    Channel,
    ChannelStatus,
    InboundMessage,
    InboundStatus,
    Message,
    OutboxAction,
    OutboxKind,
    OutboxState,
    Role,
    Team,
    Ticket,
)
from inbox.services import outbox, pipeline
from tests import factories

pytestmark = pytest.mark.django_db

PHONE_TEXT = "my parcel never came, call me on +49 151 23456789 please"
EMAIL_TEXT = "Bestellung fehlt! Schreiben Sie mir an jana.beispiel@example.org"
CommitRunner = Callable[..., object]


def _poll(channel: Channel, capture: CommitRunner) -> pipeline.PollOutcome:
    with capture(execute=True):
        return pipeline.poll_channel(channel_id=channel.pk)


def _replies(simulator: RunningSimulator, key: str) -> list[dict[str, object]]:
    platform, _, what = key.partition("_")
    return simulator.sim.snapshot()[platform][what]  # type: ignore[index,no-any-return]


def test_poll_mention_with_phone_opens_encrypted_ticket_and_replies_once(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    posted = simulator.sim.customer_x_mention(PHONE_TEXT)

    outcome = _poll(x_channel, django_capture_on_commit_callbacks)

    assert outcome.stored == 1
    ticket = Ticket.objects.get()
    message = Message.objects.get(ticket=ticket)
    assert b"23456789" not in bytes(message.body_ciphertext)
    assert vault.decrypt(ticket, message, "body", message.body_ciphertext).endswith(PHONE_TEXT)
    assert [f["entity"] for f in message.findings] == ["PHONE"]
    replies = _replies(simulator, "x_replies")
    assert len(replies) == 1
    assert replies[0]["in_reply_to_tweet_id"] == posted["tweet_id"]
    assert ticket.reference in str(replies[0]["text"])
    action = OutboxAction.objects.get(kind=OutboxKind.PUBLIC_REPLY)
    assert action.state == OutboxState.SENT
    assert action.external_result_id == replies[0]["id"]
    assert action.payload_ciphertext is None


def test_x_ask_dm_reply_carries_no_url_and_dm_from_author_gets_the_secret_link(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    simulator.sim.customer_x_mention(PHONE_TEXT, customer="tom")
    _poll(x_channel, django_capture_on_commit_callbacks)
    simulator.sim.customer_x_dm("Hi, here is my DM as you asked", customer="tom")
    Channel.objects.filter(pk=x_channel.pk).update(next_poll_at=None)

    _poll(x_channel, django_capture_on_commit_callbacks)

    public = _replies(simulator, "x_replies")
    assert "http" not in str(public[0]["text"])
    ticket = Ticket.objects.get()
    assert ticket.messages.count() == 2
    dms = _replies(simulator, "x_dms_sent")
    assert len(dms) == 1
    assert "/r/#t=" in str(dms[0]["text"])


def test_facebook_comment_with_email_replies_hides_and_sends_private_reply(
    fb_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    comment = simulator.sim.customer_facebook_comment(EMAIL_TEXT, customer="lena")

    _poll(fb_channel, django_capture_on_commit_callbacks)

    state = simulator.sim.snapshot()["facebook"]
    replies = state["replies"]
    assert len(replies) == 1
    assert "/s/" in replies[0]["message"]
    assert comment["comment_id"] in state["hidden_comment_ids"]
    assert len(state["private_replies"]) == 1
    assert "/r/#t=" in str(state["private_replies"][0])
    assert set(OutboxAction.objects.values_list("state", flat=True)) == {OutboxState.SENT}


def test_message_without_personal_data_is_ignored_and_not_kept(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    simulator.sim.customer_x_mention("love the new app design, great work!")

    _poll(x_channel, django_capture_on_commit_callbacks)

    inbound = InboundMessage.objects.get()
    assert inbound.status == InboundStatus.IGNORED
    assert inbound.text_ciphertext is None
    assert not Ticket.objects.exists()
    assert _replies(simulator, "x_replies") == []


def test_observe_mode_opens_ticket_without_platform_actions(
    team: Team, simulator: RunningSimulator, django_capture_on_commit_callbacks: CommitRunner
) -> None:
    channel = factories.simulated_channel(team=team, simulator=simulator, mode="observe")
    simulator.sim.customer_x_mention(PHONE_TEXT)

    _poll(channel, django_capture_on_commit_callbacks)

    assert Ticket.objects.count() == 1
    assert not OutboxAction.objects.exists()
    assert _replies(simulator, "x_replies") == []


def test_same_items_ingested_twice_store_one_message_and_one_reply(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    simulator.sim.customer_x_mention(PHONE_TEXT)
    batch = pipeline.connector_for(x_channel).fetch_since(None)

    with django_capture_on_commit_callbacks(execute=True):
        first = pipeline.ingest_items(channel=x_channel, items=batch.items)
    with django_capture_on_commit_callbacks(execute=True):
        second = pipeline.ingest_items(channel=x_channel, items=batch.items)

    assert (first.stored, second.stored, second.duplicates) == (1, 0, 1)
    assert InboundMessage.objects.count() == 1
    assert Ticket.objects.count() == 1
    assert len(_replies(simulator, "x_replies")) == 1


def test_process_message_second_run_is_noop(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    simulator.sim.customer_x_mention(PHONE_TEXT)
    batch = pipeline.connector_for(x_channel).fetch_since(None)
    result = pipeline.ingest_items(channel=x_channel, items=batch.items)

    first = pipeline.process_message(inbound_id=result.new_inbound_ids[0])
    second = pipeline.process_message(inbound_id=result.new_inbound_ids[0])

    assert (first.status, second.status) == ("processed", "noop")
    assert Ticket.objects.count() == 1
    assert OutboxAction.objects.count() == 1


def test_perform_action_second_run_does_not_post_again(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    simulator.sim.customer_x_mention(PHONE_TEXT)
    _poll(x_channel, django_capture_on_commit_callbacks)
    action = OutboxAction.objects.get()
    writes = simulator.sim.write_count()

    outcome = pipeline.perform_action(action_id=action.pk)

    assert outcome.state == OutboxState.SENT
    assert simulator.sim.write_count() == writes


def _pending_reply(x_channel: Channel, simulator: RunningSimulator) -> OutboxAction:
    simulator.sim.customer_x_mention(PHONE_TEXT)
    batch = pipeline.connector_for(x_channel).fetch_since(None)
    result = pipeline.ingest_items(channel=x_channel, items=batch.items)
    pipeline.process_message(inbound_id=result.new_inbound_ids[0])
    return OutboxAction.objects.get(kind=OutboxKind.PUBLIC_REPLY)


def test_rate_limited_action_waits_until_reset_then_completes(
    x_channel: Channel, simulator: RunningSimulator
) -> None:
    action = _pending_reply(x_channel, simulator)
    simulator.sim.add_fault(
        "rate_limit", platform="x", method="POST", path="/2/tweets", reset_after_s=90
    )

    limited = pipeline.perform_action(action_id=action.pk)
    too_early = pipeline.perform_action(action_id=action.pk)

    action.refresh_from_db()
    assert limited.state == OutboxState.PENDING
    assert limited.retry_at is not None
    assert limited.retry_at > timezone.now() + timedelta(seconds=80)
    assert too_early.state == OutboxState.PENDING
    assert action.attempts == 0  # rate limits do not count towards giving up
    assert _replies(simulator, "x_replies") == []
    OutboxAction.objects.filter(pk=action.pk).update(next_attempt_at=timezone.now())
    assert pipeline.perform_action(action_id=action.pk).state == OutboxState.SENT
    assert len(_replies(simulator, "x_replies")) == 1


def test_server_errors_retry_with_backoff_then_dead_letter(
    x_channel: Channel, simulator: RunningSimulator
) -> None:
    action = _pending_reply(x_channel, simulator)
    simulator.sim.add_fault(
        "server_error",
        platform="x",
        method="GET",
        path="/2/tweets/search/recent",
        times=None,
        status=503,
    )
    simulator.sim.add_fault(
        "server_error",
        platform="x",
        method="POST",
        path="/2/tweets",
        times=None,
        status=503,
        crash_mode="500",
    )

    outcomes = []
    for _ in range(pipeline.MAX_ACTION_ATTEMPTS + 1):
        OutboxAction.objects.filter(pk=action.pk).update(next_attempt_at=None)
        outcomes.append(pipeline.perform_action(action_id=action.pk).state)

    action.refresh_from_db()
    assert action.state == OutboxState.FAILED
    assert "Gave up" in action.last_error_message
    assert OutboxState.PENDING in outcomes
    assert _replies(simulator, "x_replies") == []


def test_crash_after_post_reconciles_without_second_post(
    x_channel: Channel, simulator: RunningSimulator
) -> None:
    action = _pending_reply(x_channel, simulator)
    simulator.sim.add_fault("crash_after_write", platform="x", method="POST", path="/2/tweets")

    first = pipeline.perform_action(action_id=action.pk)
    second = pipeline.perform_action(action_id=action.pk)

    action.refresh_from_db()
    assert first.state == OutboxState.PENDING
    assert second.state == OutboxState.SENT
    replies = _replies(simulator, "x_replies")
    assert len(replies) == 1
    assert action.external_result_id == replies[0]["id"]


def test_stale_claim_of_dead_worker_is_reconciled_by_the_sweeper(
    x_channel: Channel, simulator: RunningSimulator, settings: object
) -> None:
    action = _pending_reply(x_channel, simulator)
    # A worker posted the reply, then died before recording it.
    connector = pipeline.connector_for(x_channel)
    connector.reply_publicly(
        pipeline.item_from_inbound(action.inbound), f"reply {action.ticket.reference}"
    )
    OutboxAction.objects.filter(pk=action.pk).update(
        state=OutboxState.IN_FLIGHT, claimed_at=timezone.now() - timedelta(minutes=10), attempts=1
    )

    result = pipeline.run_inline(poll=False)

    action.refresh_from_db()
    assert result.swept is not None
    assert result.swept.reconcile == 1
    assert action.state == OutboxState.SENT
    assert len(_replies(simulator, "x_replies")) == 1


def test_permission_denied_fails_with_readable_reason_and_no_retry(
    x_channel: Channel, simulator: RunningSimulator
) -> None:
    action = _pending_reply(x_channel, simulator)
    simulator.sim.add_fault(
        "server_error", platform="x", method="POST", path="/2/tweets", status=403
    )

    outcome = pipeline.perform_action(action_id=action.pk)

    action.refresh_from_db()
    assert outcome.state == OutboxState.FAILED
    assert outcome.retry_at is None
    assert action.last_error_message


def test_auth_expired_marks_channel_notifies_admins_once_and_resumes(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    factories.agent_of(x_channel.team, role=Role.ADMIN, email="admin@example.org")
    simulator.sim.customer_x_mention(PHONE_TEXT, customer="tom")
    simulator.sim.expire_tokens("x")

    first = _poll(x_channel, django_capture_on_commit_callbacks)
    x_channel.refresh_from_db()
    second = _poll(x_channel, django_capture_on_commit_callbacks)

    assert (first.status, second.status) == ("needs_reauth", "skipped")
    assert x_channel.status == ChannelStatus.NEEDS_REAUTH
    assert len(mail.outbox) == 1
    assert "re-authorisation" in mail.outbox[0].subject
    assert f"/channels/{x_channel.public_id}/credentials/" in mail.outbox[0].body
    assert not InboundMessage.objects.exists()

    simulator.sim.renew_tokens("x")
    services.set_channel_credentials(
        channel=x_channel, credentials=simulator.credentials("x"), changed_by=None
    )
    resumed = _poll(x_channel, django_capture_on_commit_callbacks)

    assert resumed.status == "ok"
    assert Ticket.objects.count() == 1
    assert len(mail.outbox) == 1


def test_poll_rate_limited_backs_off_until_reset(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    simulator.sim.add_fault("rate_limit", platform="x", method="GET", reset_after_s=120)

    outcome = _poll(x_channel, django_capture_on_commit_callbacks)

    x_channel.refresh_from_db()
    assert outcome.status == "rate_limited"
    assert x_channel.next_poll_at is not None
    assert x_channel.next_poll_at > timezone.now() + timedelta(seconds=100)
    assert pipeline.claim_due_channels() == []


def test_own_echo_confirms_in_flight_reply_and_opens_no_ticket(
    x_channel: Channel, simulator: RunningSimulator
) -> None:
    action = _pending_reply(x_channel, simulator)
    OutboxAction.objects.filter(pk=action.pk).update(
        state=OutboxState.IN_FLIGHT, claimed_at=timezone.now()
    )
    reply_id = pipeline.connector_for(x_channel).reply_publicly(
        pipeline.item_from_inbound(action.inbound), f"see DM {action.ticket.reference}"
    )
    echo = Item(
        platform="x",
        kind=ItemKind.REPLY,
        external_id=reply_id,
        author_id=x_channel.external_account_id,
        author_handle="acme",
        author_name="Acme",
        text="see DM",
        created_at=timezone.now(),
        permalink=None,
        parent_id=action.target_external_id,
        conversation_id=action.inbound.conversation_external_id,
        from_self=True,
    )

    result = pipeline.ingest_items(channel=x_channel, items=[echo])

    action.refresh_from_db()
    assert result.echoes == 1
    assert result.new_inbound_ids == ()
    assert action.state == OutboxState.SENT
    assert action.external_result_id == reply_id
    assert Ticket.objects.count() == 1


def test_redaction_failure_fails_closed_and_is_retried(
    x_channel: Channel, simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator.sim.customer_x_mention(PHONE_TEXT)
    batch = pipeline.connector_for(x_channel).fetch_since(None)
    result = pipeline.ingest_items(channel=x_channel, items=batch.items)

    def broken_scan(text: str, **kwargs: object) -> list[object]:
        raise RuntimeError("detector crashed")

    monkeypatch.setattr(redaction, "scan", broken_scan)
    with pytest.raises(pipeline.RedactionFailed):
        pipeline.process_message(inbound_id=result.new_inbound_ids[0])

    inbound = InboundMessage.objects.get()
    assert inbound.status == InboundStatus.FAILED
    assert not Ticket.objects.exists()
    assert not OutboxAction.objects.exists()
    monkeypatch.undo()
    InboundMessage.objects.update(received_at=timezone.now() - timedelta(minutes=5))
    pipeline.run_inline(poll=False)
    assert Ticket.objects.count() == 1


def test_later_message_in_same_thread_joins_the_open_ticket(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    first = simulator.sim.customer_x_mention(PHONE_TEXT, customer="tom")
    _poll(x_channel, django_capture_on_commit_callbacks)
    simulator.sim.customer_x_mention(
        "also my email is tom.example@example.net",
        customer="tom",
        in_reply_to_tweet_id=first["tweet_id"],
    )
    Channel.objects.filter(pk=x_channel.pk).update(next_poll_at=None)

    _poll(x_channel, django_capture_on_commit_callbacks)

    assert Ticket.objects.count() == 1
    assert Message.objects.count() == 2
    assert len(_replies(simulator, "x_replies")) == 1


def test_items_without_a_conversation_id_never_join_each_other(
    x_channel: Channel, django_capture_on_commit_callbacks: CommitRunner
) -> None:
    def mention(external_id: str) -> Item:
        return Item(
            platform="x",
            kind=ItemKind.MENTION,
            external_id=external_id,
            author_id="1710000000000000009",
            author_handle="someone",
            author_name="Some One",
            text="help, call me on +49 151 23456789",
            created_at=timezone.now(),
            permalink=None,
            parent_id=None,
            conversation_id=None,
        )

    with django_capture_on_commit_callbacks(execute=True):
        pipeline.ingest_items(channel=x_channel, items=[mention("1860000000000000901")])
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.ingest_items(channel=x_channel, items=[mention("1860000000000000902")])

    assert Ticket.objects.count() == 2


def test_batch_with_a_thread_split_across_it_lands_in_one_ticket_per_thread(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    first = simulator.sim.customer_x_mention(PHONE_TEXT, customer="tom")
    simulator.sim.customer_x_mention(
        "and my email is tom.example@example.net",
        customer="tom",
        in_reply_to_tweet_id=first["tweet_id"],
    )
    simulator.sim.customer_x_mention("call me on +44 7700 900123", customer="lena")
    simulator.sim.customer_x_mention("thanks for the fast delivery, love it", customer="diego")
    batch = pipeline.connector_for(x_channel).fetch_since(None)
    stored = pipeline.ingest_items(channel=x_channel, items=batch.items)

    with django_capture_on_commit_callbacks(execute=True):
        result = pipeline.process_messages(inbound_ids=list(stored.new_inbound_ids))

    statuses = sorted(o.status for o in result.outcomes.values())
    assert statuses == ["ignored", "processed", "processed", "processed"]
    assert Ticket.objects.count() == 2
    tom = Ticket.objects.get(author_external_id=first["author_id"])
    assert tom.messages.count() == 2
    # One public reply per ticket-opening item and one for the joining item's thread only.
    replies = _replies(simulator, "x_replies")
    assert sorted(r["in_reply_to_tweet_id"] for r in replies) == sorted(
        OutboxAction.objects.filter(kind=OutboxKind.PUBLIC_REPLY).values_list(
            "target_external_id", flat=True
        )
    )
    assert set(OutboxAction.objects.values_list("state", flat=True)) == {OutboxState.SENT}
    assert not InboundMessage.objects.filter(text_ciphertext__isnull=False).exists()
    assert all(i.ticket_id for i in InboundMessage.objects.filter(status="processed"))


def test_batch_second_run_is_a_noop(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    for customer in ("tom", "lena", "camille"):
        simulator.sim.customer_x_mention(PHONE_TEXT, customer=customer)
    batch = pipeline.connector_for(x_channel).fetch_since(None)
    ids = list(pipeline.ingest_items(channel=x_channel, items=batch.items).new_inbound_ids)
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.process_messages(inbound_ids=ids)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = pipeline.process_messages(inbound_ids=ids)

    assert {o.status for o in again.outcomes.values()} == {"noop"}
    assert callbacks == []
    assert Ticket.objects.count() == 3
    assert len(_replies(simulator, "x_replies")) == 3


def test_batch_scan_failure_of_one_item_leaves_the_others_processed(
    x_channel: Channel,
    simulator: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    simulator.sim.customer_x_mention(PHONE_TEXT, customer="tom")
    simulator.sim.customer_x_mention("poison pill, call +49 151 99999999", customer="lena")
    batch = pipeline.connector_for(x_channel).fetch_since(None)
    ids = list(pipeline.ingest_items(channel=x_channel, items=batch.items).new_inbound_ids)
    real_scan = redaction.scan

    def scan_failing_on_poison(text: str, **kwargs: object) -> list[redaction.Finding]:
        if "poison" in text:
            raise RuntimeError("detector crashed")
        return real_scan(text)

    monkeypatch.setattr(redaction, "scan", scan_failing_on_poison)
    with django_capture_on_commit_callbacks(execute=True):
        result = pipeline.process_messages(inbound_ids=ids)

    assert len(result.failed) == 1
    failed = InboundMessage.objects.get(pk=result.failed[0])
    assert failed.status == InboundStatus.FAILED
    assert failed.text_ciphertext is not None  # kept encrypted, to retry; shown nowhere
    assert Ticket.objects.count() == 1
    assert result.outcomes[next(i for i in ids if i != failed.pk)].status == "processed"


def _ingest_three_mentions(x_channel: Channel, simulator: RunningSimulator) -> list[int]:
    """Three customers mention the brand; the items are stored, not yet processed."""
    for customer in ("tom", "lena", "camille"):
        simulator.sim.customer_x_mention(PHONE_TEXT, customer=customer)
    batch = pipeline.connector_for(x_channel).fetch_since(None)
    return list(pipeline.ingest_items(channel=x_channel, items=batch.items).new_inbound_ids)


def _three_pending_replies(
    x_channel: Channel, simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> list[OutboxAction]:
    """Three mentions processed into pending public replies; their tasks are kept from running."""
    monkeypatch.setattr("inbox.services.processing.enqueue_on_commit", lambda *a, **k: None)
    pipeline.process_messages(inbound_ids=_ingest_three_mentions(x_channel, simulator))
    return list(OutboxAction.objects.order_by("pk"))


def test_perform_actions_claims_due_ones_and_leaves_the_rest_to_their_time(
    x_channel: Channel,
    simulator: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    actions = _three_pending_replies(x_channel, simulator, monkeypatch)
    later = timezone.now() + timedelta(minutes=5)
    OutboxAction.objects.filter(pk=actions[0].pk).update(next_attempt_at=later)

    outcomes = pipeline.perform_actions(action_ids=[a.pk for a in actions])

    assert outcomes[actions[0].pk].state == OutboxState.PENDING
    assert outcomes[actions[0].pk].retry_at == later
    assert all(outcomes[a.pk].state == OutboxState.SENT for a in actions[1:])
    assert len(_replies(simulator, "x_replies")) == 2
    again = pipeline.perform_actions(action_ids=[a.pk for a in actions[1:]])
    assert {o.state for o in again.values()} == {OutboxState.SENT}
    assert len(_replies(simulator, "x_replies")) == 2


@pytest.mark.django_db(transaction=True)
def test_mark_sent_is_one_statement_and_broadcasts_once(
    x_channel: Channel, simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("inbox.services.processing.enqueue_on_commit", lambda *a, **k: None)
    broadcasts: list[int] = []
    monkeypatch.setattr(outbox, "_broadcast_action", lambda action: broadcasts.append(action.pk))
    action = _pending_reply(x_channel, simulator)

    with CaptureQueriesContext(connection) as queries:
        first = outbox.mark_sent(action, "1860000000000000001", how="posted")
    second = outbox.mark_sent(action, "1860000000000000002", how="posted")

    assert first.state == second.state == OutboxState.SENT
    assert len(queries) == 1
    assert broadcasts == [action.pk]
    stored = OutboxAction.objects.get(pk=action.pk)
    assert stored.state == OutboxState.SENT
    assert stored.external_result_id == "1860000000000000001"
    assert stored.payload_ciphertext is None
    assert stored.sent_at is not None


@pytest.mark.django_db(transaction=True)
def test_mark_sent_inside_a_transaction_leaves_its_commit_durable(
    x_channel: Channel, simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("inbox.services.processing.enqueue_on_commit", lambda *a, **k: None)
    action = _pending_reply(x_channel, simulator)

    with transaction.atomic():
        outbox.mark_sent(action, "1860000000000000001", how="posted")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW synchronous_commit")
                assert cursor.fetchone() == ("on",)

    assert OutboxAction.objects.get(pk=action.pk).state == OutboxState.SENT


def _spy_on_writes_and_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, object]]:
    """Record, in order, each platform call's action and each set of results stored."""
    seen: list[tuple[str, object]] = []
    store, call = outbox._store_sent_many, outbox._call_platform

    def storing(results: dict[int, str]) -> set[int]:
        seen.append(("store", set(results)))
        return store(results)

    def calling(connector: object, action: OutboxAction, *args: object, **kwargs: object) -> object:
        seen.append(("call", action.pk))
        return call(connector, action, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(outbox, "_store_sent_many", storing)
    monkeypatch.setattr(outbox, "_call_platform", calling)
    return seen


@pytest.mark.django_db(transaction=True)
def test_perform_actions_stores_the_replies_of_a_batch_together(
    x_channel: Channel, simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [a.pk for a in _three_pending_replies(x_channel, simulator, monkeypatch)]
    broadcasts: list[int] = []
    monkeypatch.setattr(outbox, "_broadcast_action", lambda action: broadcasts.append(action.pk))
    seen = _spy_on_writes_and_calls(monkeypatch)

    with CaptureQueriesContext(connection) as queries:
        outcomes = pipeline.perform_actions(action_ids=ids)

    assert seen == [*(("call", pk) for pk in ids), ("store", set(ids))]
    if connection.vendor == "postgresql":  # SQLite writes them one by one
        writes = [q["sql"] for q in queries if q["sql"].lstrip().startswith(("UPDATE", "WITH"))]
        assert sum("external_result_id" in sql for sql in writes) == 1
    assert {o.state for o in outcomes.values()} == {OutboxState.SENT}
    assert sorted(broadcasts) == ids
    replies = {str(r["in_reply_to_tweet_id"]): r["id"] for r in _replies(simulator, "x_replies")}
    stored = OutboxAction.objects.filter(state=OutboxState.SENT, payload_ciphertext=None)
    assert {a.target_external_id: a.external_result_id for a in stored} == replies


def test_perform_actions_stores_results_before_the_next_call_once_they_waited(
    x_channel: Channel, simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A slow platform: each result has waited long enough by the time the next call starts.
    monkeypatch.setattr(outbox._SentResults, "FLUSH_AFTER", 0.0)
    ids = [a.pk for a in _three_pending_replies(x_channel, simulator, monkeypatch)]
    seen = _spy_on_writes_and_calls(monkeypatch)

    pipeline.perform_actions(action_ids=ids)

    assert seen == [
        ("call", ids[0]),
        ("store", {ids[0]}),
        ("call", ids[1]),
        ("store", {ids[1]}),
        ("call", ids[2]),
        ("store", {ids[2]}),
    ]
    assert set(OutboxAction.objects.values_list("state", flat=True)) == {OutboxState.SENT}


def test_perform_actions_stores_a_private_message_before_the_next_call(
    fb_channel: Channel, simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing finds a sent private message again after a crash: it never waits.
    monkeypatch.setattr("inbox.services.processing.enqueue_on_commit", lambda *a, **k: None)
    simulator.sim.customer_facebook_comment(EMAIL_TEXT, customer="lena")
    simulator.sim.customer_facebook_comment(EMAIL_TEXT, customer="tom")
    batch = pipeline.connector_for(fb_channel).fetch_since(None)
    inbound_ids = pipeline.ingest_items(channel=fb_channel, items=batch.items).new_inbound_ids
    pipeline.process_messages(inbound_ids=list(inbound_ids))
    actions = list(OutboxAction.objects.order_by("pk").values_list("pk", "kind"))
    seen = _spy_on_writes_and_calls(monkeypatch)

    pipeline.perform_actions(action_ids=[pk for pk, _ in actions])

    private = [pk for pk, kind in actions if kind == OutboxKind.PRIVATE_MESSAGE]
    others = {pk for pk, kind in actions if kind != OutboxKind.PRIVATE_MESSAGE}
    assert len(private) == 2
    assert len(others) == 4
    for pk in private:
        assert seen[seen.index(("call", pk)) + 1] == ("store", {pk})
    assert seen[-1] == ("store", others)
    assert set(OutboxAction.objects.values_list("state", flat=True)) == {OutboxState.SENT}


def test_results_lost_before_they_were_stored_are_reconciled_without_posting_again(
    x_channel: Channel,
    simulator: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
    settings: object,
) -> None:
    # The write of a batch's results fails (a crash would lose them the same way): the claims
    # go stale, and the next attempt finds each reply instead of posting it a second time.
    ids = [a.pk for a in _three_pending_replies(x_channel, simulator, monkeypatch)]
    store = outbox._store_sent_many

    def lost(results: dict[int, str]) -> set[int]:
        raise RuntimeError("worker died")

    monkeypatch.setattr(outbox, "_store_sent_many", lost)
    with pytest.raises(RuntimeError):
        pipeline.perform_actions(action_ids=ids)
    assert set(OutboxAction.objects.values_list("state", flat=True)) == {OutboxState.IN_FLIGHT}
    monkeypatch.setattr(outbox, "_store_sent_many", store)
    settings.HAVEN_STALE_CLAIM_SECONDS = 0  # type: ignore[attr-defined]

    outcomes = [pipeline.perform_action(action_id=pk) for pk in ids]

    assert {o.state for o in outcomes} == {OutboxState.SENT}
    assert simulator.sim.write_count("x POST /2/tweets") == 3
    replies = {str(r["in_reply_to_tweet_id"]): r["id"] for r in _replies(simulator, "x_replies")}
    stored = OutboxAction.objects.all()
    assert {a.target_external_id: a.external_result_id for a in stored} == replies


def test_perform_actions_gives_back_claims_it_has_no_time_left_for(
    x_channel: Channel,
    simulator: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
    settings: object,
) -> None:
    # Past half the stale-claim time, the sweeper may take a claim over and post it: a slow
    # batch must not post what it still holds after that.
    actions = _three_pending_replies(x_channel, simulator, monkeypatch)
    settings.HAVEN_STALE_CLAIM_SECONDS = 1  # type: ignore[attr-defined]
    simulator.sim.add_fault("slow", platform="x", method="POST", path="/2/tweets", delay_ms=700)

    outcomes = pipeline.perform_actions(action_ids=[a.pk for a in actions])

    assert outcomes[actions[0].pk].state == OutboxState.SENT
    assert [outcomes[a.pk].state for a in actions[1:]] == [OutboxState.PENDING] * 2
    assert all(outcomes[a.pk].retry_at is not None for a in actions[1:])
    assert len(_replies(simulator, "x_replies")) == 1
    left = OutboxAction.objects.filter(pk__in=[a.pk for a in actions[1:]])
    assert {(a.state, a.attempts) for a in left} == {(OutboxState.PENDING, 0)}
    again = pipeline.perform_actions(action_ids=[a.pk for a in actions[1:]])
    assert {o.state for o in again.values()} == {OutboxState.SENT}
    assert len(_replies(simulator, "x_replies")) == 3


def test_a_batch_of_new_tickets_tells_the_team_once(
    x_channel: Channel,
    simulator: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    monkeypatch.setattr("inbox.services.processing.enqueue_on_commit", lambda *a, **k: None)
    sent: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr(events, "send_now", lambda group, event: sent.append((group, event)))
    ids = _ingest_three_mentions(x_channel, simulator)

    with django_capture_on_commit_callbacks(execute=True):
        pipeline.process_messages(inbound_ids=ids)

    tickets = [str(t.public_id) for t in Ticket.objects.order_by("pk")]
    assert len(tickets) == 3
    assert sent == [
        (
            events.team_group(x_channel.team.public_id),
            {"type": "inbox.tickets_created", "tickets": tickets},
        )
    ]
