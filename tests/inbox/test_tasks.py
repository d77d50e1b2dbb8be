"""Tasks: ids in, the service of the same name, a no-op when run twice."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from channels_bridge.simulator import RunningSimulator
from inbox import tasks
from inbox.models import Channel, OutboxAction, OutboxState, Ticket
from inbox.services import pipeline

pytestmark = pytest.mark.django_db
CommitRunner = Callable[..., object]


def test_task_names_are_explicit() -> None:
    assert tasks.process_message.name == "inbox.process_message"
    assert tasks.perform_action.name == "inbox.perform_action"
    assert tasks.poll_channel.name == "inbox.poll_channel"
    assert tasks.sweep.name == "inbox.sweep"


def test_tasks_ack_late_for_redelivery_after_a_crash() -> None:
    for task in (tasks.process_message, tasks.perform_action, tasks.poll_channel, tasks.sweep):
        assert task.acks_late is True


def test_poll_task_runs_the_pipeline_and_second_apply_is_noop(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    simulator.sim.customer_x_mention("refund please, call +49 151 23456789")

    with django_capture_on_commit_callbacks(execute=True):
        tasks.poll_channel.apply(args=[x_channel.pk])
    action = OutboxAction.objects.get()
    writes = simulator.sim.write_count()
    tasks.perform_action.apply(args=[action.pk])
    with django_capture_on_commit_callbacks(execute=True):
        tasks.poll_channel.apply(args=[x_channel.pk])

    assert Ticket.objects.count() == 1
    assert OutboxAction.objects.get().state == OutboxState.SENT
    assert simulator.sim.write_count() == writes


def test_perform_action_task_with_rate_limit_leaves_row_for_retry_in_eager_mode(
    x_channel: Channel, simulator: RunningSimulator
) -> None:
    simulator.sim.customer_x_mention("refund please, call +49 151 23456789")
    result = pipeline.ingest_items(
        channel=x_channel, items=pipeline.connector_for(x_channel).fetch_since(None).items
    )
    pipeline.process_message(inbound_id=result.new_inbound_ids[0])
    simulator.sim.add_fault("rate_limit", platform="x", method="POST", path="/2/tweets")

    outcome = tasks.perform_action.apply(args=[OutboxAction.objects.get().pk])

    action = OutboxAction.objects.get()
    assert outcome.successful()
    assert action.state == OutboxState.PENDING
    assert action.next_attempt_at is not None


def test_process_message_task_swallows_redaction_failure_in_eager_mode(
    x_channel: Channel, simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redaction

    simulator.sim.customer_x_mention("call +49 151 23456789")
    result = pipeline.ingest_items(
        channel=x_channel, items=pipeline.connector_for(x_channel).fetch_since(None).items
    )
    monkeypatch.setattr(redaction, "scan", lambda text, **kw: 1 / 0)

    outcome = tasks.process_message.apply(args=[result.new_inbound_ids[0]])

    assert outcome.successful()
    assert not Ticket.objects.exists()
