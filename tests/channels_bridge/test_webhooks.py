"""Webhook bodies become items strictly; anything else is MalformedPayload, never a crash."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels_bridge.errors import MalformedPayload
from channels_bridge.items import ItemAction, ItemKind
from channels_bridge.webhooks import MAX_DEPTH, parse
from tests.channels_bridge.conftest import LOCAL_FIXTURES, RECORDED_FIXTURES, raw

# (platform, file, [(kind, action, from_self), ...])
SYNTHETIC = [
    ("facebook", "feed__comment_reply.json", [(ItemKind.REPLY, ItemAction.CREATE, False)]),
    ("facebook", "feed__comment_edited.json", [(ItemKind.COMMENT, ItemAction.EDIT, False)]),
    ("facebook", "feed__comment_unhide.json", []),
    ("facebook", "feed__reaction_add.json", []),
    ("facebook", "messaging__standby_text.json", [(ItemKind.DM, ItemAction.CREATE, False)]),
    ("facebook", "mention__comment_add.json", [(ItemKind.MENTION, ItemAction.CREATE, False)]),
    ("x", "xaa_post_reply_create__synthetic.json", [(ItemKind.REPLY, ItemAction.CREATE, False)]),
    ("x", "xaa_dm_sent__synthetic.json", [(ItemKind.DM, ItemAction.CREATE, True)]),
    ("x", "xaa_chat_received__synthetic.json", []),
    ("x", "aaa_tweet_create_events__own_reply.json", [(ItemKind.MENTION, ItemAction.CREATE, True)]),
    ("x", "aaa_tweet_create_events__extended.json", [(ItemKind.MENTION, ItemAction.CREATE, False)]),
    ("x", "aaa_tweet_delete_events__basic.json", [(ItemKind.MENTION, ItemAction.DELETE, False)]),
    ("x", "aaa_favorite_events__basic.json", []),
]


@pytest.mark.parametrize(("platform", "name", "expected"), SYNTHETIC)
def test_parse_synthetic_fixture_gives_expected_items(
    platform: str, name: str, expected: list[tuple[ItemKind, ItemAction, bool]]
) -> None:
    items = parse(platform, (LOCAL_FIXTURES / platform / name).read_bytes())
    assert [(i.kind, i.action, i.from_self) for i in items] == expected


def test_parse_uses_extended_text_of_truncated_tweets() -> None:
    body = (LOCAL_FIXTURES / "x" / "aaa_tweet_create_events__extended.json").read_bytes()
    (item,) = parse("x", body)
    assert item.text.endswith("longer synthetic complaint")


def test_parse_x_uses_id_str_never_the_numeric_id() -> None:
    (item,) = parse("x", raw("x", "webhook_aaa_tweet_create_events__mention.json"))
    assert item.external_id == "1205348660982083584"
    assert item.author_id == "1205290247124217856"


def test_parse_facebook_normalises_numeric_messenger_ids_to_str() -> None:
    (item,) = parse("facebook", raw("facebook", "webhook_messages__text.json"))
    assert (item.author_id, item.conversation_id) == ("987654321432", "987654321432")


def test_parse_marks_own_page_comment_from_self() -> None:
    (item,) = parse("facebook", raw("facebook", "webhook_feed__comment_add.json"))
    assert item.from_self is True  # from.id is the page (entry.id)


def test_parse_own_id_overrides_the_body_page() -> None:
    body = raw("facebook", "webhook_feed__comment_add.json")
    (item,) = parse("facebook", body, own_id="42")
    assert item.from_self is False


def test_parse_treats_an_empty_own_id_as_unset() -> None:
    (item,) = parse("facebook", raw("facebook", "webhook_feed__comment_add.json"), own_id="")
    assert item.from_self is True


def test_parse_marks_messenger_echo_from_self() -> None:
    (item,) = parse("facebook", raw("facebook", "webhook_message_echoes__text.json"))
    assert item.from_self is True


def test_parse_marks_outgoing_x_dm_from_self() -> None:
    (item,) = parse("x", raw("x", "webhook_aaa_direct_message_events__outgoing.json"))
    assert item.from_self is True
    (incoming,) = parse("x", raw("x", "webhook_aaa_direct_message_events__incoming.json"))
    assert incoming.from_self is False
    assert incoming.conversation_id == item.conversation_id


def test_parse_x_reply_to_brand_post_is_reply() -> None:
    (item,) = parse("x", raw("x", "webhook_xaa_post_mention_create__docs_sample.json"))
    assert (item.kind, item.author_handle) == (ItemKind.MENTION, "OtherUser")


def test_parse_with_now_refuses_items_outside_the_window() -> None:
    body = raw("x", "webhook_xaa_post_mention_create__docs_sample.json")
    created = datetime(2026, 7, 24, 21, 23, 23, tzinfo=UTC)
    assert parse("x", body, now=created + timedelta(days=1))
    with pytest.raises(MalformedPayload):
        parse("x", body, now=created + timedelta(days=8))
    with pytest.raises(MalformedPayload):
        parse("x", body, now=created - timedelta(minutes=6))


def test_parse_unknown_platform_is_value_error() -> None:
    with pytest.raises(ValueError, match="unknown platform"):
        parse("myspace", b"{}")


def _nested(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


MALFORMED: list[tuple[str, bytes]] = [
    ("facebook", b""),
    ("facebook", b"not json"),
    ("facebook", b"\xff\xfe{}"),
    ("facebook", b"[]"),
    ("facebook", b'{"object": "page", "object": "page", "entry": []}'),
    ("facebook", b'{"object": "page", "entry": [{"id": "1", "time": NaN, "changes": []}]}'),
    ("facebook", b'{"object": "page", "entry": [{"id": "1", "time": Infinity, "changes": []}]}'),
    ("facebook", b'{"object": "user", "entry": []}'),
    ("facebook", b'{"object": "page", "entry": {}}'),
    ("facebook", b'{"object": "page", "entry": [{"id": "1", "time": 1}]}'),
    ("facebook", b'{"object": "page", "entry": [{"id": "", "changes": []}]}'),
    ("facebook", b'{"object": "page", "entry": [{"id": "a b", "changes": []}]}'),
    ("facebook", b'{"object": "page", "entry": [{"id": true, "changes": []}]}'),
    (
        "facebook",
        json.dumps({"object": "page", "entry": [{"id": "1" * 129, "changes": []}]}).encode(),
    ),
    ("facebook", b'{"object": "page", "entry": [{"id": "1", "changes": [{"field": 3}]}]}'),
    (
        "facebook",
        b'{"object": "page", "entry": [{"id": "1", "changes": [{"field": "feed", "value": '
        b'{"item": "comment", "verb": "add", "comment_id": "1_2", "post_id": "1_1", '
        b'"created_time": 1449135003, "message": ["not", "text"]}}]}]}',
    ),
    (
        "facebook",
        b'{"object": "page", "entry": [{"id": "1", "messaging": [{"sender": {"id": 5}, '
        b'"recipient": {"id": 1}, "message": {"text": "no mid"}}]}]}',
    ),
    ("facebook", _nested(MAX_DEPTH + 5)),
    ("facebook", _nested(5000)),
    ("facebook", b" " * (1024 * 1024 + 1)),
    ("x", b"{}"),
    ("x", b'{"for_user_id": "1"}'),
    ("x", b'{"for_user_id": "1", "tweet_create_events": [{"id": 12, "text": "numeric id only"}]}'),
    ("x", b'{"data": {"event_type": 7, "filter": {"user_id": "1"}}}'),
    ("x", b'{"data": {"event_type": "post.mention.create", "filter": {"user_id": "1"}}}'),
    ("x", b'{"data": {"event_type": "dm.received", "filter": {}, "payload": {}}}'),
]


@pytest.mark.parametrize(("platform", "body"), MALFORMED)
def test_parse_malformed_body_raises_malformed_payload(platform: str, body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        parse(platform, body)


def _webhook_files() -> list[tuple[str, Path]]:
    files = [
        (path.parent.name, path)
        for root in (RECORDED_FIXTURES, LOCAL_FIXTURES)
        for path in sorted(root.glob("*/*.json"))
        if path.name.startswith(("webhook_", "feed__", "messaging__", "mention__", "xaa_", "aaa_"))
    ]
    assert len(files) > 20
    return files


def _mutations(document: object) -> Iterator[object]:
    """The document with each value, in turn, deleted or replaced by a wrong type."""
    paths: list[tuple[object, ...]] = []

    def walk(node: object, path: tuple[object, ...]) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                paths.append((*path, key))
                walk(child, (*path, key))
        elif isinstance(node, list):
            for index, child in enumerate(node):
                paths.append((*path, index))
                walk(child, (*path, index))

    walk(document, ())
    for path in paths:
        replacements: tuple[object, ...] = (
            None,
            0,
            -1,
            True,
            "",
            "x",
            [],
            {},
            1.5,
            "9" * 200,
            "Ωmega",
        )
        for replacement in replacements:
            mutated = copy.deepcopy(document)
            parent = mutated
            for step in path[:-1]:
                parent = parent[step]  # type: ignore[index]  # walking the paths walk() found
            parent[path[-1]] = replacement  # type: ignore[index]  # same
            yield mutated
        mutated = copy.deepcopy(document)
        parent = mutated
        for step in path[:-1]:
            parent = parent[step]  # type: ignore[index]  # same
        del parent[path[-1]]  # type: ignore[attr-defined]  # same
        yield mutated


@pytest.mark.parametrize(
    ("platform", "path"), _webhook_files(), ids=lambda v: getattr(v, "name", v)
)
def test_parse_mutated_fixture_never_raises_anything_but_malformed_payload(
    platform: str, path: Path
) -> None:
    document = json.loads(path.read_bytes())
    for mutated in _mutations(document):
        body = json.dumps(mutated).encode()
        try:
            items = parse(platform, body)
        except MalformedPayload:
            continue
        assert isinstance(items, list)
        assert all(item.external_id and item.created_at.tzinfo for item in items)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(
    platform=st.sampled_from(["facebook", "x"]),
    document=st.fixed_dictionaries(
        {},
        optional={
            "object": st.just("page"),
            "entry": json_values,
            "for_user_id": json_values,
            "data": json_values,
            "tweet_create_events": json_values,
            "direct_message_events": json_values,
        },
    ),
)
def test_parse_random_json_never_raises_anything_but_malformed_payload(
    platform: str, document: dict[str, object]
) -> None:
    try:
        items = parse(platform, json.dumps(document).encode())
    except MalformedPayload:
        return
    assert isinstance(items, list)
