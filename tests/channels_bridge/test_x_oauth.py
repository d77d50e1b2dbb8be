"""Sign in with X in the bridge: oauthlib and tweepy over real HTTP against the simulator's
OAuth 2.0 endpoints (authorize, token, revoke) and GET /2/users/me."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from channels_bridge.errors import AuthExpired, PermissionDenied, RateLimited, TransientError
from channels_bridge.simulator import RunningSimulator, world
from channels_bridge.x_oauth import AUTHORIZE_URL, SCOPES, XSignIn

CALLBACK = "https://portal.example/portal/x-sign-in/callback"
TOM = world.customer_by_key("tom")
LENA = world.customer_by_key("lena")


def confidential(sim: RunningSimulator, **kwargs: object) -> XSignIn:
    return XSignIn(
        client_id=world.X_OAUTH2_CLIENT_ID,
        client_secret=world.X_OAUTH2_CLIENT_SECRET,
        redirect_uri=CALLBACK,
        base_url=sim.base_url,
        **kwargs,  # type: ignore[arg-type]
    )


def approve(url: str, **params: str) -> dict[str, str]:
    """The browser's visit to X's authorize page: the callback's query parameters."""
    answer = requests.get(url, params=params, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def live_customer_tokens(sim: RunningSimulator) -> list[dict[str, object]]:
    return [
        t
        for t in sim.sim.snapshot()["tokens"]  # type: ignore[union-attr]
        if t["kind"] == "oauth2_user"  # type: ignore[index]
        and t["account_id"] != world.X_BRAND_ID  # type: ignore[index]
        and t["valid"]  # type: ignore[index]
    ]


def test_x_sign_in_authorize_url_carries_s256_challenge_of_the_verifier(
    sim: RunningSimulator,
) -> None:
    sign_in = confidential(sim)

    first, second = sign_in.begin(), sign_in.begin()

    params = query(first.url)
    digest = hashlib.sha256(first.code_verifier.encode()).digest()
    assert first.url.startswith(f"{sim.base_url}/i/oauth2/authorize?")
    assert params["response_type"] == "code"
    assert params["client_id"] == world.X_OAUTH2_CLIENT_ID
    assert params["redirect_uri"] == CALLBACK
    assert params["scope"].split() == list(SCOPES)
    assert params["state"] == first.state
    assert params["code_challenge_method"] == "S256"
    assert params["code_challenge"] == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert len(first.code_verifier) == 128
    assert "client_secret" not in first.url
    assert first.state != second.state
    assert first.code_verifier != second.code_verifier
    assert sign_in.authorize_origin == sim.base_url


def test_x_sign_in_real_host_is_x_com() -> None:
    sign_in = XSignIn(client_id="abc", redirect_uri=CALLBACK)

    assert sign_in.begin().url.startswith(AUTHORIZE_URL + "?")
    assert sign_in.authorize_origin == "https://x.com"


def test_x_sign_in_returns_user_id_and_revokes_token(sim: RunningSimulator) -> None:
    sign_in = confidential(sim)
    begun = sign_in.begin()
    callback = approve(begun.url, sim_user="tom")

    user_id = sign_in.signed_in_user_id(code=callback["code"], code_verifier=begun.code_verifier)

    assert callback["state"] == begun.state
    assert user_id == TOM.x_id
    assert sim.sim.snapshot()["x"]["oauth2"] == {"codes": 1, "tokens": 1, "revoked": 1}  # type: ignore[index]
    assert live_customer_tokens(sim) == []


def test_x_sign_in_public_client_needs_no_secret(sim: RunningSimulator) -> None:
    sign_in = XSignIn(
        client_id=world.X_OAUTH2_PUBLIC_CLIENT_ID, redirect_uri=CALLBACK, base_url=sim.base_url
    )
    begun = sign_in.begin()
    callback = approve(begun.url, sim_user="lena")

    assert not sign_in.confidential
    assert sign_in.signed_in_user_id(code=callback["code"], code_verifier=begun.code_verifier) == (
        LENA.x_id
    )
    assert live_customer_tokens(sim) == []


def test_x_sign_in_refuses_wrong_pkce_verifier(sim: RunningSimulator) -> None:
    sign_in = confidential(sim)
    begun = sign_in.begin()
    callback = approve(begun.url, sim_user="tom")

    with pytest.raises(PermissionDenied) as refused:
        sign_in.signed_in_user_id(code=callback["code"], code_verifier="v" * 128)

    assert refused.value.code == "invalid_request"
    assert refused.value.status == 400
    assert sim.sim.snapshot()["x"]["oauth2"]["tokens"] == 0  # type: ignore[index]


def test_x_sign_in_code_is_single_use(sim: RunningSimulator) -> None:
    sign_in = confidential(sim)
    begun = sign_in.begin()
    callback = approve(begun.url, sim_user="tom")
    sign_in.signed_in_user_id(code=callback["code"], code_verifier=begun.code_verifier)

    with pytest.raises(PermissionDenied):
        sign_in.signed_in_user_id(code=callback["code"], code_verifier=begun.code_verifier)


def test_x_sign_in_refuses_expired_code(sim: RunningSimulator) -> None:
    sign_in = confidential(sim)
    begun = sign_in.begin()
    callback = approve(begun.url, sim_user="tom")
    sim.sim.advance_clock(31)

    with pytest.raises(PermissionDenied):
        sign_in.signed_in_user_id(code=callback["code"], code_verifier=begun.code_verifier)


def test_x_sign_in_code_is_bound_to_its_redirect_uri(sim: RunningSimulator) -> None:
    begun = confidential(sim).begin()
    callback = approve(begun.url, sim_user="tom")
    elsewhere = XSignIn(
        client_id=world.X_OAUTH2_CLIENT_ID,
        client_secret=world.X_OAUTH2_CLIENT_SECRET,
        redirect_uri="https://evil.example/callback",
        base_url=sim.base_url,
    )

    with pytest.raises(PermissionDenied):
        elsewhere.signed_in_user_id(code=callback["code"], code_verifier=begun.code_verifier)


def test_x_sign_in_wrong_client_secret_is_auth_expired(sim: RunningSimulator) -> None:
    begun = confidential(sim).begin()
    callback = approve(begun.url, sim_user="tom")
    wrong = XSignIn(
        client_id=world.X_OAUTH2_CLIENT_ID,
        client_secret="not-the-secret",
        redirect_uri=CALLBACK,
        base_url=sim.base_url,
    )

    with pytest.raises(AuthExpired) as refused:
        wrong.signed_in_user_id(code=callback["code"], code_verifier=begun.code_verifier)

    assert refused.value.code == "unauthorized_client"


def test_x_sign_in_rate_limited_token_endpoint(sim: RunningSimulator) -> None:
    sign_in = confidential(sim)
    begun = sign_in.begin()
    callback = approve(begun.url, sim_user="tom")
    sim.sim.add_fault("rate_limit", platform="x", path="/2/oauth2/token", reset_after_s=120)

    with pytest.raises(RateLimited) as limited:
        sign_in.signed_in_user_id(code=callback["code"], code_verifier=begun.code_verifier)

    assert limited.value.retry_at > datetime.now(UTC)


def test_x_sign_in_server_error_is_transient(sim: RunningSimulator) -> None:
    sign_in = confidential(sim)
    begun = sign_in.begin()
    callback = approve(begun.url, sim_user="tom")
    sim.sim.add_fault("server_error", platform="x", path="/2/oauth2/token", status=503)

    with pytest.raises(TransientError):
        sign_in.signed_in_user_id(code=callback["code"], code_verifier=begun.code_verifier)


def test_x_sign_in_times_out(sim: RunningSimulator) -> None:
    sign_in = confidential(sim, timeout=0.2)
    begun = sign_in.begin()
    callback = approve(begun.url, sim_user="tom")
    sim.sim.add_fault("slow", platform="x", path="/2/oauth2/token", delay_ms=1500)

    with pytest.raises(TransientError):
        sign_in.signed_in_user_id(code=callback["code"], code_verifier=begun.code_verifier)


def test_x_sign_in_users_me_refused_still_revokes_token(sim: RunningSimulator) -> None:
    sign_in = confidential(sim)
    begun = sign_in.begin()
    callback = approve(begun.url, sim_user="tom")
    sim.sim.add_fault("expired_token", platform="x", method="GET", path="/2/users/me")

    with pytest.raises(AuthExpired):
        sign_in.signed_in_user_id(code=callback["code"], code_verifier=begun.code_verifier)

    assert sim.sim.snapshot()["x"]["oauth2"]["revoked"] == 1  # type: ignore[index]
    assert live_customer_tokens(sim) == []


def test_x_sign_in_repr_shows_no_secret(sim: RunningSimulator) -> None:
    sign_in = confidential(sim)
    begun = sign_in.begin()

    shown = repr(begun) + repr(sign_in)

    assert begun.state not in shown
    assert begun.code_verifier not in shown
    assert world.X_OAUTH2_CLIENT_SECRET not in shown
    assert world.X_OAUTH2_CLIENT_ID not in shown


# --- the simulator's side ---------------------------------------------------------------------


def test_simulator_authorize_denied_redirects_with_access_denied(sim: RunningSimulator) -> None:
    begun = confidential(sim).begin()

    callback = approve(begun.url, sim_deny="1")

    assert callback == {"error": "access_denied", "state": begun.state}


def test_simulator_authorize_uses_configured_user(sim: RunningSimulator) -> None:
    sign_in = confidential(sim)
    begun = sign_in.begin()
    sim.sim.x_oauth_user = "lena"

    callback = approve(begun.url)

    assert sign_in.signed_in_user_id(code=callback["code"], code_verifier=begun.code_verifier) == (
        LENA.x_id
    )


def test_simulator_authorize_without_user_offers_every_customer(sim: RunningSimulator) -> None:
    begun = confidential(sim).begin()

    page = requests.get(begun.url, allow_redirects=False, timeout=5)

    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    for customer in world.CUSTOMERS:
        assert f"sim_user={customer.key}" in page.text
    assert "sim_deny=1" in page.text


def test_simulator_authorize_refuses_unknown_client(sim: RunningSimulator) -> None:
    begun = XSignIn(client_id="unknown", redirect_uri=CALLBACK, base_url=sim.base_url).begin()

    page = requests.get(begun.url, params={"sim_user": "tom"}, allow_redirects=False, timeout=5)

    assert page.status_code == 400
    assert "Location" not in page.headers


def test_simulator_authorize_requires_pkce(sim: RunningSimulator) -> None:
    url = f"{sim.base_url}/i/oauth2/authorize"
    params = {
        "response_type": "code",
        "client_id": world.X_OAUTH2_CLIENT_ID,
        "redirect_uri": CALLBACK,
        "scope": "tweet.read users.read",
        "state": "s" * 20,
        "sim_user": "tom",
    }

    callback = approve(url, **params)

    assert callback["error"] == "invalid_request"
    assert "code" not in callback


def test_simulator_users_me_needs_users_read_scope(sim: RunningSimulator) -> None:
    begun = confidential(sim).begin()
    narrow = begun.url.replace("scope=tweet.read+users.read", "scope=tweet.read").replace(
        "scope=tweet.read%20users.read", "scope=tweet.read"
    )
    assert narrow != begun.url
    callback = approve(narrow, sim_user="tom")
    token = requests.post(
        f"{sim.base_url}/2/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": callback["code"],
            "redirect_uri": CALLBACK,
            "code_verifier": begun.code_verifier,
            "client_id": world.X_OAUTH2_CLIENT_ID,
        },
        auth=(world.X_OAUTH2_CLIENT_ID, world.X_OAUTH2_CLIENT_SECRET),
        timeout=5,
    ).json()

    me = requests.get(
        f"{sim.base_url}/2/users/me",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=5,
    )

    assert token["scope"] == "tweet.read"
    assert me.status_code == 403


def test_simulator_control_sets_and_reset_clears_oauth_user(sim: RunningSimulator) -> None:
    answer = requests.post(
        f"{sim.base_url}/_sim/settings", json={"x_oauth_user": "lena"}, timeout=5
    ).json()
    sim.sim.reset()

    assert answer["x_oauth_user"] == "lena"
    assert sim.sim.x_oauth_user is None
