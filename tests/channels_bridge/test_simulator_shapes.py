"""Simulator responses have the keys and value types of the recorded platform fixtures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from channels_bridge.simulator import RunningSimulator, default_credentials
from channels_bridge.simulator.world import FB_PAGE_ID, SEED_TWEETS, X_BRAND_ID

FIXTURES = Path(__file__).resolve().parent / "recorded"
FB = default_credentials("facebook")
X = default_credentials("x")
# Keys whose presence depends on position or content, not on the shape: paging links and
# tokens (first/last page), media (only on items that carry some).
OPTIONAL_KEYS = frozenset(
    {"next", "previous", "next_token", "previous_token", "attachment", "attachments"}
)


def fixture(platform: str, name: str) -> object:
    return json.loads((FIXTURES / platform / name).read_text(encoding="utf-8"))


def field_list(name: str) -> str:
    """The top-level keys of a Graph fixture as a `fields=` value."""
    body = fixture("facebook", name)
    assert isinstance(body, dict)
    return ",".join(body)


def recorded_status(platform: str, name: str) -> int | None:
    index = json.loads((FIXTURES / platform / "_index.json").read_text(encoding="utf-8"))
    for entry in index:
        if entry["file"] == name:
            status = entry.get("status")
            return int(status) if status is not None else None
    raise AssertionError(f"{name} is not in the fixture index")


def _scalar_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def assert_same_shape(actual: object, expected: object, where: str = "$") -> None:
    """Every key of `expected` exists in `actual` with a value of the same JSON type."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            if key not in actual:
                assert key in OPTIONAL_KEYS, f"{where}.{key} is missing"
                continue
            assert_same_shape(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: expected a list, got {actual!r}"
        if not expected or not actual:
            return
        if all(isinstance(e, dict) for e in expected):
            required = set.intersection(*(set(e) for e in expected))
            for i, item in enumerate(actual):
                assert isinstance(item, dict), f"{where}[{i}]: expected an object"
                for key in set().union(*(set(e) for e in expected)):
                    sample = next(e[key] for e in expected if key in e)
                    if key in item:
                        assert_same_shape(item[key], sample, f"{where}[{i}].{key}")
                    else:
                        assert key not in required or key in OPTIONAL_KEYS, (
                            f"{where}[{i}].{key} is missing"
                        )
        else:
            for i, item in enumerate(actual):
                assert_same_shape(item, expected[0], f"{where}[{i}]")
    else:
        assert _scalar_kind(actual) == _scalar_kind(expected), (
            f"{where}: {_scalar_kind(actual)} where the fixture has {_scalar_kind(expected)}"
        )


def graph_get(sim: RunningSimulator, path: str, **params: str) -> requests.Response:
    params.setdefault("access_token", FB["page_access_token"])
    return requests.get(f"{sim.base_url}/v26.0/{path}", params=params, timeout=5)


def graph_post(sim: RunningSimulator, path: str, **data: str) -> requests.Response:
    data.setdefault("access_token", FB["page_access_token"])
    return requests.post(f"{sim.base_url}/v26.0/{path}", data=data, timeout=5)


def x_call(
    sim: RunningSimulator,
    method: str,
    path: str,
    *,
    user: bool = True,
    params: dict[str, str] | None = None,
    body: dict[str, object] | None = None,
) -> requests.Response:
    token = X["oauth2_user_token"] if user else X["bearer_token"]
    return requests.request(
        method,
        f"{sim.base_url}{path}",
        params=params,
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


def _commented_post(sim: RunningSimulator, count: int = 2) -> dict[str, str]:
    first = sim.sim.customer_facebook_comment("Where is my parcel?")
    for i in range(count - 1):
        sim.sim.customer_facebook_comment(f"Same here {i}", post_id=first["post_id"])
    return first


def _fb_feed(sim: RunningSimulator) -> requests.Response:
    first = _commented_post(sim)
    graph_post(sim, f"{first['comment_id']}/comments", message="Let's continue privately")
    return graph_get(
        sim,
        f"{FB_PAGE_ID}/feed",
        fields="id,from,to,message,created_time,permalink_url,"
        "comments{id,from,to,message,created_time}",
    )


def _fb_comments_page(sim: RunningSimulator, page: int) -> requests.Response:
    first = _commented_post(sim, 15)
    fields = "id,comment_count,created_time,like_count,message,permalink_url"
    response = graph_get(
        sim, f"{first['post_id']}/comments", fields=fields, filter="stream", limit="10", summary="1"
    )
    if page == 1:
        return response
    return requests.get(response.json()["paging"]["next"], timeout=5)


def _fb_replies(sim: RunningSimulator, empty: bool) -> requests.Response:
    first = _commented_post(sim, 1)
    if not empty:
        for i in range(3):
            graph_post(sim, f"{first['comment_id']}/comments", message=f"Reply {i}")
    return graph_get(
        sim, f"{first['comment_id']}/comments", fields="id,from,to,message,created_time"
    )


def _fb_comment_fields(sim: RunningSimulator) -> requests.Response:
    first = _commented_post(sim, 1)
    keys = field_list("comment_full_fields.json")
    return graph_get(sim, first["comment_id"], fields=keys)


def _fb_conversation(sim: RunningSimulator) -> requests.Response:
    ids = sim.sim.customer_facebook_message("Hello, my order is late")
    keys = field_list("conversation.json")
    return graph_get(sim, ids["conversation_id"], fields=keys)


def _fb_message(sim: RunningSimulator) -> requests.Response:
    ids = sim.sim.customer_facebook_message("Hello, my order is late")
    return graph_get(sim, ids["message_id"], fields="id,created_time,from,to,tags,attachments")


def _fb_private_reply(sim: RunningSimulator) -> requests.Response:
    first = _commented_post(sim, 1)
    return graph_post(
        sim,
        f"{FB_PAGE_ID}/messages",
        recipient=json.dumps({"comment_id": first["comment_id"]}),
        message=json.dumps({"text": "Let's continue privately"}),
    )


def _fb_rate_limited(sim: RunningSimulator, code: int) -> requests.Response:
    sim.sim.add_fault("rate_limit", platform="facebook", graph_code=code)
    return graph_get(sim, f"{FB_PAGE_ID}/feed")


def _fb_expired(sim: RunningSimulator) -> requests.Response:
    sim.sim.expire_tokens("facebook")
    return graph_get(sim, f"{FB_PAGE_ID}/feed")


GRAPH_CASES: dict[str, Callable[[RunningSimulator], requests.Response]] = {
    "page_feed_with_comments.json": _fb_feed,
    "comments_page1.json": lambda s: _fb_comments_page(s, 1),
    "comments_page2.json": lambda s: _fb_comments_page(s, 2),
    "comment_replies.json": lambda s: _fb_replies(s, empty=False),
    "comment_replies_empty.json": lambda s: _fb_replies(s, empty=True),
    "comment_create.json": lambda s: graph_post(
        s, f"{_commented_post(s, 1)['comment_id']}/comments", message="Thanks, see DM"
    ),
    "comment_get.json": lambda s: graph_get(s, _commented_post(s, 1)["comment_id"]),
    "comment_full_fields.json": _fb_comment_fields,
    "conversation.json": _fb_conversation,
    "message_with_image_attachment.json": _fb_message,
    "debug_token.json": lambda s: graph_get(
        s,
        "debug_token",
        input_token=FB["page_access_token"],
        access_token=f"{FB['app_id']}|{FB['app_secret']}",
    ),
    "send_api_response.json": _fb_private_reply,
    "success_true.json": lambda s: graph_post(
        s, _commented_post(s, 1)["comment_id"], is_hidden="true"
    ),
    "error_100_nonexisting_field.json": lambda s: graph_get(
        s, FB_PAGE_ID, fields="first_name,last_name,email"
    ),
    "error_100_permission.json": lambda s: graph_get(s, "999999999999"),
    "error_4_app_request_limit.json": lambda s: _fb_rate_limited(s, 4),
    "error_32_page_request_limit.json": lambda s: _fb_rate_limited(s, 32),
    "error_190_463_session_expired.json": _fb_expired,
}


@pytest.mark.parametrize("name", sorted(GRAPH_CASES))
def test_simulator_graph_response_matches_fixture_shape(sim: RunningSimulator, name: str) -> None:
    response = GRAPH_CASES[name](sim)

    assert response.headers["content-type"].startswith("application/json")
    status = recorded_status("facebook", name)
    if status is not None:
        assert response.status_code == status
    assert_same_shape(response.json(), fixture("facebook", name))


def _x_mentions(sim: RunningSimulator, fields: bool) -> requests.Response:
    for i in range(15):
        sim.sim.customer_x_mention(f"question {i}", customer="tom")
    params = {"max_results": "10"}
    if fields:
        params["tweet.fields"] = "created_at,public_metrics"
    return x_call(sim, "GET", f"/2/users/{X_BRAND_ID}/mentions", user=False, params=params)


def _x_search(sim: RunningSimulator) -> requests.Response:
    for i in range(12):
        sim.sim.customer_x_mention(f"tracking question {i}", customer="diego")
    return x_call(sim, "GET", "/2/tweets/search/recent", user=False, params={"query": "tracking"})


def _x_reply(sim: RunningSimulator) -> requests.Response:
    ids = sim.sim.customer_x_mention("my parcel is late", customer="tom")
    return x_call(
        sim,
        "POST",
        "/2/tweets",
        body={"text": "See DM", "reply": {"in_reply_to_tweet_id": ids["tweet_id"]}},
    )


def _x_hide(sim: RunningSimulator, hidden: bool) -> requests.Response:
    ids = sim.sim.customer_x_mention(
        "reply", customer="tom", in_reply_to_tweet_id=SEED_TWEETS[0][0]
    )
    return x_call(sim, "PUT", f"/2/tweets/{ids['tweet_id']}/hidden", body={"hidden": hidden})


def _x_delete(sim: RunningSimulator) -> requests.Response:
    created = _x_reply(sim).json()["data"]["id"]
    return x_call(sim, "DELETE", f"/2/tweets/{created}")


def _x_dm_in_conversation(sim: RunningSimulator) -> requests.Response:
    ids = sim.sim.customer_x_dm("hello", customer="tom")
    return x_call(
        sim,
        "POST",
        f"/2/dm_conversations/{ids['dm_conversation_id']}/messages",
        body={"text": "Hi there"},
    )


def _x_dm_events(sim: RunningSimulator, path: str) -> requests.Response:
    tom = sim.sim.customer("tom")
    for i in range(3):
        sim.sim.customer_x_dm(f"message {i}", customer="tom")
    if path == "conversation":
        conversation = f"{X_BRAND_ID}-{tom.x_id}"
        route = f"/2/dm_conversations/{conversation}/dm_events"
    else:
        route = f"/2/dm_conversations/with/{tom.x_id}/dm_events"
    first = x_call(sim, "GET", route, params={"max_results": "2"})
    return x_call(
        sim,
        "GET",
        route,
        params={"max_results": "1", "pagination_token": first.json()["meta"]["next_token"]},
    )


def _x_rate_limited(sim: RunningSimulator) -> requests.Response:
    sim.sim.add_fault("rate_limit", platform="x")
    return x_call(sim, "GET", f"/2/users/{X_BRAND_ID}/mentions", user=False)


X_CASES: dict[str, Callable[[RunningSimulator], requests.Response]] = {
    "get_me.json": lambda s: x_call(s, "GET", "/2/users/me"),
    "get_user_by_username.json": lambda s: x_call(
        s, "GET", "/2/users/by/username/tomashdown_x", user=False
    ),
    "get_users_mentions.json": lambda s: _x_mentions(s, fields=False),
    "get_users_mentions_with_fields.json": lambda s: _x_mentions(s, fields=True),
    "get_tweet.json": lambda s: x_call(s, "GET", f"/2/tweets/{SEED_TWEETS[0][0]}", user=False),
    "search_recent_tweets.json": _x_search,
    "create_tweet.json": _x_reply,
    "delete_tweet.json": _x_delete,
    "hide_reply.json": lambda s: _x_hide(s, True),
    "unhide_reply.json": lambda s: _x_hide(s, False),
    "dm_create_with_participant.json": lambda s: x_call(
        s,
        "POST",
        f"/2/dm_conversations/with/{s.sim.customer('tom').x_id}/messages",
        body={"text": "Hi there"},
    ),
    "dm_create_in_conversation.json": _x_dm_in_conversation,
    "dm_events_empty.json": lambda s: x_call(s, "GET", "/2/dm_events"),
    "dm_conversation_events.json": lambda s: _x_dm_events(s, "conversation"),
    "dm_events_with_participant.json": lambda s: _x_dm_events(s, "with"),
    "partial_error_resource_not_found.json": lambda s: x_call(
        s, "GET", "/2/tweets", user=False, params={"ids": f"{SEED_TWEETS[0][0]},456"}
    ),
    "error_429_too_many_requests.json": _x_rate_limited,
    "error_401_unauthorized.json": lambda s: requests.get(
        f"{s.base_url}/2/users/me", headers={"Authorization": "Bearer not-a-token"}, timeout=5
    ),
}


@pytest.mark.parametrize("name", sorted(X_CASES))
def test_simulator_x_response_matches_fixture_shape(sim: RunningSimulator, name: str) -> None:
    response = X_CASES[name](sim)

    assert response.headers["content-type"].startswith("application/json")
    status = recorded_status("x", name)
    if status is not None:
        assert response.status_code == status
    assert_same_shape(response.json(), fixture("x", name))


def test_shape_check_rejects_a_missing_key() -> None:
    with pytest.raises(AssertionError, match="missing"):
        assert_same_shape({"data": {"id": "1"}}, {"data": {"id": "1", "text": "t"}})


def test_shape_check_rejects_an_id_as_number() -> None:
    with pytest.raises(AssertionError, match="number where the fixture has str"):
        assert_same_shape({"id": 1}, {"id": "1"})


def test_every_response_fixture_has_a_shape_case() -> None:
    unproduced = {
        # Not produced by the simulator: capability, docs-sample and enrolment errors.
        "facebook/error_3_capability.json",
        "facebook/error_190_460_docs_example.json",
        "x/error_403_client_not_enrolled.json",
        "x/error_403_code_453.json",
    }
    covered = {f"facebook/{n}" for n in GRAPH_CASES} | {f"x/{n}" for n in X_CASES}
    bodies = {
        f"{p.parent.name}/{p.name}"
        for p in FIXTURES.glob("*/*.json")
        if not p.name.startswith(("_", "webhook_"))
    }
    assert bodies - unproduced == covered
