"""Sign in with X: OAuth 2.0 Authorization Code with PKCE (S256), then the signed-in user's id.

Knows nothing of tickets or sessions: the caller keeps ``state`` and ``code_verifier`` between
the two steps. The access token exists only inside ``signed_in_user_id``: it is used for one
``GET /2/users/me``, revoked, and never returned.

oauthlib (the library under tweepy's ``OAuth2UserHandler``) builds the authorize URL, the PKCE
pair and the token request and checks the token answer; tweepy's ``Client`` reads the user.
``OAuth2UserHandler`` itself does not fit a web flow spread over two requests: it keeps the
verifier on a private attribute of one instance, and its ``fetch_token`` wants the whole
callback URL over https.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import requests
import tweepy  # type: ignore[import-untyped]  # tweepy ships no type information
from oauthlib.oauth2 import (  # type: ignore[import-untyped]  # oauthlib ships no types
    OAuth2Error,
    WebApplicationClient,
)

from channels_bridge._data import as_id, as_obj, from_epoch, get_obj, get_str
from channels_bridge.errors import (
    AuthExpired,
    BridgeError,
    PermissionDenied,
    PlatformError,
    RateLimited,
    TransientError,
)
from channels_bridge.http import BridgeSession, normalise_base_url

# Importing x also keeps tweepy's DEBUG records (they hold the Bearer token) out of the logs.
from channels_bridge.x import X_HOST, x_error

__all__ = ["AUTHORIZE_URL", "SCOPES", "SignInRequest", "XSignIn"]

logger = logging.getLogger(__name__)

# X's current hosts for the browser step; tweepy's API host for the server steps (as x.py).
X_WEB_HOST = "https://x.com/"
AUTHORIZE_URL = X_WEB_HOST + "i/oauth2/authorize"
TOKEN_URL = X_HOST + "2/oauth2/token"
REVOKE_URL = X_HOST + "2/oauth2/revoke"
# The least that GET /2/users/me accepts; no offline.access, so no refresh token is issued.
SCOPES = ("tweet.read", "users.read")
VERIFIER_LENGTH = 128  # RFC 7636 allows 43 to 128 characters
STATE_BYTES = 32
DEFAULT_RETRY_AFTER = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class SignInRequest:
    """Where to send the browser, and what the caller must keep until the callback."""

    url: str = field(repr=False)
    state: str = field(repr=False)
    code_verifier: str = field(repr=False)


class XSignIn:
    """One X app's OAuth 2.0 client: the authorize URL, and the code exchanged for a user id.

    ``client_secret`` makes it a confidential client (HTTP Basic at the token endpoint, as X
    requires); without it the client is public and sends only its id. ``base_url`` points
    every X host (x.com and the API) at one other host, e.g. the simulator. Every call has
    ``timeout`` (seconds). Holds no per-sign-in state, so one instance may serve many.
    """

    def __init__(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        client_secret: str | None = None,
        base_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not client_id:
            raise ValueError("x sign-in needs a client id")
        if urlsplit(redirect_uri).scheme not in {"http", "https"}:
            raise ValueError("x sign-in needs an http(s) redirect URI")
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self._client_secret = client_secret or None
        self._timeout = timeout
        self._base = normalise_base_url(base_url) + "/" if base_url else None

    def __repr__(self) -> str:
        return f"XSignIn(client_id={self.client_id[:6]}…, confidential={self.confidential})"

    @property
    def confidential(self) -> bool:
        return self._client_secret is not None

    @property
    def authorize_origin(self) -> str:
        """The origin the browser is sent to (for the page's CSP ``form-action``)."""
        parts = urlsplit(self._web(AUTHORIZE_URL))
        return f"{parts.scheme}://{parts.netloc}"

    # -- step 1: the browser goes to X -----------------------------------------------------

    def begin(self) -> SignInRequest:
        """A fresh ``state`` and PKCE verifier, and the authorize URL with the S256 challenge."""
        client = WebApplicationClient(self.client_id)
        state = secrets.token_urlsafe(STATE_BYTES)
        verifier = client.create_code_verifier(VERIFIER_LENGTH)
        url = client.prepare_request_uri(
            AUTHORIZE_URL,
            redirect_uri=self.redirect_uri,
            scope=list(SCOPES),
            state=state,
            code_challenge=client.create_code_challenge(verifier, "S256"),
            code_challenge_method="S256",
        )
        return SignInRequest(url=self._web(url), state=state, code_verifier=verifier)

    # -- step 2: the callback's code becomes a user id -------------------------------------

    def signed_in_user_id(self, *, code: str, code_verifier: str) -> str:
        """Exchange ``code`` (with the verifier of ``begin``) and return the X user's id.

        The token is revoked before this returns. Raises ``PermissionDenied`` when X refuses
        the code or verifier (``code`` is X's OAuth error, e.g. ``invalid_request``),
        ``AuthExpired`` when X refuses the client itself, ``RateLimited``,
        ``TransientError`` (network, timeouts, 5xx) or ``PlatformError``.
        """
        session = self._session()
        try:
            token = self._exchange(session, code=code, code_verifier=code_verifier)
            try:
                return self._me(session, token)
            finally:
                self._revoke(session, token)
        finally:
            session.close()

    # -- plumbing ------------------------------------------------------------------------

    def _web(self, url: str) -> str:
        if self._base is not None and url.startswith(X_WEB_HOST):
            return self._base + url[len(X_WEB_HOST) :]
        return url

    def _session(self) -> BridgeSession:
        rewrites = {X_HOST: self._base} if self._base is not None else None
        return BridgeSession(timeout=self._timeout, rewrites=rewrites)

    def _auth(self) -> requests.auth.HTTPBasicAuth | None:
        if self._client_secret is None:
            return None
        return requests.auth.HTTPBasicAuth(self.client_id, self._client_secret)

    def _post(
        self, session: BridgeSession, url: str, body: str | dict[str, str]
    ) -> requests.Response:
        try:
            return session.post(
                url,
                data=body,
                auth=self._auth(),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                },
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise TransientError(f"x sign-in call failed: {type(exc).__name__}") from None

    def _exchange(self, session: BridgeSession, *, code: str, code_verifier: str) -> str:
        client = WebApplicationClient(self.client_id)
        body = client.prepare_request_body(
            code=code,
            redirect_uri=self.redirect_uri,
            include_client_id=True,
            code_verifier=code_verifier,
        )
        response = self._post(session, TOKEN_URL, body)
        error = _token_error(response)
        if error is not None:
            logger.warning(
                "x sign-in token refused error=%s status=%s code=%s",
                type(error).__name__,
                error.status,
                error.code,
            )
            raise error
        try:
            token = client.parse_request_body_response(response.text, scope=list(SCOPES))
        except OAuth2Error as exc:
            refused = PermissionDenied(
                f"x sign-in token refused error={exc.error}",
                code=exc.error,
                status=response.status_code,
            )
            logger.warning("x sign-in token refused status=%s code=%s", refused.status, exc.error)
            raise refused from None
        except (ValueError, Warning) as exc:
            # Warning: X granted other scopes than asked. Neither carries anything worth logging
            # (oauthlib's Warning even holds the token), so only the class is named.
            raise PlatformError(f"x sign-in token answer unusable: {type(exc).__name__}") from None
        access_token = token.get("access_token")
        if not isinstance(access_token, str) or str(token.get("token_type", "")).lower() != (
            "bearer"
        ):
            raise PlatformError("x sign-in token answer has no bearer token")
        return access_token

    def _me(self, session: BridgeSession, access_token: str) -> str:
        client = tweepy.Client(
            bearer_token=access_token, return_type=dict, wait_on_rate_limit=False
        )
        client.session = session
        try:
            answer = client.get_me(user_auth=False)
        except (tweepy.TweepyException, requests.RequestException) as exc:
            error = x_error(exc, write=False, now=datetime.now(UTC))
            logger.warning(
                "x sign-in users/me failed error=%s code=%s", type(error).__name__, error.code
            )
            raise error from None
        data = get_obj(as_obj(answer), "data")
        user_id = as_id(data.get("id"), strict=True) if data is not None else None
        if user_id is None:
            raise PlatformError("x sign-in users/me answered without a user id")
        return user_id

    def _revoke(self, session: BridgeSession, access_token: str) -> None:
        """Best effort: the token would expire on its own within two hours."""
        body = {"token": access_token, "token_type_hint": "access_token"}
        if self._client_secret is None:
            body["client_id"] = self.client_id
        try:
            response = self._post(session, REVOKE_URL, body)
        except BridgeError as exc:
            logger.warning("x sign-in token not revoked error=%s", type(exc).__name__)
            return
        if response.status_code != 200:
            logger.warning("x sign-in token not revoked status=%s", response.status_code)


def _token_error(response: requests.Response) -> BridgeError | None:
    """The bridge error for a token-endpoint answer that oauthlib should not parse."""
    status = response.status_code
    if status < 400 and status != 200:
        return PlatformError(f"x sign-in token status={status}", status=status)
    if status == 429:
        reset = from_epoch(response.headers.get("x-rate-limit-reset"))
        now = datetime.now(UTC)
        retry_at = max(reset, now) if reset is not None else now + DEFAULT_RETRY_AFTER
        return RateLimited(retry_at, "x sign-in rate limited", status=status)
    if status >= 500:
        return TransientError(f"x sign-in token status={status}", status=status)
    if status == 401:
        try:
            code = get_str(as_obj(response.json()), "error")
        except ValueError:
            code = None
        return AuthExpired("x sign-in client refused", code=code, status=status)
    return None
