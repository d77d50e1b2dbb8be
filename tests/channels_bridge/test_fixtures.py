"""Every recorded payload goes through the parser that meets it in real life.

The payloads are in tests/channels_bridge/recorded, a copy of the team's shared/fixtures (see
its README), so a clone of this repository runs them on its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import pytest
import responses

from channels_bridge import errors, webhooks
from channels_bridge.facebook import FacebookConnector
from channels_bridge.items import Item, ItemKind
from channels_bridge.registry import get_connector
from channels_bridge.x import XConnector
from tests.channels_bridge.conftest import (
    FB_CREDENTIALS,
    GRAPH,
    RECORDED_FIXTURES,
    X_CREDENTIALS,
    XAPI,
    load,
    make_item,
    raw,
)

ANY_GRAPH = re.compile(re.escape(GRAPH) + r"/.*")
EMPTY: dict[str, object] = {"data": []}
X_EMPTY: dict[str, object] = {"meta": {"result_count": 0}}

Check = Callable[[responses.RequestsMock], None]


def _fb(**overrides: str) -> FacebookConnector:
    connector = get_connector("facebook", {**FB_CREDENTIALS, **overrides})
    assert isinstance(connector, FacebookConnector)
    return connector


def _x() -> XConnector:
    connector = get_connector("x", X_CREDENTIALS)
    assert isinstance(connector, XConnector)
    return connector


def _graph_fetch(
    mocked: responses.RequestsMock,
    *,
    feed: Mapping[str, object],
    comments: list[dict[str, object]],
    conversations: Mapping[str, object],
    messages: Mapping[str, object],
    page_id: str = FB_CREDENTIALS["page_id"],
) -> tuple[Item, ...]:
    mocked.get(f"{GRAPH}/{page_id}/feed", json=feed)
    for body in comments:
        mocked.get(re.compile(re.escape(GRAPH) + r"/[^/]+/comments"), json=body)
    mocked.get(f"{GRAPH}/{page_id}/conversations", json=conversations)
    mocked.get(re.compile(re.escape(GRAPH) + r"/t_[^/]+/messages"), json=messages)
    return _fb(page_id=page_id).fetch_since(None).items


# -- Facebook API responses --------------------------------------------------------------


def fb_comment_create(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{GRAPH}/111_222/comments", json=load("facebook", "comment_create.json"))
    assert (
        _fb().reply_publicly(make_item(), "redirect") == "<FACEBOOK_PAGE_1_POST_ID>_107306074721645"
    )


def fb_comment_full_fields(mocked: responses.RequestsMock) -> None:
    mocked.get(ANY_GRAPH, json=load("facebook", "comment_full_fields.json"))
    item = _fb().get_item("2954961744718970_2966313500250461")
    assert (item.kind, item.author_id, item.from_self) == (
        ItemKind.COMMENT,
        "2711636948859886",
        False,
    )
    assert item.created_at == datetime(2021, 7, 23, 8, 35, 18, tzinfo=UTC)


def fb_comment_get(mocked: responses.RequestsMock) -> None:
    mocked.get(ANY_GRAPH, json=load("facebook", "comment_get.json"))
    item = _fb(page_id="<FACEBOOK_PAGE_1_ID>").get_item("<FACEBOOK_PAGE_1_POST_ID>_107306074721645")
    assert item.from_self is True


def fb_comment_replies(mocked: responses.RequestsMock) -> None:
    mocked.get(ANY_GRAPH, json=load("facebook", "comment_replies.json"))
    item = make_item(created_at=datetime(2021, 2, 1, tzinfo=UTC))
    found = _fb(page_id="<FACEBOOK_PAGE_1_ID>").find_own_reply(item)
    assert found == "<FACEBOOK_PAGE_1_POST_ID>_107125118073074"


def fb_comment_replies_empty(mocked: responses.RequestsMock) -> None:
    mocked.get(ANY_GRAPH, json=load("facebook", "comment_replies_empty.json"))
    assert _fb().find_own_reply(make_item()) is None


def fb_comments_pages(mocked: responses.RequestsMock) -> None:
    feed = {"data": [{"id": "19292868552_10158407654328553"}]}
    pages = [load("facebook", "comments_page1.json"), load("facebook", "comments_page2.json")]
    items = _graph_fetch(mocked, feed=feed, comments=pages, conversations=EMPTY, messages=EMPTY)
    # The recordings lack "id": the ids come from each permalink instead.
    assert len(items) == 15
    assert {i.kind for i in items} == {ItemKind.COMMENT, ItemKind.REPLY}
    reply = next(i for i in items if i.external_id == "10158407654328553_10158409983033553")
    assert reply.parent_id == "10158407654328553_10158407903973553"


def fb_conversation(mocked: responses.RequestsMock) -> None:
    items = _graph_fetch(
        mocked,
        feed=EMPTY,
        comments=[],
        conversations={"data": [load("facebook", "conversation.json")]},
        messages={"data": [load("facebook", "message_with_image_attachment.json")]},
        page_id="2121008874780932",
    )
    assert [(i.kind, i.author_id, i.conversation_id, i.text) for i in items] == [
        (ItemKind.DM, "2711636948859886", "2711636948859886", "")
    ]


def fb_page_feed(mocked: responses.RequestsMock) -> None:
    items = _graph_fetch(
        mocked,
        feed=load("facebook", "page_feed_with_comments.json"),
        comments=[load("facebook", "comment_replies_empty.json")],
        conversations=EMPTY,
        messages=EMPTY,
    )
    assert items == ()
    assert sum("/comments" in (call.request.url or "") for call in mocked.calls) == 2


def fb_send_api(mocked: responses.RequestsMock) -> None:
    mocked.post(
        f"{GRAPH}/{FB_CREDENTIALS['page_id']}/messages",
        json=load("facebook", "send_api_response.json"),
    )
    assert _fb().send_private(make_item(), "link") == "mid.1456970487936:c34767dfe57ee6e339"


def fb_success_true(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{GRAPH}/111_222", json=load("facebook", "success_true.json"))
    _fb().hide(make_item())
    assert "is_hidden=true" in str(mocked.calls[0].request.body)


def fb_debug_token(mocked: responses.RequestsMock) -> None:
    page = FB_CREDENTIALS["page_id"]
    mocked.get(f"{GRAPH}/{page}", json={"id": page, "name": "Synthetic Page"})
    mocked.get(f"{GRAPH}/debug_token", json=load("facebook", "debug_token.json"))
    report = _fb(app_id="42", app_secret="s3cret").check_connection()
    assert "pages_show_list" in report.permissions
    assert report.token_expires_at == datetime(2019, 12, 26, 8, 0, tzinfo=UTC)


def fb_error(name: str, status: int, expected: type[errors.BridgeError]) -> Check:
    def check(mocked: responses.RequestsMock) -> None:
        mocked.get(ANY_GRAPH, json=load("facebook", name), status=status)
        with pytest.raises(expected) as caught:
            _fb().fetch_since(None)
        assert type(caught.value) is expected

    return check


# -- X API responses ---------------------------------------------------------------------


def _x_fetch(
    mocked: responses.RequestsMock,
    *,
    mentions: list[dict[str, object]],
    dms: list[dict[str, object]],
) -> tuple[Item, ...]:
    for body in [*mentions, X_EMPTY]:
        mocked.get(f"{XAPI}/users/{X_CREDENTIALS['user_id']}/mentions", json=body)
    for body in [*dms, X_EMPTY]:
        mocked.get(f"{XAPI}/dm_events", json=body)
    return _x().fetch_since(None).items


def x_mentions(name: str, count: int) -> Check:
    def check(mocked: responses.RequestsMock) -> None:
        items = _x_fetch(mocked, mentions=[load("x", name)], dms=[])
        assert len(items) == count
        assert all(i.kind is ItemKind.MENTION and i.created_at.tzinfo for i in items)

    return check


def x_dm_events(name: str, count: int) -> Check:
    def check(mocked: responses.RequestsMock) -> None:
        items = _x_fetch(mocked, mentions=[], dms=[load("x", name)])
        assert [i.kind for i in items] == [ItemKind.DM] * count

    return check


def x_partial_error(mocked: responses.RequestsMock) -> None:
    reply = {
        "id": "1500000000000000000",
        "text": "@HavenBrand synthetic",
        "author_id": "9001",
        "conversation_id": "456",
        "referenced_tweets": [{"type": "replied_to", "id": "123"}],
    }
    mocked.get(f"{XAPI}/tweets", json=load("x", "partial_error_resource_not_found.json"))
    items = _x_fetch(mocked, mentions=[{"data": [reply]}], dms=[])
    # The root (456) is in errors[]: not known to be the brand's thread, so not hideable.
    assert [(i.kind, i.parent_id) for i in items] == [(ItemKind.MENTION, "123")]


def x_create_tweet(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{XAPI}/tweets", json=load("x", "create_tweet.json"), status=201)
    assert (
        _x().reply_publicly(make_item("x", ItemKind.MENTION, "77"), "hi") == "1456012973835788293"
    )


def x_delete_tweet(mocked: responses.RequestsMock) -> None:
    mocked.delete(f"{XAPI}/tweets/1456012973835788293", json=load("x", "delete_tweet.json"))
    _x().delete_reply("1456012973835788293")


def x_dm_create(name: str, event_id: str) -> Check:
    def check(mocked: responses.RequestsMock) -> None:
        mocked.post(f"{XAPI}/dm_conversations/with/9001/messages", json=load("x", name), status=201)
        assert _x().send_private(make_item("x", ItemKind.DM, "55"), "link") == event_id

    return check


def x_get_me(mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{XAPI}/users/me", json=load("x", "get_me.json"), headers={"x-access-level": "read"}
    )
    report = _x().check_connection()
    assert (report.account_id, report.account_handle) == ("1072250532645998596", "TweepyDev")
    assert report.warnings  # another account, and no DM access


def x_get_tweet(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{XAPI}/tweets/1293593516040269825", json=load("x", "get_tweet.json"))
    item = _x().get_item("1293593516040269825")
    assert item.created_at.year == 2020


def x_get_user(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{XAPI}/users/by/username/Twitter", json=load("x", "get_user_by_username.json"))
    assert _x().lookup_user("Twitter").account_id == "783214"


def x_hide(name: str, hidden: bool) -> Check:
    def check(mocked: responses.RequestsMock) -> None:
        mocked.put(f"{XAPI}/tweets/77/hidden", json=load("x", name))
        item = make_item("x", ItemKind.REPLY, "77")
        connector = _x()
        connector.hide(item) if hidden else connector.unhide(item)
        body = mocked.calls[0].request.body
        assert isinstance(body, bytes)
        assert f'"hidden": {str(hidden).lower()}' in body.decode()

    return check


def x_search(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{XAPI}/tweets/search/recent", json=load("x", "search_recent_tweets.json"))
    mocked.get(f"{XAPI}/tweets/search/recent", json=X_EMPTY)
    item = make_item("x", ItemKind.MENTION, "77", conversation_id="77")
    assert _x().find_own_reply(item) is None


def x_error(name: str, status: int, expected: type[errors.BridgeError]) -> Check:
    def check(mocked: responses.RequestsMock) -> None:
        mocked.get(
            f"{XAPI}/users/{X_CREDENTIALS['user_id']}/mentions",
            json=load("x", name),
            status=status,
            headers={"x-rate-limit-reset": "1665183228"},
        )
        with pytest.raises(expected) as caught:
            _x().fetch_since(None)
        assert type(caught.value) is expected

    return check


# -- webhooks ----------------------------------------------------------------------------


def webhook(platform: str, name: str, expected: int) -> Check:
    def check(mocked: responses.RequestsMock) -> None:
        items = webhooks.parse(platform, raw(platform, name))
        assert len(items) == expected
        assert all(i.platform == platform and i.created_at.tzinfo is UTC for i in items)

    return check


HANDLERS: dict[str, Check] = {
    "facebook/comment_create.json": fb_comment_create,
    "facebook/comment_full_fields.json": fb_comment_full_fields,
    "facebook/comment_get.json": fb_comment_get,
    "facebook/comment_replies.json": fb_comment_replies,
    "facebook/comment_replies_empty.json": fb_comment_replies_empty,
    "facebook/comments_page1.json": fb_comments_pages,
    "facebook/comments_page2.json": fb_comments_pages,
    "facebook/conversation.json": fb_conversation,
    "facebook/message_with_image_attachment.json": fb_conversation,
    "facebook/page_feed_with_comments.json": fb_page_feed,
    "facebook/send_api_response.json": fb_send_api,
    "facebook/success_true.json": fb_success_true,
    "facebook/debug_token.json": fb_debug_token,
    "facebook/error_100_nonexisting_field.json": fb_error(
        "error_100_nonexisting_field.json", 400, errors.PlatformError
    ),
    "facebook/error_100_permission.json": fb_error(
        "error_100_permission.json", 400, errors.NotFound
    ),
    "facebook/error_190_460_docs_example.json": fb_error(
        "error_190_460_docs_example.json", 400, errors.AuthExpired
    ),
    "facebook/error_190_463_session_expired.json": fb_error(
        "error_190_463_session_expired.json", 400, errors.AuthExpired
    ),
    "facebook/error_32_page_request_limit.json": fb_error(
        "error_32_page_request_limit.json", 400, errors.RateLimited
    ),
    "facebook/error_3_capability.json": fb_error(
        "error_3_capability.json", 400, errors.PermissionDenied
    ),
    "facebook/error_4_app_request_limit.json": fb_error(
        "error_4_app_request_limit.json", 403, errors.RateLimited
    ),
    "facebook/webhook_feed__comment_add.json": webhook(
        "facebook", "webhook_feed__comment_add.json", 1
    ),
    "facebook/webhook_feed__comment_add_legacy_sender.json": webhook(
        "facebook", "webhook_feed__comment_add_legacy_sender.json", 1
    ),
    "facebook/webhook_feed__comment_hide.json": webhook(
        "facebook", "webhook_feed__comment_hide.json", 1
    ),
    "facebook/webhook_feed__comment_remove.json": webhook(
        "facebook", "webhook_feed__comment_remove.json", 1
    ),
    "facebook/webhook_message_deliveries__basic.json": webhook(
        "facebook", "webhook_message_deliveries__basic.json", 0
    ),
    "facebook/webhook_message_echoes__text.json": webhook(
        "facebook", "webhook_message_echoes__text.json", 1
    ),
    "facebook/webhook_messages__image.json": webhook("facebook", "webhook_messages__image.json", 1),
    "facebook/webhook_messages__text.json": webhook("facebook", "webhook_messages__text.json", 1),
    "x/create_tweet.json": x_create_tweet,
    "x/delete_tweet.json": x_delete_tweet,
    "x/dm_conversation_events.json": x_dm_events("dm_conversation_events.json", 2),
    "x/dm_create_in_conversation.json": x_dm_create(
        "dm_create_in_conversation.json", "1585800613752881156"
    ),
    "x/dm_create_with_participant.json": x_dm_create(
        "dm_create_with_participant.json", "1585800613253812228"
    ),
    "x/dm_events_empty.json": x_dm_events("dm_events_empty.json", 0),
    "x/dm_events_with_participant.json": x_dm_events("dm_events_with_participant.json", 2),
    "x/error_401_unauthorized.json": x_error(
        "error_401_unauthorized.json", 401, errors.AuthExpired
    ),
    "x/error_403_client_not_enrolled.json": x_error(
        "error_403_client_not_enrolled.json", 403, errors.PermissionDenied
    ),
    "x/error_403_code_453.json": x_error("error_403_code_453.json", 403, errors.PermissionDenied),
    "x/error_429_too_many_requests.json": x_error(
        "error_429_too_many_requests.json", 429, errors.RateLimited
    ),
    "x/get_me.json": x_get_me,
    "x/get_tweet.json": x_get_tweet,
    "x/get_user_by_username.json": x_get_user,
    "x/get_users_mentions.json": x_mentions("get_users_mentions.json", 10),
    "x/get_users_mentions_with_fields.json": x_mentions("get_users_mentions_with_fields.json", 5),
    "x/hide_reply.json": x_hide("hide_reply.json", True),
    "x/unhide_reply.json": x_hide("unhide_reply.json", False),
    "x/partial_error_resource_not_found.json": x_partial_error,
    "x/search_recent_tweets.json": x_search,
    "x/webhook_aaa_direct_message_events__incoming.json": webhook(
        "x", "webhook_aaa_direct_message_events__incoming.json", 1
    ),
    "x/webhook_aaa_direct_message_events__outgoing.json": webhook(
        "x", "webhook_aaa_direct_message_events__outgoing.json", 1
    ),
    "x/webhook_aaa_tweet_create_events__mention.json": webhook(
        "x", "webhook_aaa_tweet_create_events__mention.json", 1
    ),
    "x/webhook_aaa_tweet_create_events__thread_reply.json": webhook(
        "x", "webhook_aaa_tweet_create_events__thread_reply.json", 1
    ),
    "x/webhook_xaa_dm_received__docs_sample.json": webhook(
        "x", "webhook_xaa_dm_received__docs_sample.json", 1
    ),
    "x/webhook_xaa_post_mention_create__docs_sample.json": webhook(
        "x", "webhook_xaa_post_mention_create__docs_sample.json", 1
    ),
}

ALL_FIXTURES = sorted(
    f"{path.parent.name}/{path.name}"
    for path in RECORDED_FIXTURES.glob("*/*.json")
    if not path.name.startswith("_")
)


def test_fixture_directory_is_fully_covered() -> None:
    assert ALL_FIXTURES, "recorded fixtures not found"
    assert set(ALL_FIXTURES) == set(HANDLERS)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_fixture_parses_through_its_real_parser(name: str, mocked: responses.RequestsMock) -> None:
    HANDLERS[name](mocked)
