"""X's OAuth 2.0 endpoints for "Sign in with X" in the simulator: authorize, token, revoke.

Authorization Code with PKCE as X runs it: ``GET /i/oauth2/authorize`` (on x.com), then
``POST /2/oauth2/token`` and ``POST /2/oauth2/revoke`` (on the API host). The authorize step
approves at once as a simulated user instead of asking a person; error bodies follow RFC 6749
(``{"error", "error_description"}``), as X's do.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import logging
import secrets
from urllib.parse import unquote, urlencode, urlsplit

from channels_bridge.simulator import world
from channels_bridge.simulator.state import OAuthCode, Simulator, Token
from channels_bridge.simulator.wire import JsonObj, Request, Response, json_response

logger = logging.getLogger(__name__)

AUTHORIZE_PATH = "/i/oauth2/authorize"
TOKEN_PATH = "/2/oauth2/token"  # noqa: S105 - a path
REVOKE_PATH = "/2/oauth2/revoke"
PATHS = frozenset({AUTHORIZE_PATH, TOKEN_PATH, REVOKE_PATH})

CODE_LIFETIME_S = 30  # X: "valid for 30 seconds"
TOKEN_LIFETIME_S = 7200
OAUTH_CONTENT_TYPE = "application/json;charset=UTF-8"
KNOWN_SCOPES = frozenset(
    {
        "tweet.read",
        "tweet.write",
        "tweet.moderate.write",
        "users.email",
        "users.read",
        "follows.read",
        "follows.write",
        "offline.access",
        "space.read",
        "mute.read",
        "mute.write",
        "like.read",
        "like.write",
        "list.read",
        "list.write",
        "block.read",
        "block.write",
        "bookmark.read",
        "bookmark.write",
        "dm.read",
        "dm.write",
        "media.write",
    }
)
# Confidential clients authenticate with HTTP Basic; public clients send client_id in the body.
CLIENTS: dict[str, str | None] = {
    world.X_OAUTH2_CLIENT_ID: world.X_OAUTH2_CLIENT_SECRET,
    world.X_OAUTH2_PUBLIC_CLIENT_ID: None,
}
_ERROR_PAGE = (
    "<!DOCTYPE html><html><head><title>X</title></head><body><h1>Something went wrong</h1>"
    "<p>You weren't able to give access to the App. Go back and try logging in again.</p>"
    "</body></html>"
)


def is_oauth_path(path: str) -> bool:
    return path in PATHS


def handle(sim: Simulator, req: Request) -> Response:
    """Answer one OAuth 2.0 request (the path is one of ``PATHS``)."""
    with sim.lock:
        if req.path == AUTHORIZE_PATH and req.method == "GET":
            return authorize(sim, req)
        if req.path == TOKEN_PATH and req.method == "POST":
            return token(sim, req)
        if req.path == REVOKE_PATH and req.method == "POST":
            return revoke(sim, req)
    return oauth_error(405, "invalid_request", "Method not allowed.")


# -- authorize (the browser's step) -------------------------------------------------------------


def _error_page() -> Response:
    return Response(400, _ERROR_PAGE.encode(), "text/html; charset=utf-8")


def _redirect(redirect_uri: str, params: dict[str, str]) -> Response:
    joiner = "&" if urlsplit(redirect_uri).query else "?"
    location = redirect_uri + joiner + urlencode(params)
    return Response(302, b"", "text/html; charset=utf-8", {"Location": location})


def _user_for(sim: Simulator, choice: str) -> str | None:
    """An X user id from a customer key, a handle or an id; None when unknown."""
    for customer in world.CUSTOMERS:
        if choice in (customer.key, customer.x_id, customer.x_username):
            return customer.x_id
    return choice if choice in sim.x_users else None


def authorize(sim: Simulator, req: Request) -> Response:
    """``GET /i/oauth2/authorize``: approve (or deny) at once and redirect with the code.

    ``sim_user`` (customer key, handle or X id) picks who approves; without it
    ``sim.x_oauth_user`` does; without both a page offers every simulated customer.
    ``sim_deny=1`` answers as a person who pressed "Cancel".
    """
    client_id = req.param("client_id") or ""
    redirect_uri = req.param("redirect_uri") or ""
    if client_id not in CLIENTS or urlsplit(redirect_uri).scheme not in ("http", "https"):
        logger.info("x oauth authorize refused: unknown client or redirect")
        return _error_page()
    state = req.param("state") or ""
    scopes = tuple((req.param("scope") or "").split())
    challenge = req.param("code_challenge") or ""
    method = req.param("code_challenge_method") or "plain"

    def refuse(error: str, description: str) -> Response:
        return _redirect(
            redirect_uri, {"error": error, "error_description": description, "state": state}
        )

    if req.param("response_type") != "code":
        return refuse("unsupported_response_type", "Only response_type=code is supported.")
    if not scopes or not set(scopes) <= KNOWN_SCOPES:
        return refuse("invalid_scope", "The scope is missing or unknown.")
    if not state or not challenge or method not in ("S256", "plain"):
        return refuse("invalid_request", "state and a PKCE code_challenge are required.")
    if req.param("sim_deny") in ("1", "true"):
        return _redirect(redirect_uri, {"error": "access_denied", "state": state})
    choice = req.param("sim_user") or sim.x_oauth_user
    if not choice:
        return _choose_page(req)
    user_id = _user_for(sim, choice)
    if user_id is None:
        return _error_page()
    code = secrets.token_urlsafe(48)
    sim.x_oauth_codes[code] = OAuthCode(
        value=code,
        client_id=client_id,
        redirect_uri=redirect_uri,
        code_challenge=challenge,
        code_challenge_method=method,
        user_id=user_id,
        scopes=scopes,
        expires_at=sim.now() + CODE_LIFETIME_S,
    )
    sim.x_oauth_counts["codes"] += 1
    logger.info("x oauth code issued client=%s", client_id[:8])
    return _redirect(redirect_uri, {"state": state, "code": code})


def _choose_page(req: Request) -> Response:
    """The demo's stand-in for X's consent screen: one link per simulated account."""
    base = {k: v[0] for k, v in req.query.items() if v and not k.startswith("sim_")}
    items = [
        f'<li><a href="{AUTHORIZE_PATH}?{html.escape(urlencode({**base, "sim_user": c.key}))}">'
        f"Authorize as @{html.escape(c.x_username)} ({html.escape(c.name)})</a></li>"
        for c in world.CUSTOMERS
    ]
    cancel = html.escape(urlencode({**base, "sim_deny": "1"}))
    body = (
        "<!DOCTYPE html><html><head><title>Authorize app - simulated X</title></head><body>"
        "<h1>Simulated X: authorize the app?</h1><p>Choose the account you are signed in as."
        f"</p><ul>{''.join(items)}</ul>"
        f'<p><a href="{AUTHORIZE_PATH}?{cancel}">Cancel</a></p></body></html>'
    )
    return Response(200, body.encode(), "text/html; charset=utf-8")


# -- token and revoke (the server's steps) -------------------------------------------------------


def oauth_error(status: int, error: str, description: str) -> Response:
    """X's token-endpoint error answer."""
    body: JsonObj = {"error": error, "error_description": description}
    return json_response(status, body, content_type=OAUTH_CONTENT_TYPE)


def _client(req: Request) -> str | None:
    """The authenticated client id: Basic for confidential clients, body for public ones."""
    scheme, _, rest = req.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            pair = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, _, secret = pair.partition(":")
        client_id, secret = unquote(client_id), unquote(secret)
        expected = CLIENTS.get(client_id)
        if expected is None or not hmac.compare_digest(secret, expected):
            return None
        return client_id
    client_id = req.param("client_id") or ""
    if client_id in CLIENTS and CLIENTS[client_id] is None:
        return client_id
    return None


def _challenge(verifier: str, method: str) -> str:
    if method == "plain":
        return verifier
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token(sim: Simulator, req: Request) -> Response:
    """``POST /2/oauth2/token`` with ``grant_type=authorization_code``: a Bearer user token.

    The code is single use and checked against its client, redirect URI and PKCE challenge.
    """
    client_id = _client(req)
    if client_id is None:
        return oauth_error(401, "unauthorized_client", "Missing valid authorization header")
    if req.param("grant_type") != "authorization_code":
        return oauth_error(400, "unsupported_grant_type", "Only authorization_code is supported.")
    invalid = oauth_error(
        400, "invalid_request", "Value passed for the authorization code was invalid."
    )
    grant = sim.x_oauth_codes.get(req.param("code") or "")
    if grant is None or grant.used or grant.client_id != client_id:
        return invalid
    grant.used = True  # one try, right or wrong
    verifier = req.param("code_verifier") or ""
    if (
        grant.expires_at <= sim.now()
        or grant.redirect_uri != (req.param("redirect_uri") or "")
        or not 43 <= len(verifier) <= 128
        or not hmac.compare_digest(
            _challenge(verifier, grant.code_challenge_method), grant.code_challenge
        )
    ):
        logger.info("x oauth token refused client=%s", client_id[:8])
        return invalid
    value = secrets.token_urlsafe(64)
    sim.tokens[value] = Token(
        value,
        "x",
        "oauth2_user",
        grant.user_id,
        expires_at=sim.now() + TOKEN_LIFETIME_S,
        scopes=grant.scopes,
    )
    sim.x_oauth_counts["tokens"] += 1
    logger.info("x oauth token issued client=%s", client_id[:8])
    return json_response(
        200,
        {
            "token_type": "bearer",
            "expires_in": TOKEN_LIFETIME_S,
            "access_token": value,
            "scope": " ".join(grant.scopes),
        },
        content_type=OAUTH_CONTENT_TYPE,
    )


def revoke(sim: Simulator, req: Request) -> Response:
    """``POST /2/oauth2/revoke``: forget an access token issued here."""
    if _client(req) is None:
        return oauth_error(401, "unauthorized_client", "Missing valid authorization header")
    value = req.param("token") or ""
    issued = sim.tokens.get(value)
    # Only tokens from the token endpoint carry scopes; the seeded brand token stays.
    if issued is not None and issued.kind == "oauth2_user" and issued.scopes:
        del sim.tokens[value]
        sim.x_oauth_counts["revoked"] += 1
    return json_response(200, {"revoked": True}, content_type=OAUTH_CONTENT_TYPE)
