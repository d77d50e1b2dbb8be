"""Whatever a platform (or something posing as one) answers, only bridge errors come out."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
import responses

from channels_bridge.errors import BridgeError
from channels_bridge.facebook import FacebookConnector
from channels_bridge.items import ItemKind
from channels_bridge.protocol import Connector
from channels_bridge.x import XConnector
from tests.channels_bridge.conftest import make_item

ANY = re.compile(r"https://(graph\.facebook\.com|api\.twitter\.com)/.*")

GARBAGE: list[object] = [
    None,
    [],
    "text",
    12,
    {},
    {"data": None},
    {"data": "x"},
    {"data": [1, "2", None, []]},
    {"data": [{"id": 5}, {"id": ["1"]}, {"id": ""}, {"id": "1" * 500}]},
    {"data": [{"id": "1_1", "created_time": "yesterday", "from": "me"}]},
    {"data": [{"id": "1_1", "created_time": "2026-11-01T10:00:00+0000", "from": {"id": {}}}]},
    {"data": {"id": None, "hidden": "yes", "deleted": 1}},
    {"data": [{"id": "15", "conversation_id": 7, "referenced_tweets": "x"}], "includes": []},
    {"data": [], "paging": {"next": 5, "cursors": []}, "meta": {"next_token": 5}},
    {"id": {"nested": True}, "success": "true", "message_id": 7},
    {"data": [{"id": "1500000000000000001", "created_at": "2026-13-45T99:99:99Z"}]},
]


def _actions(connector: Connector) -> list[Callable[[], object]]:
    item = make_item(connector.platform, ItemKind.REPLY, "15", conversation_id="15")
    dm = make_item(connector.platform, ItemKind.DM, "16")
    return [
        lambda: connector.fetch_since(None),
        lambda: connector.reply_publicly(item, "synthetic"),
        lambda: connector.hide(item),
        lambda: connector.send_private(item, "synthetic"),
        lambda: connector.send_private(dm, "synthetic"),
        lambda: connector.find_own_reply(item),
        lambda: connector.delete_reply("15"),
        lambda: connector.check_connection(),
    ]


@pytest.mark.parametrize("platform", ["facebook", "x"])
@pytest.mark.parametrize("body", GARBAGE, ids=lambda b: json.dumps(b)[:40])
def test_connector_turns_any_answer_into_items_or_bridge_errors(
    platform: str, body: object
) -> None:
    connector: Connector = (
        FacebookConnector({"page_id": "1", "page_access_token": "t"})
        if platform == "facebook"
        else XConnector({"user_id": "1", "access_token": "t"})
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        for method in ("GET", "POST", "PUT", "DELETE"):
            mocked.add(method, ANY, body=json.dumps(body), content_type="application/json")
        for action in _actions(connector):
            try:
                action()
            except BridgeError:
                continue
