"""Real SDKs against the platform simulator: fetch, reply, hide, send privately, reconcile."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest

from channels_bridge import errors
from channels_bridge.items import ItemKind
from channels_bridge.protocol import Connector
from channels_bridge.registry import get_connector
from channels_bridge.simulator import RunningSimulator, start_simulator

Platform = Literal["facebook", "x"]

BRAND_TWEET = "1850000000000000002"


@pytest.fixture
def running() -> Iterator[RunningSimulator]:
    with start_simulator(seed=7) as sim:
        yield sim


def connect(running: RunningSimulator, platform: Platform) -> Connector:
    return get_connector(
        platform, running.credentials(platform), base_url=running.base_url, timeout=5
    )


def snapshot(running: RunningSimulator, platform: Platform) -> dict[str, object]:
    state = running.sim.snapshot()[platform]
    assert isinstance(state, dict)
    return state


def rows(state: dict[str, object], key: str) -> list[dict[str, object]]:
    found = state[key]
    assert isinstance(found, list)
    assert all(isinstance(row, dict) for row in found)
    return found


def test_facebook_round_trip_leaves_exactly_what_was_done(running: RunningSimulator) -> None:
    connector = connect(running, "facebook")
    baseline = connector.fetch_since(None)
    comment_ids = running.sim.customer_facebook_comment("synthetic question", customer="lena")
    message_ids = running.sim.customer_facebook_message("synthetic dm", customer="tom")

    batch = connector.fetch_since(baseline.next_cursor)
    by_kind = {item.kind: item for item in batch.items}
    assert sorted(by_kind) == sorted([ItemKind.COMMENT, ItemKind.DM])
    comment, dm = by_kind[ItemKind.COMMENT], by_kind[ItemKind.DM]
    assert comment.external_id == comment_ids["comment_id"]
    assert dm.external_id == message_ids["message_id"]
    assert not comment.from_self
    assert not dm.from_self

    reply_id = connector.reply_publicly(comment, "Let's continue privately: synthetic link")
    connector.hide(comment)
    connector.hide(comment)  # idempotent
    private_id = connector.send_private(comment, "synthetic private link")
    dm_reply_id = connector.send_private(dm, "synthetic private link")
    assert connector.find_own_reply(comment) == reply_id

    state = snapshot(running, "facebook")
    assert [(r["id"], r["reply_to"]) for r in rows(state, "replies")] == [
        (reply_id, comment.external_id)
    ]
    assert state["hidden_comment_ids"] == [comment.external_id]
    assert [(p["comment_id"], p["message_id"]) for p in rows(state, "private_replies")] == [
        (comment.external_id, private_id)
    ]
    sent = {m["message_id"]: m for m in rows(state, "messages_sent")}
    assert sent[dm_reply_id]["recipient_id"] == dm.author_id
    assert sent[dm_reply_id]["messaging_type"] == "RESPONSE"

    echoes = connector.fetch_since(batch.next_cursor).items
    assert echoes
    assert all(item.from_self for item in echoes)
    assert reply_id in {item.external_id for item in echoes}


def test_x_round_trip_leaves_exactly_what_was_done(running: RunningSimulator) -> None:
    connector = connect(running, "x")
    baseline = connector.fetch_since(None)
    mention_ids = running.sim.customer_x_mention("synthetic question", customer="tom")
    # A reply starts with the brand's @handle, which is how it reaches the mentions timeline.
    reply_ids = running.sim.customer_x_mention(
        "synthetic answer", customer="lena", in_reply_to_tweet_id=BRAND_TWEET
    )
    dm_ids = running.sim.customer_x_dm("synthetic dm", customer="camille")

    batch = connector.fetch_since(baseline.next_cursor)
    by_id = {item.external_id: item for item in batch.items}
    mention = by_id[mention_ids["tweet_id"]]
    reply = by_id[reply_ids["tweet_id"]]
    dm = next(item for item in batch.items if item.kind is ItemKind.DM)
    assert len(batch.items) == 3
    assert (mention.kind, reply.kind) == (ItemKind.MENTION, ItemKind.REPLY)
    assert dm.external_id == dm_ids["dm_event_id"]
    now = datetime.now(UTC)
    assert connector.capabilities_for(reply, now=now).hide
    assert not connector.capabilities_for(mention, now=now).hide
    # Self-serve tier: the reply's only @mention is the automatic prefix, so no public reply.
    assert not connector.capabilities_for(reply, now=now).reply_publicly

    reply_id = connector.reply_publicly(mention, "Let's continue privately: synthetic link")
    connector.hide(reply)
    connector.hide(reply)  # idempotent
    private_id = connector.send_private(mention, "synthetic private link")
    dm_reply_id = connector.send_private(dm, "synthetic private link")
    assert connector.find_own_reply(mention) == reply_id
    assert connector.find_own_reply(reply) is None

    state = snapshot(running, "x")
    assert [r["id"] for r in rows(state, "replies")] == [reply_id]
    assert state["hidden_tweet_ids"] == [reply.external_id]
    sent = {d["dm_event_id"]: d["recipient_id"] for d in rows(state, "dms_sent")}
    assert sent == {private_id: mention.author_id, dm_reply_id: dm.author_id}

    echoes = connector.fetch_since(batch.next_cursor).items
    assert all(item.from_self for item in echoes)


def test_x_hide_of_a_stand_alone_mention_is_refused(running: RunningSimulator) -> None:
    connector = connect(running, "x")
    baseline = connector.fetch_since(None)
    running.sim.customer_x_mention("synthetic question", customer="tom")
    (mention,) = connector.fetch_since(baseline.next_cursor).items
    with pytest.raises(errors.PermissionDenied):
        connector.hide(mention)
    assert snapshot(running, "x")["hidden_tweet_ids"] == []


@pytest.mark.parametrize("platform", ["facebook", "x"])
def test_rate_limit_from_simulator_becomes_rate_limited(
    running: RunningSimulator, platform: Platform
) -> None:
    connector = connect(running, platform)
    running.sim.add_fault("rate_limit", platform=platform, reset_after_s=120)
    with pytest.raises(errors.RateLimited) as caught:
        connector.fetch_since(None)
    assert caught.value.retry_at > datetime.now(UTC) + timedelta(seconds=60)


@pytest.mark.parametrize("platform", ["facebook", "x"])
def test_expired_token_from_simulator_becomes_auth_expired(
    running: RunningSimulator, platform: Platform
) -> None:
    connector = connect(running, platform)
    running.sim.expire_tokens(platform)
    with pytest.raises(errors.AuthExpired):
        connector.fetch_since(None)


@pytest.mark.parametrize("platform", ["facebook", "x"])
def test_crash_after_write_is_ambiguous_and_reconciles_without_second_post(
    running: RunningSimulator, platform: Platform
) -> None:
    connector = connect(running, platform)
    baseline = connector.fetch_since(None)
    if platform == "facebook":
        running.sim.customer_facebook_comment("synthetic question", customer="lena")
    else:
        running.sim.customer_x_mention("synthetic question", customer="tom")
    (item,) = (i for i in connector.fetch_since(baseline.next_cursor).items if i.kind != "dm")
    running.sim.add_fault("crash_after_write", platform=platform, method="POST")
    with pytest.raises(errors.AmbiguousOutcome):
        connector.reply_publicly(item, "Let's continue privately: synthetic link")
    found = connector.find_own_reply(item)
    assert found is not None
    assert len(rows(snapshot(running, platform), "replies")) == 1


@pytest.mark.parametrize("platform", ["facebook", "x"])
def test_server_error_on_read_becomes_transient(
    running: RunningSimulator, platform: Platform
) -> None:
    connector = connect(running, platform)
    running.sim.add_fault("server_error", platform=platform, method="GET", status=503, html=True)
    with pytest.raises(errors.TransientError) as caught:
        connector.fetch_since(None)
    assert type(caught.value) is errors.TransientError


@pytest.mark.parametrize("platform", ["facebook", "x"])
def test_slow_answer_times_out_as_transient(running: RunningSimulator, platform: Platform) -> None:
    connector = get_connector(
        platform, running.credentials(platform), base_url=running.base_url, timeout=0.2
    )
    running.sim.add_fault("slow", platform=platform, method="GET", delay_ms=1500)
    with pytest.raises(errors.TransientError):
        connector.fetch_since(None)


@pytest.mark.parametrize("platform", ["facebook", "x"])
def test_check_connection_reports_the_simulated_account(
    running: RunningSimulator, platform: Platform
) -> None:
    report = connect(running, platform).check_connection()
    assert (
        report.account_id
        == running.credentials(platform)["page_id" if platform == "facebook" else "user_id"]
    )
    assert report.warnings == ()
