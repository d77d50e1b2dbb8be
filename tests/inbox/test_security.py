"""Security headers and log scrubbing (SECURITY-DESIGN.md §1, §3, §8)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from django.test import Client

from inbox import selectors
from inbox.log_filters import AccessLogFilter, ScrubPortalPathsFilter, scrub
from inbox.models import Ticket
from tests import factories

pytestmark = pytest.mark.django_db


def test_security_headers_on_agent_pages(client: Client) -> None:
    response = client.get("/login/")

    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]


def test_hsts_set_on_https_responses(client: Client) -> None:
    response = client.get("/login/")

    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]
    assert "includeSubDomains" in response.headers["Strict-Transport-Security"]


def test_portal_paths_get_no_store_and_no_referrer(client: Client) -> None:
    response = client.get("/s/unknown-reference-123")

    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert "noindex" in response.headers["X-Robots-Tag"]


def test_plain_http_is_redirected_to_https() -> None:
    response = Client().get("/login/")

    assert response.status_code == 301
    assert response.headers["Location"].startswith("https://")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('"GET /r/AbCdEf123456_-xyz HTTP/1.1" 200', '"GET /r/[redacted] HTTP/1.1" 200'),
        ("POST /s/Zz9_8a7b6c5d4e3f2g1h", "POST /s/[redacted]"),
        ("GET /tickets/42/", "GET /tickets/42/"),
    ],
)
def test_scrub_rewrites_secret_paths(line: str, expected: str) -> None:
    assert scrub(line) == expected


def test_access_log_line_has_no_secret() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s"',
        ("1.2.3.4", "GET", "/r/S3cr3tS3cr3t"),
        None,
    )

    ScrubPortalPathsFilter().filter(record)

    assert "S3cr3t" not in record.getMessage()


CANARY = "canary-lena.synthetic@example.org"


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """What the configured console handler (with its filters) writes."""
    handler = next(h for h in logging.getLogger().handlers if h.filters)
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)  # type: ignore[arg-type]


def test_server_error_log_has_no_exception_message_or_traceback(
    client: Client,
    agent: factories.User,
    ticket: Ticket,
    console: io.StringIO,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_page(**kwargs: object) -> object:
        raise ValueError(f"lookup failed for {CANARY}")

    monkeypatch.setattr(selectors, "ticket_page", broken_page)
    client.force_login(agent)
    client.raise_request_exception = False

    response = client.get(f"/tickets/{ticket.public_id}/", {"q": CANARY})

    text = console.getvalue()
    assert response.status_code == 500
    assert (
        "Internal Server Error: method=GET route=/tickets/<uuid:public_id>/ status=500 "
        "error=builtins.ValueError"
    ) in text
    for leak in (CANARY, "Traceback", "lookup failed", str(ticket.public_id)):
        assert leak not in text
        assert leak not in caplog.text


def test_server_error_log_without_exception_keeps_status_and_route() -> None:
    record = logging.LogRecord(
        "django.request", logging.ERROR, __file__, 1, "%s: %s", ("Service Unavailable", "/x"), None
    )
    record.status_code = 503
    logger = logging.getLogger("django.request")

    for log_filter in logger.filters:
        log_filter.filter(record)

    assert record.getMessage() == (
        "Service Unavailable: method=- route=[unresolved] status=503 error=-"
    )


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/r/S3cr3tS3cr3t?t=1", "/r/[redacted]"),
        ("/dpo/search/?q=lena.synthetic%40example.org", "/dpo/search/"),
        ("/portal/x-sign-in/callback?code=abc&state=def", "/portal/x-sign-in/callback"),
        ("/t/6f1c0e2a-8d4b-4c1e-9a3f-2b7d5e8c1a90/", "/t/6f1c0e2a-8d4b-4c1e-9a3f-2b7d5e8c1a90/"),
    ],
)
def test_access_log_filter_drops_query_secret_and_full_address(path: str, logged: str) -> None:
    """uvicorn's own access-log call: client ip:port, method, path with query, version, status."""
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("203.0.113.77:51234", "GET", path, "1.1", 200),
        None,
    )

    AccessLogFilter().filter(record)

    assert record.getMessage() == f'203.0.113.0 - "GET {logged} HTTP/1.1" 200'


def test_runserver_request_line_loses_its_query_string() -> None:
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        ("GET /?q=lena.synthetic@example.org HTTP/1.1", "200", "512"),
        None,
    )

    for log_filter in logging.getLogger("django.server").filters:
        log_filter.filter(record)

    assert record.getMessage() == '"GET / HTTP/1.1" 200 512'
