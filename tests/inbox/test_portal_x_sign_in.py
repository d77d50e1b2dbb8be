"""Sign in with X on the customer portal (SECURITY-DESIGN.md §1, row 3): the drop-box button,
X's callback, and the one-ticket portal session it gives only to the post's author.

Real HTTP: the portal talks to the platform simulator's OAuth 2.0 endpoints, and the tests play
the browser's visit to X's authorize page with ``requests``.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from channels_bridge.simulator import RunningSimulator, start_simulator, world
from inbox import portal_selectors, services
from inbox.forms_channels import CredentialsForm
from inbox.models import AuditEvent, MessageKind, MessageSource, PortalGrant, Ticket
from inbox.services import portal as portal_services
from inbox.services import secrets
from inbox.services.threads import add_message
from tests import factories
from tests.conftest import HttpsClient

pytestmark = pytest.mark.django_db
TOM = world.customer_by_key("tom")
SOCIAL_TEXT = "My parcel 4711 never came"
CALLBACK_PATH = "/portal/x-sign-in/callback"
FAILED_PATH = "/portal/x-sign-in/failed"


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSimulator]:
    with start_simulator() as sim:
        yield sim


@pytest.fixture
def sim(running: RunningSimulator) -> RunningSimulator:
    running.sim.reset()
    return running


def x_channel(
    team: factories.Team, sim: RunningSimulator, *, client: bool = True
) -> factories.Channel:
    credentials = {"user_id": world.X_BRAND_ID, "access_token": "synthetic-token"}
    if client:
        credentials["oauth2_client_id"] = world.X_OAUTH2_CLIENT_ID
        credentials["oauth2_client_secret"] = world.X_OAUTH2_CLIENT_SECRET
    return factories.make_channel(team=team, credentials=credentials, api_base_url=sim.base_url)


@pytest.fixture
def x_ticket(team: factories.Team, sim: RunningSimulator) -> Ticket:
    ticket = factories.make_ticket(
        channel=x_channel(team, sim), author_external_id=TOM.x_id, language="en"
    )
    add_message(
        ticket=ticket, kind=MessageKind.INBOUND, source=MessageSource.SOCIAL, body=SOCIAL_TEXT
    )
    return ticket


@pytest.fixture
def drop_ref(x_ticket: Ticket) -> str:
    return secrets.issue_drop_ref(ticket=x_ticket)


def start(client: Client, drop_ref: str) -> str:
    """Press the drop-box page's button: X's authorize URL."""
    assert client.get(f"/s/{drop_ref}").status_code == 200
    response = client.post(f"/s/{drop_ref}/x-sign-in")
    assert response.status_code == 303
    return str(response["Location"])


def approve(url: str, user: str = "tom") -> str:
    """The customer approves at (simulated) X: the callback path and query X redirects to."""
    answer = requests.get(url, params={"sim_user": user}, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(f"{settings.HAVEN_BASE_URL}{CALLBACK_PATH}?")
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"


def query_value(url: str, name: str) -> str:
    found = re.search(rf"[?&]{name}=([^&]+)", url)
    assert found is not None
    return found.group(1)


def failed(response: object) -> bool:
    return (
        getattr(response, "status_code", None) == 303 and response["Location"] == FAILED_PATH  # type: ignore[index]
    )


# --- the button -------------------------------------------------------------------------------


def test_drop_page_offers_x_sign_in_when_channel_has_client(
    client: Client, drop_ref: str, sim: RunningSimulator
) -> None:
    page = client.get(f"/s/{drop_ref}")

    html = page.content.decode()
    assert "Sign in with X to read your conversation" in html
    assert f'action="/s/{drop_ref}/x-sign-in"' in html
    assert SOCIAL_TEXT not in html
    assert f"form-action 'self' {sim.base_url};" in page["Content-Security-Policy"]


def test_drop_page_x_sign_in_in_german(client: Client, drop_ref: str) -> None:
    html = client.get(f"/s/{drop_ref}", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9").content.decode()

    assert "Mit X anmelden und die Unterhaltung lesen" in html
    assert "Sign in with X" not in html


def test_drop_page_has_no_x_sign_in_without_client(
    client: Client, team: factories.Team, sim: RunningSimulator
) -> None:
    ticket = factories.make_ticket(
        channel=x_channel(team, sim, client=False), author_external_id=TOM.x_id
    )
    drop_ref = secrets.issue_drop_ref(ticket=ticket)

    page = client.get(f"/s/{drop_ref}")
    pressed = client.post(f"/s/{drop_ref}/x-sign-in")

    assert "Sign in with X" not in page.content.decode()
    assert "form-action 'self';" in page["Content-Security-Policy"]
    assert failed(pressed)
    assert portal_services.X_SIGN_IN_KEY not in client.session


def test_drop_page_has_no_x_sign_in_for_facebook_ticket(
    client: Client, team: factories.Team
) -> None:
    channel = factories.make_channel(
        team=team,
        platform="facebook",
        credentials={"page_id": "1", "page_access_token": "t", "oauth2_client_id": "c"},
    )
    ticket = factories.make_ticket(channel=channel, author_external_id="3100000000000001")

    page = client.get(f"/s/{secrets.issue_drop_ref(ticket=ticket)}")

    assert "Sign in with X" not in page.content.decode()


def test_x_sign_in_start_needs_post_with_csrf(drop_ref: str) -> None:
    browser = Client(enforce_csrf_checks=True)

    got = browser.get(f"/s/{drop_ref}/x-sign-in", secure=True)
    posted = browser.post(f"/s/{drop_ref}/x-sign-in", secure=True)

    assert got.status_code == 405
    assert posted.status_code == 403
    assert portal_services.X_SIGN_IN_KEY not in browser.session


def test_x_sign_in_start_keeps_state_and_verifier_only_in_session(
    client: Client, drop_ref: str, x_ticket: Ticket
) -> None:
    url = start(client, drop_ref)

    pending = client.session[portal_services.X_SIGN_IN_KEY]
    assert pending["ticket"] == str(x_ticket.public_id)
    assert query_value(url, "state") == pending["state"]
    assert pending["verifier"] not in url
    assert query_value(url, "code_challenge_method") == "S256"
    assert pending["expires"] > 0


def test_x_sign_in_start_with_dead_drop_ref_is_link_invalid(
    client: Client, x_ticket: Ticket
) -> None:
    response = client.post("/s/" + "D" * 22 + "/x-sign-in")

    assert response.status_code == 404
    assert "This link does not work any more" in response.content.decode()


# --- the callback -------------------------------------------------------------------------------


def test_x_sign_in_opens_thread_for_author_and_rotates_session(
    client: Client, drop_ref: str, x_ticket: Ticket, sim: RunningSimulator
) -> None:
    callback = approve(start(client, drop_ref))
    before = client.cookies[settings.SESSION_COOKIE_NAME].value

    response = client.get(callback)

    assert set(response.cookies) <= {settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME}
    assert response["Cache-Control"] == "no-store"
    assert response.status_code == 303
    assert response["Location"] == f"/t/{x_ticket.public_id}/"
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != before
    assert portal_services.X_SIGN_IN_KEY not in client.session
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert SOCIAL_TEXT in page.content.decode()
    grant = PortalGrant.objects.get(ticket=x_ticket)
    assert grant.contact is None
    event = AuditEvent.objects.filter(action="secret.exchange").latest("id")
    assert event.data == {"kind": "x_sign_in", "grant": str(grant.public_id), "contact": False}
    assert event.ticket_public_id == x_ticket.public_id
    # The token was used once and revoked: X holds no live token of the customer.
    assert sim.sim.snapshot()["x"]["oauth2"] == {"codes": 1, "tokens": 1, "revoked": 1}


def test_x_sign_in_session_reads_only_its_ticket(
    client: Client, drop_ref: str, x_ticket: Ticket, team: factories.Team
) -> None:
    other = factories.make_ticket(channel=x_ticket.channel, author_external_id=TOM.x_id)

    client.get(approve(start(client, drop_ref)))

    assert client.get(f"/t/{x_ticket.public_id}/").status_code == 200
    assert client.get(f"/t/{other.public_id}/").status_code == 404


def test_x_sign_in_other_account_gets_no_access(
    client: Client, drop_ref: str, x_ticket: Ticket
) -> None:
    response = client.get(approve(start(client, drop_ref), user="lena"))

    assert failed(response)
    page = client.get(response["Location"])
    assert page.status_code == 404
    assert page["Cache-Control"] == "no-store"
    assert page["Referrer-Policy"] == "no-referrer"
    assert "sign in with the X account that wrote the post" in page.content.decode()
    assert SOCIAL_TEXT not in page.content.decode()
    assert client.get(f"/t/{x_ticket.public_id}/").status_code == 404
    assert not PortalGrant.objects.exists()
    refused = AuditEvent.objects.get(action="portal.x_sign_in_refused")
    assert refused.data == {"reason": "other_account"}
    assert world.customer_by_key("lena").x_id not in str(refused.data)


def test_x_sign_in_failures_share_one_page(
    drop_ref: str, x_ticket: Ticket, sim: RunningSimulator
) -> None:
    """Forged state, replayed callback, no pending sign-in, refused at X, expired, and a PKCE
    verifier that does not match: the same 303 and the same 404 page, and no access."""
    pages: list[bytes] = []

    def check(browser: Client, callback: str) -> None:
        response = browser.get(callback)
        assert failed(response), callback
        final = browser.get(response["Location"])
        assert final.status_code == 404
        pages.append(final.content)
        assert browser.get(f"/t/{x_ticket.public_id}/").status_code == 404

    forged = HttpsClient()
    callback = approve(start(forged, drop_ref))
    check(forged, callback.replace(query_value(callback, "state"), "forged-state" * 4))

    replayed = HttpsClient()
    callback = approve(start(replayed, drop_ref))
    assert replayed.get(callback).status_code == 303
    replayed.post("/portal/leave/")
    check(replayed, callback)

    check(HttpsClient(), approve(start(HttpsClient(), drop_ref)))  # another browser's callback

    denied = HttpsClient()
    url = start(denied, drop_ref)
    answer = requests.get(url, params={"sim_deny": "1"}, allow_redirects=False, timeout=5)
    parts = urlsplit(answer.headers["Location"])
    assert "error=access_denied" in parts.query
    check(denied, f"{parts.path}?{parts.query}")

    expired = HttpsClient()
    callback = approve(start(expired, drop_ref))
    session = expired.session
    session[portal_services.X_SIGN_IN_KEY]["expires"] -= portal_services.X_SIGN_IN_TTL_SECONDS + 1
    session.save()
    check(expired, callback)

    mismatch = HttpsClient()
    callback = approve(start(mismatch, drop_ref))
    session = mismatch.session
    session[portal_services.X_SIGN_IN_KEY]["verifier"] = "w" * 128
    session.save()
    check(mismatch, callback)

    assert len(set(pages)) == 1
    assert PortalGrant.objects.filter(ticket=x_ticket).count() == 1  # the replayed one's
    # Only the verifier mismatch reached the token endpoint, and X refused it there.
    assert sim.sim.snapshot()["x"]["oauth2"]["tokens"] == 1


def test_x_sign_in_refused_when_ticket_closed_meanwhile(
    client: Client, drop_ref: str, x_ticket: Ticket
) -> None:
    callback = approve(start(client, drop_ref))
    Ticket.objects.filter(pk=x_ticket.pk).update(status="closed")

    assert failed(client.get(callback))
    assert not PortalGrant.objects.exists()


def test_x_sign_in_off_once_an_agent_ends_access(
    client: Client, drop_ref: str, x_ticket: Ticket, sim: RunningSimulator
) -> None:
    """After "End access only" the author's X account no longer opens the thread, not even a
    sign-in already under way, and the drop page stops offering it."""
    callback = approve(start(client, drop_ref))
    agent = factories.agent_of(x_ticket.team)

    services.end_portal_access(ticket=x_ticket, agent=agent)

    assert failed(client.get(callback))
    assert not PortalGrant.objects.exists()
    html = client.get(f"/s/{drop_ref}").content.decode()
    assert "Sign in with X to read your conversation" not in html
    again = client.post(f"/s/{drop_ref}/x-sign-in")
    assert not str(again.get("Location", "")).startswith(sim.base_url)
    assert client.get(f"/t/{x_ticket.public_id}/").status_code == 404


def test_x_sign_in_refused_when_x_fails(
    client: Client, drop_ref: str, sim: RunningSimulator
) -> None:
    callback = approve(start(client, drop_ref))
    sim.sim.add_fault("server_error", platform="x", path="/2/oauth2/token", status=502)

    assert failed(client.get(callback))
    assert portal_services.X_SIGN_IN_KEY not in client.session
    assert not PortalGrant.objects.exists()


def test_x_sign_in_rate_limited(
    client: Client, drop_ref: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = (portal_services.Limit(2, 600), portal_services.Limit(100, 600))
    for scope in ("x_sign_in", "exchange"):
        monkeypatch.setitem(
            portal_services.LIMITS, scope, (*small, portal_services.Limit(1000, 60))
        )
    client.get(f"/s/{drop_ref}")

    presses = [client.post(f"/s/{drop_ref}/x-sign-in").status_code for _ in range(3)]
    callbacks = [client.get(f"{CALLBACK_PATH}?state=s&code=c").status_code for _ in range(3)]

    assert presses == [303, 303, 429]
    assert callbacks == [303, 303, 429]
    other_ip = client.post(f"/s/{drop_ref}/x-sign-in", REMOTE_ADDR="198.51.100.9")
    assert other_ip.status_code == 303


def test_x_sign_in_rate_limited_per_ticket(drop_ref: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        portal_services.LIMITS,
        "x_sign_in",
        (
            portal_services.Limit(100, 600),
            portal_services.Limit(2, 600),
            portal_services.Limit(1000, 60),
        ),
    )

    codes = [
        HttpsClient().post(f"/s/{drop_ref}/x-sign-in", REMOTE_ADDR=f"203.0.113.{i}").status_code
        for i in range(3)
    ]

    assert codes == [303, 303, 429]


def test_x_sign_in_logs_no_code_state_verifier_or_token(
    client: Client,
    drop_ref: str,
    sim: RunningSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    issued: list[str] = []

    class Recording(dict):  # type: ignore[type-arg]
        def __setitem__(self, key: str, value: object) -> None:
            issued.append(key)
            super().__setitem__(key, value)

    sim.sim.tokens = Recording(sim.sim.tokens)
    for name in ("", "urllib3", "tweepy", "tweepy.client", "oauthlib", "requests_oauthlib"):
        caplog.set_level(logging.DEBUG, logger=name)
    handler = next(h for h in logging.getLogger().handlers if h.filters)
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        callback = approve(start(client, drop_ref))
        verifier = client.session[portal_services.X_SIGN_IN_KEY]["verifier"]
        assert client.get(callback).status_code == 303
        # What an ASGI server's access log writes for the callback.
        logging.getLogger("uvicorn.access").info('%s - "GET %s"', "127.0.0.1", callback)
    finally:
        handler.setStream(previous)  # type: ignore[arg-type]

    assert len(issued) == 1
    code, state = query_value(callback, "code"), query_value(callback, "state")
    secrets_seen = (code, state, verifier, issued[0], world.X_OAUTH2_CLIENT_SECRET)
    assert "x sign-in started" in caplog.text
    for secret in secrets_seen:
        assert secret not in caplog.text
        assert secret not in stream.getvalue()
    # The access log keeps the path; its query is redacted, or dropped where uvicorn's access
    # logger carries AccessLogFilter (config/asgi.py).
    access = [line for line in stream.getvalue().splitlines() if "uvicorn.access" in line]
    assert len(access) == 1
    assert f'"GET {CALLBACK_PATH}' in access[0]


# --- services and the admin form -----------------------------------------------------------------


def test_finish_x_sign_in_without_pending_refuses(x_ticket: Ticket) -> None:
    from django.contrib.sessions.backends.db import SessionStore

    from inbox.exceptions import XSignInFailed

    with pytest.raises(XSignInFailed):
        portal_services.finish_x_sign_in(session=SessionStore(), state="s", code="c", error="")


def test_x_sign_in_config_needs_author_id(x_ticket: Ticket) -> None:
    assert portal_selectors.x_sign_in_config(x_ticket) is not None
    x_ticket.author_external_id = ""

    assert portal_selectors.x_sign_in_config(x_ticket) is None


def test_credentials_form_stores_x_sign_in_client() -> None:
    form = CredentialsForm(
        {
            "access_token": "t",
            "oauth2_client_id": "client-id",
            "oauth2_client_secret": "client-secret",
        },
        platform="x",
    )

    assert form.is_valid(), form.errors
    assert form.credentials(account_id="42") == {
        "user_id": "42",
        "access_token": "t",
        "oauth2_client_id": "client-id",
        "oauth2_client_secret": "client-secret",
    }
    assert "client-secret" not in str(form)
    assert f"{settings.HAVEN_BASE_URL}{CALLBACK_PATH}" in str(form)


def test_credentials_form_refuses_client_secret_without_id() -> None:
    form = CredentialsForm({"access_token": "t", "oauth2_client_secret": "s"}, platform="x")

    assert not form.is_valid()
    assert "oauth2_client_id" in form.errors
