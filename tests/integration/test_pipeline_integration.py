"""The pipeline end to end on real PostgreSQL and Redis, a real Celery worker and the simulator.

Marked ``integration``: `.ci/run` runs these with DATABASE_URL and REDIS_URL set; without
those services they fail loudly (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone

from channels_bridge.simulator import RunningSimulator, server
from inbox import audit, tasks
from inbox.models import (
    AuditEvent,
    Channel,
    ChannelStatus,
    InboundMessage,
    Message,
    OutboxAction,
    OutboxKind,
    OutboxState,
    Platform,
    Team,
    Ticket,
)
from inbox.services import pipeline, set_channel_credentials
from tests import factories
from tests.integration.conftest import Worker, wait_for, worker_env, x_mention_webhook

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PHONE_TEXT = "parcel lost again, ring me on +49 151 23456789"


@pytest.fixture
def x_channel(simulator: RunningSimulator) -> Channel:
    team = Team.objects.create(name="Integration")
    return factories.simulated_channel(team=team, simulator=simulator, platform=Platform.X)


def _x_replies(simulator: RunningSimulator) -> list[dict[str, object]]:
    return simulator.sim.snapshot()["x"]["replies"]  # type: ignore[index,no-any-return]


def _all_sent() -> bool:
    states = set(OutboxAction.objects.values_list("state", flat=True))
    return bool(states) and states == {OutboxState.SENT}


def test_mention_with_phone_end_to_end_through_worker(
    worker: Worker, x_channel: Channel, simulator: RunningSimulator
) -> None:
    posted = simulator.sim.customer_x_mention(PHONE_TEXT)

    tasks.poll_channel.delay(x_channel.pk)

    wait_for(_all_sent, what="the public reply to be sent")
    replies = _x_replies(simulator)
    assert len(replies) == 1
    assert replies[0]["in_reply_to_tweet_id"] == posted["tweet_id"]
    ticket = Ticket.objects.get()
    assert ticket.reference in str(replies[0]["text"])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT body_ciphertext FROM inbox_message WHERE ticket_id = %s", [ticket.pk]
        )
        (blob,) = cursor.fetchone()
    assert b"23456789" not in bytes(blob)


def test_burst_of_mentions_processed_in_batches_replies_once_each(
    worker: Worker, x_channel: Channel, simulator: RunningSimulator
) -> None:
    customers = ("lena", "tom", "camille", "diego", "giulia", "sanne")
    count = pipeline.PROCESS_BATCH * 2 + 7  # several batches, the last one partial
    posted = [
        simulator.sim.customer_x_mention(
            f"order {i} lost, ring me on +49 151 2345{i:04d}", customer=customers[i % 6]
        )["tweet_id"]
        for i in range(count)
    ]

    tasks.poll_channel.delay(x_channel.pk)

    wait_for(
        lambda: OutboxAction.objects.filter(state=OutboxState.SENT).count() == count,
        timeout=120,
        what=f"{count} public replies",
    )
    replies = _x_replies(simulator)
    assert sorted(str(r["in_reply_to_tweet_id"]) for r in replies) == sorted(posted)
    assert Ticket.objects.count() == count
    assert Message.objects.count() == count
    assert audit.verify().ok  # the batched secret events chained in order


def test_threads_outbox_worker_beside_the_prefork_one_posts_each_reply_once(
    worker: Worker, x_channel: Channel, simulator: RunningSimulator
) -> None:
    # Both workers consume the outbox queue and race for the same actions.
    outbox = Worker(worker_env(), args=("--queues=outbox", "--pool=threads"))
    outbox.start()
    try:
        count = 40
        posted = [
            simulator.sim.customer_x_mention(
                f"parcel {i} missing, ring me on +49 151 3345{i:04d}",
                customer=("lena", "tom", "camille", "diego")[i % 4],
            )["tweet_id"]
            for i in range(count)
        ]

        tasks.poll_channel.delay(x_channel.pk)

        wait_for(
            lambda: OutboxAction.objects.filter(state=OutboxState.SENT).count() == count,
            timeout=120,
            what=f"{count} public replies",
        )
    finally:
        outbox.stop()
    replies = _x_replies(simulator)
    assert sorted(str(r["in_reply_to_tweet_id"]) for r in replies) == sorted(posted)
    banner = "\n".join(outbox.output)
    # It consumed the platform calls' queue only.
    assert ".> outbox" in banner
    assert ".> celery" not in banner


def test_burst_of_events_on_redis_layer_all_delivered_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two watched groups, their events interleaved: each hears all of its own, in order."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from inbox import events

    layer = get_channel_layer()
    # Room for the whole burst in each receiving channel (default 100), so nothing but the
    # sender can lose an event, however late the receiving starts.
    monkeypatch.setattr(layer, "capacity", 1000)
    groups = [events.team_group(uuid.uuid4()) for _ in range(2)]
    receivers = [async_to_sync(layer.new_channel)() for _ in groups]
    for group, receiver in zip(groups, receivers, strict=True):
        async_to_sync(layer.group_add)(group, receiver)
    sent = [uuid.uuid4() for _ in range(200)]  # past the layer's connection pool

    for n, ticket in enumerate(sent):
        events.send_now(
            groups[n % 2],
            events.ticket_changed(ticket_public_id=ticket, status="open", change="created"),
        )

    async def receive_all(receiver: str, expected: int) -> list[str]:
        got: list[str] = []
        with contextlib.suppress(TimeoutError):
            while len(got) < expected:
                got.append((await asyncio.wait_for(layer.receive(receiver), timeout=10))["ticket"])
        return got

    for n, receiver in enumerate(receivers):
        assert async_to_sync(receive_all)(receiver, 100) == [str(t) for t in sent[n::2]]


def test_events_for_groups_without_members_cost_no_group_send(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pipeline burst is mostly events for tickets nobody has open: those are dropped after
    one pipelined membership check, and the one watched ticket still hears of its action."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from inbox import events

    layer = get_channel_layer()
    group_sends: list[str] = []
    real_group_send = layer.group_send

    async def counting_group_send(group: str, message: dict[str, object]) -> None:
        group_sends.append(group)
        await real_group_send(group, message)

    monkeypatch.setattr(layer, "group_send", counting_group_send)
    watched = uuid.uuid4()
    receiver = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(events.ticket_agents_group(watched), receiver)

    def action_sent(ticket: uuid.UUID) -> None:
        events.send_now(
            events.ticket_agents_group(ticket),
            events.action_changed(
                ticket_public_id=ticket, action_public_id=uuid.uuid4(), status="sent"
            ),
        )

    for _ in range(50):
        action_sent(uuid.uuid4())
    action_sent(watched)  # last: once it arrives, every event before it was handled

    async def receive() -> dict[str, object]:
        return await asyncio.wait_for(layer.receive(receiver), timeout=10)  # type: ignore[no-any-return]

    assert async_to_sync(receive)()["ticket"] == str(watched)
    assert group_sends == [events.ticket_agents_group(watched)]


def test_same_event_five_times_concurrently_creates_one_message(
    worker: Worker, x_channel: Channel, simulator: RunningSimulator
) -> None:
    simulator.sim.customer_x_mention(PHONE_TEXT)
    items = pipeline.connector_for(x_channel).fetch_since(None).items
    deliver = x_mention_webhook(
        x_channel,
        simulator,
        tweet_id=items[0].external_id,
        author_id=items[0].author_id or "",
        text=items[0].text,
        created_at=items[0].created_at,
    )
    barrier = threading.Barrier(5)

    def webhook() -> int:
        barrier.wait()
        try:
            return deliver()
        finally:
            connections.close_all()

    def poll() -> int:
        barrier.wait()
        try:
            Channel.objects.filter(pk=x_channel.pk).update(poll_cursor="")
            pipeline.poll_channel(channel_id=x_channel.pk)
            return 200
        finally:
            connections.close_all()

    with ThreadPoolExecutor(5) as pool:
        results = [
            f.result()
            for f in [pool.submit(webhook) for _ in range(3)]
            + [pool.submit(poll) for _ in range(2)]
        ]

    assert results == [200] * 5
    wait_for(_all_sent, what="the reply to be sent")
    time.sleep(1)  # let any duplicate task show itself
    assert InboundMessage.objects.count() == 1
    assert Ticket.objects.count() == 1
    assert Message.objects.count() == 1
    assert len(_x_replies(simulator)) == 1


def test_worker_sigkill_after_post_redelivers_without_duplicate(
    worker: Worker, x_channel: Channel, simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    posted = threading.Event()
    original = server.xapi.handle

    def accept_then_hang(sim: object, req: server.Request) -> object:
        response = original(sim, req)  # type: ignore[arg-type]
        if req.method == "POST" and req.path == "/2/tweets":
            posted.set()
            time.sleep(8)  # the platform accepted the reply; its answer is slow to arrive
        return response

    monkeypatch.setattr(server.xapi, "handle", accept_then_hang)
    simulator.sim.customer_x_mention(PHONE_TEXT)
    tasks.poll_channel.delay(x_channel.pk)

    assert posted.wait(30), "the worker never posted the reply"
    worker.kill()
    monkeypatch.setattr(server.xapi, "handle", original)
    action = OutboxAction.objects.get(kind=OutboxKind.PUBLIC_REPLY)
    assert action.state == OutboxState.IN_FLIGHT
    worker.start()
    time.sleep(2.5)  # past HAVEN_STALE_CLAIM_SECONDS=2 of the worker
    tasks.sweep.delay()

    wait_for(_all_sent, what="the stale claim to be reconciled")
    action.refresh_from_db()
    replies = _x_replies(simulator)
    assert len(replies) == 1
    assert action.external_result_id == replies[0]["id"]
    assert simulator.sim.write_count("x POST /2/tweets") == 1


def test_worker_sigkill_before_a_batch_stored_its_results_reconciles_both(
    worker: Worker, x_channel: Channel, simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first reply's result waits to be stored with the batch; the worker dies during the
    # second call. Neither result was stored, and neither reply is posted again.
    second_posted = threading.Event()
    posts: list[str] = []
    original = server.xapi.handle

    def accept_second_then_hang(sim: object, req: server.Request) -> object:
        response = original(sim, req)  # type: ignore[arg-type]
        if req.method == "POST" and req.path == "/2/tweets":
            posts.append(req.path)
            if len(posts) == 2:
                second_posted.set()
                time.sleep(8)
        return response

    monkeypatch.setattr(server.xapi, "handle", accept_second_then_hang)
    simulator.sim.customer_x_mention(PHONE_TEXT, customer="tom")
    simulator.sim.customer_x_mention(PHONE_TEXT, customer="camille")
    tasks.poll_channel.delay(x_channel.pk)

    assert second_posted.wait(30), "the worker never posted the second reply"
    worker.kill()
    monkeypatch.setattr(server.xapi, "handle", original)
    states = set(OutboxAction.objects.values_list("state", flat=True))
    assert states == {OutboxState.IN_FLIGHT}
    worker.start()
    time.sleep(2.5)  # past HAVEN_STALE_CLAIM_SECONDS=2 of the worker
    tasks.sweep.delay()

    wait_for(_all_sent, what="both stale claims to be reconciled")
    replies = {r["in_reply_to_tweet_id"]: r["id"] for r in _x_replies(simulator)}
    assert len(replies) == 2
    assert simulator.sim.write_count("x POST /2/tweets") == 2
    stored = OutboxAction.objects.values_list("target_external_id", "external_result_id")
    assert dict(stored) == replies


def test_rate_limited_retry_scheduled_at_reset(
    worker: Worker, x_channel: Channel, simulator: RunningSimulator
) -> None:
    for customer in ("tom", "camille", "diego"):
        simulator.sim.customer_x_mention(PHONE_TEXT, customer=customer)
    started = timezone.now()
    simulator.sim.add_fault(
        "rate_limit", platform="x", method="POST", path="/2/tweets", times=3, reset_after_s=3
    )

    tasks.poll_channel.delay(x_channel.pk)

    wait_for(
        lambda: OutboxAction.objects.filter(state=OutboxState.SENT).count() == 3,
        timeout=40,
        what="3 replies",
    )
    sent_times = list(OutboxAction.objects.values_list("sent_at", flat=True))
    # x-rate-limit-reset is a whole epoch second: int(time of the 429) + 3 is never earlier
    # than the whole second we started in, plus 3.
    assert all(t >= started.replace(microsecond=0) + timedelta(seconds=3) for t in sent_times)
    assert len(_x_replies(simulator)) == 3
    assert simulator.sim.write_count("x POST /2/tweets") == 6  # three refused, three accepted


def test_auth_expired_marks_account_notifies_once_and_resumes_from_cursor(
    worker: Worker, x_channel: Channel, simulator: RunningSimulator
) -> None:
    simulator.sim.customer_x_mention(PHONE_TEXT, customer="tom")
    tasks.poll_channel.delay(x_channel.pk)
    wait_for(_all_sent, what="the first reply")
    simulator.sim.expire_tokens("x")
    simulator.sim.customer_x_mention(PHONE_TEXT, customer="camille")

    for _ in range(3):
        Channel.objects.filter(pk=x_channel.pk).update(next_poll_at=None)
        tasks.poll_channel.delay(x_channel.pk)
    wait_for(
        lambda: Channel.objects.get(pk=x_channel.pk).status == ChannelStatus.NEEDS_REAUTH,
        what="the channel to need reauthorisation",
    )
    time.sleep(1)

    x_channel.refresh_from_db()
    assert AuditEvent.objects.filter(action="channel.needs_reauth").count() == 1
    assert x_channel.reauth_notified_at is not None
    assert Ticket.objects.count() == 1
    simulator.sim.renew_tokens("x")
    set_channel_credentials(
        channel=x_channel, credentials=simulator.credentials("x"), changed_by=None
    )
    tasks.poll_channel.delay(x_channel.pk)
    wait_for(
        lambda: OutboxAction.objects.filter(state=OutboxState.SENT).count() == 2,
        what="the second reply",
    )
    assert Ticket.objects.count() == 2
    assert audit.verify().ok


@pytest.fixture
def redis_down() -> Iterator[None]:
    """Stop the local Redis server, and start it again afterwards with the documented command."""
    subprocess.run(
        ["redis-cli", "-p", "6379", "shutdown", "nosave"], check=False, capture_output=True
    )
    try:
        yield
    finally:
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "-::1",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                "/var/lib/redis",
                "--logfile",
                "/var/log/redis/ci.log",
            ],
            check=True,
        )
        wait_for(
            lambda: (
                subprocess.run(
                    ["redis-cli", "-p", "6379", "ping"], capture_output=True, check=False
                ).returncode
                == 0
            ),
            what="redis to come back",
        )


def test_inbound_processed_by_sweeper_when_broker_down(
    x_channel: Channel, simulator: RunningSimulator, redis_down: None
) -> None:
    for customer in ("tom", "camille", "diego", "giulia", "sanne"):
        simulator.sim.customer_x_mention(PHONE_TEXT, customer=customer)

    outcome = pipeline.poll_channel(channel_id=x_channel.pk)

    assert outcome.stored == 5
    assert not Ticket.objects.exists()
    call_command("poll", "--sweep-only", "--min-age", "0")
    call_command("poll", "--sweep-only", "--min-age", "0")
    assert Ticket.objects.count() == 5
    assert OutboxAction.objects.filter(state=OutboxState.SENT).count() == 5
    assert len(_x_replies(simulator)) == 5
