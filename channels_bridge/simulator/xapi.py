"""X API v2 subset of the simulator: users, mentions, posts, hidden replies, search, DMs."""

from __future__ import annotations

import base64
import binascii
import logging
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from urllib.parse import unquote

from channels_bridge.simulator import world
from channels_bridge.simulator.state import DmEvent, Simulator, Token, Tweet, XUser, x_time
from channels_bridge.simulator.wire import X_CONTENT_TYPE, JsonObj, Request, Response, json_response

logger = logging.getLogger(__name__)

RATE_WINDOW_S = 15 * 60
SEARCH_WINDOW_S = 7 * 86400
MAX_TWEET_LENGTH = 280
URL_WEIGHT = 23
_URL_RE = re.compile(r"https?://\S+")
_OAUTH_PARAM_RE = re.compile(r'([a-z_]+)="([^"]*)"')
_DM_CONVERSATION_RE = re.compile(r"^\d+-\d+$")
_Paged = TypeVar("_Paged", Tweet, DmEvent)

# Per-user limits per 15 minutes from PLATFORMS.md §2.2 (reported in x-rate-limit-* headers).
RATE_LIMITS: dict[str, int] = {
    "GET /2/users/me": 75,
    "GET /2/users/by/username/:username": 900,
    "GET /2/users/:id": 900,
    "GET /2/users/:id/mentions": 300,
    "GET /2/users/:id/tweets": 900,
    "GET /2/tweets": 900,
    "GET /2/tweets/:id": 900,
    "GET /2/tweets/search/recent": 300,
    "POST /2/tweets": 100,
    "DELETE /2/tweets/:id": 50,
    "PUT /2/tweets/:id/hidden": 50,
    "GET /2/dm_events": 15,
    "GET /2/dm_conversations/with/:id/dm_events": 15,
    "GET /2/dm_conversations/:dm_conversation_id/dm_events": 15,
    "POST /2/dm_conversations/with/:id/messages": 15,
    "POST /2/dm_conversations/:dm_conversation_id/messages": 15,
}


class XError(Exception):
    """An X API error answer."""

    def __init__(self, status: int, body: JsonObj, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"x error status={status}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def problem(status: int, title: str, detail: str, kind: str = "about:blank") -> XError:
    """An RFC 7807-style problem answer, like X's."""
    return XError(status, {"title": title, "detail": detail, "type": kind, "status": status})


def unauthorized() -> XError:
    """The 401 answer (error_401_unauthorized.json)."""
    return problem(401, "Unauthorized", "Unauthorized")


def invalid_request(parameter: str, message: str) -> XError:
    """The 400 invalid-request problem."""
    return XError(
        400,
        {
            "errors": [{"parameters": {parameter: []}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
    )


def rate_limited(limit: int, reset: int) -> XError:
    """The 429 answer with x-rate-limit-* headers."""
    err = problem(429, "Too Many Requests", "Too Many Requests")
    err.headers = {
        "x-rate-limit-limit": str(limit),
        "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": str(reset),
    }
    return err


def route_of(method: str, path: str) -> str:
    """Route template of an X path: '/2/tweets/:id/hidden', '/2/users/by/username/:username'."""
    parts = [p for p in path.split("/") if p]
    out: list[str] = []
    for i, part in enumerate(parts):
        if i == 0:
            out.append(part)
        elif i >= 2 and parts[i - 2 : i] == ["by", "username"]:
            out.append(":username")
        elif part.isdigit():
            out.append(":id")
        elif _DM_CONVERSATION_RE.match(part):
            out.append(":dm_conversation_id")
        else:
            out.append(part)
    return "/" + "/".join(out)


# -- auth --------------------------------------------------------------------------------------


@dataclass(slots=True)
class Ctx:
    """Everything an X handler needs."""

    sim: Simulator
    req: Request
    route: str
    token: Token | None = None


def authenticate(ctx: Ctx, *, user_context: bool) -> Token:
    """Accept a known, unexpired Bearer or OAuth 1.0a token. Raises XError 401/403.

    OAuth 1.0a signatures are not verified; the consumer key and oauth_token must be known.
    """
    header = ctx.req.headers.get("authorization", "")
    scheme, _, rest = header.partition(" ")
    token: Token | None = None
    if scheme.lower() == "bearer" and rest.strip():
        token = ctx.sim.token(unquote(rest.strip()))
        if token is None:
            token = ctx.sim.token(rest.strip())
        if token is not None and token.kind not in ("app", "oauth2_user"):
            token = None
    elif scheme == "OAuth":
        params = {k: unquote(v) for k, v in _OAUTH_PARAM_RE.findall(rest)}
        required = (
            "oauth_consumer_key",
            "oauth_token",
            "oauth_signature",
            "oauth_nonce",
            "oauth_timestamp",
            "oauth_signature_method",
        )
        if all(params.get(k) for k in required) and params["oauth_consumer_key"] == (
            world.X_CONSUMER_KEY
        ):
            token = ctx.sim.token(params["oauth_token"])
            if token is not None and token.kind != "oauth1_user":
                token = None
    if token is None or token.platform != "x" or not token.is_valid(ctx.sim.now()):
        raise unauthorized()
    if user_context and token.kind == "app":
        raise problem(
            403,
            "Unsupported Authentication",
            "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
            "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User "
            "Context].",
            "https://api.twitter.com/2/problems/unsupported-authentication",
        )
    ctx.token = token
    return token


def _rate_headers(ctx: Ctx) -> dict[str, str]:
    """Count this call in its 15-minute window and report it. Raises XError 429 if enforced."""
    limit = RATE_LIMITS.get(f"{ctx.req.method} {ctx.route}", 300)
    now = ctx.sim.now()
    who = ctx.token.kind if ctx.token else "anon"
    key = f"{who} {ctx.req.method} {ctx.route}"
    start, count = ctx.sim.x_rate.get(key, (now, 0))
    if now - start >= RATE_WINDOW_S:
        start, count = now, 0
    count += 1
    ctx.sim.x_rate[key] = (start, count)
    reset = int(start + RATE_WINDOW_S)
    if ctx.sim.x_enforce_rate_limits and count > limit:
        raise rate_limited(limit, reset)
    return {
        "x-rate-limit-limit": str(limit),
        "x-rate-limit-remaining": str(max(0, limit - count)),
        "x-rate-limit-reset": str(reset),
    }


# -- rendering ---------------------------------------------------------------------------------


def _csv(ctx: Ctx, name: str) -> list[str]:
    raw = ctx.req.param(name)
    return [p.strip() for p in raw.split(",") if p.strip()] if raw else []


def render_user(user: XUser, fields: Sequence[str]) -> JsonObj:
    """A user object with the default fields plus the requested user.fields."""
    out: JsonObj = {"id": user.id, "name": user.name, "username": user.username}
    extra: dict[str, Callable[[], object]] = {
        "created_at": lambda: x_time(user.created),
        "protected": lambda: False,
        "verified": lambda: False,
        "description": lambda: "",
        "profile_image_url": lambda: (
            f"https://pbs.twimg.com/profile_images/{user.id}/sim_normal.png"
        ),
        "public_metrics": lambda: {
            "followers_count": 1000 if user.id == world.X_BRAND_ID else 42,
            "following_count": 10,
            "tweet_count": 100,
            "listed_count": 1,
        },
    }
    for name in fields:
        if name in extra:
            out[name] = extra[name]()
    return out


def render_tweet(ctx: Ctx, tweet: Tweet, fields: Sequence[str]) -> JsonObj:
    """A post object: id, text, edit_history_tweet_ids, plus the requested tweet.fields."""
    out: JsonObj = {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}
    for name in fields:
        if name == "created_at":
            out[name] = x_time(tweet.created)
        elif name == "author_id":
            out[name] = tweet.author_id
        elif name == "conversation_id":
            out[name] = tweet.conversation_id
        elif name == "in_reply_to_user_id" and tweet.in_reply_to_user_id is not None:
            out[name] = tweet.in_reply_to_user_id
        elif name == "referenced_tweets" and tweet.in_reply_to_tweet_id is not None:
            out[name] = [{"type": "replied_to", "id": tweet.in_reply_to_tweet_id}]
        elif name == "entities" and tweet.mentions:
            out[name] = {
                "mentions": [
                    {"start": s, "end": e, "username": u, "id": i} for s, e, u, i in tweet.mentions
                ]
            }
        elif name == "public_metrics":
            replies = sum(
                1
                for t in ctx.sim.tweets.values()
                if t.in_reply_to_tweet_id == tweet.id and not t.deleted
            )
            out[name] = {
                "retweet_count": 0,
                "reply_count": replies,
                "like_count": 0,
                "quote_count": 0,
                "bookmark_count": 0,
                "impression_count": 0,
            }
        elif name == "reply_settings":
            out[name] = "everyone"
        elif name == "possibly_sensitive":
            out[name] = False
    return out


def render_dm(event: DmEvent, fields: Sequence[str]) -> JsonObj:
    """A DM event: id, event_type, text, plus the requested dm_event.fields."""
    out: JsonObj = {"id": event.id, "event_type": "MessageCreate", "text": event.text}
    for name in fields:
        if name == "sender_id":
            out[name] = event.sender_id
        elif name == "dm_conversation_id":
            out[name] = event.conversation_id
        elif name == "created_at":
            out[name] = x_time(event.created)
    return out


def _includes(ctx: Ctx, user_ids: list[str], tweets: list[Tweet]) -> JsonObj:
    includes: JsonObj = {}
    user_fields = _csv(ctx, "user.fields")
    seen: list[str] = []
    for user_id in user_ids:
        if user_id not in seen and user_id in ctx.sim.x_users:
            seen.append(user_id)
    if seen:
        includes["users"] = [render_user(ctx.sim.x_users[u], user_fields) for u in seen]
    if tweets:
        includes["tweets"] = [render_tweet(ctx, t, _csv(ctx, "tweet.fields")) for t in tweets]
    return includes


def tweets_body(ctx: Ctx, tweets: list[Tweet], meta: JsonObj) -> JsonObj:
    """{data, includes, meta} for a list of posts; no `data` key when empty, like X."""
    if not tweets:
        return {"meta": {"result_count": 0}}
    fields = _csv(ctx, "tweet.fields")
    expansions = _csv(ctx, "expansions")
    user_ids: list[str] = []
    referenced: list[Tweet] = []
    for tweet in tweets:
        if "author_id" in expansions:
            user_ids.append(tweet.author_id)
        if "in_reply_to_user_id" in expansions and tweet.in_reply_to_user_id:
            user_ids.append(tweet.in_reply_to_user_id)
        if "entities.mentions.username" in expansions:
            user_ids.extend(m[3] for m in tweet.mentions)
        if "referenced_tweets.id" in expansions and tweet.in_reply_to_tweet_id:
            parent = ctx.sim.tweets.get(tweet.in_reply_to_tweet_id)
            if parent is not None and parent not in referenced:
                referenced.append(parent)
    body: JsonObj = {"data": [render_tweet(ctx, t, fields) for t in tweets]}
    includes = _includes(ctx, user_ids, referenced)
    if includes:
        body["includes"] = includes
    body["meta"] = {
        "newest_id": tweets[0].id,
        "oldest_id": tweets[-1].id,
        "result_count": len(tweets),
        **meta,
    }
    return body


# -- paging ------------------------------------------------------------------------------------


def encode_token(prefix: str, value: str) -> str:
    """Opaque pagination token."""
    return base64.b32encode(f"{prefix}:{value}".encode()).decode().rstrip("=").lower()


def decode_token(param: str, raw: str) -> tuple[str, str]:
    """Decode a pagination token. Raises XError 400."""
    try:
        padded = raw.upper() + "=" * (-len(raw) % 8)
        prefix, value = base64.b32decode(padded).decode().split(":", 1)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise invalid_request(
            param, f"The `{param}` query parameter value [{raw}] is invalid"
        ) from exc
    return prefix, value


def _int_param(ctx: Ctx, name: str, default: int, low: int, high: int) -> int:
    raw = ctx.req.param(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise invalid_request(
            name, f"The `{name}` query parameter value [{raw}] is not between {low} and {high}"
        )
    return int(raw)


def _time(ctx: Ctx, name: str) -> float | None:
    raw = ctx.req.param(name)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise invalid_request(name, f"Invalid {name}: [{raw}]") from exc


def page_by_id(
    ctx: Ctx,
    items: list[_Paged],
    token_param: str,
    max_results: int,
) -> tuple[list[_Paged], JsonObj]:
    """Newest-first paging with since_id/until_id/start_time/end_time and opaque tokens."""
    since_id = ctx.req.param("since_id")
    until_id = ctx.req.param("until_id")
    for name, value in (("since_id", since_id), ("until_id", until_id)):
        if value is not None and not value.isdigit():
            raise invalid_request(name, f"The `{name}` query parameter value [{value}] is invalid")
    start = _time(ctx, "start_time")
    end = _time(ctx, "end_time")
    chosen = [
        i
        for i in items
        if (since_id is None or int(i.id) > int(since_id))
        and (until_id is None or int(i.id) < int(until_id))
        and (start is None or i.created >= start)
        and (end is None or i.created <= end)
    ]
    chosen.sort(key=lambda i: int(i.id), reverse=True)
    raw_token = ctx.req.param(token_param)
    meta: JsonObj = {}
    if raw_token:
        direction, edge_id = decode_token(token_param, raw_token)
        if direction == "n":
            chosen = [i for i in chosen if int(i.id) < int(edge_id)]
        else:
            chosen = [i for i in chosen if int(i.id) > int(edge_id)][-max_results:]
    page = chosen[:max_results]
    if len(chosen) > max_results:
        meta["next_token"] = encode_token("n", page[-1].id)
    if raw_token and page:
        meta["previous_token"] = encode_token("p", page[0].id)
    return page, meta


# -- dispatch ----------------------------------------------------------------------------------


Handler = Callable[[Ctx, list[str]], tuple[int, JsonObj]]


def handle(sim: Simulator, req: Request) -> Response:
    """Answer one X API v2 request."""
    route = route_of(req.method, req.path)
    ctx = Ctx(sim, req, route)
    parts = [p for p in req.path.split("/") if p]
    try:
        with sim.lock:
            handler, user_context = _resolve(req.method, route)
            authenticate(ctx, user_context=user_context)
            headers = _rate_headers(ctx)
            status, body = handler(ctx, parts)
    except XError as err:
        logger.info("x error route=%s status=%s", route, err.status)
        return json_response(err.status, err.body, content_type=X_CONTENT_TYPE, headers=err.headers)
    headers["x-access-level"] = (
        "read" if ctx.token is not None and ctx.token.kind == "app" else "read-write-directmessages"
    )
    headers["api-version"] = "2.150"
    return json_response(status, body, content_type=X_CONTENT_TYPE, headers=headers)


def _resolve(method: str, route: str) -> tuple[Handler, bool]:
    table: dict[str, tuple[Handler, bool]] = {
        "GET /2/users/me": (get_me, True),
        "GET /2/users/by/username/:username": (get_user_by_username, False),
        "GET /2/users/:id": (get_user, False),
        "GET /2/users/:id/mentions": (get_mentions, False),
        "GET /2/users/:id/tweets": (get_user_tweets, False),
        "GET /2/tweets": (get_tweets, False),
        "GET /2/tweets/:id": (get_tweet, False),
        "GET /2/tweets/search/recent": (search_recent, False),
        "POST /2/tweets": (create_tweet, True),
        "DELETE /2/tweets/:id": (delete_tweet, True),
        "PUT /2/tweets/:id/hidden": (hide_reply, True),
        "GET /2/dm_events": (get_dm_events, True),
        "GET /2/dm_conversations/with/:id/dm_events": (get_dm_events, True),
        "GET /2/dm_conversations/:dm_conversation_id/dm_events": (get_dm_events, True),
        "POST /2/dm_conversations/with/:id/messages": (send_dm, True),
        "POST /2/dm_conversations/:dm_conversation_id/messages": (send_dm, True),
    }
    found = table.get(f"{method} {route}")
    if found is None:
        raise XError(404, {"errors": [{"message": "Sorry, that page does not exist", "code": 34}]})
    return found


def _me(ctx: Ctx) -> XUser:
    assert ctx.token is not None  # noqa: S101 - authenticate() ran first
    return ctx.sim.x_users[ctx.token.account_id]


# X documents these scopes for GET /2/users/me with an OAuth 2.0 user token.
ME_SCOPES = frozenset({"tweet.read", "users.read"})


def get_me(ctx: Ctx, parts: list[str]) -> tuple[int, JsonObj]:
    """GET /2/users/me. A token from the OAuth 2.0 token endpoint needs ME_SCOPES."""
    token = ctx.token
    if token is not None and token.scopes and not set(token.scopes) >= ME_SCOPES:
        raise problem(403, "Forbidden", "Missing scope: tweet.read and users.read.")
    return 200, {"data": render_user(_me(ctx), _csv(ctx, "user.fields"))}


def _user_not_found(parameter: str, value: str) -> JsonObj:
    return {
        "errors": [
            {
                "value": value,
                "detail": f"Could not find user with {parameter}: [{value}].",
                "title": "Not Found Error",
                "resource_type": "user",
                "parameter": parameter,
                "resource_id": value,
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
        ]
    }


def get_user_by_username(ctx: Ctx, parts: list[str]) -> tuple[int, JsonObj]:
    """GET /2/users/by/username/:username (200 with errors[] when unknown)."""
    username = parts[4]
    for user in ctx.sim.x_users.values():
        if user.username.lower() == username.lower():
            return 200, {"data": render_user(user, _csv(ctx, "user.fields"))}
    return 200, _user_not_found("username", username)


def get_user(ctx: Ctx, parts: list[str]) -> tuple[int, JsonObj]:
    """GET /2/users/:id."""
    user = ctx.sim.x_users.get(parts[2])
    if user is None:
        return 200, _user_not_found("id", parts[2])
    return 200, {"data": render_user(user, _csv(ctx, "user.fields"))}


def _tweet_not_found(tweet_id: str) -> JsonObj:
    return {
        "value": tweet_id,
        "detail": f"Could not find tweet with id: [{tweet_id}].",
        "title": "Not Found Error",
        "resource_type": "tweet",
        "parameter": "id",
        "resource_id": tweet_id,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


def _live(ctx: Ctx, tweet_id: str) -> Tweet | None:
    tweet = ctx.sim.tweets.get(tweet_id)
    return None if tweet is None or tweet.deleted else tweet


def get_tweet(ctx: Ctx, parts: list[str]) -> tuple[int, JsonObj]:
    """GET /2/tweets/:id (200 with errors[] when missing, like X)."""
    tweet = _live(ctx, parts[2])
    if tweet is None:
        return 200, {"errors": [_tweet_not_found(parts[2])]}
    body = tweets_body(ctx, [tweet], {})
    body.pop("meta", None)
    data = body["data"]
    assert isinstance(data, list)  # noqa: S101 - tweets_body built it
    body["data"] = data[0]
    return 200, body


def get_tweets(ctx: Ctx, parts: list[str]) -> tuple[int, JsonObj]:
    """GET /2/tweets?ids=a,b (partial errors for missing ids)."""
    ids = _csv(ctx, "ids")
    if not ids:
        raise invalid_request("ids", "The `ids` query parameter can not be empty")
    found = [t for t in (_live(ctx, i) for i in ids) if t is not None]
    body = tweets_body(ctx, found, {}) if found else {}
    body.pop("meta", None)
    missing = [_tweet_not_found(i) for i in ids if _live(ctx, i) is None]
    if missing:
        body["errors"] = missing
    return 200, body


def get_mentions(ctx: Ctx, parts: list[str]) -> tuple[int, JsonObj]:
    """GET /2/users/:id/mentions with since_id, pagination_token, max_results, fields."""
    user_id = parts[2]
    if user_id not in ctx.sim.x_users:
        return 200, _user_not_found("id", user_id)
    max_results = _int_param(ctx, "max_results", 10, 5, 100)
    mentions = [
        t
        for t in ctx.sim.tweets.values()
        if not t.deleted and t.author_id != user_id and any(m[3] == user_id for m in t.mentions)
    ]
    page, meta = page_by_id(ctx, mentions, "pagination_token", max_results)
    return 200, tweets_body(ctx, page, meta)


def get_user_tweets(ctx: Ctx, parts: list[str]) -> tuple[int, JsonObj]:
    """GET /2/users/:id/tweets (the account's own posts, newest first)."""
    user_id = parts[2]
    max_results = _int_param(ctx, "max_results", 10, 5, 100)
    own = [t for t in ctx.sim.tweets.values() if not t.deleted and t.author_id == user_id]
    page, meta = page_by_id(ctx, own, "pagination_token", max_results)
    return 200, tweets_body(ctx, page, meta)


@dataclass(frozen=True, slots=True)
class _Term:
    """One search operator: field to compare, value, negation."""

    op: str
    value: str
    negate: bool

    def test(self, tweet: Tweet) -> bool:
        return self._test(tweet) != self.negate

    def _test(self, tweet: Tweet) -> bool:
        if self.op == "conversation_id":
            return tweet.conversation_id == self.value
        if self.op == "from":
            return tweet.author_id == self.value
        if self.op == "to":
            return tweet.in_reply_to_user_id == self.value
        if self.op == "in_reply_to_tweet_id":
            return tweet.in_reply_to_tweet_id == self.value
        if self.op == "is:reply":
            return tweet.in_reply_to_tweet_id is not None
        if self.op == "never":
            return False
        if self.op == "mention":
            return any(m[3] == self.value for m in tweet.mentions)
        return self.value in tweet.text.lower()


def _matcher(ctx: Ctx, query: str) -> list[_Term]:
    """Compile the supported search operators (AND only). Raises XError 400."""
    try:
        words = shlex.split(query)
    except ValueError as exc:
        raise invalid_request("query", "There were errors processing your query") from exc
    if not words:
        raise invalid_request("query", "The `query` query parameter can not be empty")
    by_name = {u.username.lower(): u.id for u in ctx.sim.x_users.values()}
    terms: list[_Term] = []
    for word in words:
        negate = word.startswith("-")
        body = word[1:] if negate else word
        key, sep, value = body.partition(":")
        if word.upper() == "OR" or body.startswith("("):
            raise invalid_request("query", "The simulator supports AND of simple operators only")
        if sep and key in ("conversation_id", "in_reply_to_tweet_id"):
            terms.append(_Term(key, value, negate))
        elif sep and key in ("from", "to"):
            terms.append(_Term(key, by_name.get(value.lstrip("@").lower(), value), negate))
        elif sep and key == "is" and value == "reply":
            terms.append(_Term("is:reply", "", negate))
        elif sep and key == "is" and value in ("retweet", "quote"):
            terms.append(_Term("never", "", negate))
        elif body.startswith("@"):
            terms.append(_Term("mention", by_name.get(body[1:].lower(), ""), negate))
        else:
            terms.append(_Term("word", body.lower(), negate))
    return terms


def search_recent(ctx: Ctx, parts: list[str]) -> tuple[int, JsonObj]:
    """GET /2/tweets/search/recent?query=conversation_id:.. from:.. (last 7 days)."""
    query = ctx.req.param("query") or ""
    terms = _matcher(ctx, query)
    max_results = _int_param(ctx, "max_results", 10, 10, 100)
    oldest = ctx.sim.now() - SEARCH_WINDOW_S
    found = [
        t
        for t in ctx.sim.tweets.values()
        if not t.deleted and t.created >= oldest and all(term.test(t) for term in terms)
    ]
    page, meta = page_by_id(ctx, found, "next_token", max_results)
    meta.pop("previous_token", None)
    return 200, tweets_body(ctx, page, meta)


def _weighted_length(text: str) -> int:
    return len(_URL_RE.sub("x" * URL_WEIGHT, text))


def create_tweet(ctx: Ctx, parts: list[str]) -> tuple[int, JsonObj]:
    """POST /2/tweets {"text", "reply": {"in_reply_to_tweet_id"}} -> 201."""
    me = _me(ctx)
    text = ctx.req.json_field("text")
    if not isinstance(text, str) or not text.strip():
        raise invalid_request("text", "text must be a non-empty string")
    if _weighted_length(text) > MAX_TWEET_LENGTH:
        raise problem(403, "Forbidden", "Your Tweet text is too long.")
    reply = ctx.req.json_field("reply")
    parent_id: str | None = None
    if reply is not None:
        if not isinstance(reply, dict) or not isinstance(reply.get("in_reply_to_tweet_id"), str):
            raise invalid_request("reply.in_reply_to_tweet_id", "in_reply_to_tweet_id is required")
        parent_id = reply["in_reply_to_tweet_id"]
        parent = _live(ctx, parent_id)
        if parent is None:
            raise problem(
                403,
                "Forbidden",
                "You attempted to reply to a Tweet that is deleted or not visible to you.",
            )
        summoned = parent.author_id == me.id or any(m[3] == me.id for m in parent.mentions)
        if ctx.sim.x_reply_requires_mention and not summoned:
            raise problem(
                403,
                "Forbidden",
                "Reply to this conversation is not allowed because you have not been mentioned "
                "or otherwise engaged by the author of the post you are replying to.",
            )
    if ctx.sim.has_live_tweet(me.id, text):
        raise problem(
            403, "Forbidden", "You are not allowed to create a Tweet with duplicate content."
        )
    tweet = ctx.sim.add_tweet(me.id, text, parent_id)
    logger.debug("post created tweet=%s in_reply_to=%s", tweet.id, parent_id)
    return 201, {"data": {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}}


def delete_tweet(ctx: Ctx, parts: list[str]) -> tuple[int, JsonObj]:
    """DELETE /2/tweets/:id (own posts only)."""
    tweet = _live(ctx, parts[2])
    if tweet is None:
        raise problem(
            404,
            "Not Found Error",
            f"Could not find tweet with id: [{parts[2]}].",
            "https://api.twitter.com/2/problems/resource-not-found",
        )
    if tweet.author_id != _me(ctx).id:
        raise problem(403, "Forbidden", "You are not allowed to delete this Tweet.")
    tweet.deleted = True
    logger.debug("post deleted tweet=%s", tweet.id)
    return 200, {"data": {"deleted": True}}


def hide_reply(ctx: Ctx, parts: list[str]) -> tuple[int, JsonObj]:
    """PUT /2/tweets/:id/hidden {"hidden": bool}: only replies in conversations we started."""
    hidden = ctx.req.json_field("hidden")
    if not isinstance(hidden, bool):
        raise invalid_request("hidden", "hidden must be a boolean")
    tweet = _live(ctx, parts[2])
    if tweet is None:
        raise problem(
            404,
            "Not Found Error",
            f"Could not find tweet with id: [{parts[2]}].",
            "https://api.twitter.com/2/problems/resource-not-found",
        )
    me = _me(ctx)
    root = ctx.sim.tweets.get(tweet.conversation_id)
    if (
        tweet.in_reply_to_tweet_id is None
        or root is None
        or root.author_id != me.id
        or (tweet.author_id == me.id)
    ):
        raise problem(
            403, "Forbidden", "You can only hide or unhide replies to conversations you authored."
        )
    tweet.hidden = hidden
    logger.debug("reply hidden flag set tweet=%s hidden=%s", tweet.id, hidden)
    return 200, {"data": {"hidden": hidden}}


def get_dm_events(ctx: Ctx, parts: list[str]) -> tuple[int, JsonObj]:
    """GET /2/dm_events and the per-conversation variants, newest first."""
    me = _me(ctx)
    events = [e for e in ctx.sim.dm_events.values() if me.id in (e.sender_id, e.recipient_id)]
    if parts[1] == "dm_conversations":
        if parts[2] == "with":
            conversation = "-".join(sorted((me.id, parts[3]), key=int))
        else:
            conversation = parts[2]
        events = [e for e in events if e.conversation_id == conversation]
    types = _csv(ctx, "event_types")
    if types and "MessageCreate" not in types:
        events = []
    max_results = _int_param(ctx, "max_results", 100, 1, 100)
    page, meta = page_by_id(ctx, events, "pagination_token", max_results)
    if not page:
        return 200, {"meta": {"result_count": 0, **meta}}
    fields = _csv(ctx, "dm_event.fields")
    body: JsonObj = {"data": [render_dm(e, fields) for e in page if isinstance(e, DmEvent)]}
    if "sender_id" in _csv(ctx, "expansions"):
        includes = _includes(ctx, [e.sender_id for e in page if isinstance(e, DmEvent)], [])
        if includes:
            body["includes"] = includes
    body["meta"] = {"result_count": len(page), **meta}
    return 200, body


def send_dm(ctx: Ctx, parts: list[str]) -> tuple[int, JsonObj]:
    """POST /2/dm_conversations/with/:participant_id/messages (or /:id/messages) -> 201."""
    me = _me(ctx)
    text = ctx.req.json_field("text")
    if not isinstance(text, str) or not text:
        raise invalid_request("text", "text must be a non-empty string")
    if parts[2] == "with":
        other_id = parts[3]
    else:
        members = parts[2].split("-")
        if me.id not in members:
            raise problem(403, "Forbidden", "You are not a participant of this conversation.")
        other_id = next((m for m in members if m != me.id), me.id)
    other = ctx.sim.x_users.get(other_id)
    if other is None or other.id == me.id:
        raise invalid_request("participant_id", f"Invalid participant_id [{other_id}]")
    if not other.dm_open:
        raise problem(403, "Forbidden", "You are not permitted to send this message to this user.")
    event = ctx.sim.add_dm(me.id, other.id, text)
    logger.debug("dm sent dm_event=%s", event.id)
    return 201, {"data": {"dm_conversation_id": event.conversation_id, "dm_event_id": event.id}}
