"""Injected faults: rate limits, 5xx, expired tokens, slow answers, crashes after a write."""

from __future__ import annotations

import json
import time

import facebook
import pytest
import requests
import tweepy  # type: ignore[import-untyped]  # tweepy ships no type information

from channels_bridge.simulator import (
    FaultKind,
    RunningSimulator,
    default_credentials,
)
from channels_bridge.simulator.world import FB_PAGE_ID, X_BRAND_ID
from tests.channels_bridge.simulated import RewritingSession, snapshot

FB = default_credentials("facebook")
X = default_credentials("x")


@pytest.fixture
def client(sim: RunningSimulator) -> tweepy.Client:
    api = tweepy.Client(
        consumer_key=X["consumer_key"],
        consumer_secret=X["consumer_secret"],
        access_token=X["access_token"],
        access_token_secret=X["access_token_secret"],
    )
    api.session = RewritingSession(sim.base_url)
    return api


def test_fault_x_rate_limit_has_reset_headers(sim: RunningSimulator, client: tweepy.Client) -> None:
    sim.sim.add_fault(
        FaultKind.RATE_LIMIT, platform="x", path="/2/users/:id/mentions", reset_after_s=120
    )

    with pytest.raises(tweepy.TooManyRequests) as err:
        client.get_users_mentions(X_BRAND_ID, user_auth=True)
    headers = err.value.response.headers

    assert headers["x-rate-limit-remaining"] == "0"
    assert int(headers["x-rate-limit-limit"]) == 300
    assert err.value.reset_time == pytest.approx(sim.sim.now() + 120, abs=3)


def test_fault_applies_only_the_given_number_of_times(
    sim: RunningSimulator, client: tweepy.Client
) -> None:
    sim.sim.add_fault("rate_limit", platform="x", times=2)

    for _ in range(2):
        with pytest.raises(tweepy.TooManyRequests):
            client.get_me()

    assert client.get_me().data.id == int(X_BRAND_ID)
    assert sim.sim.faults == []


def test_fault_without_count_lasts_until_cleared(
    sim: RunningSimulator, client: tweepy.Client
) -> None:
    fault_id = sim.sim.add_fault("server_error", platform="x", times=None, status=503)

    for _ in range(3):
        with pytest.raises(tweepy.TwitterServerError):
            client.get_me()
    sim.sim.clear_faults(fault_id)

    assert client.get_me().data.id == int(X_BRAND_ID)


def test_fault_matches_method_and_path(sim: RunningSimulator, client: tweepy.Client) -> None:
    sim.sim.add_fault("server_error", platform="x", method="POST", path="/2/tweets")

    me = client.get_me()
    ids = sim.sim.customer_x_mention("help", customer="tom")
    with pytest.raises(tweepy.TwitterServerError):
        client.create_tweet(text="reply", in_reply_to_tweet_id=ids["tweet_id"])

    assert me.data.id == int(X_BRAND_ID)
    assert snapshot(sim)["x"]["replies"] == []


@pytest.mark.parametrize("code", [4, 17, 32, 613])
def test_fault_graph_rate_limit_codes_and_usage_headers(sim: RunningSimulator, code: int) -> None:
    sim.sim.add_fault("rate_limit", platform="facebook", graph_code=code, reset_after_s=600)

    response = requests.get(
        f"{sim.base_url}/v26.0/{FB_PAGE_ID}/feed",
        params={"access_token": FB["page_access_token"]},
        timeout=5,
    )

    assert response.json()["error"]["code"] == code
    usage = json.loads(response.headers["x-business-use-case-usage"])
    assert usage[FB_PAGE_ID][0]["estimated_time_to_regain_access"] == 10
    assert json.loads(response.headers["x-app-usage"])["call_count"] == 100


def test_fault_graph_rate_limit_raises_in_sdk(
    sim: RunningSimulator, graph: facebook.GraphAPI
) -> None:
    sim.sim.add_fault("rate_limit", platform="facebook", path="*/feed", graph_code=32)

    with pytest.raises(facebook.GraphAPIError) as err:
        graph.get_connections(FB_PAGE_ID, "feed")

    assert err.value.code == 32


def test_fault_graph_server_error_is_transient(
    sim: RunningSimulator, graph: facebook.GraphAPI
) -> None:
    sim.sim.add_fault("server_error", platform="facebook")

    with pytest.raises(facebook.GraphAPIError) as err:
        graph.get_object("me")

    assert err.value.result["error"]["is_transient"] is True


def test_fault_html_gateway_page_loses_the_code_in_the_sdk(
    sim: RunningSimulator, graph: facebook.GraphAPI
) -> None:
    sim.sim.add_fault("server_error", platform="facebook", status=502, html=True)

    with pytest.raises(facebook.GraphAPIError) as err:
        graph.get_object("me")

    assert err.value.code is None


def test_fault_expired_token_on_each_platform(
    sim: RunningSimulator, graph: facebook.GraphAPI, client: tweepy.Client
) -> None:
    sim.sim.add_fault("expired_token", platform="facebook")
    sim.sim.add_fault("expired_token", platform="x")

    with pytest.raises(facebook.GraphAPIError) as fb_err:
        graph.get_object("me")
    with pytest.raises(tweepy.Unauthorized):
        client.get_me()

    assert fb_err.value.code == 190
    assert fb_err.value.result["error"]["error_subcode"] == 463


def test_fault_slow_delays_the_answer(sim: RunningSimulator, client: tweepy.Client) -> None:
    sim.sim.add_fault("slow", platform="x", delay_ms=300)

    started = time.monotonic()
    me = client.get_me()

    assert me.data.id == int(X_BRAND_ID)
    assert time.monotonic() - started >= 0.3


def test_fault_slow_combines_with_another_fault(
    sim: RunningSimulator, client: tweepy.Client
) -> None:
    sim.sim.add_fault("slow", platform="x", delay_ms=50)
    sim.sim.add_fault("rate_limit", platform="x")

    with pytest.raises(tweepy.TooManyRequests):
        client.get_me()

    assert sim.sim.faults == []


def test_fault_crash_after_write_500_keeps_the_reply(
    sim: RunningSimulator, client: tweepy.Client
) -> None:
    ids = sim.sim.customer_x_mention("help", customer="tom")
    sim.sim.add_fault("crash_after_write", platform="x", method="POST", path="/2/tweets")

    with pytest.raises(tweepy.TwitterServerError):
        client.create_tweet(
            text="See DM: https://h.example/t/1", in_reply_to_tweet_id=ids["tweet_id"]
        )
    found = client.search_recent_tweets(
        f"conversation_id:{ids['conversation_id']} from:{X['username']}", user_auth=True
    )

    replies = snapshot(sim)["x"]["replies"]
    assert len(replies) == 1
    assert [str(t.id) for t in found.data] == [replies[0]["id"]]


def test_fault_crash_after_write_close_drops_the_connection(
    sim: RunningSimulator, graph: facebook.GraphAPI
) -> None:
    ids = sim.sim.customer_facebook_comment("my card number")
    sim.sim.add_fault(
        "crash_after_write",
        platform="facebook",
        method="POST",
        path="/{id}/comments",
        crash_mode="close",
    )

    with pytest.raises(requests.ConnectionError):
        graph.put_comment(ids["comment_id"], "Let's continue privately")
    replies = graph.get_connections(ids["comment_id"], "comments", fields="id,from")

    assert [r["from"]["id"] for r in replies["data"]] == [FB_PAGE_ID]
    assert sim.sim.write_count("facebook POST /{id}/comments") == 1


def test_fault_crash_after_private_reply_makes_a_retry_fail(
    sim: RunningSimulator, graph: facebook.GraphAPI
) -> None:
    ids = sim.sim.customer_facebook_comment("phone inside")
    sim.sim.add_fault("crash_after_write", platform="facebook", path="*/messages")
    args = {
        "recipient": json.dumps({"comment_id": ids["comment_id"]}),
        "message": json.dumps({"text": "link"}),
    }

    with pytest.raises(facebook.GraphAPIError):
        graph.put_object(FB_PAGE_ID, "messages", **args)
    with pytest.raises(facebook.GraphAPIError) as retry:
        graph.put_object(FB_PAGE_ID, "messages", **args)

    assert retry.value.code == 10900
    assert len(snapshot(sim)["facebook"]["private_replies"]) == 1


def test_fault_rejects_unknown_kind(sim: RunningSimulator) -> None:
    with pytest.raises(ValueError, match="explode"):
        sim.sim.add_fault("explode")


def test_fault_writes_are_counted_even_when_refused(
    sim: RunningSimulator, client: tweepy.Client
) -> None:
    ids = sim.sim.customer_x_mention("help", customer="tom")
    sim.sim.add_fault("rate_limit", platform="x", method="POST")

    with pytest.raises(tweepy.TooManyRequests):
        client.create_tweet(text="reply", in_reply_to_tweet_id=ids["tweet_id"])
    client.create_tweet(text="reply", in_reply_to_tweet_id=ids["tweet_id"])

    assert sim.sim.write_count("x POST /2/tweets") == 2
    assert len(snapshot(sim)["x"]["replies"]) == 1
