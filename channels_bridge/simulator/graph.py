"""Facebook Graph API subset of the simulator: Page feed, comments, Messenger, token checks."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from channels_bridge.simulator import world
from channels_bridge.simulator.state import (
    HUMAN_AGENT_WINDOW_S,
    MESSENGER_WINDOW_S,
    PRIVATE_REPLY_WINDOW_S,
    FbComment,
    FbConversation,
    FbMessage,
    FbPost,
    PageMessage,
    PrivateReply,
    Simulator,
    Token,
    graph_time,
)
from channels_bridge.simulator.wire import JsonObj, Request, Response, json_response

logger = logging.getLogger(__name__)

_VERSION_RE = re.compile(r"^/(v(\d+)\.(\d+))(/.*)?$")
DEFAULT_LIMIT = 25
MAX_LIMIT = 100


class GraphError(Exception):
    """A Graph API error answer (the envelope of PLATFORMS.md §1.6)."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        error_type: str = "OAuthException",
        status: int = 400,
        transient: bool | None = None,
    ) -> None:
        super().__init__(f"graph error code={code}")
        self.code = code
        self.message = message
        self.subcode = subcode
        self.error_type = error_type
        self.status = status
        self.transient = transient


def fbtrace_id(seed: str) -> str:
    """A deterministic, realistic-looking fbtrace_id."""
    digest = hashlib.sha256(seed.encode()).digest()[:16]
    return base64.b64encode(digest).decode().rstrip("=")[:23]


def error_body(err: GraphError, trace_seed: str = "") -> JsonObj:
    """Render a GraphError as the Graph error envelope."""
    inner: JsonObj = {"message": err.message, "type": err.error_type, "code": err.code}
    if err.subcode is not None:
        inner["error_subcode"] = err.subcode
    if err.transient is not None:
        inner["is_transient"] = err.transient
    inner["fbtrace_id"] = fbtrace_id(f"{trace_seed}{err.code}")
    return {"error": inner}


def split_version(path: str) -> tuple[str | None, str]:
    """Split '/v26.0/123/feed' into ('v26.0', '/123/feed'); unversioned paths give None."""
    match = _VERSION_RE.match(path)
    if match is None:
        return None, path
    return match.group(1), match.group(4) or "/"


def served_version(requested: str | None) -> str:
    """The version that 'ran': unversioned → current; expired versions → oldest alive."""
    if requested is None:
        return world.GRAPH_VERSION
    match = _VERSION_RE.match(f"/{requested}")
    oldest = _VERSION_RE.match(f"/{world.GRAPH_OLDEST_ALIVE}")
    if match is None or oldest is None:
        return world.GRAPH_VERSION
    if (int(match.group(2)), int(match.group(3))) < (int(oldest.group(2)), int(oldest.group(3))):
        return world.GRAPH_OLDEST_ALIVE
    return requested


def route_of(path: str) -> str:
    """Route template of a Graph path (version stripped): '/{id}/comments', '/me', ..."""
    _, rest = split_version(path)
    parts = [p for p in rest.split("/") if p]
    if not parts:
        return "/"
    head = parts[0] if parts[0] in ("me", "debug_token") else "{id}"
    return "/" + "/".join([head, *parts[1:]])


# -- fields ------------------------------------------------------------------------------------


@dataclass(slots=True)
class FieldSpec:
    """One requested field: name, modifiers such as .limit(25), optional sub-fields."""

    name: str
    modifiers: dict[str, str] = field(default_factory=dict)
    sub: list[FieldSpec] | None = None


def parse_fields(text: str) -> list[FieldSpec]:
    """Parse 'id,from{id,name},messages.limit(25){id,message}'. Raises GraphError."""
    specs, pos = _parse_list(text, 0)
    if pos != len(text):
        raise GraphError(100, f"(#100) Syntax error in fields near position {pos}")
    return specs


def _parse_list(text: str, pos: int) -> tuple[list[FieldSpec], int]:
    specs: list[FieldSpec] = []
    while pos < len(text):
        spec, pos = _parse_item(text, pos)
        if spec.name:
            specs.append(spec)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        break
    return specs, pos


def _parse_item(text: str, pos: int) -> tuple[FieldSpec, int]:
    start = pos
    while pos < len(text) and (text[pos].isalnum() or text[pos] in "_ "):
        pos += 1
    spec = FieldSpec(text[start:pos].strip())
    while pos < len(text) and text[pos] == ".":
        mod_start = pos + 1
        open_paren = text.find("(", mod_start)
        close_paren = text.find(")", open_paren)
        if open_paren < 0 or close_paren < 0:
            raise GraphError(100, "(#100) Syntax error in field modifier")
        spec.modifiers[text[mod_start:open_paren]] = text[open_paren + 1 : close_paren]
        pos = close_paren + 1
    if pos < len(text) and text[pos] == "{":
        sub, pos = _parse_list(text, pos + 1)
        if pos >= len(text) or text[pos] != "}":
            raise GraphError(100, "(#100) Syntax error: missing '}' in fields")
        spec.sub = sub
        pos += 1
    return spec, pos


Getter = Callable[["Ctx", FieldSpec], object]
_ABSENT = object()


def render(
    ctx: Ctx,
    getters: dict[str, Getter],
    specs: Sequence[FieldSpec] | None,
    defaults: Sequence[str],
    node_type: str,
) -> JsonObj:
    """Render an object with the requested fields (or its defaults). Raises GraphError."""
    wanted = list(specs) if specs else [FieldSpec(name) for name in defaults]
    out: JsonObj = {}
    for spec in wanted:
        getter = getters.get(spec.name)
        if getter is None:
            raise GraphError(
                100,
                f"(#100) Tried accessing nonexisting field ({spec.name}) on node type "
                f"({node_type})",
            )
        value = getter(ctx, spec)
        if value is not _ABSENT:
            out[spec.name] = value
    return out


def _person(ctx: Ctx, person_id: str, spec: FieldSpec, *, email: bool = False) -> JsonObj:
    name = ctx.sim.fb_names.get(person_id, "Facebook User")
    full: JsonObj = {"name": name, "id": person_id}
    if email:
        full = {"name": name, "email": f"{person_id}@facebook.com", "id": person_id}
    if spec.sub:
        return {s.name: full[s.name] for s in spec.sub if s.name in full}
    return full


# -- paging ------------------------------------------------------------------------------------


def encode_cursor(value: int) -> str:
    """Opaque cursor for a position key."""
    return base64.urlsafe_b64encode(f"sim:{value}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Position key of a cursor. Raises GraphError on a malformed cursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode()).decode()
        prefix, value = text.split(":", 1)
        if prefix != "sim":
            raise ValueError(prefix)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise GraphError(100, "(#100) The after/before cursor is invalid") from exc


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError as exc:
        raise GraphError(100, "(#100) Param limit must be a number") from exc
    return max(1, min(value, MAX_LIMIT))


@dataclass(slots=True)
class Page:
    """One page of an edge, positioned by keys (ascending in list order)."""

    items: list[object]
    first_key: int | None
    last_key: int | None
    has_next: bool
    has_prev: bool


def paginate(
    items: Sequence[object],
    keys: Sequence[int],
    *,
    limit: int,
    after: str | None,
    before: str | None,
) -> Page:
    """Cursor paging over items already in response order; keys are unique per item."""
    start, end = 0, len(items)
    if after is not None:
        key = decode_cursor(after)
        start = next((i + 1 for i, k in enumerate(keys) if k == key), None) or _position(keys, key)
    if before is not None:
        key = decode_cursor(before)
        end = next((i for i, k in enumerate(keys) if k == key), None) or 0
        start = max(0, end - limit)
    stop = min(end, start + limit)
    chosen = list(items[start:stop])
    return Page(
        items=chosen,
        first_key=keys[start] if chosen else None,
        last_key=keys[stop - 1] if chosen else None,
        has_next=stop < len(items),
        has_prev=start > 0,
    )


def _position(keys: Sequence[int], key: int) -> int:
    """Index after a vanished key, assuming keys are monotonic in list order."""
    if len(keys) < 2 or keys[0] <= keys[-1]:
        return next((i for i, k in enumerate(keys) if k > key), len(keys))
    return next((i for i, k in enumerate(keys) if k < key), len(keys))


# -- request context ---------------------------------------------------------------------------


@dataclass(slots=True)
class Ctx:
    """Everything a Graph handler needs."""

    sim: Simulator
    req: Request
    version: str
    token: Token | None
    token_value: str


def edge_body(ctx: Ctx, object_id: str, edge: str, page: Page, data: list[object]) -> JsonObj:
    """Build {data, paging{cursors, next?, previous?}} with links like the Graph API's."""
    body: JsonObj = {"data": data}
    if page.first_key is None or page.last_key is None:
        return body
    paging: JsonObj = {
        "cursors": {"before": encode_cursor(page.first_key), "after": encode_cursor(page.last_key)}
    }
    params = {k: v[0] for k, v in ctx.req.query.items() if k not in ("after", "before")}
    # facebook-sdk's get_all_connections() deletes access_token from `next`: it must be there.
    params["access_token"] = ctx.token_value
    base = f"{ctx.req.base_url}/{ctx.version}/{object_id}/{edge}"
    if page.has_next:
        paging["next"] = f"{base}?{urlencode({**params, 'after': encode_cursor(page.last_key)})}"
    if page.has_prev:
        paging["previous"] = (
            f"{base}?{urlencode({**params, 'before': encode_cursor(page.first_key)})}"
        )
    body["paging"] = paging
    return body


# -- object renderers --------------------------------------------------------------------------


def _comment_children(ctx: Ctx, comment: FbComment) -> list[FbComment]:
    return sorted(
        (c for c in ctx.sim.fb_comments.values() if c.parent_id == comment.id and not c.deleted),
        key=lambda c: c.seq,
    )


def _can_reply_privately(ctx: Ctx, comment: FbComment) -> bool:
    if comment.author_id == world.FB_PAGE_ID:
        return False
    if any(p.comment_id == comment.id for p in ctx.sim.fb_private_replies):
        return False
    return ctx.sim.now() - comment.created <= PRIVATE_REPLY_WINDOW_S


def comment_getters(comment: FbComment) -> dict[str, Getter]:
    """Field getters of a comment node."""
    post_object_id = comment.post_id.split("_", 1)[-1]
    permalink = (
        f"https://www.facebook.com/{world.FB_PAGE_ID}/posts/{post_object_id}/?comment_id="
        f"{(comment.parent_id or comment.id).split('_')[-1]}"
    )
    if comment.parent_id:
        permalink += f"&reply_comment_id={comment.id.split('_')[-1]}"
    by_page = comment.author_id == world.FB_PAGE_ID
    return {
        "id": lambda c, s: comment.id,
        "message": lambda c, s: comment.message,
        "created_time": lambda c, s: graph_time(comment.created),
        "from": lambda c, s: _person(c, comment.author_id, s),
        "parent": lambda c, s: _ABSENT if comment.parent_id is None else {"id": comment.parent_id},
        "object": lambda c, s: {"id": comment.post_id},
        "is_hidden": lambda c, s: comment.is_hidden,
        "is_private": lambda c, s: False,
        "can_hide": lambda c, s: not by_page,
        "can_remove": lambda c, s: True,
        "can_comment": lambda c, s: True,
        "can_like": lambda c, s: True,
        "can_reply_privately": lambda c, s: _can_reply_privately(c, comment),
        "comment_count": lambda c, s: len(_comment_children(c, comment)),
        "like_count": lambda c, s: 0,
        "user_likes": lambda c, s: False,
        "message_tags": lambda c, s: [],
        "permalink_url": lambda c, s: permalink,
        "attachment": lambda c, s: _ABSENT,
        # Requestable on comments but only filled for posts addressed to someone.
        "to": lambda c, s: _ABSENT,
        "comments": lambda c, s: _nested_comments(c, comment.id, _comment_children(c, comment), s),
    }


COMMENT_DEFAULTS = ("created_time", "from", "message", "id")


def render_comment(ctx: Ctx, comment: FbComment, specs: Sequence[FieldSpec] | None) -> JsonObj:
    """Render one comment node."""
    return render(ctx, comment_getters(comment), specs, COMMENT_DEFAULTS, "Comment")


def _nested_comments(
    ctx: Ctx, object_id: str, comments: list[FbComment], spec: FieldSpec
) -> object:
    if not comments:
        return _ABSENT
    if spec.modifiers.get("order") == "reverse_chronological":
        comments = comments[::-1]
    limit = _limit(spec.modifiers.get("limit"))
    page = paginate(comments, [c.seq for c in comments], limit=limit, after=None, before=None)
    data: list[object] = [
        render_comment(ctx, c, spec.sub) for c in page.items if isinstance(c, FbComment)
    ]
    return nested_edge(ctx, object_id, "comments", page, data, spec, limit)


def nested_edge(
    ctx: Ctx, object_id: str, edge: str, page: Page, data: list[object], spec: FieldSpec, limit: int
) -> JsonObj:
    """An edge expanded inside fields (comments{...}): its own paging and `next` link."""
    body: JsonObj = {"data": data}
    if page.first_key is None or page.last_key is None:
        return body
    paging: JsonObj = {
        "cursors": {"before": encode_cursor(page.first_key), "after": encode_cursor(page.last_key)}
    }
    if page.has_next:
        params: dict[str, str] = {"access_token": ctx.token_value, "limit": str(limit)}
        if spec.sub:
            params["fields"] = ",".join(s.name for s in spec.sub)
        params["after"] = encode_cursor(page.last_key)
        paging["next"] = f"{ctx.req.base_url}/{ctx.version}/{object_id}/{edge}?{urlencode(params)}"
    body["paging"] = paging
    return body


def _post_comments(ctx: Ctx, post: FbPost, stream: bool) -> list[FbComment]:
    return sorted(
        (
            c
            for c in ctx.sim.fb_comments.values()
            if c.post_id == post.id and not c.deleted and (stream or c.parent_id is None)
        ),
        key=lambda c: c.seq,
    )


def post_getters(post: FbPost) -> dict[str, Getter]:
    """Field getters of a Page post node."""
    page_to: JsonObj = {"data": [{"id": world.FB_PAGE_ID, "name": world.FB_PAGE_NAME}]}
    return {
        "id": lambda c, s: post.id,
        "message": lambda c, s: post.message,
        "created_time": lambda c, s: graph_time(post.created),
        "updated_time": lambda c, s: graph_time(post.created),
        "from": lambda c, s: _person(c, post.author_id, s),
        "to": lambda c, s: page_to,
        "permalink_url": lambda c, s: (
            f"https://www.facebook.com/{world.FB_PAGE_ID}/posts/{post.object_id}/"
        ),
        "status_type": lambda c, s: "mobile_status_update",
        "is_hidden": lambda c, s: False,
        "is_published": lambda c, s: True,
        "comments": lambda c, s: _nested_comments(
            c, post.id, _post_comments(c, post, s.modifiers.get("filter") == "stream"), s
        ),
    }


POST_DEFAULTS = ("created_time", "message", "id")


def render_post(ctx: Ctx, post: FbPost, specs: Sequence[FieldSpec] | None) -> JsonObj:
    """Render one post node."""
    return render(ctx, post_getters(post), specs, POST_DEFAULTS, "Post")


def message_getters(message: FbMessage) -> dict[str, Getter]:
    """Field getters of a Messenger message node."""
    return {
        "id": lambda c, s: message.id,
        "created_time": lambda c, s: graph_time(message.created),
        "message": lambda c, s: message.text,
        "from": lambda c, s: _person(c, message.from_id, s, email=True),
        "to": lambda c, s: {"data": [_person(c, message.to_id, s, email=True)]},
        "tags": lambda c, s: {"data": [{"name": "inbox"}, {"name": "source:mobile"}]},
        "attachments": lambda c, s: _ABSENT,
        "sticker": lambda c, s: _ABSENT,
        "is_unsupported": lambda c, s: False,
    }


MESSAGE_DEFAULTS = ("id", "created_time")


def render_message(ctx: Ctx, message: FbMessage, specs: Sequence[FieldSpec] | None) -> JsonObj:
    """Render one Messenger message node."""
    return render(ctx, message_getters(message), specs, MESSAGE_DEFAULTS, "Message")


def _conversation_messages(ctx: Ctx, conversation: FbConversation) -> list[FbMessage]:
    # Newest first, as the Graph API lists them.
    return sorted(
        (ctx.sim.fb_messages[m] for m in conversation.message_ids),
        key=lambda m: m.seq,
        reverse=True,
    )


def conversation_getters(conversation: FbConversation) -> dict[str, Getter]:
    """Field getters of a Page conversation node."""

    def participants(c: Ctx, s: FieldSpec) -> JsonObj:
        return {
            "data": [
                _person(c, conversation.customer_id, s, email=True),
                _person(c, world.FB_PAGE_ID, s, email=True),
            ]
        }

    def messages(c: Ctx, s: FieldSpec) -> object:
        items = _conversation_messages(c, conversation)
        limit = _limit(s.modifiers.get("limit"))
        page = paginate(items, [m.seq for m in items], limit=limit, after=None, before=None)
        data: list[object] = [
            render_message(c, m, s.sub) for m in page.items if isinstance(m, FbMessage)
        ]
        return nested_edge(c, conversation.id, "messages", page, data, s, limit)

    def snippet(c: Ctx, s: FieldSpec) -> str:
        items = _conversation_messages(c, conversation)
        return items[0].text[:100] if items else ""

    return {
        "id": lambda c, s: conversation.id,
        "updated_time": lambda c, s: graph_time(conversation.updated),
        "link": lambda c, s: f"/{world.FB_PAGE_ID}/inbox/{conversation.id[2:]}/",
        "message_count": lambda c, s: len(conversation.message_ids),
        "unread_count": lambda c, s: 0,
        "snippet": snippet,
        "can_reply": lambda c, s: True,
        "is_subscribed": lambda c, s: True,
        "scoped_thread_key": lambda c, s: conversation.id,
        "participants": participants,
        "senders": participants,
        "former_participants": lambda c, s: {"data": []},
        "messages": messages,
    }


CONVERSATION_DEFAULTS = ("id", "updated_time", "link")


def render_conversation(
    ctx: Ctx, conversation: FbConversation, specs: Sequence[FieldSpec] | None
) -> JsonObj:
    """Render one conversation node."""
    return render(
        ctx, conversation_getters(conversation), specs, CONVERSATION_DEFAULTS, "Conversation"
    )


def page_getters() -> dict[str, Getter]:
    """Field getters of the Page node."""
    return {
        "id": lambda c, s: world.FB_PAGE_ID,
        "name": lambda c, s: world.FB_PAGE_NAME,
        "access_token": lambda c, s: world.FB_PAGE_TOKEN,
        "category": lambda c, s: "Shopping & retail",
        "link": lambda c, s: f"https://www.facebook.com/{world.FB_PAGE_ID}",
        "fan_count": lambda c, s: 1200,
    }


# -- dispatch ----------------------------------------------------------------------------------


def handle(sim: Simulator, req: Request) -> Response:
    """Answer one Graph API request."""
    requested, rest = split_version(req.path)
    version = served_version(requested)
    headers = {"facebook-api-version": version}
    token_value = _token_value(req)
    ctx = Ctx(sim, req, version, None, token_value or "")
    try:
        with sim.lock:
            body, usage_type = _dispatch(ctx, rest)
    except GraphError as err:
        logger.info("graph error route=%s code=%s", route_of(req.path), err.code)
        return json_response(err.status, error_body(err, req.path), headers=headers)
    if ctx.token is not None and ctx.token.kind == "page":
        headers["x-business-use-case-usage"] = json.dumps(
            {
                world.FB_PAGE_ID: [
                    {
                        "type": usage_type,
                        "call_count": 1,
                        "total_cputime": 1,
                        "total_time": 1,
                        "estimated_time_to_regain_access": 0,
                    }
                ]
            },
            separators=(",", ":"),
        )
    return json_response(200, body, headers=headers)


def _token_value(req: Request) -> str | None:
    value = req.param("access_token")
    if value:
        return value
    auth = req.headers.get("authorization", "")
    scheme, _, rest = auth.partition(" ")
    if scheme.lower() in ("oauth", "bearer") and rest.strip():
        return rest.strip()
    return None


def authenticate(ctx: Ctx, *, allow_app: bool = False) -> Token:
    """Check the access token. Raises GraphError 104, 190 (463 when expired) or 210."""
    if not ctx.token_value:
        raise GraphError(104, "An access token is required to request this resource.")
    token = ctx.sim.token(ctx.token_value)
    if token is None or token.platform != "facebook":
        raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
    now = ctx.sim.now()
    if not token.is_valid(now):
        raise expired_error(now)
    if token.kind == "app" and not allow_app:
        raise GraphError(210, "(#210) A page access token is required to request this resource.")
    proof = ctx.req.param("appsecret_proof")
    if proof is not None:
        expected = hmac.new(
            world.FB_APP_SECRET.encode(), token.value.encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(proof, expected):
            raise GraphError(
                100,
                "Invalid appsecret_proof provided in the API argument",
                error_type="GraphMethodException",
            )
    ctx.token = token
    return token


def expired_error(now: float) -> GraphError:
    """The 190/463 'session has expired' error."""
    stamp = graph_time(now - 3600).replace("+0000", " UTC")
    current = graph_time(now).replace("+0000", " UTC")
    return GraphError(
        190,
        f"Error validating access token: Session has expired on {stamp}. "
        f"The current time is {current}.",
        subcode=463,
    )


def _missing(object_id: str, method: str) -> GraphError:
    verb = "get" if method == "GET" else "post" if method == "POST" else "delete"
    return GraphError(
        100,
        f"Unsupported {verb} request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation. Please read the "
        "Graph API documentation at https://developers.facebook.com/docs/graph-api",
        subcode=33,
        error_type="GraphMethodException",
    )


def _fields(ctx: Ctx) -> list[FieldSpec] | None:
    raw = ctx.req.param("fields")
    return parse_fields(raw) if raw else None


def _dispatch(ctx: Ctx, rest: str) -> tuple[JsonObj, str]:
    parts = [p for p in rest.split("/") if p]
    method = ctx.req.method
    if not parts:
        raise _missing("", method)
    if parts == ["debug_token"] and method == "GET":
        authenticate(ctx, allow_app=True)
        return debug_token(ctx), "pages"
    authenticate(ctx)
    object_id = world.FB_PAGE_ID if parts[0] == "me" else parts[0]
    sim = ctx.sim
    if len(parts) == 1:
        if method == "GET":
            return get_object(ctx, object_id), "pages"
        if method == "POST":
            return update_object(ctx, object_id), "pages"
        if method == "DELETE":
            return delete_object(ctx, object_id), "pages"
        raise _missing(object_id, method)
    if len(parts) != 2:
        raise _missing(object_id, method)
    edge = parts[1]
    if edge == "comments" and (object_id in sim.fb_posts or object_id in sim.fb_comments):
        if method == "GET":
            return list_comments(ctx, object_id), "pages"
        if method == "POST":
            return create_comment(ctx, object_id), "pages"
    if object_id == world.FB_PAGE_ID:
        if edge in ("feed", "posts", "published_posts") and method == "GET":
            return list_feed(ctx), "pages"
        if edge == "conversations" and method == "GET":
            return list_conversations(ctx), "messenger"
        if edge == "messages" and method == "POST":
            return send_message(ctx), "messenger"
        if edge == "subscribed_apps" and method == "POST":
            return {"success": True}, "pages"
    if edge == "messages" and method == "GET" and object_id in sim.fb_conversations:
        return list_messages(ctx, object_id), "messenger"
    raise _missing(object_id, method)


def get_object(ctx: Ctx, object_id: str) -> JsonObj:
    """GET /{id}: the Page, a post, a comment, a conversation or a message."""
    sim = ctx.sim
    specs = _fields(ctx)
    if object_id == world.FB_PAGE_ID:
        return render(ctx, page_getters(), specs, ("name", "id"), "Page")
    if object_id in sim.fb_posts:
        return render_post(ctx, sim.fb_posts[object_id], specs)
    comment = sim.fb_comments.get(object_id)
    if comment is not None and not comment.deleted:
        return render_comment(ctx, comment, specs)
    if object_id in sim.fb_conversations:
        return render_conversation(ctx, sim.fb_conversations[object_id], specs)
    if object_id in sim.fb_messages:
        return render_message(ctx, sim.fb_messages[object_id], specs)
    raise _missing(object_id, "GET")


def _bool_param(ctx: Ctx, name: str) -> bool | None:
    raw = ctx.req.param(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise GraphError(100, f"(#100) Param {name} must be a boolean")


def update_object(ctx: Ctx, object_id: str) -> JsonObj:
    """POST /{comment-id} with is_hidden=true|false."""
    comment = ctx.sim.fb_comments.get(object_id)
    if comment is None or comment.deleted:
        raise _missing(object_id, "POST")
    hidden = _bool_param(ctx, "is_hidden")
    if hidden is None:
        raise GraphError(100, "(#100) No supported parameter was given (is_hidden)")
    if comment.author_id == world.FB_PAGE_ID:
        raise GraphError(100, "(#100) A Page cannot hide its own comment")
    comment.is_hidden = hidden
    logger.debug("comment hidden flag set comment=%s hidden=%s", comment.id, hidden)
    return {"success": True}


def delete_object(ctx: Ctx, object_id: str) -> JsonObj:
    """DELETE /{comment-id}."""
    comment = ctx.sim.fb_comments.get(object_id)
    if comment is None or comment.deleted:
        raise _missing(object_id, "DELETE")
    comment.deleted = True
    logger.debug("comment deleted comment=%s", comment.id)
    return {"success": True}


def list_comments(ctx: Ctx, object_id: str) -> JsonObj:
    """GET /{post-or-comment-id}/comments with filter, order, fields, limit and cursors."""
    sim = ctx.sim
    stream = ctx.req.param("filter") == "stream"
    if object_id in sim.fb_posts:
        comments = _post_comments(ctx, sim.fb_posts[object_id], stream)
    else:
        comments = _comment_children(ctx, sim.fb_comments[object_id])
    order = ctx.req.param("order") or "chronological"
    if order == "reverse_chronological":
        comments = comments[::-1]
    elif order != "chronological":
        raise GraphError(
            100, "(#100) param order must be one of {chronological, reverse_chronological}"
        )
    since = _time_param(ctx, "since")
    if since is not None:
        comments = [c for c in comments if c.created >= since]
    specs = _fields(ctx)
    page = paginate(
        comments,
        [c.seq for c in comments],
        limit=_limit(ctx.req.param("limit")),
        after=ctx.req.param("after"),
        before=ctx.req.param("before"),
    )
    data: list[object] = [
        render_comment(ctx, c, specs) for c in page.items if isinstance(c, FbComment)
    ]
    body = edge_body(ctx, object_id, "comments", page, data)
    if (ctx.req.param("summary") or "").lower() in ("1", "true"):
        body["summary"] = {"order": order, "total_count": len(comments), "can_comment": True}
    return body


def _time_param(ctx: Ctx, name: str) -> float | None:
    raw = ctx.req.param(name)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise GraphError(100, f"(#100) Param {name} must be a unix timestamp") from exc


def create_comment(ctx: Ctx, object_id: str) -> JsonObj:
    """POST /{post-or-comment-id}/comments message=...: the Page comments or replies."""
    message = ctx.req.param("message")
    if not message:
        raise GraphError(100, "(#100) Missing message or attachment")
    target = ctx.sim.fb_comments.get(object_id)
    if target is not None and target.deleted:
        raise _missing(object_id, "POST")
    comment = ctx.sim.add_page_comment(object_id, message)
    logger.debug("page comment created comment=%s target=%s", comment.id, object_id)
    return {"id": comment.id}


def list_feed(ctx: Ctx) -> JsonObj:
    """GET /{page-id}/feed: newest first, since/until (unix seconds), cursors."""
    posts = sorted(ctx.sim.fb_posts.values(), key=lambda p: p.seq, reverse=True)
    since = _time_param(ctx, "since")
    until = _time_param(ctx, "until")
    if since is not None:
        posts = [p for p in posts if p.created >= since]
    if until is not None:
        posts = [p for p in posts if p.created <= until]
    specs = _fields(ctx)
    page = paginate(
        posts,
        [p.seq for p in posts],
        limit=_limit(ctx.req.param("limit")),
        after=ctx.req.param("after"),
        before=ctx.req.param("before"),
    )
    data: list[object] = [render_post(ctx, p, specs) for p in page.items if isinstance(p, FbPost)]
    return edge_body(ctx, world.FB_PAGE_ID, "feed", page, data)


def list_conversations(ctx: Ctx) -> JsonObj:
    """GET /{page-id}/conversations?platform=messenger[&user_id=PSID]: newest first."""
    platform = ctx.req.param("platform") or "messenger"
    if platform not in ("messenger", "instagram"):
        raise GraphError(100, "(#100) param platform must be one of {messenger, instagram}")
    conversations = sorted(ctx.sim.fb_conversations.values(), key=lambda c: c.updated, reverse=True)
    if platform == "instagram":
        conversations = []
    user_id = ctx.req.param("user_id")
    if user_id:
        conversations = [c for c in conversations if c.customer_id == user_id]
    # Conversations reorder as they update, so cursors here are offsets.
    specs = _fields(ctx)
    page = paginate(
        conversations,
        list(range(len(conversations))),
        limit=_limit(ctx.req.param("limit")),
        after=ctx.req.param("after"),
        before=ctx.req.param("before"),
    )
    data: list[object] = [
        render_conversation(ctx, c, specs) for c in page.items if isinstance(c, FbConversation)
    ]
    return edge_body(ctx, world.FB_PAGE_ID, "conversations", page, data)


def list_messages(ctx: Ctx, conversation_id: str) -> JsonObj:
    """GET /{conversation-id}/messages: newest first, cursors."""
    messages = _conversation_messages(ctx, ctx.sim.fb_conversations[conversation_id])
    specs = _fields(ctx)
    page = paginate(
        messages,
        [m.seq for m in messages],
        limit=_limit(ctx.req.param("limit")),
        after=ctx.req.param("after"),
        before=ctx.req.param("before"),
    )
    data: list[object] = [
        render_message(ctx, m, specs) for m in page.items if isinstance(m, FbMessage)
    ]
    return edge_body(ctx, conversation_id, "messages", page, data)


def _json_param(ctx: Ctx, name: str) -> dict[str, object]:
    raw = ctx.req.param(name)
    value: object = ctx.req.json_field(name) if raw is None else None
    if raw is not None:
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise GraphError(100, f"(#100) param {name} must be a JSON object") from exc
    if not isinstance(value, dict) or not value:
        raise GraphError(100, f"(#100) param {name} must be non-empty.")
    return {str(k): v for k, v in value.items()}


def send_message(ctx: Ctx) -> JsonObj:
    """POST /{page-id}/messages: Private Reply (recipient.comment_id) or Messenger reply."""
    sim = ctx.sim
    recipient = _json_param(ctx, "recipient")
    message = _json_param(ctx, "message")
    text = message.get("text")
    if not isinstance(text, str) or not text:
        raise GraphError(100, "(#100) param message must have text or attachment")
    messaging_type = ctx.req.param("messaging_type") or "RESPONSE"
    tag = ctx.req.param("tag")
    now = sim.now()
    comment_id = recipient.get("comment_id")
    if comment_id is not None:
        comment = sim.fb_comments.get(str(comment_id))
        if comment is None or comment.deleted:
            raise GraphError(100, "(#100) Invalid comment_id parameter", subcode=2018292)
        if comment.author_id == world.FB_PAGE_ID:
            raise GraphError(10902, "(#10902) This is not a Replyable activity")
        if any(p.comment_id == comment.id for p in sim.fb_private_replies):
            raise GraphError(10900, "(#10900) Activity already replied to")
        if now - comment.created > PRIVATE_REPLY_WINDOW_S:
            raise GraphError(
                10,
                "(#10) This message is sent outside of allowed window. Private replies "
                "must be sent within 7 days of the comment.",
                subcode=2018278,
            )
        conversation = sim.conversation_for(comment.author_id)
        sent = sim.add_fb_message(conversation, world.FB_PAGE_ID, comment.author_id, text)
        sim.fb_private_replies.append(
            PrivateReply(comment.id, sent.id, comment.author_id, text, now)
        )
        sim.fb_page_messages.append(
            PageMessage(
                sent.id,
                comment.author_id,
                conversation.id,
                text,
                now,
                messaging_type,
                tag,
                comment.id,
            )
        )
        logger.debug("private reply sent comment=%s message=%s", comment.id, sent.id)
        return {"recipient_id": comment.author_id, "message_id": sent.id}
    if "post_id" in recipient:
        raise GraphError(100, "(#100) Invalid post_id parameter", subcode=2018292)
    psid = recipient.get("id")
    if (
        not isinstance(psid, str | int)
        or str(psid) not in sim.fb_names
        or (str(psid) == world.FB_PAGE_ID)
    ):
        raise GraphError(100, "(#100) No matching user found", subcode=2018001)
    psid = str(psid)
    conversation = sim.conversation_for(psid)
    last = conversation.last_customer_message
    window = (
        HUMAN_AGENT_WINDOW_S
        if (messaging_type == "MESSAGE_TAG" and tag == "HUMAN_AGENT")
        else MESSENGER_WINDOW_S
    )
    if last is None or now - last > window:
        raise GraphError(
            10,
            "(#10) This message is sent outside of allowed window. Learn more about the new "
            "policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview",
            subcode=2018278,
        )
    sent = sim.add_fb_message(conversation, world.FB_PAGE_ID, psid, text)
    sim.fb_page_messages.append(
        PageMessage(sent.id, psid, conversation.id, text, now, messaging_type, tag, None)
    )
    logger.debug("messenger message sent conversation=%s message=%s", conversation.id, sent.id)
    return {"recipient_id": psid, "message_id": sent.id}


def debug_token(ctx: Ctx) -> JsonObj:
    """GET /debug_token?input_token=...: validity, expiry and scopes of a token."""
    raw = ctx.req.param("input_token")
    if not raw:
        raise GraphError(100, "(#100) The parameter input_token is required")
    token = ctx.sim.token(raw)
    if token is None or token.platform != "facebook":
        raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
    now = ctx.sim.now()
    valid = token.is_valid(now)
    data: JsonObj = {
        "app_id": world.FB_APP_ID,
        "type": "PAGE" if token.kind == "page" else "APP",
        "application": world.FB_APP_NAME,
        "data_access_expires_at": int(now) + 90 * 86400,
        "expires_at": 0 if token.expires_at is None else int(token.expires_at),
        "is_valid": valid,
        "scopes": list(token.scopes),
        "granular_scopes": [
            {"scope": s, "target_ids": [world.FB_PAGE_ID]}
            for s in token.scopes
            if s.startswith("pages_")
        ],
        "user_id": "3900000000000001",
    }
    if token.kind == "page":
        data["profile_id"] = world.FB_PAGE_ID
    if not valid:
        data["expires_at"] = int(now) - 3600
        data["error"] = {
            "code": 190,
            "message": "Error validating access token: Session has expired.",
            "subcode": 463,
        }
    return {"data": data}


def rate_limit_error(code: int, reset_after_s: int) -> tuple[GraphError, dict[str, str]]:
    """A throttling error (4, 17, 32, 613, 80001...) and its usage headers."""
    messages = {
        4: "(#4) Application request limit reached",
        17: "(#17) User request limit reached",
        32: "(#32) Page request limit reached",
        613: "(#613) Calls to this api have exceeded the rate limit.",
        80001: "(#80001) There have been too many calls to this Page account. Wait a bit and "
        "try again.",
        80006: "(#80006) There have been too many messaging requests to this Page account. "
        "Wait a bit and try again.",
    }
    minutes = max(1, -(-reset_after_s // 60))
    usage_type = "messenger" if code == 80006 else "pages"
    headers = {
        "x-app-usage": json.dumps(
            {"call_count": 100, "total_cputime": 35, "total_time": 41}, separators=(",", ":")
        ),
        "x-business-use-case-usage": json.dumps(
            {
                world.FB_PAGE_ID: [
                    {
                        "type": usage_type,
                        "call_count": 100,
                        "total_cputime": 35,
                        "total_time": 41,
                        "estimated_time_to_regain_access": minutes,
                    }
                ]
            },
            separators=(",", ":"),
        ),
    }
    err = GraphError(
        code,
        messages.get(code, f"(#{code}) Rate limit reached"),
        status=403,
        transient=True if code == 4 else None,
    )
    return err, headers
