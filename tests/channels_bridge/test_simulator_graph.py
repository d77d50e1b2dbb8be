"""Graph API side of the simulator, driven by facebook-sdk and by plain requests."""

from __future__ import annotations

import hashlib
import hmac
import json

import facebook
import pytest
import requests

from channels_bridge.simulator import RunningSimulator, default_credentials
from channels_bridge.simulator.world import FB_PAGE_ID, GRAPH_OLDEST_ALIVE
from tests.channels_bridge.simulated import RewritingSession, snapshot

FB = default_credentials("facebook")
GRAPH_HOST = "https://graph.facebook.com"


def test_graph_feed_lists_page_posts_newest_first(graph: facebook.GraphAPI) -> None:
    feed = graph.get_connections(FB_PAGE_ID, "feed", fields="id,message,created_time")

    times = [post["created_time"] for post in feed["data"]]
    assert len(times) == 3
    assert times == sorted(times, reverse=True)
    assert all(post["id"].startswith(f"{FB_PAGE_ID}_") for post in feed["data"])


def test_graph_feed_since_filters_older_posts(
    sim: RunningSimulator, graph: facebook.GraphAPI
) -> None:
    since = int(sim.sim.now()) - 24 * 3600

    feed = graph.get_connections(FB_PAGE_ID, "feed", since=since)

    assert len(feed["data"]) == 1


def test_graph_sets_the_api_version_header(sim: RunningSimulator) -> None:
    current = requests.get(
        f"{sim.base_url}/v26.0/me", params={"access_token": FB["page_access_token"]}, timeout=5
    )
    expired = requests.get(
        f"{sim.base_url}/v2.8/me", params={"access_token": FB["page_access_token"]}, timeout=5
    )

    assert current.headers["facebook-api-version"] == "v26.0"
    assert expired.headers["facebook-api-version"] == GRAPH_OLDEST_ALIVE


def test_graph_get_version_reads_the_header(graph: facebook.GraphAPI) -> None:
    assert graph.get_version() == "26.0"


def test_graph_me_is_the_page(graph: facebook.GraphAPI) -> None:
    assert graph.get_object("me") == {"name": "Haven Demo Shop", "id": FB_PAGE_ID}


def test_graph_stream_comments_include_replies_with_parent(
    sim: RunningSimulator, graph: facebook.GraphAPI
) -> None:
    top = sim.sim.customer_facebook_comment("Where is my parcel?")
    reply = sim.sim.customer_facebook_comment("Me too", customer="tom", parent_id=top["comment_id"])

    stream = graph.get_connections(
        top["post_id"], "comments", filter="stream", fields="id,parent{id},from{id,name}"
    )
    toplevel = graph.get_connections(top["post_id"], "comments")

    by_id = {c["id"]: c for c in stream["data"]}
    assert by_id[reply["comment_id"]]["parent"] == {"id": top["comment_id"]}
    assert "parent" not in by_id[top["comment_id"]]
    assert [c["id"] for c in toplevel["data"]] == [top["comment_id"]]


def test_graph_comments_reverse_order(sim: RunningSimulator, graph: facebook.GraphAPI) -> None:
    first = sim.sim.customer_facebook_comment("first")
    second = sim.sim.customer_facebook_comment("second", post_id=first["post_id"])

    page = graph.get_connections(first["post_id"], "comments", order="reverse_chronological")

    assert [c["id"] for c in page["data"]] == [second["comment_id"], first["comment_id"]]


def test_graph_unknown_field_is_error_100(graph: facebook.GraphAPI) -> None:
    with pytest.raises(facebook.GraphAPIError) as err:
        graph.get_object(FB_PAGE_ID, fields="first_name")

    assert err.value.code == 100


def test_graph_get_all_connections_pages_over_1000_comments_once_each(
    sim: RunningSimulator, graph: facebook.GraphAPI
) -> None:
    first = sim.sim.customer_facebook_comment("comment 0")
    expected = [first["comment_id"]]
    for i in range(1, 1050):
        ids = sim.sim.customer_facebook_comment(f"comment {i}", post_id=first["post_id"])
        expected.append(ids["comment_id"])

    got = [
        c["id"]
        for c in graph.get_all_connections(first["post_id"], "comments", filter="stream", limit=100)
    ]

    assert got == expected


def test_graph_after_cursor_resumes_exactly_after_the_last_item(sim: RunningSimulator) -> None:
    first = sim.sim.customer_facebook_comment("comment 0")
    for i in range(1, 30):
        sim.sim.customer_facebook_comment(f"comment {i}", post_id=first["post_id"])
    url = f"{sim.base_url}/v26.0/{first['post_id']}/comments"
    token = {"access_token": FB["page_access_token"], "limit": "10"}
    page1 = requests.get(url, params=token, timeout=5).json()
    sim.sim.customer_facebook_comment("arrived later", post_id=first["post_id"])

    rest = requests.get(
        url,
        params={**token, "limit": "100", "after": page1["paging"]["cursors"]["after"]},
        timeout=5,
    ).json()

    assert len(page1["data"]) == 10
    assert [c["message"] for c in rest["data"]] == [
        *(f"comment {i}" for i in range(10, 30)),
        "arrived later",
    ]
    assert "next" not in rest["paging"]


def test_graph_paging_next_carries_the_access_token(sim: RunningSimulator) -> None:
    first = sim.sim.customer_facebook_comment("comment 0")
    sim.sim.customer_facebook_comment("comment 1", post_id=first["post_id"])

    page = requests.get(
        f"{sim.base_url}/v26.0/{first['post_id']}/comments",
        headers={"Authorization": f"OAuth {FB['page_access_token']}"},
        params={"limit": "1"},
        timeout=5,
    ).json()

    assert f"access_token={FB['page_access_token']}" in page["paging"]["next"]


def test_graph_public_reply_is_recorded(sim: RunningSimulator, graph: facebook.GraphAPI) -> None:
    ids = sim.sim.customer_facebook_comment("My card number is in here")

    created = graph.put_comment(
        ids["comment_id"], "Let's continue privately: https://h.example/t/1"
    )

    replies = snapshot(sim)["facebook"]["replies"]
    assert [r["id"] for r in replies] == [created["id"]]
    assert replies[0]["reply_to"] == ids["comment_id"]
    assert sim.sim.write_count("facebook POST /{id}/comments") == 1


def test_graph_reply_to_a_reply_joins_the_top_comment(
    sim: RunningSimulator, graph: facebook.GraphAPI
) -> None:
    top = sim.sim.customer_facebook_comment("top")
    child = sim.sim.customer_facebook_comment("child", customer="tom", parent_id=top["comment_id"])

    created = graph.put_comment(child["comment_id"], "answer")
    fetched = graph.get_object(created["id"], fields="id,parent{id},from")

    assert fetched["parent"] == {"id": top["comment_id"]}
    assert fetched["from"]["id"] == FB_PAGE_ID


def test_graph_hide_and_unhide_comment(sim: RunningSimulator, graph: facebook.GraphAPI) -> None:
    ids = sim.sim.customer_facebook_comment("IBAN inside")

    hidden = graph.request(f"{graph.version}/{ids['comment_id']}", post_args={"is_hidden": "true"})
    state_hidden = graph.get_object(ids["comment_id"], fields="is_hidden")
    graph.request(f"{graph.version}/{ids['comment_id']}", post_args={"is_hidden": "false"})

    assert hidden == {"success": True}
    assert state_hidden["is_hidden"] is True
    assert snapshot(sim)["facebook"]["hidden_comment_ids"] == []


def _private_reply(graph: facebook.GraphAPI, comment_id: str) -> dict[str, str]:
    result: dict[str, str] = graph.put_object(
        FB_PAGE_ID,
        "messages",
        recipient=json.dumps({"comment_id": comment_id}),
        message=json.dumps({"text": "Here is your secure link"}),
    )
    return result


def test_graph_private_reply_is_sent_once_per_comment(
    sim: RunningSimulator, graph: facebook.GraphAPI
) -> None:
    ids = sim.sim.customer_facebook_comment("phone number inside")

    sent = _private_reply(graph, ids["comment_id"])
    with pytest.raises(facebook.GraphAPIError) as err:
        _private_reply(graph, ids["comment_id"])

    assert sent["recipient_id"] == ids["author_id"]
    assert sent["message_id"].startswith("m_")
    assert err.value.code == 10900
    private = snapshot(sim)["facebook"]["private_replies"]
    assert [p["comment_id"] for p in private] == [ids["comment_id"]]


def test_graph_private_reply_refused_after_seven_days(
    sim: RunningSimulator, graph: facebook.GraphAPI
) -> None:
    ids = sim.sim.customer_facebook_comment("old comment", age_seconds=7 * 86400 + 60)

    with pytest.raises(facebook.GraphAPIError) as err:
        _private_reply(graph, ids["comment_id"])
    can = graph.get_object(ids["comment_id"], fields="can_reply_privately")

    assert err.value.code == 10
    assert err.value.result["error"]["error_subcode"] == 2018278
    assert can["can_reply_privately"] is False


def test_graph_private_reply_refused_once_the_clock_passes_seven_days(
    sim: RunningSimulator, graph: facebook.GraphAPI
) -> None:
    ids = sim.sim.customer_facebook_comment("fresh comment")
    sim.sim.advance_clock(8 * 86400)

    with pytest.raises(facebook.GraphAPIError) as err:
        _private_reply(graph, ids["comment_id"])

    assert err.value.code == 10


def test_graph_private_reply_to_unknown_comment_is_error_100(graph: facebook.GraphAPI) -> None:
    with pytest.raises(facebook.GraphAPIError) as err:
        _private_reply(graph, "1_2")

    assert err.value.code == 100


def _messenger_reply(graph: facebook.GraphAPI, psid: str, **extra: str) -> dict[str, str]:
    result: dict[str, str] = graph.put_object(
        FB_PAGE_ID,
        "messages",
        recipient=json.dumps({"id": psid}),
        message=json.dumps({"text": "Thanks, continuing in our secure inbox"}),
        messaging_type=extra.pop("messaging_type", "RESPONSE"),
        **extra,
    )
    return result


def test_graph_messenger_reply_inside_24h_window(
    sim: RunningSimulator, graph: facebook.GraphAPI
) -> None:
    ids = sim.sim.customer_facebook_message("Hello?")

    sent = _messenger_reply(graph, ids["psid"])

    assert sent["recipient_id"] == ids["psid"]
    messages = snapshot(sim)["facebook"]["messages_sent"]
    assert [m["conversation_id"] for m in messages] == [ids["conversation_id"]]


def test_graph_messenger_reply_refused_after_24h(
    sim: RunningSimulator, graph: facebook.GraphAPI
) -> None:
    ids = sim.sim.customer_facebook_message("Hello?")
    sim.sim.advance_clock(25 * 3600)

    with pytest.raises(facebook.GraphAPIError) as err:
        _messenger_reply(graph, ids["psid"])
    tagged = _messenger_reply(graph, ids["psid"], messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")

    assert err.value.code == 10
    assert tagged["recipient_id"] == ids["psid"]


def test_graph_private_reply_does_not_open_the_messenger_window(
    sim: RunningSimulator, graph: facebook.GraphAPI
) -> None:
    ids = sim.sim.customer_facebook_comment("comment")
    _private_reply(graph, ids["comment_id"])

    with pytest.raises(facebook.GraphAPIError) as err:
        _messenger_reply(graph, ids["author_id"])

    assert err.value.code == 10


def test_graph_conversations_and_messages(sim: RunningSimulator, graph: facebook.GraphAPI) -> None:
    ids = sim.sim.customer_facebook_message("first")
    sim.sim.customer_facebook_message("second")
    sim.sim.customer_facebook_message("other person", customer="tom")

    conversations = graph.get_connections(
        FB_PAGE_ID,
        "conversations",
        platform="messenger",
        fields="id,updated_time,participants,messages.limit(25){id,created_time,from,to,message}",
    )
    messages = graph.get_connections(ids["conversation_id"], "messages", fields="id,message,from")

    assert len(conversations["data"]) == 2
    assert conversations["data"][0]["messages"]["data"][0]["message"] == "other person"
    assert [m["message"] for m in messages["data"]] == ["second", "first"]


def test_graph_debug_token_reports_expiry(sim: RunningSimulator, graph: facebook.GraphAPI) -> None:
    valid = graph.debug_access_token(FB["page_access_token"], FB["app_id"], FB["app_secret"])
    sim.sim.expire_tokens("facebook", token=FB["page_access_token"])
    expired = graph.debug_access_token(FB["page_access_token"], FB["app_id"], FB["app_secret"])

    assert valid["data"]["is_valid"] is True
    assert expired["data"]["is_valid"] is False


def test_graph_expired_token_is_error_190_463(
    sim: RunningSimulator, graph: facebook.GraphAPI
) -> None:
    sim.sim.expire_tokens("facebook")

    with pytest.raises(facebook.GraphAPIError) as err:
        graph.get_object("me")
    sim.sim.renew_tokens("facebook")

    assert err.value.code == 190
    assert err.value.result["error"]["error_subcode"] == 463
    assert graph.get_object("me")["id"] == FB_PAGE_ID


def test_graph_unknown_token_is_error_190(sim: RunningSimulator) -> None:
    api = facebook.GraphAPI(access_token="nope", timeout=5, session=RewritingSession(sim.base_url))
    api.version = "v26.0"

    with pytest.raises(facebook.GraphAPIError) as err:
        api.get_object("me")

    assert err.value.code == 190


def test_graph_missing_token_is_error_104(sim: RunningSimulator) -> None:
    response = requests.get(f"{sim.base_url}/v26.0/me", timeout=5)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == 104


def test_graph_app_token_cannot_read_the_page(sim: RunningSimulator) -> None:
    response = requests.get(
        f"{sim.base_url}/v26.0/{FB_PAGE_ID}/feed",
        timeout=5,
        params={"access_token": f"{FB['app_id']}|{FB['app_secret']}"},
    )

    assert response.json()["error"]["code"] == 210


def test_graph_appsecret_proof_is_checked(sim: RunningSimulator) -> None:
    token = FB["page_access_token"]
    proof = hmac.new(FB["app_secret"].encode(), token.encode(), hashlib.sha256).hexdigest()
    url = f"{sim.base_url}/v26.0/me"

    good = requests.get(url, params={"access_token": token, "appsecret_proof": proof}, timeout=5)
    bad = requests.get(url, params={"access_token": token, "appsecret_proof": "0" * 64}, timeout=5)

    assert good.status_code == 200
    assert bad.json()["error"]["code"] == 100


def test_graph_missing_object_is_error_100_subcode_33(graph: facebook.GraphAPI) -> None:
    with pytest.raises(facebook.GraphAPIError) as err:
        graph.get_object("123456789")

    assert err.value.code == 100
    assert err.value.result["error"]["error_subcode"] == 33


def test_graph_usage_header_on_page_calls(sim: RunningSimulator) -> None:
    response = requests.get(
        f"{sim.base_url}/v26.0/{FB_PAGE_ID}/feed",
        params={"access_token": FB["page_access_token"]},
        timeout=5,
    )

    usage = json.loads(response.headers["x-business-use-case-usage"])
    assert usage[FB_PAGE_ID][0]["estimated_time_to_regain_access"] == 0


def test_graph_delete_comment_removes_it_from_lists(
    sim: RunningSimulator, graph: facebook.GraphAPI
) -> None:
    ids = sim.sim.customer_facebook_comment("x")
    created = graph.put_comment(ids["comment_id"], "reply")

    graph.delete_object(created["id"])

    assert graph.get_connections(ids["comment_id"], "comments")["data"] == []
