"""In-memory, thread-safe state of the platform simulator and its Python control API."""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from channels_bridge.simulator import world
from channels_bridge.simulator.world import Customer, Platform

logger = logging.getLogger(__name__)

JsonObj = dict[str, object]

PRIVATE_REPLY_WINDOW_S = 7 * 24 * 3600
MESSENGER_WINDOW_S = 24 * 3600
HUMAN_AGENT_WINDOW_S = 7 * 24 * 3600


def graph_time(ts: float) -> str:
    """Format a unix time the way the Graph API does: 2021-02-12T16:27:12+0000."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def x_time(ts: float) -> str:
    """Format a unix time the way X API v2 does: 2022-10-07T22:40:00.000Z."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class FaultKind(StrEnum):
    """What an injected fault does to a matching request."""

    RATE_LIMIT = "rate_limit"
    SERVER_ERROR = "server_error"
    EXPIRED_TOKEN = "expired_token"  # noqa: S105 - a fault name
    SLOW = "slow"
    CRASH_AFTER_WRITE = "crash_after_write"


CrashMode = Literal["500", "close"]


@dataclass(slots=True)
class Fault:
    """One injected fault: matches platform, method and a glob on the path or route."""

    id: int
    kind: FaultKind
    platform: str = "any"
    method: str = "*"
    path: str = "*"
    remaining: int | None = 1
    status: int | None = None
    delay_ms: int = 0
    reset_after_s: int = 60
    graph_code: int = 4
    crash_mode: CrashMode = "500"
    html: bool = False
    hits: int = 0

    def matches(self, platform: str, method: str, path: str, route: str) -> bool:
        """Return whether this fault applies to the request."""
        if self.platform not in ("any", platform):
            return False
        if self.method not in ("*", method):
            return False
        return fnmatch.fnmatchcase(path, self.path) or fnmatch.fnmatchcase(route, self.path)

    def as_json(self) -> JsonObj:
        """Describe the fault for the control API."""
        return {
            "id": self.id,
            "kind": str(self.kind),
            "platform": self.platform,
            "method": self.method,
            "path": self.path,
            "remaining": self.remaining,
            "status": self.status,
            "delay_ms": self.delay_ms,
            "reset_after_s": self.reset_after_s,
            "graph_code": self.graph_code,
            "crash_mode": self.crash_mode,
            "html": self.html,
            "hits": self.hits,
        }


@dataclass(slots=True)
class Token:
    """An access token known to the simulator."""

    value: str
    platform: Platform
    kind: str
    account_id: str
    expires_at: float | None = None
    expired: bool = False
    scopes: tuple[str, ...] = ()

    def is_valid(self, now: float) -> bool:
        """Return whether the token is usable at this time."""
        if self.expired:
            return False
        return self.expires_at is None or now < self.expires_at


@dataclass(slots=True)
class FbPost:
    """A post on the Page."""

    id: str
    object_id: str
    message: str
    created: float
    author_id: str
    seq: int


@dataclass(slots=True)
class FbComment:
    """A comment or a reply to a comment; parent_id is None for top-level comments."""

    id: str
    post_id: str
    parent_id: str | None
    author_id: str
    message: str
    created: float
    seq: int
    is_hidden: bool = False
    deleted: bool = False
    requested_parent_id: str | None = None


@dataclass(slots=True)
class FbMessage:
    """A Messenger message in a Page conversation."""

    id: str
    conversation_id: str
    from_id: str
    to_id: str
    text: str
    created: float
    seq: int


@dataclass(slots=True)
class FbConversation:
    """A Messenger conversation between the Page and one person."""

    id: str
    customer_id: str
    updated: float
    message_ids: list[str] = field(default_factory=list)
    last_customer_message: float | None = None


@dataclass(slots=True)
class PrivateReply:
    """A Private Reply sent by the Page to a comment's author."""

    comment_id: str
    message_id: str
    recipient_id: str
    text: str
    created: float


@dataclass(slots=True)
class PageMessage:
    """A Messenger message sent by the Page (Send API), including Private Replies."""

    message_id: str
    recipient_id: str
    conversation_id: str
    text: str
    created: float
    messaging_type: str
    tag: str | None
    comment_id: str | None


@dataclass(slots=True)
class XUser:
    """An X account."""

    id: str
    name: str
    username: str
    created: float
    dm_open: bool = True


@dataclass(slots=True)
class Tweet:
    """A post on X."""

    id: str
    author_id: str
    text: str
    created: float
    conversation_id: str
    in_reply_to_tweet_id: str | None = None
    in_reply_to_user_id: str | None = None
    hidden: bool = False
    deleted: bool = False
    mentions: list[tuple[int, int, str, str]] = field(default_factory=list)


@dataclass(slots=True)
class DmEvent:
    """A legacy X direct message event (MessageCreate)."""

    id: str
    conversation_id: str
    sender_id: str
    recipient_id: str
    text: str
    created: float


@dataclass(slots=True)
class OAuthCode:
    """An authorization code of "Sign in with X", bound to its client, redirect and challenge."""

    value: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    code_challenge_method: str
    user_id: str
    scopes: tuple[str, ...]
    expires_at: float
    used: bool = False


def dm_conversation_id(a: str, b: str) -> str:
    """Return the 1:1 DM conversation id: '<low id>-<high id>'."""
    low, high = sorted((a, b), key=int)
    return f"{low}-{high}"


class Simulator:
    """All simulator state behind one re-entrant lock, plus the control operations.

    Every public method is thread-safe. Handlers in graph.py and xapi.py take `lock` themselves.
    """

    def __init__(self, *, seed: int = 0, clock: float | None = None) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self._clock_offset = 0.0 if clock is None else clock - time.time()
        self.x_reply_requires_mention = True
        self.x_enforce_rate_limits = False
        # Customer key (or X user id) the OAuth 2.0 authorize page approves as; None shows a
        # page to choose one (the demo), unless the request names one with ``sim_user``.
        self.x_oauth_user: str | None = None
        self._init_world()

    # -- clock ---------------------------------------------------------------------------------

    def now(self) -> float:
        """Return the simulated unix time (wall clock plus any advance)."""
        return time.time() + self._clock_offset

    def advance_clock(self, seconds: float) -> float:
        """Move the simulated clock forward (e.g. past the 7-day private-reply window)."""
        with self.lock:
            self._clock_offset += seconds
            logger.info("simulator clock advanced seconds=%s", seconds)
            return self.now()

    # -- world ---------------------------------------------------------------------------------

    def _init_world(self) -> None:
        now = self.now()
        self._fb_counter = world.FB_OBJECT_ID_START
        self._x_counter = world.X_ID_START
        self._seq = 0
        self._fault_counter = 0
        self.faults: list[Fault] = []
        self.writes: dict[str, int] = {}
        self.requests: dict[str, int] = {}
        self.tokens: dict[str, Token] = {}
        self._add_default_tokens()
        self.x_rate: dict[str, tuple[float, int]] = {}
        self.x_oauth_codes: dict[str, OAuthCode] = {}
        self.x_oauth_counts: dict[str, int] = {"codes": 0, "tokens": 0, "revoked": 0}

        self.fb_names: dict[str, str] = {world.FB_PAGE_ID: world.FB_PAGE_NAME}
        for customer in world.CUSTOMERS:
            self.fb_names[customer.fb_id] = customer.name
        self.fb_posts: dict[str, FbPost] = {}
        self.fb_comments: dict[str, FbComment] = {}
        self.fb_messages: dict[str, FbMessage] = {}
        self.fb_conversations: dict[str, FbConversation] = {}
        self.fb_private_replies: list[PrivateReply] = []
        self.fb_page_messages: list[PageMessage] = []
        for object_id, message, age_hours in world.SEED_POSTS:
            post_id = f"{world.FB_PAGE_ID}_{object_id}"
            self.fb_posts[post_id] = FbPost(
                post_id,
                object_id,
                message,
                now - age_hours * 3600,
                world.FB_PAGE_ID,
                self._next_seq(),
            )

        self.x_users: dict[str, XUser] = {
            world.X_BRAND_ID: XUser(
                world.X_BRAND_ID, world.X_BRAND_NAME, world.X_BRAND_USERNAME, now - 3 * 365 * 86400
            )
        }
        for customer in world.CUSTOMERS:
            self.x_users[customer.x_id] = XUser(
                customer.x_id,
                customer.name,
                customer.x_username,
                now - 400 * 86400,
                dm_open=customer.x_dm_open,
            )
        self.tweets: dict[str, Tweet] = {}
        # Posts by text, for X's duplicate-content rule: a scan of every post per POST made
        # the simulator, not the client, the cost of a long bench run.
        self._tweets_by_text: dict[str, list[Tweet]] = {}
        self.dm_events: dict[str, DmEvent] = {}
        for tweet_id, text, age_hours in world.SEED_TWEETS:
            self._keep_tweet(
                Tweet(tweet_id, world.X_BRAND_ID, text, now - age_hours * 3600, tweet_id)
            )

    def _add_default_tokens(self) -> None:
        fb_app_token = f"{world.FB_APP_ID}|{world.FB_APP_SECRET}"
        defaults = (
            Token(
                world.FB_PAGE_TOKEN,
                "facebook",
                "page",
                world.FB_PAGE_ID,
                scopes=world.FB_PAGE_SCOPES,
            ),
            Token(fb_app_token, "facebook", "app", world.FB_APP_ID),
            Token(world.X_ACCESS_TOKEN, "x", "oauth1_user", world.X_BRAND_ID),
            Token(world.X_OAUTH2_USER_TOKEN, "x", "oauth2_user", world.X_BRAND_ID),
            Token(world.X_BEARER_TOKEN, "x", "app", world.X_BRAND_ID),
        )
        for token in defaults:
            self.tokens[token.value] = token

    def reset(self, *, seed: int | None = None) -> None:
        """Forget everything and rebuild the default world (clock advance is kept at zero)."""
        with self.lock:
            if seed is not None:
                self.seed = seed
            self._clock_offset = 0.0
            self.x_reply_requires_mention = True
            self.x_enforce_rate_limits = False
            self.x_oauth_user = None
            self._init_world()
            logger.info("simulator reset seed=%s", self.seed)

    def credentials(self, platform: Platform) -> dict[str, str]:
        """Return the credentials dict of the default account on this platform."""
        return world.default_credentials(platform)

    # -- ids -----------------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def next_fb_object_id(self) -> str:
        """Hand out a new Graph object id."""
        with self.lock:
            self._fb_counter += 1
            return str(self._fb_counter)

    def next_x_id(self) -> str:
        """Hand out a new, increasing X snowflake-like id."""
        with self.lock:
            self._x_counter += 1
            return str(self._x_counter)

    def skip_ids(self, count: int) -> None:
        """Advance the id counters, so a restarted simulator never reuses ids a client stored.

        Ids stay increasing (X's since_id depends on that); the seeded world keeps its own.
        """
        if count < 0:
            raise ValueError("count must not be negative")
        with self.lock:
            self._fb_counter += count
            self._x_counter += count

    def next_seq(self) -> int:
        """Hand out a new creation sequence number (orders items and cursors)."""
        with self.lock:
            return self._next_seq()

    def new_message_id(self) -> str:
        """Return a new Messenger message id (m_...)."""
        raw = hashlib.sha256(f"msg-{self.next_fb_object_id()}".encode()).digest()[:33]
        return "m_" + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    # -- counters ------------------------------------------------------------------------------

    def count_request(self, platform: str, method: str, route: str) -> None:
        """Count one platform request; writes (non-GET) are also counted separately."""
        key = f"{platform} {method} {route}"
        with self.lock:
            self.requests[key] = self.requests.get(key, 0) + 1
            if method != "GET":
                self.writes[key] = self.writes.get(key, 0) + 1

    def write_count(self, prefix: str = "") -> int:
        """Sum of write requests whose key ('x POST /2/tweets') starts with prefix."""
        with self.lock:
            return sum(n for key, n in self.writes.items() if key.startswith(prefix))

    # -- faults --------------------------------------------------------------------------------

    def add_fault(
        self,
        kind: FaultKind | str,
        *,
        platform: str = "any",
        method: str = "*",
        path: str = "*",
        times: int | None = 1,
        status: int | None = None,
        delay_ms: int = 0,
        reset_after_s: int = 60,
        graph_code: int = 4,
        crash_mode: CrashMode = "500",
        html: bool = False,
    ) -> int:
        """Inject a fault for the next `times` matching requests (None: until cleared).

        `path` is a glob matched against the raw path (/v26.0/1_2/comments, /2/tweets) and
        against the route (/{id}/comments, /2/tweets/:id/hidden). Returns the fault id.
        Raises ValueError on an unknown kind, platform or crash mode.
        """
        fault_kind = FaultKind(kind)
        if platform not in ("any", *world.PLATFORMS):
            raise ValueError(f"unknown platform {platform!r}")
        if crash_mode not in ("500", "close"):
            raise ValueError(f"unknown crash_mode {crash_mode!r}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 or None")
        with self.lock:
            self._fault_counter += 1
            fault = Fault(
                id=self._fault_counter,
                kind=fault_kind,
                platform=platform,
                method=method.upper(),
                path=path,
                remaining=times,
                status=status,
                delay_ms=delay_ms,
                reset_after_s=reset_after_s,
                graph_code=graph_code,
                crash_mode=crash_mode,
                html=html,
            )
            self.faults.append(fault)
            logger.info(
                "fault added id=%s kind=%s platform=%s method=%s",
                fault.id,
                fault.kind,
                platform,
                fault.method,
            )
            return fault.id

    def clear_faults(self, fault_id: int | None = None) -> int:
        """Remove one fault, or all of them. Returns how many were removed."""
        with self.lock:
            before = len(self.faults)
            if fault_id is None:
                self.faults = []
            else:
                self.faults = [f for f in self.faults if f.id != fault_id]
            return before - len(self.faults)

    def take_faults(self, platform: str, method: str, path: str, route: str) -> list[Fault]:
        """Consume the faults that apply to this request: any slow ones, then at most one other."""
        taken: list[Fault] = []
        with self.lock:
            blocking_taken = False
            for fault in self.faults:
                if not fault.matches(platform, method, path, route):
                    continue
                if fault.kind is not FaultKind.SLOW:
                    if blocking_taken:
                        continue
                    blocking_taken = True
                fault.hits += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                taken.append(fault)
            self.faults = [f for f in self.faults if f.remaining is None or f.remaining > 0]
        return taken

    # -- tokens --------------------------------------------------------------------------------

    def token(self, value: str) -> Token | None:
        """Look a token up by its value."""
        with self.lock:
            return self.tokens.get(value)

    def expire_tokens(
        self,
        platform: str | None = None,
        token: str | None = None,
        *,
        after_seconds: float | None = None,
    ) -> int:
        """Expire the tokens of a platform (or one token, or all) now or after_seconds from now.

        Returns how many tokens were affected.
        """
        if after_seconds is None:
            return self._set_expired(True, platform, token)
        count = 0
        with self.lock:
            for item in self.tokens.values():
                if (platform is None or item.platform == platform) and (
                    token is None or item.value == token
                ):
                    item.expires_at = self.now() + after_seconds
                    count += 1
        logger.info("tokens expiry set platform=%s count=%s", platform, count)
        return count

    def renew_tokens(self, platform: str | None = None, token: str | None = None) -> int:
        """Make expired tokens valid again (same values). Returns how many."""
        return self._set_expired(False, platform, token)

    def _set_expired(self, expired: bool, platform: str | None, token: str | None) -> int:
        count = 0
        with self.lock:
            for item in self.tokens.values():
                if platform is not None and item.platform != platform:
                    continue
                if token is not None and item.value != token:
                    continue
                item.expired = expired
                if not expired:
                    item.expires_at = None
                count += 1
        logger.info("tokens updated expired=%s platform=%s count=%s", expired, platform, count)
        return count

    # -- customer actions ----------------------------------------------------------------------

    @staticmethod
    def customer(key: str) -> Customer:
        """Return a seeded customer by key. Raises KeyError."""
        return world.customer_by_key(key)

    def customer_facebook_comment(
        self,
        text: str,
        *,
        customer: str = "lena",
        post_id: str | None = None,
        parent_id: str | None = None,
        age_seconds: float = 0,
    ) -> dict[str, str]:
        """A customer comments on a Page post (or replies to a comment). Returns the ids.

        Raises KeyError for an unknown customer, post or parent comment.
        """
        who = self.customer(customer)
        with self.lock:
            if parent_id is not None:
                parent = self.fb_comments[parent_id]
                post = self.fb_posts[parent.post_id]
                top_parent: str | None = parent.parent_id or parent.id
            else:
                post = self.fb_posts[post_id] if post_id else self._newest_post()
                top_parent = None
            comment = self._add_comment(
                post, top_parent, who.fb_id, text, self.now() - age_seconds, parent_id
            )
            logger.debug("customer comment added comment=%s post=%s", comment.id, post.id)
            return {
                "comment_id": comment.id,
                "post_id": post.id,
                "parent_id": comment.parent_id or "",
                "author_id": who.fb_id,
            }

    def _newest_post(self) -> FbPost:
        return max(self.fb_posts.values(), key=lambda p: p.seq)

    def _add_comment(
        self,
        post: FbPost,
        parent_id: str | None,
        author_id: str,
        text: str,
        created: float,
        requested_parent_id: str | None,
    ) -> FbComment:
        comment_id = f"{post.object_id}_{self.next_fb_object_id()}"
        comment = FbComment(
            id=comment_id,
            post_id=post.id,
            parent_id=parent_id,
            author_id=author_id,
            message=text,
            created=created,
            seq=self._next_seq(),
            requested_parent_id=requested_parent_id,
        )
        self.fb_comments[comment_id] = comment
        return comment

    def add_page_comment(self, target_id: str, text: str) -> FbComment:
        """The Page comments on a post or replies to a comment. Raises KeyError."""
        with self.lock:
            if target_id in self.fb_posts:
                post = self.fb_posts[target_id]
                return self._add_comment(post, None, world.FB_PAGE_ID, text, self.now(), None)
            target = self.fb_comments[target_id]
            post = self.fb_posts[target.post_id]
            # Facebook threads are two levels deep: a reply to a reply joins the top comment.
            top = target.parent_id or target.id
            return self._add_comment(post, top, world.FB_PAGE_ID, text, self.now(), target_id)

    def conversation_for(self, customer_id: str) -> FbConversation:
        """Return (creating if needed) the Page's Messenger conversation with this person."""
        with self.lock:
            for conversation in self.fb_conversations.values():
                if conversation.customer_id == customer_id:
                    return conversation
            conversation = FbConversation(
                id=f"t_{self.next_fb_object_id()}", customer_id=customer_id, updated=self.now()
            )
            self.fb_conversations[conversation.id] = conversation
            return conversation

    def add_fb_message(
        self, conversation: FbConversation, from_id: str, to_id: str, text: str
    ) -> FbMessage:
        """Append a Messenger message to a conversation."""
        with self.lock:
            now = self.now()
            message = FbMessage(
                self.new_message_id(),
                conversation.id,
                from_id,
                to_id,
                text,
                now,
                self._next_seq(),
            )
            self.fb_messages[message.id] = message
            conversation.message_ids.append(message.id)
            conversation.updated = now
            if from_id != world.FB_PAGE_ID:
                conversation.last_customer_message = now
            return message

    def customer_facebook_message(self, text: str, *, customer: str = "lena") -> dict[str, str]:
        """A customer writes to the Page on Messenger. Returns the ids. Raises KeyError."""
        who = self.customer(customer)
        with self.lock:
            conversation = self.conversation_for(who.fb_id)
            message = self.add_fb_message(conversation, who.fb_id, world.FB_PAGE_ID, text)
            logger.debug("customer message added conversation=%s", conversation.id)
            return {
                "message_id": message.id,
                "conversation_id": conversation.id,
                "psid": who.fb_id,
            }

    def customer_x_mention(
        self,
        text: str,
        *,
        customer: str = "tom",
        in_reply_to_tweet_id: str | None = None,
        age_seconds: float = 0,
        mention: bool = True,
    ) -> dict[str, str]:
        """A customer posts on X mentioning the brand (or replies to a post). Returns the ids.

        With mention=True the text is prefixed with @brand unless it already mentions it.
        Raises KeyError for an unknown customer or parent post.
        """
        who = self.customer(customer)
        handle = f"@{world.X_BRAND_USERNAME}"
        if mention and handle.lower() not in text.lower():
            text = f"{handle} {text}"
        with self.lock:
            tweet = self.add_tweet(
                who.x_id, text, in_reply_to_tweet_id, created=self.now() - age_seconds
            )
            logger.debug("customer post added tweet=%s", tweet.id)
            return {
                "tweet_id": tweet.id,
                "author_id": who.x_id,
                "conversation_id": tweet.conversation_id,
            }

    def add_tweet(
        self,
        author_id: str,
        text: str,
        in_reply_to_tweet_id: str | None,
        *,
        created: float | None = None,
    ) -> Tweet:
        """Create a post; mentions are parsed from @handles of known users. Raises KeyError."""
        with self.lock:
            tweet_id = self.next_x_id()
            conversation_id = tweet_id
            reply_user: str | None = None
            if in_reply_to_tweet_id is not None:
                parent = self.tweets[in_reply_to_tweet_id]
                conversation_id = parent.conversation_id
                reply_user = parent.author_id
            tweet = Tweet(
                id=tweet_id,
                author_id=author_id,
                text=text,
                created=self.now() if created is None else created,
                conversation_id=conversation_id,
                in_reply_to_tweet_id=in_reply_to_tweet_id,
                in_reply_to_user_id=reply_user,
                mentions=self._find_mentions(text),
            )
            self._keep_tweet(tweet)
            return tweet

    def _keep_tweet(self, tweet: Tweet) -> None:
        self.tweets[tweet.id] = tweet
        self._tweets_by_text.setdefault(tweet.text, []).append(tweet)

    def has_live_tweet(self, author_id: str, text: str) -> bool:
        """Whether this author has a post with exactly this text that is not deleted."""
        with self.lock:
            return any(
                t.author_id == author_id and not t.deleted
                for t in self._tweets_by_text.get(text, ())
            )

    def _find_mentions(self, text: str) -> list[tuple[int, int, str, str]]:
        by_name = {u.username.lower(): u for u in self.x_users.values()}
        found: list[tuple[int, int, str, str]] = []
        i = 0
        while i < len(text):
            if text[i] == "@" and (i == 0 or not text[i - 1].isalnum()):
                j = i + 1
                while j < len(text) and (text[j].isalnum() or text[j] == "_"):
                    j += 1
                user = by_name.get(text[i + 1 : j].lower())
                if user is not None:
                    found.append((i, j, user.username, user.id))
                i = j
            else:
                i += 1
        return found

    def add_dm(self, sender_id: str, recipient_id: str, text: str) -> DmEvent:
        """Append a DM event between two users."""
        with self.lock:
            event = DmEvent(
                self.next_x_id(),
                dm_conversation_id(sender_id, recipient_id),
                sender_id,
                recipient_id,
                text,
                self.now(),
            )
            self.dm_events[event.id] = event
            return event

    def customer_x_dm(self, text: str, *, customer: str = "tom") -> dict[str, str]:
        """A customer sends the brand a DM on X. Returns the ids. Raises KeyError."""
        who = self.customer(customer)
        event = self.add_dm(who.x_id, world.X_BRAND_ID, text)
        logger.debug("customer dm added dm_event=%s", event.id)
        return {
            "dm_event_id": event.id,
            "dm_conversation_id": event.conversation_id,
            "sender_id": who.x_id,
        }

    # -- snapshot ------------------------------------------------------------------------------

    def snapshot(self) -> JsonObj:
        """JSON-able view: replies, hidden flags, private replies, DMs, write and request counts."""
        with self.lock:
            page_replies = [
                {
                    "id": c.id,
                    "reply_to": c.requested_parent_id or c.parent_id or c.post_id,
                    "parent_id": c.parent_id,
                    "post_id": c.post_id,
                    "message": c.message,
                    "created_time": graph_time(c.created),
                    "deleted": c.deleted,
                }
                for c in sorted(self.fb_comments.values(), key=lambda c: c.seq)
                if c.author_id == world.FB_PAGE_ID
            ]
            comments = [
                {
                    "id": c.id,
                    "post_id": c.post_id,
                    "parent_id": c.parent_id,
                    "author_id": c.author_id,
                    "message": c.message,
                    "created_time": graph_time(c.created),
                    "is_hidden": c.is_hidden,
                    "deleted": c.deleted,
                }
                for c in sorted(self.fb_comments.values(), key=lambda c: c.seq)
            ]
            brand_tweets = [
                {
                    "id": t.id,
                    "in_reply_to_tweet_id": t.in_reply_to_tweet_id,
                    "conversation_id": t.conversation_id,
                    "text": t.text,
                    "created_at": x_time(t.created),
                    "deleted": t.deleted,
                }
                for t in sorted(self.tweets.values(), key=lambda t: int(t.id))
                if t.author_id == world.X_BRAND_ID and t.in_reply_to_tweet_id is not None
            ]
            return {
                "now": x_time(self.now()),
                "facebook": {
                    "page_id": world.FB_PAGE_ID,
                    "replies": page_replies,
                    "comments": comments,
                    "hidden_comment_ids": [
                        c.id
                        for c in sorted(self.fb_comments.values(), key=lambda c: c.seq)
                        if c.is_hidden
                    ],
                    "private_replies": [
                        {
                            "comment_id": p.comment_id,
                            "message_id": p.message_id,
                            "recipient_id": p.recipient_id,
                            "message": p.text,
                            "created_time": graph_time(p.created),
                        }
                        for p in self.fb_private_replies
                    ],
                    "messages_sent": [
                        {
                            "message_id": m.message_id,
                            "recipient_id": m.recipient_id,
                            "conversation_id": m.conversation_id,
                            "message": m.text,
                            "messaging_type": m.messaging_type,
                            "tag": m.tag,
                            "comment_id": m.comment_id,
                            "created_time": graph_time(m.created),
                        }
                        for m in self.fb_page_messages
                    ],
                    "conversation_count": len(self.fb_conversations),
                },
                "x": {
                    "user_id": world.X_BRAND_ID,
                    "replies": brand_tweets,
                    "hidden_tweet_ids": [
                        t.id
                        for t in sorted(self.tweets.values(), key=lambda t: int(t.id))
                        if t.hidden
                    ],
                    "dms_sent": [
                        {
                            "dm_event_id": e.id,
                            "dm_conversation_id": e.conversation_id,
                            "recipient_id": e.recipient_id,
                            "text": e.text,
                            "created_at": x_time(e.created),
                        }
                        for e in sorted(self.dm_events.values(), key=lambda e: int(e.id))
                        if e.sender_id == world.X_BRAND_ID
                    ],
                    "tweet_count": len(self.tweets),
                    "dm_event_count": len(self.dm_events),
                    "oauth2": dict(self.x_oauth_counts),
                },
                "writes": dict(sorted(self.writes.items())),
                "requests": dict(sorted(self.requests.items())),
                "faults": [f.as_json() for f in self.faults],
                "tokens": [
                    {
                        "platform": t.platform,
                        "kind": t.kind,
                        "account_id": t.account_id,
                        "valid": t.is_valid(self.now()),
                    }
                    for t in self.tokens.values()
                ],
            }
