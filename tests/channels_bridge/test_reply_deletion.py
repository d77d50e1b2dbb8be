"""Deleting our own public replies: real facebook-sdk and tweepy against the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest

from channels_bridge import errors
from channels_bridge.facebook import FACEBOOK_CAPABILITIES
from channels_bridge.items import Item, ItemKind
from channels_bridge.protocol import Connector
from channels_bridge.registry import get_connector
from channels_bridge.simulator import RunningSimulator, start_simulator
from channels_bridge.x import X_CAPABILITIES

Platform = Literal["facebook", "x"]


@pytest.fixture(scope="module")
def module_sim() -> Iterator[RunningSimulator]:
    with start_simulator(seed=11) as sim:
        yield sim


@pytest.fixture
def running(module_sim: RunningSimulator) -> RunningSimulator:
    module_sim.sim.reset()
    module_sim.sim.clear_faults()
    return module_sim


def connect(running: RunningSimulator, platform: Platform) -> Connector:
    return get_connector(
        platform, running.credentials(platform), base_url=running.base_url, timeout=5
    )


def customer_item(running: RunningSimulator, connector: Connector, platform: Platform) -> Item:
    baseline = connector.fetch_since(None)
    if platform == "facebook":
        running.sim.customer_facebook_comment("synthetic question", customer="lena")
    else:
        running.sim.customer_x_mention("synthetic question", customer="tom")
    (item,) = connector.fetch_since(baseline.next_cursor).items
    return item


def own_replies(running: RunningSimulator, platform: Platform) -> dict[str, bool]:
    """Our replies on the platform: id → deleted."""
    state = running.sim.snapshot()[platform]
    assert isinstance(state, dict)
    return {str(r["id"]): bool(r["deleted"]) for r in state["replies"]}


@pytest.mark.parametrize("platform", ["facebook", "x"])
def test_delete_reply_removes_our_reply_from_the_platform(
    running: RunningSimulator, platform: Platform
) -> None:
    connector = connect(running, platform)
    item = customer_item(running, connector, platform)
    reply_id = connector.reply_publicly(item, "Let's continue privately: synthetic link")
    assert own_replies(running, platform) == {reply_id: False}

    connector.delete_reply(reply_id)

    assert own_replies(running, platform) == {reply_id: True}
    assert connector.find_own_reply(item) is None


@pytest.mark.parametrize("platform", ["facebook", "x"])
def test_delete_reply_twice_is_not_found(running: RunningSimulator, platform: Platform) -> None:
    connector = connect(running, platform)
    reply_id = connector.reply_publicly(customer_item(running, connector, platform), "synthetic")
    connector.delete_reply(reply_id)

    with pytest.raises(errors.NotFound):
        connector.delete_reply(reply_id)


@pytest.mark.parametrize("platform", ["facebook", "x"])
def test_delete_reply_rate_limited_keeps_the_reply(
    running: RunningSimulator, platform: Platform
) -> None:
    connector = connect(running, platform)
    reply_id = connector.reply_publicly(customer_item(running, connector, platform), "synthetic")
    running.sim.add_fault("rate_limit", platform=platform, method="DELETE", reset_after_s=300)

    with pytest.raises(errors.RateLimited) as caught:
        connector.delete_reply(reply_id)

    assert caught.value.retry_at > datetime.now(UTC) + timedelta(seconds=120)
    assert own_replies(running, platform) == {reply_id: False}


@pytest.mark.parametrize("platform", ["facebook", "x"])
def test_delete_reply_crash_after_delete_is_ambiguous_then_not_found(
    running: RunningSimulator, platform: Platform
) -> None:
    connector = connect(running, platform)
    reply_id = connector.reply_publicly(customer_item(running, connector, platform), "synthetic")
    running.sim.add_fault("crash_after_write", platform=platform, method="DELETE")

    with pytest.raises(errors.AmbiguousOutcome):
        connector.delete_reply(reply_id)
    assert own_replies(running, platform) == {reply_id: True}
    with pytest.raises(errors.NotFound):
        connector.delete_reply(reply_id)


@pytest.mark.parametrize("platform", ["facebook", "x"])
def test_delete_reply_with_expired_token_is_auth_expired(
    running: RunningSimulator, platform: Platform
) -> None:
    connector = connect(running, platform)
    reply_id = connector.reply_publicly(customer_item(running, connector, platform), "synthetic")
    running.sim.add_fault("expired_token", platform=platform, method="DELETE")

    with pytest.raises(errors.AuthExpired):
        connector.delete_reply(reply_id)
    assert own_replies(running, platform) == {reply_id: False}


def test_x_delete_of_someone_elses_post_is_permission_denied(running: RunningSimulator) -> None:
    connector = connect(running, "x")
    item = customer_item(running, connector, "x")

    with pytest.raises(errors.PermissionDenied):
        connector.delete_reply(item.external_id)


def test_facebook_delete_of_a_missing_comment_is_not_found(running: RunningSimulator) -> None:
    connector = connect(running, "facebook")

    with pytest.raises(errors.NotFound):
        connector.delete_reply("1234567890321_999_999")


def test_delete_capability_is_data_for_every_kind_with_a_public_side() -> None:
    for capabilities in (FACEBOOK_CAPABILITIES, X_CAPABILITIES):
        for kind, caps in capabilities.items():
            assert caps.delete_own_reply == caps.reply_publicly, kind
    assert not FACEBOOK_CAPABILITIES[ItemKind.DM].delete_own_reply
