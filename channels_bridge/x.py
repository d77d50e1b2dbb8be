"""X connector on tweepy's API v2 Client. Knows nothing of tickets."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import requests
import tweepy  # type: ignore[import-untyped]  # tweepy ships no type information

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
    snowflake_time,
)
from channels_bridge.errors import (
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
from channels_bridge.items import Account, Batch, Capabilities, ConnectionReport, Item, ItemKind

__all__ = ["X_CAPABILITIES", "XConnector", "x_error"]

logger = logging.getLogger(__name__)


def _drop_debug(record: logging.LogRecord) -> bool:
    return record.levelno > logging.DEBUG


# tweepy logs every request's headers and body at DEBUG (tokens, customer text), and oauthlib
# logs what it signs: those records never leave these loggers, whatever the logging config.
# (A filter holds only on the logger it is added to, so each emitting logger is named.)
for _name in (
    "tweepy.client",
    "oauthlib.oauth1.rfc5849",
    "oauthlib.oauth1.rfc5849.signature",
    "requests_oauthlib.oauth1_auth",
):
    logging.getLogger(_name).addFilter(_drop_debug)

PLATFORM = "x"
X_HOST = "https://api.twitter.com/"
DEFAULT_RETRY_AFTER = timedelta(minutes=15)
# X allows 15 DM lookups per 15 minutes per user: poll DMs at most once a minute.
DM_POLL_INTERVAL = timedelta(minutes=1)

# Pay-per-use prices per request (PLATFORMS.md §2.1), in USD.
POST_COST_USD = 0.015
POST_WITH_URL_COST_USD = 0.200
DM_COST_USD = 0.015

TWEET_FIELDS = [
    "id",
    "text",
    "created_at",
    "author_id",
    "conversation_id",
    "in_reply_to_user_id",
    "referenced_tweets",
    "entities",
]
EXPANSIONS = ["author_id", "referenced_tweets.id", "referenced_tweets.id.author_id"]
USER_FIELDS = ["id", "name", "username"]
DM_FIELDS = ["id", "text", "event_type", "created_at", "sender_id", "dm_conversation_id"]

TIER_SELF_SERVE = "self_serve"
TIER_ENTERPRISE = "enterprise"

_NOT_A_REPLY = "Hiding works only on replies in conversations the brand started."
_NOT_SUMMONED = (
    "On X's self-serve tier the brand may reply only where the author mentioned or quoted it."
)
_OWN_POST = "This is the brand's own post."
_LEADING_MENTIONS = re.compile(r"^(?:\s*@\w{1,15})+\s*")

X_CAPABILITIES: Mapping[ItemKind, Capabilities] = MappingProxyType(
    {
        ItemKind.MENTION: Capabilities(
            reply_publicly=True,
            hide=False,
            send_private=True,
            delete_own_reply=True,
            reply_cost_usd=POST_COST_USD,
            reply_url_cost_usd=POST_WITH_URL_COST_USD,
            private_cost_usd=DM_COST_USD,
            reason=_NOT_A_REPLY,
        ),
        ItemKind.REPLY: Capabilities(
            reply_publicly=True,
            hide=True,
            send_private=True,
            delete_own_reply=True,
            reply_cost_usd=POST_COST_USD,
            reply_url_cost_usd=POST_WITH_URL_COST_USD,
            private_cost_usd=DM_COST_USD,
        ),
        ItemKind.COMMENT: Capabilities(
            reply_publicly=False,
            hide=False,
            send_private=False,
            reason="X has no comments; items are mentions, replies or dms.",
        ),
        ItemKind.DM: Capabilities(
            reply_publicly=False,
            hide=False,
            send_private=True,
            private_cost_usd=DM_COST_USD,
            reason="A direct message has no public side.",
        ),
    }
)


def _reset_at(exc: tweepy.TooManyRequests, now: datetime) -> datetime:
    reset = exc.reset_time
    if isinstance(reset, int) and not isinstance(reset, bool):
        at = from_epoch(reset)
        if at is not None:
            return max(at, now)
    body = _body(exc.response)
    if (get_str(body, "type") or "").endswith("usage-capped"):
        # The monthly cap lifts when the billing month starts again (UTC).
        month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return (month + timedelta(days=32)).replace(day=1)
    return now + DEFAULT_RETRY_AFTER


def _body(response: object) -> JSONObject | None:
    if not isinstance(response, requests.Response):
        return None
    try:
        return as_obj(response.json())
    except ValueError:
        return None


def x_error(exc: Exception, *, write: bool, now: datetime) -> BridgeError:
    """The bridge error for a tweepy or requests exception (PLATFORMS.md §2.4)."""
    if isinstance(exc, requests.RequestException):
        label = f"x call failed: {type(exc).__name__}"
        if write and not sent_for_sure_not(exc):
            return AmbiguousOutcome(label)
        return TransientError(label)
    if not isinstance(exc, tweepy.HTTPException):
        return PlatformError(f"x client error: {type(exc).__name__}")
    status = exc.response.status_code if isinstance(exc.response, requests.Response) else None
    codes = [c for c in exc.api_codes if isinstance(c, int)]
    problem = get_str(_body(exc.response), "type") or ""
    code: int | str | None = codes[0] if codes else (problem.rsplit("/", 1)[-1] or None)
    label = f"x error status={status} code={code}"
    if isinstance(exc, tweepy.TooManyRequests):
        return RateLimited(_reset_at(exc, now), label, code=code, status=status)
    if isinstance(exc, tweepy.Unauthorized):
        return AuthExpired(label, code=code, status=status)
    if isinstance(exc, tweepy.Forbidden):
        return PermissionDenied(label, code=code, status=status)
    if isinstance(exc, tweepy.NotFound):
        return NotFound(label, code=code, status=status)
    if isinstance(exc, tweepy.TwitterServerError):
        if write:
            return AmbiguousOutcome(label, code=code, status=status)
        return TransientError(label, code=code, status=status)
    return PlatformError(label, code=code, status=status)


def _required(credentials: Mapping[str, str], key: str) -> str:
    value = credentials.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{PLATFORM} credentials need a non-empty {key!r}")
    return value


def _newest(*ids: str | None) -> str | None:
    known = [i for i in ids if i]
    return max(known, key=_id_key) if known else None


def _newer(a: str, b: str | None) -> bool:
    """True when id ``a`` is newer than ``b`` (X ids are time-ordered integers)."""
    if b is None:
        return True
    return (len(a), a) > (len(b), b)


def _id_key(external_id: str) -> tuple[int, str]:
    return (len(external_id), external_id)


class XConnector:
    """One X account: mentions and replies (via the mentions timeline) and direct messages.

    Authenticates as the user: OAuth 1.0a (consumer key/secret + access token/secret) or an
    OAuth 2.0 user token. Every call goes through ``_call``, which maps tweepy and requests
    failures to bridge errors; tweepy never sleeps on a rate limit here.
    Safe to share between threads as far as requests' Session is (per-call state is local).
    """

    platform = PLATFORM
    capabilities = X_CAPABILITIES

    def __init__(
        self,
        credentials: Mapping[str, str],
        *,
        base_url: str | None = None,
        timeout: float = 10.0,
        dm_poll_interval: timedelta | None = None,
        max_pages: int = 10,
    ) -> None:
        self.user_id = _required(credentials, "user_id")
        self.username = credentials.get("username") or None
        self.tier = credentials.get("tier") or TIER_SELF_SERVE
        if self.tier not in {TIER_SELF_SERVE, TIER_ENTERPRISE}:
            raise ValueError("x credentials 'tier' must be self_serve or enterprise")
        if credentials.get("consumer_key"):
            self._client = tweepy.Client(
                consumer_key=_required(credentials, "consumer_key"),
                consumer_secret=_required(credentials, "consumer_secret"),
                access_token=_required(credentials, "access_token"),
                access_token_secret=_required(credentials, "access_token_secret"),
                return_type=dict,
                wait_on_rate_limit=False,
            )
            self._user_auth = True
        else:
            self._client = tweepy.Client(
                bearer_token=_required(credentials, "access_token"),
                return_type=dict,
                wait_on_rate_limit=False,
            )
            self._user_auth = False
        rewrites = {X_HOST: normalise_base_url(base_url) + "/"} if base_url else None
        self._session = BridgeSession(timeout=timeout, rewrites=rewrites)
        self._client.session = self._session
        if dm_poll_interval is None:
            # The simulator has no 15-per-15-minutes budget; the real X has.
            dm_poll_interval = timedelta(0) if base_url else DM_POLL_INTERVAL
        self._dm_poll_interval = dm_poll_interval
        self._max_pages = max_pages

    # -- plumbing ------------------------------------------------------------------------

    def _call(self, what: str, call: Callable[..., object], /, **kwargs: object) -> JSONObject:
        write = what in {"reply", "hide", "unhide", "send_private", "delete"}
        try:
            result = call(**kwargs, user_auth=self._user_auth)
        except (tweepy.TweepyException, requests.RequestException) as exc:
            error = x_error(exc, write=write, now=datetime.now(UTC))
            logger.warning(
                "x call failed call=%s error=%s code=%s", what, type(error).__name__, error.code
            )
            raise error from None
        data = as_obj(result)
        if data is None:
            raise PlatformError(f"x {what} answered with a non-object")
        return data

    def _users(self, page: JSONObject) -> dict[str, JSONObject]:
        users: dict[str, JSONObject] = {}
        for user in map(as_obj, get_list(get_obj(page, "includes"), "users")):
            user_id = as_id(user.get("id")) if user else None
            if user is not None and user_id:
                users[user_id] = user
        return users

    # -- items ---------------------------------------------------------------------------

    def tweet_item(
        self,
        raw: JSONObject,
        *,
        users: Mapping[str, JSONObject],
        root_authors: Mapping[str, str | None],
    ) -> Item | None:
        """An ``Item`` from a v2 post; kind ``reply`` in a conversation the brand started."""
        external_id = as_id(raw.get("id"))
        if external_id is None:
            return None
        created_at = parse_iso(raw.get("created_at")) or snowflake_time(external_id)
        if created_at is None:
            return None
        author_id = as_id(raw.get("author_id"))
        author = users.get(author_id) if author_id else None
        conversation_id = as_id(raw.get("conversation_id"))
        parent_id = None
        for ref in map(
            as_obj, get_list(raw, "referenced_tweets") or get_list(raw, "referenced_posts")
        ):
            if ref is not None and ref.get("type") == "replied_to":
                parent_id = as_id(ref.get("id"))
        in_brand_thread = (
            conversation_id is not None
            and conversation_id != external_id
            and root_authors.get(conversation_id) == self.user_id
        )
        handle = get_str(author, "username")
        return Item(
            platform=PLATFORM,
            kind=ItemKind.REPLY if in_brand_thread else ItemKind.MENTION,
            external_id=external_id,
            author_id=author_id,
            author_handle=handle,
            author_name=get_str(author, "name"),
            text=get_text(raw, "text"),
            created_at=created_at,
            permalink=f"https://x.com/{handle or 'i/web'}/status/{external_id}",
            parent_id=parent_id,
            conversation_id=conversation_id,
            from_self=author_id == self.user_id,
        )

    def dm_item(self, raw: JSONObject, *, users: Mapping[str, JSONObject]) -> Item | None:
        """An ``Item`` (kind dm) from a v2 DM event; None for joins, leaves and odd events."""
        external_id = as_id(raw.get("id"))
        event_type = raw.get("event_type")
        if external_id is None or event_type not in {None, "MessageCreate"}:
            return None
        created_at = parse_iso(raw.get("created_at")) or snowflake_time(external_id)
        if created_at is None:
            return None
        sender_id = as_id(raw.get("sender_id"))
        sender = users.get(sender_id) if sender_id else None
        return Item(
            platform=PLATFORM,
            kind=ItemKind.DM,
            external_id=external_id,
            author_id=sender_id,
            author_handle=get_str(sender, "username"),
            author_name=get_str(sender, "name"),
            text=get_text(raw, "text"),
            created_at=created_at,
            permalink=None,
            parent_id=None,
            conversation_id=as_id(raw.get("dm_conversation_id")),
            from_self=sender_id == self.user_id,
        )

    # -- Connector -----------------------------------------------------------------------

    def fetch_since(self, cursor: str | None) -> Batch:
        """Mentions (and replies to the brand) after the stored ``since_id``, plus new DMs.

        Mentions are paged backwards with ``pagination_token`` until done, so the next
        ``since_id`` is the newest id seen. DMs are polled at most once per
        ``dm_poll_interval`` (X allows 15 lookups per 15 minutes) and deduplicated by id.
        """
        state = decode_cursor(cursor, platform=PLATFORM)
        since_id = as_id(state.get("m"))
        dm_mark = as_id(state.get("d"))
        dm_polled = from_epoch(state.get("dt"))
        now = datetime.now(UTC)

        # A backlog larger than the page cap is read over several polls: the token of the
        # next older page and the newest id seen wait in the cursor, and ``since_id`` moves
        # only once the backlog is read to its end, so no older mention is ever skipped.
        tweets, users, included, resume = self._mentions(since_id, get_str(state, "mt"))
        root_authors = self._root_authors(tweets, included)
        items: list[Item] = []
        newest = _newest(since_id, as_id(state.get("mn")))
        for raw in tweets:
            item = self.tweet_item(raw, users=users, root_authors=root_authors)
            if item is None:
                continue
            if since_id is None or _newer(item.external_id, since_id):
                items.append(item)
            if _newer(item.external_id, newest):
                newest = item.external_id

        # DMs past the page cap wait in the cursor as mentions do ("dp", "dn").
        dm_resume = get_str(state, "dp")
        dm_newest = _newest(dm_mark, as_id(state.get("dn")))
        if dm_polled is None or now - dm_polled >= self._dm_poll_interval:
            dm_polled = now
            try:
                dms, dm_resume = self._dms_since(dm_mark, dm_resume)
            except (PermissionDenied, NotFound, RateLimited, TransientError) as exc:
                # A token without DM access or a DM hiccup must not hold mentions back.
                logger.warning(
                    "x dms skipped this poll error=%s code=%s", type(exc).__name__, exc.code
                )
                dms = []
            for item in dms:
                items.append(item)
                if _newer(item.external_id, dm_newest):
                    dm_newest = item.external_id
        items.sort(key=lambda i: (i.created_at, _id_key(i.external_id)))
        next_state: JSONObject = {
            "p": PLATFORM,
            "m": since_id if resume else newest,
            "d": dm_mark if dm_resume else dm_newest,
            "dt": int(dm_polled.timestamp()),
        }
        if resume:
            next_state["mt"] = resume
            next_state["mn"] = newest
        if dm_resume:
            next_state["dp"] = dm_resume
            next_state["dn"] = dm_newest
        return Batch(tuple(items), encode_cursor(next_state))

    def _mentions(
        self, since_id: str | None, token: str | None
    ) -> tuple[list[JSONObject], dict[str, JSONObject], dict[str, JSONObject], str | None]:
        """Mentions newer than ``since_id``, newest first from ``token`` on, up to the page cap.

        Returns the token of the next older page too when the cap stopped the paging.
        """
        tweets: dict[str, JSONObject] = {}
        users: dict[str, JSONObject] = {}
        included: dict[str, JSONObject] = {}
        for _ in range(self._max_pages):
            kwargs: dict[str, object] = {
                "max_results": 100,
                "tweet_fields": TWEET_FIELDS,
                "expansions": EXPANSIONS,
                "user_fields": USER_FIELDS,
            }
            if since_id:
                kwargs["since_id"] = since_id
            if token:
                kwargs["pagination_token"] = token
            page = self._call(
                "mentions", self._client.get_users_mentions, id=self.user_id, **kwargs
            )
            for raw in map(as_obj, get_list(page, "data")):
                tweet_id = as_id(raw.get("id")) if raw else None
                if raw is not None and tweet_id:
                    tweets[tweet_id] = raw
            users.update(self._users(page))
            includes = get_obj(page, "includes")
            for raw in map(as_obj, get_list(includes, "tweets") or get_list(includes, "posts")):
                tweet_id = as_id(raw.get("id")) if raw else None
                if raw is not None and tweet_id:
                    included[tweet_id] = raw
            token = get_str(get_obj(page, "meta"), "next_token")
            if not token:
                break
        else:
            logger.warning(
                "x mentions paging capped pages=%s: older ones follow next poll", self._max_pages
            )
        return list(tweets.values()), users, included, token

    def _root_authors(
        self, tweets: list[JSONObject], included: Mapping[str, JSONObject]
    ) -> dict[str, str | None]:
        """Author of each conversation's first post, looked up in one batch when not included."""
        authors: dict[str, str | None] = {}
        wanted: set[str] = set()
        for raw in [*tweets, *included.values()]:
            tweet_id = as_id(raw.get("id"))
            if tweet_id and tweet_id == as_id(raw.get("conversation_id")):
                authors[tweet_id] = as_id(raw.get("author_id"))
        for raw in tweets:
            conversation_id = as_id(raw.get("conversation_id"))
            if (
                conversation_id
                and conversation_id not in authors
                and conversation_id != raw.get("id")
            ):
                wanted.add(conversation_id)
        for chunk_start in range(0, len(wanted), 100):
            chunk = sorted(wanted)[chunk_start : chunk_start + 100]
            page = self._call(
                "roots",
                self._client.get_tweets,
                ids=chunk,
                tweet_fields=["author_id", "conversation_id"],
            )
            for root in map(as_obj, get_list(page, "data")):
                root_id = as_id(root.get("id")) if root else None
                if root is not None and root_id:
                    authors[root_id] = as_id(root.get("author_id"))
            # Roots in errors[] (deleted, protected) stay unknown: not the brand's thread.
        return authors

    def _dms_since(self, mark: str | None, token: str | None) -> tuple[list[Item], str | None]:
        """DM events newer than ``mark``, newest first from ``token`` on, up to the page cap.

        Returns the token of the next older page too when the cap stopped the paging.
        """
        items: list[Item] = []
        for _ in range(self._max_pages):
            kwargs: dict[str, object] = {
                "dm_event_fields": DM_FIELDS,
                "event_types": "MessageCreate",
                "expansions": ["sender_id"],
                "user_fields": USER_FIELDS,
                "max_results": 100,
            }
            if token:
                kwargs["pagination_token"] = token
            page = self._call("dm_events", self._client.get_direct_message_events, **kwargs)
            users = self._users(page)
            reached_mark = False
            for raw in map(as_obj, get_list(page, "data")):
                item = self.dm_item(raw, users=users) if raw else None
                if item is None:
                    continue
                if mark is not None and not _newer(item.external_id, mark):
                    reached_mark = True
                    continue
                items.append(item)
            token = get_str(get_obj(page, "meta"), "next_token")
            if reached_mark or not token:
                token = None
                break
        else:
            logger.warning("x dm paging capped pages=%s: older ones follow", self._max_pages)
        unique = {item.external_id: item for item in items}
        return list(unique.values()), token

    def reply_publicly(self, item: Item, text: str) -> str:
        if item.kind is ItemKind.DM:
            raise PermissionDenied(f"x item {item.external_id} is a dm: no public reply")
        result = self._call(
            "reply", self._client.create_tweet, text=text, in_reply_to_tweet_id=item.external_id
        )
        reply_id = as_id(get_str(get_obj(result, "data"), "id"))
        if reply_id is None:
            raise AmbiguousOutcome(f"reply to {item.external_id} answered without an id")
        logger.debug("x reply posted item=%s reply=%s", item.external_id, reply_id)
        return reply_id

    def hide(self, item: Item) -> None:
        self._set_hidden(item, hidden=True)

    def unhide(self, item: Item) -> None:
        self._set_hidden(item, hidden=False)

    def _set_hidden(self, item: Item, *, hidden: bool) -> None:
        if item.kind is ItemKind.DM:
            raise PermissionDenied(f"x item {item.external_id} is a dm: cannot hide")
        call = self._client.hide_reply if hidden else self._client.unhide_reply
        result = self._call("hide" if hidden else "unhide", call, id=item.external_id)
        data = get_obj(result, "data")
        if data is None or data.get("hidden") is not hidden:
            raise PlatformError(f"hide {item.external_id} not confirmed")

    def send_private(self, item: Item, text: str) -> str:
        recipient = item.author_id
        if not recipient or item.from_self:
            raise PermissionDenied(f"x item {item.external_id} has no author to message")
        result = self._call(
            "send_private", self._client.create_direct_message, participant_id=recipient, text=text
        )
        event_id = as_id(get_str(get_obj(result, "data"), "dm_event_id"))
        if event_id is None:
            raise AmbiguousOutcome(f"dm about {item.external_id} answered without an id")
        logger.debug("x dm sent item=%s", item.external_id)
        return event_id

    def find_own_reply(self, item: Item) -> str | None:
        """Our post that replies to ``item``, from a recent search of its conversation.

        Search has an indexing delay of seconds: a miss right after a post is not proof.
        """
        if item.kind is ItemKind.DM:
            return None
        conversation_id = item.conversation_id or self._conversation_of(item.external_id)
        token: str | None = None
        for _ in range(self._max_pages):
            kwargs: dict[str, object] = {
                "query": f"conversation_id:{conversation_id} from:{self.user_id}",
                "tweet_fields": TWEET_FIELDS,
                "max_results": 100,
            }
            if token:
                kwargs["next_token"] = token
            page = self._call("find_own_reply", self._client.search_recent_tweets, **kwargs)
            for raw in map(as_obj, get_list(page, "data")):
                if raw is None or as_id(raw.get("author_id")) != self.user_id:
                    continue
                for ref in map(as_obj, get_list(raw, "referenced_tweets")):
                    if (
                        ref
                        and ref.get("type") == "replied_to"
                        and ref.get("id") == item.external_id
                    ):
                        return as_id(raw.get("id"))
            token = get_str(get_obj(page, "meta"), "next_token")
            if not token:
                return None
        return None

    def _conversation_of(self, external_id: str) -> str:
        """The conversation of a post whose item lacks it (Account Activity webhooks)."""
        try:
            page = self._call(
                "conversation_of",
                self._client.get_tweet,
                id=external_id,
                tweet_fields=["conversation_id"],
            )
        except NotFound:
            return external_id
        return as_id(get_str(get_obj(page, "data"), "conversation_id")) or external_id

    def delete_reply(self, external_id: str) -> None:
        """Delete one of our own posts (undo a reply). Raises NotFound when it is gone already.

        X answers ``{"data": {"deleted": true}}``; anything else (``false``, no flag) did not
        delete the post and raises PlatformError.
        """
        result = self._call("delete", self._client.delete_tweet, id=external_id)
        data = get_obj(result, "data")
        if data is None or data.get("deleted") is not True:
            raise PlatformError(f"delete {external_id} not confirmed")

    def get_item(self, external_id: str) -> Item:
        """One post by id, as an item."""
        page = self._call(
            "get_item",
            self._client.get_tweet,
            id=external_id,
            tweet_fields=TWEET_FIELDS,
            expansions=["author_id"],
            user_fields=USER_FIELDS,
        )
        raw = get_obj(page, "data")
        item = self.tweet_item(raw, users=self._users(page), root_authors={}) if raw else None
        if item is None:
            raise NotFound(f"x post {external_id} not returned")
        return item

    def lookup_user(self, username: str) -> Account:
        page = self._call(
            "lookup_user", self._client.get_user, username=username, user_fields=USER_FIELDS
        )
        data = get_obj(page, "data")
        account_id = as_id(data.get("id")) if data else None
        if data is None or account_id is None:
            raise NotFound("x user not returned")
        return Account(account_id, get_str(data, "name"), get_str(data, "username"))

    def _summoned(self, item: Item) -> bool:
        """True when the author explicitly @mentioned the brand (not just the reply prefix)."""
        if item.kind is ItemKind.MENTION:
            return True
        if not self.username:
            return False
        body = _LEADING_MENTIONS.sub("", item.text, count=1)
        return re.search(rf"(?<!\w)@{re.escape(self.username)}\b", body, re.IGNORECASE) is not None

    def capabilities_for(self, item: Item, *, now: datetime) -> Capabilities:
        base = self.capabilities[item.kind]
        if item.from_self:
            return replace(
                base, reply_publicly=False, hide=False, send_private=False, reason=_OWN_POST
            )
        if (
            base.reply_publicly
            and self.tier == TIER_SELF_SERVE
            and item.kind is ItemKind.REPLY
            and not self._summoned(item)
        ):
            return replace(base, reply_publicly=False, reason=_NOT_SUMMONED)
        return base

    def check_connection(self) -> ConnectionReport:
        page = self._call("check_connection", self._client.get_me, user_fields=USER_FIELDS)
        data = get_obj(page, "data")
        account_id = as_id(data.get("id")) if data else None
        if data is None or account_id is None:
            raise PlatformError("x get_me answered without a user")
        warnings: list[str] = []
        if account_id != self.user_id:
            warnings.append("The token belongs to another X account than the configured one.")
        level = self._session.last_headers.get("x-access-level")
        if level and "directmessages" not in level:
            warnings.append("The token cannot read or send direct messages.")
        return ConnectionReport(
            platform=PLATFORM,
            account_id=account_id,
            account_name=get_str(data, "name"),
            account_handle=get_str(data, "username"),
            permissions=tuple(level.split("-")) if level else (),
            api_version=self._session.last_headers.get("api-version"),
            warnings=tuple(warnings),
        )
