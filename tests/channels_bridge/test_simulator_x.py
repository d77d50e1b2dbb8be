"""X API v2 side of the simulator, driven by tweepy.Client and by plain requests."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import tweepy  # type: ignore[import-untyped]  # tweepy ships no type information

from channels_bridge.simulator import RunningSimulator, default_credentials
from channels_bridge.simulator.world import SEED_TWEETS, X_BRAND_ID, X_BRAND_USERNAME
from tests.channels_bridge.simulated import RewritingSession, snapshot

X = default_credentials("x")
X_HOST = "https://api.twitter.com"
BRAND_POST = SEED_TWEETS[1][0]


@pytest.fixture
def client(sim: RunningSimulator) -> tweepy.Client:
    """OAuth 1.0a user context, as the connector uses it."""
    api = tweepy.Client(
        consumer_key=X["consumer_key"],
        consumer_secret=X["consumer_secret"],
        access_token=X["access_token"],
        access_token_secret=X["access_token_secret"],
    )
    api.session = RewritingSession(sim.base_url)
    return api


@pytest.fixture
def app_client(sim: RunningSimulator) -> tweepy.Client:
    """App-only bearer token."""
    api = tweepy.Client(bearer_token=X["bearer_token"])
    api.session = RewritingSession(sim.base_url)
    return api


FIELDS: dict[str, Any] = {
    "tweet_fields": [
        "created_at",
        "author_id",
        "conversation_id",
        "in_reply_to_user_id",
        "referenced_tweets",
        "entities",
    ],
    "expansions": ["author_id"],
    "user_fields": ["name", "username"],
}


def test_x_get_me_with_oauth1(client: tweepy.Client) -> None:
    me = client.get_me()

    assert me.data.id == int(X_BRAND_ID)
    assert me.data.username == X["username"]


def test_x_get_me_with_oauth2_user_token(sim: RunningSimulator) -> None:
    api = tweepy.Client(bearer_token=X["oauth2_user_token"])
    api.session = RewritingSession(sim.base_url)

    assert api.get_me(user_auth=False).data.id == int(X_BRAND_ID)


def test_x_get_me_refuses_app_only_bearer(app_client: tweepy.Client) -> None:
    with pytest.raises(tweepy.Forbidden) as err:
        app_client.get_me(user_auth=False)

    assert "Application-Only" in err.value.api_messages[0]


def test_x_unknown_oauth1_token_is_401(sim: RunningSimulator) -> None:
    api = tweepy.Client(
        consumer_key=X["consumer_key"],
        consumer_secret=X["consumer_secret"],
        access_token="1-unknown",
        access_token_secret="s",
    )
    api.session = RewritingSession(sim.base_url)

    with pytest.raises(tweepy.Unauthorized):
        api.get_me()


def test_x_unknown_consumer_key_is_401(sim: RunningSimulator) -> None:
    api = tweepy.Client(
        consumer_key="other",
        consumer_secret="s",
        access_token=X["access_token"],
        access_token_secret=X["access_token_secret"],
    )
    api.session = RewritingSession(sim.base_url)

    with pytest.raises(tweepy.Unauthorized):
        api.get_me()


def test_x_expired_token_is_401_until_renewed(sim: RunningSimulator, client: tweepy.Client) -> None:
    sim.sim.expire_tokens("x")

    with pytest.raises(tweepy.Unauthorized):
        client.get_me()
    sim.sim.renew_tokens("x")

    assert client.get_me().data.id == int(X_BRAND_ID)


def test_x_user_by_username(app_client: tweepy.Client) -> None:
    user = app_client.get_user(username="tomashdown_x")
    missing = app_client.get_user(username="nobody_here")

    assert user.data.name == "Tom Ashdown"
    assert missing.data is None
    assert missing.errors[0]["title"] == "Not Found Error"


def test_x_mentions_have_fields_and_author_expansion(
    sim: RunningSimulator, client: tweepy.Client
) -> None:
    ids = sim.sim.customer_x_mention("my parcel is late", customer="tom")

    page = client.get_users_mentions(X_BRAND_ID, user_auth=True, **FIELDS)

    tweet = page.data[0]
    assert tweet.id == int(ids["tweet_id"])
    assert tweet.author_id == int(ids["author_id"])
    assert tweet.conversation_id == int(ids["tweet_id"])
    assert tweet.entities["mentions"][0]["username"] == X["username"]
    assert page.includes["users"][0].username == "tomashdown_x"
    assert page.meta["newest_id"] == ids["tweet_id"]


def test_x_mentions_include_replies_to_brand_posts(
    sim: RunningSimulator, client: tweepy.Client
) -> None:
    ids = sim.sim.customer_x_mention("question", customer="lena", in_reply_to_tweet_id=BRAND_POST)

    page = client.get_users_mentions(X_BRAND_ID, user_auth=True, **FIELDS)

    tweet = page.data[0]
    assert tweet.id == int(ids["tweet_id"])
    assert tweet.conversation_id == int(BRAND_POST)
    assert tweet.referenced_tweets[0].type == "replied_to"
    assert tweet.in_reply_to_user_id == int(X_BRAND_ID)


def test_x_mentions_since_id_returns_only_newer(
    sim: RunningSimulator, app_client: tweepy.Client
) -> None:
    old = sim.sim.customer_x_mention("old")
    new = sim.sim.customer_x_mention("new")

    page = app_client.get_users_mentions(X_BRAND_ID, since_id=old["tweet_id"])
    empty = app_client.get_users_mentions(X_BRAND_ID, since_id=new["tweet_id"])

    assert [t.id for t in page.data] == [int(new["tweet_id"])]
    assert empty.data is None
    assert empty.meta == {"result_count": 0}


def test_x_mentions_paginate_over_1000_exactly_once(
    sim: RunningSimulator, app_client: tweepy.Client
) -> None:
    created = {sim.sim.customer_x_mention(f"mention {i}")["tweet_id"] for i in range(1050)}

    seen = [
        str(t.id)
        for t in tweepy.Paginator(
            app_client.get_users_mentions, X_BRAND_ID, max_results=100
        ).flatten()
    ]

    assert len(seen) == len(set(seen)) == 1050
    assert set(seen) == created


def test_x_mentions_bad_since_id_is_400(app_client: tweepy.Client) -> None:
    with pytest.raises(tweepy.BadRequest):
        app_client.get_users_mentions(X_BRAND_ID, since_id="abc")


def test_x_mentions_max_results_out_of_range_is_400(app_client: tweepy.Client) -> None:
    with pytest.raises(tweepy.BadRequest):
        app_client.get_users_mentions(X_BRAND_ID, max_results=500)


def test_x_reply_is_created_and_found_by_search(
    sim: RunningSimulator, client: tweepy.Client
) -> None:
    ids = sim.sim.customer_x_mention("card number inside", customer="tom")

    created = client.create_tweet(
        text="Let's continue privately: https://h.example/t/abc",
        in_reply_to_tweet_id=ids["tweet_id"],
    )
    found = client.search_recent_tweets(
        f"conversation_id:{ids['conversation_id']} from:{X['username']}",
        user_auth=True,
        tweet_fields=["in_reply_to_user_id", "referenced_tweets"],
    )

    assert [t.id for t in found.data] == [int(created.data["id"])]
    assert found.data[0].referenced_tweets[0].id == int(ids["tweet_id"])
    replies = snapshot(sim)["x"]["replies"]
    assert [r["in_reply_to_tweet_id"] for r in replies] == [ids["tweet_id"]]
    assert sim.sim.write_count("x POST /2/tweets") == 1


def test_x_duplicate_reply_text_is_refused(sim: RunningSimulator, client: tweepy.Client) -> None:
    ids = sim.sim.customer_x_mention("help", customer="tom")
    client.create_tweet(text="See our DM", in_reply_to_tweet_id=ids["tweet_id"])

    with pytest.raises(tweepy.Forbidden) as err:
        client.create_tweet(text="See our DM", in_reply_to_tweet_id=ids["tweet_id"])

    assert "duplicate" in err.value.api_messages[0]


def test_x_duplicate_rule_counts_only_our_live_posts(
    sim: RunningSimulator, client: tweepy.Client
) -> None:
    text = f"@{X_BRAND_USERNAME} see our DM"
    ids = sim.sim.customer_x_mention(text, customer="tom")  # the same text, another author
    first = client.create_tweet(text=text, in_reply_to_tweet_id=ids["tweet_id"])
    client.delete_tweet(first.data["id"])

    again = client.create_tweet(text=text, in_reply_to_tweet_id=ids["tweet_id"])

    assert again.data["id"] != first.data["id"]


def test_x_reply_refused_when_brand_was_not_summoned(
    sim: RunningSimulator, client: tweepy.Client
) -> None:
    ids = sim.sim.customer_x_mention("just chatting", customer="tom", mention=False)

    with pytest.raises(tweepy.Forbidden):
        client.create_tweet(text="hello", in_reply_to_tweet_id=ids["tweet_id"])
    sim.sim.x_reply_requires_mention = False

    assert client.create_tweet(text="hello", in_reply_to_tweet_id=ids["tweet_id"]).data["id"]


def test_x_reply_too_long_is_refused(sim: RunningSimulator, client: tweepy.Client) -> None:
    ids = sim.sim.customer_x_mention("help", customer="tom")

    with pytest.raises(tweepy.Forbidden):
        client.create_tweet(text="x" * 281, in_reply_to_tweet_id=ids["tweet_id"])


def test_x_hide_reply_in_brand_conversation(sim: RunningSimulator, client: tweepy.Client) -> None:
    ids = sim.sim.customer_x_mention("IBAN here", customer="lena", in_reply_to_tweet_id=BRAND_POST)

    hidden = client.hide_reply(ids["tweet_id"])

    assert hidden.data == {"hidden": True}
    assert snapshot(sim)["x"]["hidden_tweet_ids"] == [ids["tweet_id"]]
    assert client.unhide_reply(ids["tweet_id"]).data == {"hidden": False}


def test_x_hide_standalone_mention_is_refused(sim: RunningSimulator, client: tweepy.Client) -> None:
    ids = sim.sim.customer_x_mention("standalone", customer="lena")

    with pytest.raises(tweepy.Forbidden):
        client.hide_reply(ids["tweet_id"])


def test_x_get_tweet_and_missing_tweet(sim: RunningSimulator, app_client: tweepy.Client) -> None:
    found = app_client.get_tweet(BRAND_POST, tweet_fields=["author_id", "created_at"])
    missing = app_client.get_tweet("42")

    assert found.data.author_id == int(X_BRAND_ID)
    assert missing.data is None
    assert missing.errors[0]["resource_id"] == "42"


def test_x_delete_own_reply(sim: RunningSimulator, client: tweepy.Client) -> None:
    ids = sim.sim.customer_x_mention("help", customer="tom")
    created = client.create_tweet(text="reply", in_reply_to_tweet_id=ids["tweet_id"])

    deleted = client.delete_tweet(created.data["id"])

    assert deleted.data == {"deleted": True}
    assert client.get_tweet(created.data["id"], user_auth=True).data is None


def test_x_dm_events_and_reply(sim: RunningSimulator, client: tweepy.Client) -> None:
    ids = sim.sim.customer_x_dm("my phone number is inside", customer="tom")

    events = client.get_direct_message_events(
        dm_event_fields=["id", "text", "sender_id", "dm_conversation_id", "created_at"],
        expansions=["sender_id"],
        user_fields=["username"],
    )
    sent = client.create_direct_message(participant_id=ids["sender_id"], text="Secure link")

    assert events.data[0].sender_id == int(ids["sender_id"])
    assert events.data[0].dm_conversation_id == ids["dm_conversation_id"]
    assert events.includes["users"][0].username == "tomashdown_x"
    assert sent.data["dm_conversation_id"] == ids["dm_conversation_id"]
    dms = snapshot(sim)["x"]["dms_sent"]
    assert [d["recipient_id"] for d in dms] == [ids["sender_id"]]


def test_x_dm_events_empty_has_no_data(client: tweepy.Client) -> None:
    events = client.get_direct_message_events()

    assert events.data is None
    assert events.meta == {"result_count": 0}


def test_x_dm_to_closed_inbox_is_refused(sim: RunningSimulator, client: tweepy.Client) -> None:
    with pytest.raises(tweepy.Forbidden):
        client.create_direct_message(participant_id=sim.sim.customer("quinn").x_id, text="hi")


def test_x_dm_events_paginate(sim: RunningSimulator, client: tweepy.Client) -> None:
    created = {sim.sim.customer_x_dm(f"dm {i}")["dm_event_id"] for i in range(120)}

    seen = [
        str(e.id)
        for e in tweepy.Paginator(client.get_direct_message_events, max_results=50).flatten()
    ]

    assert sorted(seen) == sorted(created)


def test_x_rate_limit_headers_count_down(sim: RunningSimulator) -> None:
    headers = {"Authorization": f"Bearer {X['bearer_token']}"}
    url = f"{sim.base_url}/2/users/{X_BRAND_ID}/mentions"

    first = requests.get(url, headers=headers, timeout=5)
    second = requests.get(url, headers=headers, timeout=5)

    assert int(second.headers["x-rate-limit-remaining"]) == (
        int(first.headers["x-rate-limit-remaining"]) - 1
    )
    assert int(first.headers["x-rate-limit-reset"]) > sim.sim.now()


def test_x_enforced_rate_limit_gives_429(sim: RunningSimulator, client: tweepy.Client) -> None:
    sim.sim.x_enforce_rate_limits = True
    for _ in range(15):
        client.get_direct_message_events()

    with pytest.raises(tweepy.TooManyRequests) as err:
        client.get_direct_message_events()

    assert err.value.reset_time is not None


def test_x_unknown_route_is_404(sim: RunningSimulator) -> None:
    response = requests.get(
        f"{sim.base_url}/2/nope",
        headers={"Authorization": f"Bearer {X['bearer_token']}"},
        timeout=5,
    )

    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == 34
