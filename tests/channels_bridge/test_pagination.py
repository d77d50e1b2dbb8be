"""A thousand items over many pages: each returned once; the cursor resumes after the last."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from channels_bridge.facebook import FacebookConnector
from channels_bridge.x import XConnector
from tests.channels_bridge.conftest import (
    FB_CREDENTIALS,
    FB_PAGE,
    GRAPH,
    X_CREDENTIALS,
    X_USER,
    XAPI,
)

BASE = datetime(2026, 11, 1, tzinfo=UTC)
GraphReply = tuple[int, dict[str, str], str]


def _query(request: requests.PreparedRequest) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(request.url or "").query).items()}


@dataclass
class FakeGraph:
    """Comments on a few posts, served in Graph's shape with since/after paging."""

    page_size: int = 37
    honour_since: bool = True
    honour_order: bool = True
    comments: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # post -> (id, ts)
    calls: int = 0

    def add(self, post: str, comment_id: str, ts: int) -> None:
        self.comments.setdefault(post, []).append((comment_id, ts))

    def feed(self, request: requests.PreparedRequest) -> GraphReply:
        data = [{"id": post} for post in self.comments]
        return 200, {}, json.dumps({"data": data})

    def edge(self, request: requests.PreparedRequest) -> GraphReply:
        self.calls += 1
        post = urlsplit(request.url or "").path.split("/")[-2]
        query = _query(request)
        since = int(query.get("since", "0")) if self.honour_since else 0
        rows = sorted(c for c in self.comments.get(post, []) if c[1] >= since)
        rows.sort(key=lambda c: c[1])
        if self.honour_order and query.get("order") == "reverse_chronological":
            rows.reverse()
        start = int(query.get("after", "0"))
        page = rows[start : start + self.page_size]
        paging: dict[str, object] = {
            "cursors": {"before": str(start), "after": str(start + len(page))}
        }
        if start + len(page) < len(rows):
            paging["next"] = f"{GRAPH}/{post}/comments?after={start + len(page)}"
        body: dict[str, object] = {
            "data": [
                {
                    "id": cid,
                    "message": "synthetic",
                    "created_time": datetime.fromtimestamp(ts, UTC).strftime(
                        "%Y-%m-%dT%H:%M:%S+0000"
                    ),
                    "from": {"id": "9001", "name": "Synthetic Person"},
                }
                for cid, ts in page
            ],
            "paging": paging,
        }
        return 200, {}, json.dumps(body)


def _serve_graph(mocked: responses.RequestsMock, fake: FakeGraph) -> None:
    mocked.add_callback(
        responses.GET,
        f"{GRAPH}/{FB_PAGE}/feed",
        callback=fake.feed,
        content_type="application/json",
    )
    mocked.add_callback(
        responses.GET,
        re.compile(re.escape(GRAPH) + r"/[^/]+/comments"),
        callback=fake.edge,
        content_type="application/json",
    )
    mocked.get(f"{GRAPH}/{FB_PAGE}/conversations", json={"data": []})


def _drain(
    connector: FacebookConnector | XConnector, cursor: str | None
) -> tuple[list[str], str | None, int]:
    seen: list[str] = []
    fetches = 0
    while True:
        batch = connector.fetch_since(cursor)
        fetches += 1
        if not batch.items:
            return seen, batch.next_cursor, fetches
        seen.extend(item.external_id for item in batch.items)
        cursor = batch.next_cursor
        assert fetches < 100


@pytest.mark.parametrize("max_items", [64, 500])
@pytest.mark.parametrize(
    ("honour_since", "honour_order"), [(True, True), (False, True), (True, False), (False, False)]
)
def test_facebook_thousand_comments_each_returned_once(
    mocked: responses.RequestsMock, max_items: int, honour_since: bool, honour_order: bool
) -> None:
    fake = FakeGraph(honour_since=honour_since, honour_order=honour_order)
    start = int(BASE.timestamp())
    for n in range(1000):
        # Seven comments share each second, spread over three posts, to stress the watermark.
        fake.add(f"{FB_PAGE}_{n % 3}", f"{n % 3}_{n:05d}", start + n // 7)
    _serve_graph(mocked, fake)
    connector = FacebookConnector(FB_CREDENTIALS, max_items=max_items)

    seen, cursor, fetches = _drain(connector, None)

    assert len(seen) == 1000
    assert Counter(seen).most_common(1)[0][1] == 1
    assert fetches >= 1000 // max_items
    assert fake.calls > 1000 // fake.page_size  # many pages were really walked
    # A late comment in the last second and two new ones come back, and only they.
    last_second = start + 999 // 7
    fake.add(f"{FB_PAGE}_0", "0_late", last_second)
    fake.add(f"{FB_PAGE}_1", "1_new_a", last_second + 5)
    fake.add(f"{FB_PAGE}_2", "2_new_b", last_second + 6)
    batch = connector.fetch_since(cursor)
    assert [item.external_id for item in batch.items] == ["0_late", "1_new_a", "2_new_b"]
    assert connector.fetch_since(batch.next_cursor).items == ()


@dataclass
class FakeX:
    """Mentions newest-first with since_id/pagination_token, and DM events newest-first."""

    page_size: int = 100
    tweets: list[int] = field(default_factory=list)
    dms: list[int] = field(default_factory=list)

    def mentions(self, request: requests.PreparedRequest) -> GraphReply:
        query = _query(request)
        since = int(query.get("since_id", "0"))
        rows = sorted((t for t in self.tweets if t > since), reverse=True)
        return self._page(
            rows, query, lambda t: {"id": str(t), "text": "synthetic", "author_id": "9001"}
        )

    def dm_events(self, request: requests.PreparedRequest) -> GraphReply:
        rows = sorted(self.dms, reverse=True)
        return self._page(
            rows,
            _query(request),
            lambda e: {
                "id": str(e),
                "event_type": "MessageCreate",
                "text": "synthetic",
                "sender_id": "9001",
            },
        )

    def _page(
        self, rows: list[int], query: dict[str, str], render: Callable[[int], dict[str, str]]
    ) -> GraphReply:
        start = int(query.get("pagination_token", "0"))
        page = rows[start : start + self.page_size]
        meta: dict[str, object] = {"result_count": len(page)}
        if start + len(page) < len(rows):
            meta["next_token"] = str(start + len(page))
        body: dict[str, object] = {"meta": meta}
        if page:
            body["data"] = [render(r) for r in page]
        return 200, {}, json.dumps(body)


def _snowflake(n: int) -> int:
    ms = int((BASE + timedelta(seconds=n)).timestamp() * 1000) - 1288834974657
    return (ms << 22) + n


def test_x_thousand_mentions_and_dms_each_returned_once(mocked: responses.RequestsMock) -> None:
    fake = FakeX()
    fake.tweets = [_snowflake(n) for n in range(1000)]
    fake.dms = [_snowflake(n) + 1 for n in range(0, 1000, 4)]
    mocked.add_callback(
        responses.GET,
        f"{XAPI}/users/{X_USER}/mentions",
        callback=fake.mentions,
        content_type="application/json",
    )
    mocked.add_callback(
        responses.GET, f"{XAPI}/dm_events", callback=fake.dm_events, content_type="application/json"
    )
    connector = XConnector(X_CREDENTIALS, dm_poll_interval=timedelta(0))

    batch = connector.fetch_since(None)

    ids = [item.external_id for item in batch.items]
    assert len(ids) == 1250
    assert len(set(ids)) == 1250
    assert [i.created_at for i in batch.items] == sorted(i.created_at for i in batch.items)
    assert connector.fetch_since(batch.next_cursor).items == ()
    fake.tweets.append(_snowflake(2000))
    fake.dms.append(_snowflake(2001) + 1)
    later = connector.fetch_since(batch.next_cursor)
    assert [item.external_id for item in later.items] == [
        str(_snowflake(2000)),
        str(_snowflake(2001) + 1),
    ]


def test_x_capped_paging_never_skips_older_mentions(mocked: responses.RequestsMock) -> None:
    fake = FakeX()
    fake.tweets = [_snowflake(n) for n in range(450)]
    mocked.add_callback(
        responses.GET,
        f"{XAPI}/users/{X_USER}/mentions",
        callback=fake.mentions,
        content_type="application/json",
    )
    mocked.get(f"{XAPI}/dm_events", json={"meta": {"result_count": 0}})
    # Two pages of 100 per poll: a backlog of 450 takes three polls, newest first.
    connector = XConnector(X_CREDENTIALS, max_pages=2)

    seen: list[str] = []
    cursor = None
    for _ in range(3):
        batch = connector.fetch_since(cursor)
        seen.extend(item.external_id for item in batch.items)
        cursor = batch.next_cursor

    assert sorted(seen, key=int) == [str(t) for t in fake.tweets]
    assert connector.fetch_since(cursor).items == ()
    fake.tweets.append(_snowflake(3000))
    assert [i.external_id for i in connector.fetch_since(cursor).items] == [str(_snowflake(3000))]


def test_x_capped_paging_never_skips_older_dms(mocked: responses.RequestsMock) -> None:
    fake = FakeX()
    fake.dms = [_snowflake(n) + 1 for n in range(450)]
    mocked.get(f"{XAPI}/users/{X_USER}/mentions", json={"meta": {"result_count": 0}})
    mocked.add_callback(
        responses.GET, f"{XAPI}/dm_events", callback=fake.dm_events, content_type="application/json"
    )
    connector = XConnector(X_CREDENTIALS, max_pages=2, dm_poll_interval=timedelta(0))

    seen: list[str] = []
    cursor = None
    for _ in range(3):
        batch = connector.fetch_since(cursor)
        seen.extend(item.external_id for item in batch.items)
        cursor = batch.next_cursor

    assert sorted(seen, key=int) == [str(d) for d in fake.dms]
    assert connector.fetch_since(cursor).items == ()
    fake.dms.append(_snowflake(3000) + 1)
    assert [i.external_id for i in connector.fetch_since(cursor).items] == [
        str(_snowflake(3000) + 1)
    ]


def test_x_dms_are_polled_at_most_once_a_minute_on_the_real_host(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{XAPI}/users/{X_USER}/mentions", json={"meta": {"result_count": 0}})
    mocked.get(f"{XAPI}/dm_events", json={"meta": {"result_count": 0}})
    connector = XConnector(X_CREDENTIALS)
    first = connector.fetch_since(None)
    connector.fetch_since(first.next_cursor)
    dm_calls = [c for c in mocked.calls if "/dm_events" in (c.request.url or "")]
    assert len(dm_calls) == 1


def test_facebook_capped_paging_never_skips_unread_comments(mocked: responses.RequestsMock) -> None:
    fake = FakeGraph(honour_order=False)  # oldest first, as when Graph ignores "order"
    start = int(BASE.timestamp())
    for n in range(1000):
        fake.add(f"{FB_PAGE}_{n % 3}", f"{n % 3}_{n:05d}", start + n // 7)
    _serve_graph(mocked, fake)
    # Three pages of 37 per post and call: the rest must wait for later calls, not vanish.
    connector = FacebookConnector(FB_CREDENTIALS, max_pages=3)

    seen, _, fetches = _drain(connector, None)

    assert sorted(seen) == sorted(cid for rows in fake.comments.values() for cid, _ in rows)
    assert len(seen) == len(set(seen))
    assert fetches > 3


def test_facebook_newest_first_paging_stops_at_the_watermark(
    mocked: responses.RequestsMock,
) -> None:
    fake = FakeGraph(honour_since=False)  # Graph may ignore "since" on the comments edge
    start = int(BASE.timestamp())
    for n in range(1000):
        fake.add(f"{FB_PAGE}_0", f"0_{n:05d}", start + n)
    _serve_graph(mocked, fake)
    connector = FacebookConnector(FB_CREDENTIALS)
    cursor = _drain(connector, None)[1]
    fake.calls = 0
    fake.add(f"{FB_PAGE}_0", "0_new", start + 5000)
    batch = connector.fetch_since(cursor)
    assert [item.external_id for item in batch.items] == ["0_new"]
    assert fake.calls == 1  # one newest-first page reached back past the watermark


@dataclass
class FakeMessenger:
    """Conversations most recently updated first; each conversation's messages newest first."""

    page_size: int = 40
    messages: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # conv -> (id, ts)
    message_calls: int = 0

    def add(self, conv: str, message_id: str, ts: int) -> None:
        self.messages.setdefault(conv, []).append((message_id, ts))

    def conversations(self, request: requests.PreparedRequest) -> GraphReply:
        rows = sorted(self.messages, key=lambda c: max(ts for _, ts in self.messages[c]))
        data = [
            {
                "id": conv,
                "updated_time": _graph_time(max(ts for _, ts in self.messages[conv])),
                "participants": {"data": [{"id": f"psid{conv}"}, {"id": FB_PAGE}]},
            }
            for conv in reversed(rows)
        ]
        return 200, {}, json.dumps({"data": data})

    def conversation_messages(self, request: requests.PreparedRequest) -> GraphReply:
        self.message_calls += 1
        conv = urlsplit(request.url or "").path.split("/")[-2]
        rows = sorted(self.messages[conv], key=lambda m: m[1], reverse=True)
        start = int(_query(request).get("after", "0"))
        page = rows[start : start + self.page_size]
        paging: dict[str, object] = {"cursors": {"after": str(start + len(page))}}
        if start + len(page) < len(rows):
            paging["next"] = f"{GRAPH}/{conv}/messages?after={start + len(page)}"
        data = [
            {"id": mid, "created_time": _graph_time(ts), "from": {"id": f"psid{conv}"}}
            for mid, ts in page
        ]
        return 200, {}, json.dumps({"data": data, "paging": paging})


def _graph_time(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def test_facebook_messenger_history_each_message_once(mocked: responses.RequestsMock) -> None:
    fake = FakeMessenger()
    start = int(BASE.timestamp())
    for n in range(600):
        fake.add(f"t_{n % 4}", f"m_{n:04d}", start + n // 3)
    mocked.get(f"{GRAPH}/{FB_PAGE}/feed", json={"data": []})
    mocked.add_callback(
        responses.GET,
        f"{GRAPH}/{FB_PAGE}/conversations",
        callback=fake.conversations,
        content_type="application/json",
    )
    mocked.add_callback(
        responses.GET,
        re.compile(re.escape(GRAPH) + r"/t_\d+/messages"),
        callback=fake.conversation_messages,
        content_type="application/json",
    )
    connector = FacebookConnector(FB_CREDENTIALS, max_items=128)

    seen, cursor, _ = _drain(connector, None)

    assert sorted(seen) == sorted(m for rows in fake.messages.values() for m, _ in rows)
    assert len(seen) == len(set(seen))
    fake.message_calls = 0
    fake.add("t_2", "m_new", start + 1000)
    batch = connector.fetch_since(cursor)
    assert [(i.external_id, i.conversation_id) for i in batch.items] == [("m_new", "psidt_2")]
    # One page each: the updated conversation and those last active in the watermark second.
    assert fake.message_calls == 3
