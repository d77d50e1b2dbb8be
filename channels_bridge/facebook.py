"""Facebook Page connector on facebook-sdk's GraphAPI. Knows nothing of tickets."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from urllib.parse import parse_qs, urlsplit

import facebook
import requests

from channels_bridge._data import (
    JSONObject,
    as_id,
    as_obj,
    decode_cursor,
    encode_cursor,
    from_epoch,
    get_list,
    get_obj,
    get_str,
    get_text,
    parse_iso,
)
from channels_bridge.errors import (
    AlreadyReplied,
    AmbiguousOutcome,
    AuthExpired,
    BridgeError,
    NotFound,
    PermissionDenied,
    PlatformError,
    RateLimited,
    TransientError,
)
from channels_bridge.http import BridgeSession, normalise_base_url, sent_for_sure_not
from channels_bridge.items import Batch, Capabilities, ConnectionReport, Item, ItemKind

__all__ = [
    "FACEBOOK_CAPABILITIES",
    "GRAPH_API_VERSION",
    "FacebookConnector",
    "graph_error",
    "graph_retry_at",
]

logger = logging.getLogger(__name__)

PLATFORM = "facebook"
GRAPH_API_VERSION = "v26.0"
GRAPH_HOST = "https://graph.facebook.com/"

PRIVATE_REPLY_WINDOW = timedelta(days=7)
MESSENGER_STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
DEFAULT_RETRY_AFTER = timedelta(minutes=15)

COMMENT_FIELDS = "id,message,created_time,from{id,name},parent{id},permalink_url"
MESSAGE_FIELDS = "id,created_time,from,to,message"
PAGE_SIZE = 100

# Graph error codes (PLATFORMS.md §1.6) by the bridge error they become.
RATE_LIMIT_CODES = frozenset({4, 17, 32, 341, 613, *range(80000, 80015)})
AUTH_CODES = frozenset({102, 190})
PERMISSION_CODES = frozenset({3, 10, 551, 10902, 10903, *range(200, 300)})
TRANSIENT_CODES = frozenset({1, 2})
ALREADY_REPLIED_CODES = frozenset({10900})
NOT_FOUND_SUBCODES = frozenset({33})
REFUSAL_SUBCODES = frozenset({2018292})

_OWN_POST = "This is the Page's own post."

FACEBOOK_CAPABILITIES: Mapping[ItemKind, Capabilities] = MappingProxyType(
    {
        ItemKind.COMMENT: Capabilities(
            reply_publicly=True,
            delete_own_reply=True,
            hide=True,
            send_private=True,
            private_window=PRIVATE_REPLY_WINDOW,
            private_limit=1,
        ),
        ItemKind.REPLY: Capabilities(
            reply_publicly=True,
            delete_own_reply=True,
            hide=True,
            send_private=True,
            private_window=PRIVATE_REPLY_WINDOW,
            private_limit=1,
        ),
        ItemKind.MENTION: Capabilities(
            reply_publicly=True,
            delete_own_reply=True,
            hide=False,
            send_private=True,
            private_window=PRIVATE_REPLY_WINDOW,
            private_limit=1,
            reason="A Page cannot hide a post on someone else's timeline.",
        ),
        ItemKind.DM: Capabilities(
            reply_publicly=False,
            hide=False,
            send_private=True,
            private_window=HUMAN_AGENT_WINDOW,
            reason="A Messenger conversation has no public side.",
        ),
    }
)


def graph_retry_at(headers: Mapping[str, str], now: datetime) -> datetime:
    """When Graph lets us back in, from the usage headers; 15 minutes when they don't say."""
    minutes = 0
    for name in ("x-business-use-case-usage", "x-ad-account-usage"):
        try:
            usage = json.loads(headers.get(name, "") or "{}")
        except ValueError:
            continue
        entries: list[object] = []
        if isinstance(usage, dict):
            for value in usage.values():
                entries.extend(value if isinstance(value, list) else [value])
        for entry in entries:
            wait = as_obj(entry)
            regain = wait.get("estimated_time_to_regain_access") if wait else None
            if isinstance(regain, int) and not isinstance(regain, bool) and regain > minutes:
                minutes = regain
    return now + (timedelta(minutes=minutes) if minutes > 0 else DEFAULT_RETRY_AFTER)


def _throttled(headers: Mapping[str, str]) -> bool:
    """True when a usage header already reports a throttle (a percentage at 100)."""
    for name in ("x-business-use-case-usage", "x-app-usage"):
        try:
            usage = json.loads(headers.get(name, "") or "{}")
        except ValueError:
            continue
        entries: list[object] = [usage]
        if isinstance(usage, dict) and name == "x-business-use-case-usage":
            entries = [e for v in usage.values() for e in (v if isinstance(v, list) else [v])]
        for entry in entries:
            data = as_obj(entry) or {}
            for key in ("call_count", "total_cputime", "total_time"):
                pct = data.get(key)
                if isinstance(pct, int | float) and not isinstance(pct, bool) and pct >= 100:
                    return True
            regain = data.get("estimated_time_to_regain_access")
            if isinstance(regain, int) and not isinstance(regain, bool) and regain > 0:
                return True
    return False


def graph_error(
    result: object,
    *,
    status: int | None,
    headers: Mapping[str, str],
    write: bool,
    now: datetime,
) -> BridgeError:
    """The bridge error for a Graph error body (``GraphAPIError.result``) and HTTP status."""
    error = get_obj(as_obj(result), "error")
    raw_code = error.get("code") if error else None
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
    raw_sub = error.get("error_subcode") if error else None
    subcode = raw_sub if isinstance(raw_sub, int) and not isinstance(raw_sub, bool) else None
    label = f"graph error code={code} subcode={subcode} status={status}"
    kwargs: dict[str, int | None] = {"code": code, "status": status}
    if code in RATE_LIMIT_CODES or (code is None and status == 429):
        return RateLimited(graph_retry_at(headers, now), label, **kwargs)
    if code in AUTH_CODES:
        return AuthExpired(label, **kwargs)
    if code in ALREADY_REPLIED_CODES:
        return AlreadyReplied(label, **kwargs)
    if code in PERMISSION_CODES or subcode in REFUSAL_SUBCODES:
        return PermissionDenied(label, **kwargs)
    if code == 100:
        message = (get_str(error, "message") or "").lower()
        if subcode in NOT_FOUND_SUBCODES or "does not exist" in message:
            return NotFound(label, **kwargs)
        return PlatformError(label, **kwargs)
    transient = code is None or code in TRANSIENT_CODES or bool(error and error.get("is_transient"))
    if transient or (status is not None and status >= 500):
        # The write may have happened before the platform failed to answer.
        if write and (status is None or status >= 500 or code in TRANSIENT_CODES):
            return AmbiguousOutcome(label, **kwargs)
        return TransientError(label, **kwargs)
    return PlatformError(label, **kwargs)


def network_error(exc: requests.RequestException, *, write: bool, what: str) -> TransientError:
    """A network failure; ambiguous for a write unless the request surely never left."""
    label = f"{what} failed: {type(exc).__name__}"
    if write and not sent_for_sure_not(exc):
        return AmbiguousOutcome(label)
    return TransientError(label)


def _required(credentials: Mapping[str, str], key: str) -> str:
    value = credentials.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{PLATFORM} credentials need a non-empty {key!r}")
    return value


@dataclass(frozen=True, slots=True)
class _Watermark:
    """Resume point of one stream: the newest second returned and the ids returned at it."""

    second: int | None = None
    ids: frozenset[str] = frozenset()

    @classmethod
    def from_state(cls, state: object) -> _Watermark:
        data = as_obj(state)
        if data is None:
            return cls()
        second = data.get("t")
        ids = data.get("ids")
        if second is not None and (not isinstance(second, int) or isinstance(second, bool)):
            raise ValueError("not a facebook cursor")
        if not isinstance(ids, list):
            ids = []
        return cls(second, frozenset(i for i in ids if isinstance(i, str)))

    def to_state(self) -> JSONObject:
        return {"t": self.second, "ids": sorted(self.ids)}

    def is_new(self, item: Item) -> bool:
        second = _second(item)
        if self.second is None or second > self.second:
            return True
        return second == self.second and item.external_id not in self.ids

    def advance(self, taken: list[Item]) -> _Watermark:
        if not taken:
            return self
        last = _second(taken[-1])
        ids = {i.external_id for i in taken if _second(i) == last}
        if last == self.second:
            ids |= self.ids
        return _Watermark(last, frozenset(ids))


def _second(item: Item) -> int:
    return int(item.created_at.timestamp())


def _past(page: list[Item], since: int | None) -> bool:
    """True when a page, visibly newest first, already reaches back before the watermark.

    Only a page whose first item is newer than its last proves the order: anything else keeps
    paging, which costs calls but never skips a comment.
    """
    if since is None or len(page) < 2 or not page[0].created_at > page[-1].created_at:
        return False
    return page[-1].created_at.timestamp() < since


def _order(item: Item) -> tuple[datetime, str]:
    return (item.created_at, item.external_id)


def _comment_id_from_permalink(permalink: str | None) -> tuple[str | None, str | None]:
    """``(comment id, parent comment id)`` from a comment's ``permalink_url``.

    Graph returns only requested fields, and some recordings lack ``id``; the permalink
    ``.../posts/<post>/?comment_id=<c>[&reply_comment_id=<r>]`` still names the comment.
    """
    if not permalink:
        return None, None
    parts = urlsplit(permalink)
    segments = [s for s in parts.path.split("/") if s]
    if "posts" not in segments or segments.index("posts") + 1 >= len(segments):
        return None, None
    post = segments[segments.index("posts") + 1]
    query = parse_qs(parts.query)
    comment = next(iter(query.get("comment_id", [])), None)
    reply = next(iter(query.get("reply_comment_id", [])), None)
    if not comment:
        return None, None
    if reply:
        return as_id(f"{post}_{reply}"), as_id(f"{post}_{comment}")
    return as_id(f"{post}_{comment}"), None


class FacebookConnector:
    """One Facebook Page: comments on its posts and its Messenger conversations.

    Acts with a Page access token. Every Graph call goes through ``_call``, which pins the API
    version, applies the timeout and turns every SDK or HTTP failure into a bridge error.
    Safe to share between threads: per-call state is local to the calling thread.
    """

    platform = PLATFORM
    capabilities = FACEBOOK_CAPABILITIES

    def __init__(
        self,
        credentials: Mapping[str, str],
        *,
        base_url: str | None = None,
        timeout: float = 10.0,
        version: str = GRAPH_API_VERSION,
        max_posts: int = 25,
        max_items: int = 500,
        max_pages: int = 50,
    ) -> None:
        self.page_id = _required(credentials, "page_id")
        token = _required(credentials, "page_access_token")
        self._app_id = credentials.get("app_id") or None
        self._app_secret = credentials.get("app_secret") or None
        extra: dict[str, str] = {}
        proof_wanted = credentials.get("appsecret_proof", "true").lower() not in {"false", "0", ""}
        if self._app_secret and proof_wanted:
            extra["appsecret_proof"] = self._proof(token)
        rewrites = {GRAPH_HOST: normalise_base_url(base_url) + "/"} if base_url else None
        self._session = BridgeSession(timeout=timeout, rewrites=rewrites, extra_params=extra)
        self._graph = facebook.GraphAPI(access_token=token, timeout=timeout, session=self._session)
        # facebook-sdk's constructor only accepts 2.8-3.1; every helper reads this attribute.
        self._graph.version = version
        self.version = version
        self._token = token
        self._max_posts = max_posts
        self._max_items = max_items
        self._max_pages = max_pages
        # Shared by all threads using this connector: Graph throttles per Page and app.
        self._blocked_until: datetime | None = None

    def _proof(self, token: str) -> str:
        secret = self._app_secret or ""
        return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()

    # -- plumbing ------------------------------------------------------------------------

    def _call(self, method: str, what: str, call: Callable[[], object]) -> JSONObject:
        write = method != "GET"
        now = datetime.now(UTC)
        blocked_until = self._blocked_until
        if blocked_until is not None and now < blocked_until:
            raise RateLimited(blocked_until, f"{what} not sent: graph usage at its limit")
        try:
            result = call()
        except facebook.GraphAPIError as exc:
            error = graph_error(
                exc.result,
                status=self._session.last_status,
                headers=self._session.last_headers,
                write=write,
                now=now,
            )
            logger.warning(
                "graph call failed call=%s error=%s code=%s",
                what,
                type(error).__name__,
                error.code,
            )
            if isinstance(error, RateLimited):
                self._blocked_until = error.retry_at
            raise error from None
        except requests.RequestException as exc:
            logger.warning("graph call failed call=%s exc=%s", what, type(exc).__name__)
            raise network_error(exc, write=write, what=what) from None
        except KeyError:
            # facebook-sdk indexes response headers blindly (no Content-Type: KeyError).
            label = f"{what} got an unreadable answer status={self._session.last_status}"
            raise (AmbiguousOutcome(label) if write else TransientError(label)) from None
        if _throttled(self._session.last_headers):
            # This answer is good, but Graph says the next call would be refused.
            self._blocked_until = graph_retry_at(self._session.last_headers, now)
            logger.warning("graph usage at its limit call=%s", what)
        served = self._session.last_headers.get("facebook-api-version")
        if served and served != self.version:
            logger.warning("graph version differs asked=%s served=%s", self.version, served)
        data = as_obj(result)
        if data is None:
            raise PlatformError(
                f"{what} answered with a non-object", status=self._session.last_status
            )
        return data

    def _get(self, node: str, what: str, **args: str | int) -> JSONObject:
        return self._call("GET", what, lambda: self._graph.get_object(node, **args))

    def _edge(self, node: str, edge: str, what: str, **args: str | int) -> JSONObject:
        return self._call("GET", what, lambda: self._graph.get_connections(node, edge, **args))

    def _post(self, path: str, what: str, **data: str) -> JSONObject:
        return self._call(
            "POST",
            what,
            lambda: self._graph.request(f"{self._graph.version}/{path}", post_args=dict(data)),
        )

    def _pages(
        self,
        node: str,
        edge: str,
        what: str,
        *,
        capped: list[bool] | None = None,
        args: Mapping[str, str | int],
    ) -> Iterator[list[JSONObject]]:
        """The pages of an edge, following ``paging.cursors.after`` while ``next`` exists.

        Stops after ``max_pages`` pages and then appends True to ``capped``.
        """
        after: str | None = None
        for _ in range(self._max_pages):
            query = dict(args)
            if after:
                query["after"] = after
            page = self._edge(node, edge, what, **query)
            data = [obj for obj in map(as_obj, get_list(page, "data")) if obj is not None]
            yield data
            paging = get_obj(page, "paging")
            after = get_str(get_obj(paging, "cursors"), "after")
            if not data or not get_str(paging, "next") or not after:
                return
        if capped is not None:
            capped.append(True)
        logger.warning("graph paging capped edge=%s pages=%s", edge, self._max_pages)

    # -- items ---------------------------------------------------------------------------

    def comment_item(self, raw: JSONObject, *, post_id: str | None) -> Item | None:
        """An ``Item`` from a Graph comment object; None when it lacks an id or a time."""
        permalink = get_str(raw, "permalink_url")
        external_id = as_id(raw.get("id"))
        derived_parent: str | None = None
        if external_id is None:
            external_id, derived_parent = _comment_id_from_permalink(permalink)
        created_at = parse_iso(raw.get("created_time"))
        if external_id is None or created_at is None:
            return None
        parent_obj = get_obj(raw, "parent")
        parent = (as_id(parent_obj.get("id")) if parent_obj else None) or derived_parent
        author = get_obj(raw, "from")
        author_id = as_id(author.get("id")) if author else None
        is_reply = parent is not None and parent != post_id
        return Item(
            platform=PLATFORM,
            kind=ItemKind.REPLY if is_reply else ItemKind.COMMENT,
            external_id=external_id,
            author_id=author_id,
            author_handle=None,
            author_name=get_str(author, "name"),
            text=get_text(raw, "message"),
            created_at=created_at,
            permalink=permalink,
            parent_id=parent if is_reply else post_id,
            conversation_id=post_id,
            from_self=author_id == self.page_id,
        )

    def message_item(self, raw: JSONObject, *, customer_id: str | None) -> Item | None:
        """An ``Item`` (kind dm) from a Graph conversation message; None when unusable."""
        external_id = as_id(raw.get("id"))
        created_at = parse_iso(raw.get("created_time"))
        if external_id is None or created_at is None:
            return None
        author = get_obj(raw, "from")
        author_id = as_id(author.get("id")) if author else None
        from_self = author_id == self.page_id
        if customer_id is None and not from_self:
            customer_id = author_id
        return Item(
            platform=PLATFORM,
            kind=ItemKind.DM,
            external_id=external_id,
            author_id=author_id,
            author_handle=None,
            author_name=get_str(author, "name"),
            text=get_text(raw, "message"),
            created_at=created_at,
            permalink=None,
            parent_id=None,
            conversation_id=customer_id,
            from_self=from_self,
        )

    # -- Connector -----------------------------------------------------------------------

    def fetch_since(self, cursor: str | None) -> Batch:
        """Comments on the Page's recent posts and Messenger messages after ``cursor``.

        Scans the ``max_posts`` most recent posts (older threads arrive by webhook) and every
        conversation updated since the cursor. Returns at most ``max_items`` items, oldest
        first. Comments and messages keep separate (second, ids-at-that-second) watermarks, so
        nothing repeats or is lost, and a Page token without Messenger access (or a Messenger
        hiccup) does not hold comments back: messages are then read on a later call.
        """
        state = decode_cursor(cursor, platform=PLATFORM)
        comments_mark = _Watermark.from_state(state.get("c"))
        messages_mark = _Watermark.from_state(state.get("m"))

        comments, horizon = self._comments_since(comments_mark.second)
        new_comments = [i for i in comments.values() if comments_mark.is_new(i)]
        if horizon is not None:
            new_comments = [i for i in new_comments if i.created_at < horizon]
        try:
            messages = {i.external_id: i for i in self._messages_since(messages_mark.second)}
        except (PermissionDenied, NotFound, RateLimited, TransientError) as exc:
            logger.warning(
                "facebook messages skipped this poll error=%s code=%s", type(exc).__name__, exc.code
            )
            messages = {}
        new_messages = [i for i in messages.values() if messages_mark.is_new(i)]

        taken = sorted([*new_comments, *new_messages], key=_order)[: self._max_items]
        if not taken:
            return Batch((), cursor)
        next_state: JSONObject = {
            "p": PLATFORM,
            "c": comments_mark.advance([i for i in taken if i.kind is not ItemKind.DM]).to_state(),
            "m": messages_mark.advance([i for i in taken if i.kind is ItemKind.DM]).to_state(),
        }
        return Batch(tuple(taken), encode_cursor(next_state))

    def _comments_since(self, since: int | None) -> tuple[dict[str, Item], datetime | None]:
        """Comments of the recent posts from ``since`` on, and the horizon of a capped scan."""
        found: dict[str, Item] = {}
        skipped = 0
        horizon: datetime | None = None  # oldest end of a comment stream cut by max_pages
        feed_args: dict[str, str | int] = {"fields": "id,created_time", "limit": self._max_posts}
        feed = self._edge(self.page_id, "feed", "feed", **feed_args)
        for post in map(as_obj, get_list(feed, "data")):
            post_id = as_id(post.get("id")) if post else None
            if post is None or post_id is None:
                continue
            # Every listed post is scanned: a post's updated_time is not a reliable signal of
            # new comments. Newest first, so paging stops at the watermark even where Graph
            # ignores "since"; the order actually served is checked, never assumed.
            args: dict[str, str | int] = {
                "fields": COMMENT_FIELDS,
                "filter": "stream",
                "order": "reverse_chronological",
                "limit": PAGE_SIZE,
            }
            if since is not None:
                args["since"] = since
            capped: list[bool] = []
            ascending = False
            last: datetime | None = None
            for page in self._pages(post_id, "comments", "comments", capped=capped, args=args):
                items = [self.comment_item(raw, post_id=post_id) for raw in page]
                skipped += sum(item is None for item in items)
                dated = [item for item in items if item is not None]
                for item in dated:
                    found[item.external_id] = item
                if not dated:
                    continue
                last = dated[-1].created_at
                ascending = ascending or dated[0].created_at < last
                if _past(dated, since):
                    break
            if capped and last is not None:
                if ascending:
                    # Later comments of this post were not read: return nothing past them.
                    horizon = last if horizon is None else min(horizon, last)
                else:
                    logger.warning("facebook comments gap post=%s: paging capped", post_id)
        if skipped:
            logger.warning("facebook items skipped reason=no_id_or_time count=%s", skipped)
        return found, horizon

    def _messages_since(self, since: int | None) -> Iterator[Item]:
        conv_args: dict[str, str | int] = {
            "platform": "messenger",
            "fields": "id,updated_time,participants",
            "limit": 25,
        }
        for conversations in self._pages(
            self.page_id, "conversations", "conversations", args=conv_args
        ):
            stale = 0
            for conv in conversations:
                conv_id = as_id(conv.get("id"))
                updated = parse_iso(conv.get("updated_time"))
                if since is not None and updated is not None and updated.timestamp() < since:
                    stale += 1
                    continue
                if conv_id is not None:
                    yield from self._conversation_messages(conv, conv_id, since)
            # Conversations come most recently updated first: a page of stale ones ends it.
            if conversations and stale == len(conversations):
                return

    def _conversation_messages(
        self, conv: JSONObject, conv_id: str, since: int | None
    ) -> Iterator[Item]:
        customer_id = None
        for person in map(as_obj, get_list(get_obj(conv, "participants"), "data")):
            person_id = as_id(person.get("id")) if person else None
            if person_id and person_id != self.page_id:
                customer_id = person_id
                break
        msg_args: dict[str, str | int] = {"fields": MESSAGE_FIELDS, "limit": PAGE_SIZE}
        for page in self._pages(conv_id, "messages", "messages", args=msg_args):
            items = [self.message_item(raw, customer_id=customer_id) for raw in page]
            dated = [item for item in items if item is not None]
            yield from dated
            if _past(dated, since):
                break

    def _comment_target(self, item: Item) -> str:
        # Graph threads are two levels deep: a reply to a reply goes under its parent comment.
        if item.kind is ItemKind.REPLY and item.parent_id:
            return item.parent_id
        return item.external_id

    def reply_publicly(self, item: Item, text: str) -> str:
        if item.kind is ItemKind.DM:
            raise PermissionDenied(f"facebook item {item.external_id} is a dm: no public reply")
        result = self._post(f"{self._comment_target(item)}/comments", "reply", message=text)
        reply_id = as_id(result.get("id"))
        if reply_id is None:
            raise AmbiguousOutcome(f"reply to {item.external_id} answered without an id")
        logger.debug("facebook reply posted item=%s reply=%s", item.external_id, reply_id)
        return reply_id

    def hide(self, item: Item) -> None:
        self._set_hidden(item, hidden=True)

    def unhide(self, item: Item) -> None:
        self._set_hidden(item, hidden=False)

    def _set_hidden(self, item: Item, *, hidden: bool) -> None:
        if item.kind is ItemKind.DM:
            raise PermissionDenied(f"facebook item {item.external_id} is a dm: cannot hide")
        value = "true" if hidden else "false"
        result = self._post(item.external_id, "hide", is_hidden=value)
        if result.get("success") is not True:
            raise PlatformError(f"hide {item.external_id} not confirmed")

    def delete_reply(self, external_id: str) -> None:
        """Delete one of the Page's own comments (undo a public reply).

        A Page may delete its own comments (``pages_manage_engagement``). Raises NotFound when
        the comment is gone already, so a caller can count a repeated delete as done.
        """
        result = self._call("DELETE", "delete", lambda: self._graph.delete_object(external_id))
        if result.get("success") is not True:
            raise PlatformError(f"delete {external_id} not confirmed")
        logger.debug("facebook reply deleted reply=%s", external_id)

    def send_private(self, item: Item, text: str) -> str:
        """Private Reply to a comment (one, within 7 days) or a Messenger reply to a dm.

        A dm older than 24 hours goes out with the HUMAN_AGENT tag (allowed up to 7 days).
        """
        now = datetime.now(UTC)
        data: dict[str, str]
        if item.kind is ItemKind.DM:
            recipient = item.conversation_id if item.from_self else item.author_id
            if not recipient:
                raise PermissionDenied(f"facebook dm {item.external_id} has no recipient")
            data = {"recipient": json.dumps({"id": recipient})}
            if now - item.created_at <= MESSENGER_STANDARD_WINDOW:
                data["messaging_type"] = "RESPONSE"
            else:
                data["messaging_type"] = "MESSAGE_TAG"
                data["tag"] = "HUMAN_AGENT"
        elif item.kind is ItemKind.MENTION and item.parent_id is None:
            data = {"recipient": json.dumps({"post_id": item.external_id})}
        else:
            data = {"recipient": json.dumps({"comment_id": item.external_id})}
        data["message"] = json.dumps({"text": text})
        result = self._post(f"{self.page_id}/messages", "send_private", **data)
        message_id = as_id(result.get("message_id"))
        if message_id is None:
            raise AmbiguousOutcome(f"private reply to {item.external_id} answered without an id")
        logger.debug("facebook private message sent item=%s", item.external_id)
        return message_id

    def find_own_reply(self, item: Item) -> str | None:
        """The Page's first comment under the reply target, made after the item."""
        if item.kind is ItemKind.DM:
            return None
        args: dict[str, str | int] = {
            "fields": "id,created_time,from{id}",
            "filter": "stream",
            "order": "chronological",
            "limit": PAGE_SIZE,
        }
        target = self._comment_target(item)
        for raw in (
            obj
            for page in self._pages(target, "comments", "find_own_reply", args=args)
            for obj in page
        ):
            author = get_obj(raw, "from")
            reply_id = as_id(raw.get("id"))
            created_at = parse_iso(raw.get("created_time"))
            if (
                reply_id
                and author
                and as_id(author.get("id")) == self.page_id
                and reply_id != item.external_id
                and (created_at is None or created_at >= item.created_at - timedelta(seconds=1))
            ):
                return reply_id
        return None

    def get_item(self, external_id: str) -> Item:
        """One comment by id (to refresh an item a webhook only named)."""
        raw = self._get(external_id, "get_item", fields=COMMENT_FIELDS)
        item = self.comment_item(raw, post_id=None)
        if item is None:
            raise NotFound(f"facebook comment {external_id} has no id or time")
        return item

    def capabilities_for(self, item: Item, *, now: datetime) -> Capabilities:
        base = self.capabilities[item.kind]
        if item.from_self:
            return replace(
                base, reply_publicly=False, hide=False, send_private=False, reason=_OWN_POST
            )
        window = base.private_window
        if base.send_private and window is not None and now - item.created_at > window:
            return replace(
                base,
                send_private=False,
                reason="Facebook allows a private message only within 7 days.",
            )
        return base

    def check_connection(self) -> ConnectionReport:
        page = self._get(self.page_id, "check_connection", fields="id,name")
        account_id = as_id(page.get("id")) or self.page_id
        warnings: list[str] = []
        if account_id != self.page_id:
            warnings.append("The token belongs to another Page.")
        served = self._session.last_headers.get("facebook-api-version")
        permissions: tuple[str, ...] = ()
        expires_at: datetime | None = None
        if self._app_id and self._app_secret:
            app_token = f"{self._app_id}|{self._app_secret}"
            info = self._get(
                "debug_token",
                "debug_token",
                input_token=self._token,
                access_token=app_token,
                appsecret_proof=self._proof(app_token),
            )
            data = get_obj(info, "data")
            if data is not None and data.get("is_valid") is False:
                raise AuthExpired("page token reported invalid by debug_token")
            permissions = tuple(s for s in get_list(data, "scopes") if isinstance(s, str))
            expires_at = from_epoch(data.get("expires_at")) if data else None
        return ConnectionReport(
            platform=PLATFORM,
            account_id=account_id,
            account_name=get_str(page, "name"),
            account_handle=None,
            permissions=permissions,
            token_expires_at=expires_at,
            api_version=served,
            warnings=tuple(warnings),
        )
