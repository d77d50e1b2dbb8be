"""Strict parsers from Meta and X webhook bodies to items. Knows nothing of tickets."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from channels_bridge._data import (
    JSONObject,
    as_id,
    as_obj,
    clean_text,
    from_epoch,
    get_list,
    get_obj,
    get_str,
    parse_iso,
)
from channels_bridge.errors import MalformedPayload
from channels_bridge.items import Item, ItemAction, ItemKind

__all__ = ["MAX_BODY_BYTES", "MAX_DEPTH", "load_strict", "parse"]

MAX_BODY_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_AGE = timedelta(days=7)
MAX_SKEW = timedelta(minutes=5)

FEED_VERBS = {
    "add": ItemAction.CREATE,
    "edited": ItemAction.EDIT,
    "edit": ItemAction.EDIT,
    "remove": ItemAction.DELETE,
    "hide": ItemAction.HIDE,
}
AAA_HANDLED = ("tweet_create_events", "tweet_delete_events", "direct_message_events")
AAA_IGNORED = (
    "favorite_events",
    "follow_events",
    "unfollow_events",
    "block_events",
    "unblock_events",
    "mute_events",
    "unmute_events",
    "user_event",
    "direct_message_indicate_typing_events",
    "direct_message_mark_read_events",
    "tweet_engagement_events",
)
XAA_POSTS = {"post.mention.create": ItemKind.MENTION, "post.reply.create": ItemKind.REPLY}
XAA_DMS = {"dm.received", "dm.sent"}


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _no_duplicates(pairs: list[tuple[str, object]]) -> JSONObject:
    result: JSONObject = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate key")
        result[key] = value
    return result


def _depth(document: object) -> int:
    deepest = 0
    stack: list[tuple[object, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return deepest


def load_strict(body: bytes) -> object:
    """Decode a webhook body: UTF-8, no duplicate keys, no NaN/Infinity, bounded size/depth."""
    if not isinstance(body, bytes | bytearray):
        raise MalformedPayload("body must be bytes")
    if not body or len(body) > MAX_BODY_BYTES:
        raise MalformedPayload(f"body size {len(body)} out of bounds")
    try:
        text = bytes(body).decode("utf-8")
        document: object = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant
        )
    except (ValueError, RecursionError):
        raise MalformedPayload("body is not strict JSON") from None
    if _depth(document) > MAX_DEPTH:
        raise MalformedPayload(f"body nested deeper than {MAX_DEPTH}")
    return document


def _need_obj(value: object, what: str) -> JSONObject:
    obj = as_obj(value)
    if obj is None:
        raise MalformedPayload(f"{what} is not an object")
    return obj


def _need_list(value: object, what: str) -> list[object]:
    if not isinstance(value, list):
        raise MalformedPayload(f"{what} is not a list")
    return value


def _need_id(value: object, what: str) -> str:
    found = as_id(value, strict=True)
    if found is None:
        raise MalformedPayload(f"{what} is not a valid id")
    return found


def _optional_id(value: object, what: str) -> str | None:
    return None if value is None else _need_id(value, what)


def _text(value: object, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedPayload(f"{what} is not a string")
    return clean_text(value)


def _time(value: object) -> datetime | None:
    if isinstance(value, str) and not value.isdigit():
        return parse_iso(value)
    parsed = from_epoch(value)
    if parsed is None:
        parsed = from_epoch(value, millis=True)
    return parsed


# -- Meta ------------------------------------------------------------------------------


def _feed_change(value: JSONObject, own_id: str, fallback: datetime | None) -> list[Item]:
    if value.get("item") != "comment":
        return []  # posts, reactions, likes, shares: known, not handled
    action = FEED_VERBS.get(str(value.get("verb")))
    if action is None:
        return []  # unhide and verbs Meta may add later
    comment_id = _need_id(value.get("comment_id"), "comment_id")
    post_id = _need_id(value.get("post_id"), "post_id")
    parent_id = _optional_id(value.get("parent_id"), "parent_id")
    author = as_obj(value.get("from"))
    if author is not None:
        author_id = _optional_id(author.get("id"), "from.id")
        author_name = get_str(author, "name")
    else:
        author_id = _optional_id(value.get("sender_id"), "sender_id")
        author_name = get_str(value, "sender_name")
    created_at = _time(value.get("created_time")) or fallback
    if created_at is None:
        raise MalformedPayload(f"comment {comment_id} has no time")
    is_reply = parent_id is not None and parent_id != post_id
    return [
        Item(
            platform="facebook",
            kind=ItemKind.REPLY if is_reply else ItemKind.COMMENT,
            external_id=comment_id,
            author_id=author_id,
            author_handle=None,
            author_name=author_name,
            text=_text(value.get("message"), "message"),
            created_at=created_at,
            permalink=None,
            parent_id=parent_id if is_reply else post_id,
            conversation_id=post_id,
            from_self=author_id == own_id,
            action=action,
        )
    ]


def _mention_change(value: JSONObject, own_id: str, fallback: datetime | None) -> list[Item]:
    if value.get("verb", "add") != "add":
        return []
    post_id = _need_id(value.get("post_id"), "post_id")
    comment_id = _optional_id(value.get("comment_id"), "comment_id")
    author_id = _optional_id(value.get("sender_id"), "sender_id")
    created_at = _time(value.get("created_time")) or fallback
    if created_at is None:
        raise MalformedPayload(f"mention {post_id} has no time")
    return [
        Item(
            platform="facebook",
            kind=ItemKind.MENTION,
            external_id=comment_id or post_id,
            author_id=author_id,
            author_handle=None,
            author_name=get_str(value, "sender_name"),
            text=_text(value.get("message"), "message"),
            created_at=created_at,
            permalink=None,
            parent_id=post_id if comment_id else None,
            conversation_id=post_id,
            from_self=author_id == own_id,
        )
    ]


def _messaging_event(raw: object, own_id: str, fallback: datetime | None) -> list[Item]:
    event = _need_obj(raw, "messaging event")
    message = event.get("message")
    if message is None:
        return []  # deliveries, reads, postbacks, reactions: known, not handled
    message = _need_obj(message, "message")
    sender_id = _need_id(_need_obj(event.get("sender"), "sender").get("id"), "sender.id")
    recipient_id = _need_id(
        _need_obj(event.get("recipient"), "recipient").get("id"), "recipient.id"
    )
    mid = _need_id(message.get("mid"), "message.mid")
    created_at = _time(event.get("timestamp")) or fallback
    if created_at is None:
        raise MalformedPayload(f"message {mid} has no time")
    from_self = message.get("is_echo") is True or sender_id == own_id
    return [
        Item(
            platform="facebook",
            kind=ItemKind.DM,
            external_id=mid,
            author_id=sender_id,
            author_handle=None,
            author_name=None,
            text=_text(message.get("text"), "message.text"),
            created_at=created_at,
            permalink=None,
            parent_id=None,
            conversation_id=recipient_id if from_self else sender_id,
            from_self=from_self,
        )
    ]


def _parse_facebook(document: object, own_id: str | None) -> list[Item]:
    root = _need_obj(document, "body")
    if root.get("object") != "page":
        raise MalformedPayload("not a Page webhook")
    items: list[Item] = []
    for raw_entry in _need_list(root.get("entry"), "entry"):
        entry = _need_obj(raw_entry, "entry")
        page_id = _need_id(entry.get("id"), "entry.id")
        me = own_id or page_id
        fallback = _time(entry.get("time"))
        if not any(key in entry for key in ("changes", "messaging", "standby")):
            raise MalformedPayload("entry has no changes or messaging")
        for raw_change in _need_list(entry.get("changes", []), "changes"):
            change = _need_obj(raw_change, "change")
            field = change.get("field")
            if not isinstance(field, str):
                raise MalformedPayload("change.field is not a string")
            value = _need_obj(change.get("value"), "change.value")
            if field == "feed":
                items.extend(_feed_change(value, me, fallback))
            elif field == "mention":
                items.extend(_mention_change(value, me, fallback))
        for key in ("messaging", "standby"):
            for raw_event in _need_list(entry.get(key, []), key):
                items.extend(_messaging_event(raw_event, me, fallback))
    return items


# -- X ---------------------------------------------------------------------------------


def _v1_time(tweet: JSONObject) -> datetime | None:
    found = from_epoch(tweet.get("timestamp_ms"), millis=True)
    if found is None and isinstance(tweet.get("created_at"), str):
        try:
            found = datetime.strptime(str(tweet["created_at"]), "%a %b %d %H:%M:%S %z %Y")
        except ValueError:
            return None
        found = found.astimezone(UTC)
    return found


def _aaa_tweet(raw: object, own_id: str) -> list[Item]:
    tweet = _need_obj(raw, "tweet")
    if "retweeted_status" in tweet:
        return []  # a retweet repeats someone's post: nothing new to answer
    tweet_id = _need_id(tweet.get("id_str"), "tweet.id_str")
    user = _need_obj(tweet.get("user"), "tweet.user")
    author_id = _need_id(user.get("id_str"), "user.id_str")
    extended = as_obj(tweet.get("extended_tweet"))
    text = tweet.get("full_text", tweet.get("text"))
    if tweet.get("truncated") is True and extended is not None:
        text = extended.get("full_text", text)
    parent_id = _optional_id(tweet.get("in_reply_to_status_id_str"), "in_reply_to_status_id_str")
    to_user = _optional_id(tweet.get("in_reply_to_user_id_str"), "in_reply_to_user_id_str")
    created_at = _v1_time(tweet)
    if created_at is None:
        raise MalformedPayload(f"tweet {tweet_id} has no time")
    handle = get_str(user, "screen_name")
    return [
        Item(
            platform="x",
            kind=ItemKind.REPLY if parent_id and to_user == own_id else ItemKind.MENTION,
            external_id=tweet_id,
            author_id=author_id,
            author_handle=handle,
            author_name=get_str(user, "name"),
            text=_text(text, "tweet.text"),
            created_at=created_at,
            permalink=f"https://x.com/{handle or 'i/web'}/status/{tweet_id}",
            parent_id=parent_id,
            conversation_id=None,
            from_self=author_id == own_id,
        )
    ]


def _aaa_delete(raw: object, own_id: str) -> list[Item]:
    event = _need_obj(raw, "tweet_delete_event")
    status = _need_obj(event.get("status"), "status")
    tweet_id = _need_id(status.get("id_str", status.get("id")), "status.id")
    author_id = _optional_id(status.get("user_id_str", status.get("user_id")), "status.user_id")
    created_at = from_epoch(event.get("timestamp_ms"), millis=True)
    if created_at is None:
        raise MalformedPayload(f"delete of {tweet_id} has no time")
    return [
        Item(
            platform="x",
            kind=ItemKind.MENTION,
            external_id=tweet_id,
            author_id=author_id,
            author_handle=None,
            author_name=None,
            text="",
            created_at=created_at,
            permalink=None,
            parent_id=None,
            conversation_id=None,
            from_self=author_id == own_id,
            action=ItemAction.DELETE,
        )
    ]


def _dm_user(users: JSONObject | None, user_id: str) -> tuple[str | None, str | None]:
    user = get_obj(users, user_id)
    user = get_obj(user, "data") or user  # X Activity API wraps each user in "data"
    handle = get_str(user, "screen_name") or get_str(user, "username")
    return handle, get_str(user, "name")


def _conversation(a: str, b: str) -> str:
    low, high = sorted((a, b), key=lambda v: (len(v), v))
    return f"{low}-{high}"


def _dm_events(container: JSONObject, own_id: str) -> list[Item]:
    users = as_obj(container.get("users"))
    items: list[Item] = []
    for raw in _need_list(container.get("direct_message_events"), "direct_message_events"):
        event = _need_obj(raw, "direct_message_event")
        if event.get("type") != "message_create":
            continue
        event_id = _need_id(event.get("id"), "dm.id")
        create = _need_obj(event.get("message_create"), "message_create")
        sender_id = _need_id(create.get("sender_id"), "sender_id")
        target = _need_obj(create.get("target"), "target")
        recipient_id = _need_id(target.get("recipient_id"), "recipient_id")
        data = _need_obj(create.get("message_data"), "message_data")
        created_at = from_epoch(event.get("created_timestamp"), millis=True)
        if created_at is None:
            raise MalformedPayload(f"dm {event_id} has no time")
        handle, name = _dm_user(users, sender_id)
        items.append(
            Item(
                platform="x",
                kind=ItemKind.DM,
                external_id=event_id,
                author_id=sender_id,
                author_handle=handle,
                author_name=name,
                text=_text(data.get("text"), "message_data.text"),
                created_at=created_at,
                permalink=None,
                parent_id=None,
                conversation_id=_conversation(sender_id, recipient_id),
                from_self=sender_id == own_id,
            )
        )
    return items


def _xaa_post(
    payload: JSONObject, kind: ItemKind, includes: JSONObject | None, own_id: str
) -> Item:
    post_id = _need_id(payload.get("id"), "payload.id")
    author_id = _optional_id(payload.get("author_id"), "payload.author_id")
    created_at = parse_iso(payload.get("created_at"))
    if created_at is None:
        raise MalformedPayload(f"post {post_id} has no time")
    handle = name = None
    for raw_user in get_list(includes, "users"):
        user = as_obj(raw_user)
        if user is not None and author_id is not None and user.get("id") == author_id:
            handle, name = get_str(user, "username"), get_str(user, "name")
    parent_id = None
    refs = payload.get("referenced_tweets", payload.get("referenced_posts", []))
    for raw_ref in _need_list(refs, "referenced_tweets"):
        ref = _need_obj(raw_ref, "referenced_tweet")
        if ref.get("type") == "replied_to":
            parent_id = _need_id(ref.get("id"), "referenced_tweet.id")
    return Item(
        platform="x",
        kind=kind,
        external_id=post_id,
        author_id=author_id,
        author_handle=handle,
        author_name=name,
        text=_text(payload.get("text"), "payload.text"),
        created_at=created_at,
        permalink=f"https://x.com/{handle or 'i/web'}/status/{post_id}",
        parent_id=parent_id,
        conversation_id=_optional_id(payload.get("conversation_id"), "conversation_id"),
        from_self=author_id == own_id,
    )


def _parse_x(document: object, own_id: str | None) -> list[Item]:
    root = _need_obj(document, "body")
    if "data" in root:
        data = _need_obj(root.get("data"), "data")
        event_type = data.get("event_type")
        if not isinstance(event_type, str):
            raise MalformedPayload("data.event_type is not a string")
        subscribed = _need_id(_need_obj(data.get("filter"), "filter").get("user_id"), "user_id")
        me = own_id or subscribed
        if event_type in XAA_POSTS:
            payload = _need_obj(data.get("payload"), "payload")
            includes = as_obj(data.get("includes")) or as_obj(payload.get("includes"))
            return [_xaa_post(payload, XAA_POSTS[event_type], includes, me)]
        if event_type in XAA_DMS:
            return _dm_events(_need_obj(data.get("payload"), "payload"), me)
        return []  # chat.*, follows, profile updates: known envelope, not handled
    if "for_user_id" in root:
        me = own_id or _need_id(root.get("for_user_id"), "for_user_id")
        if not any(key in root for key in (*AAA_HANDLED, *AAA_IGNORED)):
            raise MalformedPayload("account activity body with no known event")
        items: list[Item] = []
        for raw in _need_list(root.get("tweet_create_events", []), "tweet_create_events"):
            items.extend(_aaa_tweet(raw, me))
        for raw in _need_list(root.get("tweet_delete_events", []), "tweet_delete_events"):
            items.extend(_aaa_delete(raw, me))
        if "direct_message_events" in root:
            items.extend(_dm_events(root, me))
        return items
    raise MalformedPayload("unknown X webhook shape")


_PARSERS: dict[str, Callable[[object, str | None], list[Item]]] = {
    "facebook": _parse_facebook,
    "x": _parse_x,
}


def parse(
    platform: str, body: bytes, *, own_id: str | None = None, now: datetime | None = None
) -> list[Item]:
    """Items in a webhook body (raw bytes, signature already checked).

    ``own_id`` is our Page id or X user id (default: the one the body names) so our own posts
    come back with ``from_self=True``. With ``now``, items older than 7 days or more than
    5 minutes ahead are refused. Known events that carry no item give ``[]``.
    Raises ``MalformedPayload`` on anything malformed or unknown; ValueError for a platform
    the bridge does not know.
    """
    parser = _PARSERS.get(platform)
    if parser is None:
        raise ValueError(f"unknown platform {platform!r}")
    own_id = own_id or None  # an unset account id ("") means: the one the body names
    if own_id is not None and as_id(own_id, strict=True) is None:
        raise ValueError("own_id is not a valid id")
    document = load_strict(body)
    try:
        items = parser(document, own_id)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise MalformedPayload(f"{platform} webhook unreadable: {type(exc).__name__}") from None
    if now is not None:
        for item in items:
            if not now - MAX_AGE <= item.created_at <= now + MAX_SKEW:
                raise MalformedPayload(f"item {item.external_id} outside the accepted time window")
    return items
