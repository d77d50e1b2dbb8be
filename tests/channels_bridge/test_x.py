"""X connector behaviour on the real tweepy Client, with recorded-shape responses."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
import responses

from channels_bridge import errors
from channels_bridge.items import ItemKind
from channels_bridge.x import X_CAPABILITIES, XConnector
from tests.channels_bridge.conftest import X_CREDENTIALS, X_USER, XAPI, load, make_item

MENTIONS = f"{XAPI}/users/{X_USER}/mentions"
EMPTY = {"meta": {"result_count": 0}}


def test_x_signs_requests_with_oauth1_user_context(
    xc: XConnector, mocked: responses.RequestsMock
) -> None:
    mocked.get(MENTIONS, json=EMPTY)
    mocked.get(f"{XAPI}/dm_events", json=EMPTY)
    xc.fetch_since(None)
    assert all(c.request.headers["Authorization"].startswith("OAuth ") for c in mocked.calls)


def test_x_uses_an_oauth2_user_token_as_bearer(mocked: responses.RequestsMock) -> None:
    mocked.get(MENTIONS, json=EMPTY)
    mocked.get(f"{XAPI}/dm_events", json=EMPTY)
    XConnector({"user_id": X_USER, "access_token": "oauth2-synthetic"}).fetch_since(None)
    assert {c.request.headers["Authorization"] for c in mocked.calls} == {"Bearer oauth2-synthetic"}


@pytest.mark.parametrize(
    "credentials",
    [
        {"access_token": "t"},
        {"user_id": X_USER},
        {"user_id": X_USER, "consumer_key": "ck", "access_token": "t"},
        {"user_id": X_USER, "access_token": "t", "tier": "platinum"},
    ],
)
def test_x_refuses_incomplete_credentials(credentials: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="credentials"):
        XConnector(credentials)


def test_x_base_url_rewrites_the_hard_coded_host(mocked: responses.RequestsMock) -> None:
    mocked.get(f"http://127.0.0.1:9/2/users/{X_USER}/mentions", json=EMPTY)
    mocked.get("http://127.0.0.1:9/2/dm_events", json=EMPTY)
    XConnector(X_CREDENTIALS, base_url="http://127.0.0.1:9").fetch_since(None)
    assert len(mocked.calls) == 2


def test_x_reply_posts_a_reply_to_the_item(xc: XConnector, mocked: responses.RequestsMock) -> None:
    mocked.post(f"{XAPI}/tweets", json=load("x", "create_tweet.json"), status=201)
    xc.reply_publicly(make_item("x", ItemKind.MENTION, "77"), "synthetic")
    assert json.loads(mocked.calls[0].request.body or b"") == {
        "text": "synthetic",
        "reply": {"in_reply_to_tweet_id": "77"},
    }


def test_x_send_private_messages_the_author(xc: XConnector, mocked: responses.RequestsMock) -> None:
    mocked.post(
        f"{XAPI}/dm_conversations/with/9001/messages",
        json=load("x", "dm_create_with_participant.json"),
        status=201,
    )
    xc.send_private(make_item("x", ItemKind.MENTION, "77", author_id="9001"), "synthetic")
    assert json.loads(mocked.calls[0].request.body or b"") == {"text": "synthetic"}


def test_x_send_private_without_author_is_refused(
    xc: XConnector, mocked: responses.RequestsMock
) -> None:
    with pytest.raises(errors.PermissionDenied):
        xc.send_private(make_item("x", ItemKind.MENTION, "77", author_id=None), "synthetic")
    assert not mocked.calls


def test_x_fetch_marks_replies_in_brand_threads_and_own_posts(
    xc: XConnector, mocked: responses.RequestsMock
) -> None:
    page = {
        "data": [
            {
                "id": "1500000000000000003",
                "text": "@HavenBrand reply",
                "author_id": "9001",
                "conversation_id": "1500000000000000001",
                "created_at": "2026-11-01T10:00:00.000Z",
                "referenced_tweets": [{"type": "replied_to", "id": "1500000000000000001"}],
            },
            {
                "id": "1500000000000000004",
                "text": "@HavenBrand stand-alone",
                "author_id": "9002",
                "conversation_id": "1500000000000000004",
                "created_at": "2026-11-01T10:01:00.000Z",
            },
            {
                "id": "1500000000000000005",
                "text": "@someone our own post",
                "author_id": X_USER,
                "conversation_id": "1500000000000000002",
                "created_at": "2026-11-01T10:02:00.000Z",
            },
        ],
        "includes": {
            "users": [{"id": "9001", "name": "Synthetic Person", "username": "synth"}],
            "tweets": [
                {
                    "id": "1500000000000000001",
                    "author_id": X_USER,
                    "conversation_id": "1500000000000000001",
                }
            ],
        },
        "meta": {"result_count": 3},
    }
    mocked.get(MENTIONS, json=page)
    mocked.get(
        f"{XAPI}/tweets",
        json={"data": [{"id": "1500000000000000002", "author_id": "42"}]},
    )
    mocked.get(f"{XAPI}/dm_events", json=EMPTY)
    items = xc.fetch_since(None).items
    assert [(i.kind, i.from_self, i.author_handle) for i in items] == [
        (ItemKind.REPLY, False, "synth"),
        (ItemKind.MENTION, False, None),
        (ItemKind.MENTION, True, None),
    ]
    assert items[0].created_at == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert items[0].permalink == "https://x.com/synth/status/1500000000000000003"


def test_x_mentions_resume_from_newest_id(xc: XConnector, mocked: responses.RequestsMock) -> None:
    mocked.get(MENTIONS, json=load("x", "get_users_mentions.json"))
    mocked.get(MENTIONS, json=EMPTY)
    mocked.get(f"{XAPI}/dm_events", json=EMPTY)
    first = xc.fetch_since(None)
    xc.fetch_since(first.next_cursor)
    last_query = mocked.calls[-1].request.url or ""
    assert "since_id=1578516295611748353" in last_query


def test_x_find_own_reply_matches_our_reply_to_the_item(
    xc: XConnector, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        f"{XAPI}/tweets/search/recent",
        json={
            "data": [
                {
                    "id": "900",
                    "author_id": X_USER,
                    "referenced_tweets": [{"type": "replied_to", "id": "76"}],
                },
                {
                    "id": "901",
                    "author_id": X_USER,
                    "referenced_tweets": [{"type": "replied_to", "id": "77"}],
                },
            ],
            "meta": {"result_count": 2},
        },
    )
    item = make_item("x", ItemKind.MENTION, "77", conversation_id="70")
    assert xc.find_own_reply(item) == "901"
    assert "conversation_id%3A70" in (mocked.calls[0].request.url or "")


def test_x_capabilities_cover_every_kind_with_costs() -> None:
    assert set(X_CAPABILITIES) == set(ItemKind)
    mention = X_CAPABILITIES[ItemKind.MENTION]
    assert (mention.reply_cost_usd, mention.reply_url_cost_usd) == (0.015, 0.2)
    assert not mention.hide
    assert X_CAPABILITIES[ItemKind.REPLY].hide


@pytest.mark.parametrize(
    ("text", "tier", "allowed"),
    [
        ("@HavenBrand @other thanks", "self_serve", False),
        ("@HavenBrand thanks, @HavenBrand please help", "self_serve", True),
        ("@someone see @havenbrand", "self_serve", True),
        ("@HavenBrand thanks", "enterprise", True),
    ],
)
def test_x_self_serve_reply_needs_an_explicit_mention(text: str, tier: str, allowed: bool) -> None:
    connector = XConnector({**X_CREDENTIALS, "tier": tier})
    item = make_item("x", ItemKind.REPLY, "77", text=text)
    assert connector.capabilities_for(item, now=datetime.now(UTC)).reply_publicly is allowed


def test_x_own_post_allows_nothing(xc: XConnector) -> None:
    caps = xc.capabilities_for(
        make_item("x", ItemKind.MENTION, "77", from_self=True), now=datetime.now(UTC)
    )
    assert (caps.reply_publicly, caps.hide, caps.send_private) == (False, False, False)


def test_x_check_connection_reports_the_account(mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{XAPI}/users/me",
        json={"data": {"id": X_USER, "name": "Haven Brand", "username": "HavenBrand"}},
        headers={"x-access-level": "read-write-directmessages"},
    )
    report = XConnector(X_CREDENTIALS).check_connection()
    assert report.permissions == ("read", "write", "directmessages")
    assert report.warnings == ()


def test_x_mentions_flow_when_the_token_cannot_read_dms(
    xc: XConnector, mocked: responses.RequestsMock
) -> None:
    mocked.get(MENTIONS, json={"data": [{"id": "1500000000000000009", "text": "@HavenBrand hi"}]})
    mocked.get(f"{XAPI}/dm_events", json=load("x", "error_403_code_453.json"), status=403)
    batch = xc.fetch_since(None)
    assert [i.external_id for i in batch.items] == ["1500000000000000009"]


def test_x_find_own_reply_looks_up_a_missing_conversation(
    xc: XConnector, mocked: responses.RequestsMock
) -> None:
    mocked.get(f"{XAPI}/tweets/77", json={"data": {"id": "77", "conversation_id": "70"}})
    mocked.get(f"{XAPI}/tweets/search/recent", json=EMPTY)
    assert xc.find_own_reply(make_item("x", ItemKind.REPLY, "77", conversation_id=None)) is None
    assert "conversation_id%3A70" in (mocked.calls[-1].request.url or "")


def test_x_logs_no_token_or_text_even_at_debug(
    xc: XConnector, mocked: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mocked.post(f"{XAPI}/tweets", json=load("x", "create_tweet.json"), status=201)
    mocked.get(MENTIONS, json=load("x", "error_401_unauthorized.json"), status=401)
    xc.reply_publicly(make_item("x", ItemKind.MENTION, "77"), "synthetic reply words")
    with pytest.raises(errors.AuthExpired):
        xc.fetch_since(None)
    assert caplog.records
    for secret in ("synthetic reply words", "at-synthetic", "ck-synthetic", "OAuth "):
        assert secret not in caplog.text


def test_x_delete_reply_confirmed_by_the_recorded_answer(
    xc: XConnector, mocked: responses.RequestsMock
) -> None:
    mocked.delete(f"{XAPI}/tweets/1456012973835788293", json=load("x", "delete_tweet.json"))

    xc.delete_reply("1456012973835788293")

    assert mocked.calls[-1].request.method == "DELETE"


@pytest.mark.parametrize("data", [{"deleted": False}, {}, {"deleted": "true"}])
def test_x_delete_reply_not_deleted_is_a_platform_error(
    xc: XConnector, mocked: responses.RequestsMock, data: dict[str, object]
) -> None:
    """The recorded shape with ``deleted`` false, missing or not a boolean: the post stays."""
    body = load("x", "delete_tweet.json")
    body["data"] = data
    mocked.delete(f"{XAPI}/tweets/1456012973835788293", json=body)

    with pytest.raises(errors.PlatformError):
        xc.delete_reply("1456012973835788293")
