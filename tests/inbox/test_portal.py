"""Customer portal pages (SECURITY-DESIGN.md §1): drop box, interstitials, exchange, thread."""

from __future__ import annotations

import io
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from inbox import portal_selectors
from inbox.models import Message, MessageKind, MessageSource, PortalSecret, SecretKind, Ticket
from inbox.services import portal as portal_services
from inbox.services import secrets
from inbox.services.agent import add_note, send_reply
from inbox.services.threads import add_message
from tests import factories
from tests.conftest import HttpsClient

pytestmark = pytest.mark.django_db
CommitRunner = Callable[..., object]
SOCIAL_TEXT = "Parcel missing, reach me at lena.park@example.invalid"


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def thread_ticket(ticket: Ticket, agent: factories.User) -> Ticket:
    add_message(
        ticket=ticket, kind=MessageKind.INBOUND, source=MessageSource.SOCIAL, body=SOCIAL_TEXT
    )
    send_reply(ticket=ticket, agent=agent, body="We are on it")
    add_note(ticket=ticket, agent=agent, body="NOTE-internal-only")
    return ticket


def _exchange(client: Client, secret: str) -> object:
    client.get("/r/")  # sets the CSRF cookie, as a browser gets it from the interstitial
    return client.post("/r/", {"t": secret})


def test_drop_ref_grants_no_read_or_websocket(client: Client, thread_ticket: Ticket) -> None:
    drop_ref = secrets.issue_drop_ref(ticket=thread_ticket)

    page = client.get(f"/s/{drop_ref}")
    exchanged = client.post("/r/", {"t": drop_ref})
    thread = client.get(f"/t/{thread_ticket.public_id}/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "lena.park" not in html
    assert "We are on it" not in html
    assert "NOTE-internal" not in html
    assert exchanged.status_code == 404
    assert thread.status_code == 404
    assert portal_selectors.SESSION_KEY not in client.session
    # The websocket needs a portal session: see test_portal_consumers for the socket side.


def test_drop_page_explains_controller_retention_and_rights(
    client: Client, thread_ticket: Ticket, settings: pytest.FixtureRequest
) -> None:
    settings.HAVEN_PRIVACY_NOTICE_URL = "https://acme.example/privacy"  # type: ignore[attr-defined]
    settings.HAVEN_ORGANISATION_NAME = "Acme Shop GmbH"  # type: ignore[attr-defined]
    drop_ref = secrets.issue_drop_ref(ticket=thread_ticket)

    html = client.get(f"/s/{drop_ref}").content.decode()

    assert "https://acme.example/privacy" in html
    assert "Acme Shop GmbH controls the data" in html
    assert "90 days" in html
    assert "copy of your data" in html


def test_drop_page_in_german_from_accept_language(client: Client, ticket: Ticket) -> None:
    drop_ref = secrets.issue_drop_ref(ticket=ticket)

    html = client.get(f"/s/{drop_ref}", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9").content.decode()

    assert 'lang="de"' in html
    assert "Lassen Sie uns privat weiterschreiben" in html


def test_drop_post_creates_unverified_message(client: Client, ticket: Ticket) -> None:
    drop_ref = secrets.issue_drop_ref(ticket=ticket)
    client.get(f"/s/{drop_ref}")

    response = client.post(f"/s/{drop_ref}", {"body": "my order 7", "key": "a" * 32})

    assert response.status_code == 200
    message = Message.objects.get(ticket=ticket)
    assert (message.source, message.verified) == (MessageSource.DROP, False)


def test_get_interstitial_does_not_consume_secret(client: Client, ticket: Ticket) -> None:
    secret = secrets.issue_read_secret(ticket=ticket)

    page = client.get("/r/")
    fallback = client.get(f"/r/{secret}")

    assert page.status_code == fallback.status_code == 200
    assert PortalSecret.objects.get(kind=SecretKind.READ).used_at is None
    html = page.content.decode()
    assert ticket.reference not in html
    assert "og:" not in html
    assert "noindex" in html
    assert page["X-Robots-Tag"].startswith("noindex")
    assert 'name="t"' in fallback.content.decode()


def test_exchange_single_use_rotates_session_and_redirects_clean(
    client: Client, thread_ticket: Ticket
) -> None:
    secret = secrets.issue_read_secret(ticket=thread_ticket)
    session = client.session
    session["probe"] = True
    session.save()
    before = session.session_key

    response = client.post("/r/", {"t": secret})

    assert response.status_code == 303
    assert response["Location"] == f"/t/{thread_ticket.public_id}/"
    assert secret not in response["Location"]
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != before
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert "lena.park@example.invalid" in html
    assert "We are on it" in html
    assert "NOTE-internal-only" not in html
    again = HttpsClient().post("/r/", {"t": secret})
    assert again.status_code == 404


def test_invalid_expired_used_revoked_secrets_same_404(client: Client, ticket: Ticket) -> None:
    expired = secrets.issue_read_secret(ticket=ticket, ttl=timedelta(seconds=1))
    PortalSecret.objects.filter(kind=SecretKind.READ).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    used = secrets.issue_read_secret(ticket=ticket)
    assert _exchange(HttpsClient(), used).status_code == 303  # type: ignore[attr-defined]
    revoked = secrets.issue_read_secret(ticket=ticket)
    secrets.revoke_ticket_secrets(ticket=ticket, kinds=(SecretKind.READ,))
    unknown = "U" * 43

    bodies = []
    for secret in (unknown, expired, used, revoked):
        response = _exchange(HttpsClient(), secret)
        assert response.status_code == 404  # type: ignore[attr-defined]
        bodies.append(
            re.sub(r'value="[^"]+"', "", response.content.decode())  # type: ignore[attr-defined]
        )

    assert len(set(bodies)) == 1
    assert "Ask for a new link" in bodies[0]


def test_portal_session_scoped_to_one_ticket(
    client: Client, thread_ticket: Ticket, channel: factories.Channel
) -> None:
    other = factories.make_ticket(channel=channel)
    add_message(ticket=other, kind=MessageKind.INBOUND, source=MessageSource.SOCIAL, body="X")
    _exchange(client, secrets.issue_read_secret(ticket=thread_ticket))

    assert client.get(f"/t/{thread_ticket.public_id}/").status_code == 200
    assert client.get(f"/t/{other.public_id}/").status_code == 404
    assert client.post(f"/t/{other.public_id}/", {"body": "hi"}).status_code == 404
    assert client.get(f"/t/{other.public_id}/messages/").status_code == 404
    assert client.get(f"/tickets/{thread_ticket.public_id}/").status_code in (302, 404)
    assert not other.messages.filter(source=MessageSource.PORTAL).exists()


def test_email_contact_cannot_read_social_author_messages(
    client: Client,
    thread_ticket: Ticket,
    agent: factories.User,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    from django.core import mail

    with django_capture_on_commit_callbacks(execute=True):
        portal_services.add_drop_message(
            ticket=thread_ticket,
            body="I am the contact",
            idempotency_key=None,
            email="kim.muster@example.invalid",
        )
    secret = mail.outbox[0].body.split("/m/#t=", 1)[1].split()[0]
    client.get("/m/")

    response = client.post("/m/", {"t": secret})
    page = client.get(response["Location"]).content.decode()
    feed = client.get(f"/t/{thread_ticket.public_id}/messages/").json()

    assert "I am the contact" in page
    assert "lena.park" not in page
    assert "We are on it" not in page
    assert [m["body"] for m in feed["messages"]] == ["I am the contact"]


def test_revoke_ends_portal_sessions(client: Client, thread_ticket: Ticket) -> None:
    _exchange(client, secrets.issue_read_secret(ticket=thread_ticket))
    assert client.get(f"/t/{thread_ticket.public_id}/").status_code == 200

    portal_services.revoke_portal_access(
        ticket=thread_ticket, actor=portal_selectors.audit.Actor.system("test")
    )

    assert client.get(f"/t/{thread_ticket.public_id}/").status_code == 404


def test_closing_ticket_ends_portal_session(client: Client, thread_ticket: Ticket) -> None:
    _exchange(client, secrets.issue_read_secret(ticket=thread_ticket))
    Ticket.objects.filter(pk=thread_ticket.pk).update(status="closed")

    assert client.get(f"/t/{thread_ticket.public_id}/").status_code == 404


def test_portal_double_submit_creates_one_message(client: Client, thread_ticket: Ticket) -> None:
    _exchange(client, secrets.issue_read_secret(ticket=thread_ticket))
    url = f"/t/{thread_ticket.public_id}/"
    key = uuid.uuid4().hex

    first = client.post(url, {"body": "Is it shipped?", "key": key})
    second = client.post(url, {"body": "Is it shipped?", "key": key})

    assert first.status_code == second.status_code == 303
    assert thread_ticket.messages.filter(source=MessageSource.PORTAL).count() == 1


def test_portal_thread_post_without_js_shows_message(client: Client, thread_ticket: Ticket) -> None:
    _exchange(client, secrets.issue_read_secret(ticket=thread_ticket))
    url = f"/t/{thread_ticket.public_id}/"

    response = client.post(url, {"body": "Plain form works", "key": uuid.uuid4().hex}, follow=True)

    assert "Plain form works" in response.content.decode()


def test_portal_rate_limited(
    client: Client, ticket: Ticket, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = (portal_services.Limit(3, 600), portal_services.Limit(100, 600))
    for scope in ("drop", "read", "exchange"):
        monkeypatch.setitem(
            portal_services.LIMITS, scope, (*small, portal_services.Limit(1000, 60))
        )
    drop_ref = secrets.issue_drop_ref(ticket=ticket)

    drop = [client.get(f"/s/{drop_ref}").status_code for _ in range(4)]
    read = [client.get("/r/").status_code for _ in range(4)]
    exchange = [client.post("/r/", {"t": "x" * 43}).status_code for _ in range(4)]

    assert drop == [200, 200, 200, 429]
    assert read[-1] == 429
    assert exchange[-1] == 429
    assert client.get(f"/s/{drop_ref}", REMOTE_ADDR="198.51.100.7").status_code == 200


def test_portal_rate_limited_per_ticket_and_globally(
    client: Client, ticket: Ticket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        portal_services.LIMITS,
        "drop",
        (
            portal_services.Limit(100, 600),
            portal_services.Limit(2, 600),
            portal_services.Limit(1000, 60),
        ),
    )
    drop_ref = secrets.issue_drop_ref(ticket=ticket)
    codes = [
        client.get(f"/s/{drop_ref}", REMOTE_ADDR=f"198.51.100.{i}").status_code for i in range(3)
    ]
    assert codes == [200, 200, 429]

    monkeypatch.setitem(
        portal_services.LIMITS,
        "read",
        (
            portal_services.Limit(100, 600),
            portal_services.Limit(100, 600),
            portal_services.Limit(2, 600),
        ),
    )
    reads = [client.get("/r/", REMOTE_ADDR=f"203.0.113.{i}").status_code for i in range(3)]
    assert reads == [200, 200, 429]


def test_portal_sets_only_session_and_csrf_cookies(client: Client, thread_ticket: Ticket) -> None:
    drop_ref = secrets.issue_drop_ref(ticket=thread_ticket)
    names: set[str] = set()
    responses = [
        client.get(f"/s/{drop_ref}"),
        client.post(f"/s/{drop_ref}", {"body": "hi", "key": "b" * 32}),
        client.get("/r/"),
        client.post("/r/", {"t": secrets.issue_read_secret(ticket=thread_ticket)}),
        client.get(f"/t/{thread_ticket.public_id}/"),
        client.post(f"/t/{thread_ticket.public_id}/", {"body": "x", "key": "c" * 32}),
        client.get(f"/t/{thread_ticket.public_id}/messages/"),
        client.post("/r/", {"t": "bad" * 15}),
        client.post("/portal/new-link/"),
    ]
    for response in responses:
        names |= set(response.cookies)
        assert response["Cache-Control"] == "no-store"
        assert response["Referrer-Policy"] == "no-referrer"

    assert names <= {settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME}
    assert settings.SESSION_COOKIE_NAME in names
    assert settings.CSRF_COOKIE_NAME in names


def test_access_log_line_has_no_secret(client: Client, ticket: Ticket) -> None:
    """Real requests, logged through the configured console handler and its filters."""
    secret = secrets.issue_read_secret(ticket=ticket)
    drop_ref = secrets.issue_drop_ref(ticket=ticket)
    secrets.revoke_ticket_secrets(ticket=ticket)
    handler = next(h for h in logging.getLogger().handlers if h.filters)
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous_stream = handler.setStream(stream)
    request_logger = logging.getLogger("django.request")
    previous_level = request_logger.level
    request_logger.setLevel(logging.WARNING)  # production keeps ERROR; 404s carry the path
    try:
        assert client.get(f"/s/{drop_ref}").status_code == 404
        assert client.get(f"/r/{secret}").status_code == 200
        assert client.get(f"/m/{secret}").status_code == 200
        assert client.post("/r/", {"t": secret}).status_code == 404
        # What an ASGI server's access log writes for the same requests.
        for path in (f"/r/{secret}", f"/s/{drop_ref}", f"/m/{secret}"):
            logging.getLogger("uvicorn.access").info('%s - "GET %s"', "127.0.0.1", path)
    finally:
        request_logger.setLevel(previous_level)
        handler.setStream(previous_stream)  # type: ignore[arg-type]

    text = stream.getvalue()
    assert "Not Found: /s/[redacted]" in text
    assert '"GET /r/[redacted]"' in text
    assert secret not in text
    assert drop_ref not in text


def test_portal_thread_escapes_customer_text(client: Client, ticket: Ticket) -> None:
    add_message(
        ticket=ticket,
        kind=MessageKind.INBOUND,
        source=MessageSource.PORTAL,
        body="<script>alert(1)</script>\u202eevil",
    )
    _exchange(client, secrets.issue_read_secret(ticket=ticket))

    html = client.get(f"/t/{ticket.public_id}/").content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\u202e" not in html


def test_magic_fallback_and_leave_end_the_session(client: Client, ticket: Ticket) -> None:
    fallback = client.get("/m/" + "Q" * 43)
    _exchange(client, secrets.issue_read_secret(ticket=ticket))

    left = client.post("/portal/leave/")

    assert fallback.status_code == 200
    assert 'action="/m/"' in fallback.content.decode()
    assert left.status_code == 200
    assert client.get(f"/t/{ticket.public_id}/").status_code == 404


def test_thread_messages_json_after_cursor(client: Client, thread_ticket: Ticket) -> None:
    _exchange(client, secrets.issue_read_secret(ticket=thread_ticket))
    feed = client.get(f"/t/{thread_ticket.public_id}/messages/").json()["messages"]

    after = client.get(f"/t/{thread_ticket.public_id}/messages/", {"after": feed[0]["id"]}).json()[
        "messages"
    ]

    assert [m["mine"] for m in feed] == [True, False]
    assert [m["body"] for m in after] == ["We are on it"]


def test_new_link_request_after_failed_exchange_answers_same(
    client: Client, ticket: Ticket
) -> None:
    used = secrets.issue_read_secret(ticket=ticket)
    _exchange(HttpsClient(), used)
    _exchange(client, used)

    known = client.post("/portal/new-link/")
    other = HttpsClient()
    _exchange(other, "nope" * 11)
    unknown = other.post("/portal/new-link/")

    assert known.status_code == unknown.status_code == 200
    assert known.content == unknown.content
    assert ticket.messages.filter(kind=MessageKind.NOTE).count() == 1


def test_drop_box_limits_magic_link_mails(
    client: Client, ticket: Ticket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        portal_services.LIMITS,
        "mail",
        (
            portal_services.Limit(100, 600),
            portal_services.Limit(1, 600),
            portal_services.Limit(100, 60),
        ),
    )
    drop_ref = secrets.issue_drop_ref(ticket=ticket)
    client.get(f"/s/{drop_ref}")

    codes = [
        client.post(
            f"/s/{drop_ref}", {"body": "hi", "key": f"{i}" * 32, "email": f"a{i}@example.invalid"}
        ).status_code
        for i in range(2)
    ]

    assert codes == [200, 429]


def test_portal_thread_page_query_count_is_bounded(
    client: Client,
    thread_ticket: Ticket,
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    _exchange(client, secrets.issue_read_secret(ticket=thread_ticket))
    for n in range(20):
        add_message(
            ticket=thread_ticket, kind=MessageKind.OUTBOUND, source=MessageSource.AGENT, body=f"{n}"
        )

    with django_assert_max_num_queries(12):
        response = client.get(f"/t/{thread_ticket.public_id}/")

    assert response.status_code == 200


def test_failed_exchanges_cost_the_same_queries(client: Client, ticket: Ticket) -> None:
    """A deterministic stand-in for comparable timing: every dead secret takes the same path."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    expired = secrets.issue_read_secret(ticket=ticket)
    PortalSecret.objects.filter(kind=SecretKind.READ).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    used = secrets.issue_read_secret(ticket=ticket)
    _exchange(HttpsClient(), used)
    revoked = secrets.issue_read_secret(ticket=ticket)
    PortalSecret.objects.filter(used_at__isnull=True, expires_at__gt=timezone.now()).update(
        revoked_at=timezone.now()
    )

    counts = []
    for secret in ("U" * 43, expired, used, revoked):
        browser = HttpsClient()
        browser.get("/r/")
        with CaptureQueriesContext(connection) as queries:
            assert browser.post("/r/", {"t": secret}).status_code == 404
        counts.append(len(queries))

    assert len(set(counts)) == 1
