"""Security headers and log scrubbing (SECURITY-DESIGN.md §1, §3, §8)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from django.db import IntegrityError
from django.test import Client

from inbox import selectors, tasks
from inbox.log_filters import AccessLogFilter, ScrubPortalPathsFilter, scrub
from inbox.models import Ticket
from inbox.services import pipeline
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


def test_runserver_request_lines_reach_the_console() -> None:
    server = logging.getLogger("django.server")

    assert server.isEnabledFor(logging.INFO)
    assert "console" in [h.name for h in server.handlers]


def _raise_row_conflict() -> None:
    """An IntegrityError as PostgreSQL words it, raised from a lookup that echoed its input."""
    try:
        raise KeyError(f"lookup of {CANARY}")
    except KeyError as exc:
        raise IntegrityError(f"DETAIL: Key (email_digest)=({CANARY}) already exists.") from exc


def test_console_exception_log_has_class_and_frames_but_no_message(console: io.StringIO) -> None:
    def lookup_customer() -> None:
        raise ValueError(f"no customer {CANARY}")

    try:
        lookup_customer()
    except ValueError:
        logging.getLogger("inbox.services.processing").exception("redaction failed inbound=%s", 7)

    text = console.getvalue()
    assert "ERROR inbox.services.processing redaction failed inbound=7" in text
    assert "Traceback (most recent call last):" in text
    assert "in lookup_customer" in text
    assert "error=builtins.ValueError (message withheld)" in text
    assert CANARY not in text


def test_console_exception_log_shows_whole_chain_without_messages(console: io.StringIO) -> None:
    try:
        _raise_row_conflict()
    except IntegrityError:
        try:
            raise RuntimeError(CANARY)  # a second failure while handling
        except RuntimeError:
            logging.getLogger("inbox.webhooks").exception("webhook ingest failed channel=%s", 3)

    text = console.getvalue()
    classes = ("builtins.KeyError", "django.db.utils.IntegrityError", "builtins.RuntimeError")
    positions = [text.index(f"error={name}") for name in classes]
    assert positions == sorted(positions)
    assert "The above exception was the direct cause of the following exception:" in text
    assert "During handling of the above exception, another exception occurred:" in text
    assert text.count("in _raise_row_conflict") == 2
    assert CANARY not in text


def test_console_log_prints_exception_arguments_as_their_class(console: io.StringIO) -> None:
    error = ValueError(CANARY)

    logging.getLogger("celery.worker.request").error("Task handler raised error: %r", error)
    logging.getLogger("inbox.tasks").warning(error)

    text = console.getvalue()
    assert "Task handler raised error: builtins.ValueError\n" in text
    assert "WARNING inbox.tasks builtins.ValueError\n" in text
    assert CANARY not in text


def test_console_log_ignores_traceback_text_another_formatter_cached(
    console: io.StringIO,
) -> None:
    try:
        raise ValueError(CANARY)
    except ValueError as exc:
        record = logging.LogRecord(
            "inbox", logging.ERROR, __file__, 1, "failed", (), (ValueError, exc, exc.__traceback__)
        )
    logging.Formatter().format(record)  # caches the full traceback in record.exc_text
    assert record.exc_text is not None
    assert CANARY in record.exc_text

    logging.getLogger("inbox").handle(record)

    assert "error=builtins.ValueError (message withheld)" in console.getvalue()
    assert CANARY not in console.getvalue()


def test_celery_task_failure_log_has_class_but_no_message(
    console: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    def sweep(**kwargs: object) -> None:
        _raise_row_conflict()

    monkeypatch.setattr(pipeline, "sweep", sweep)

    result = tasks.sweep.apply()

    text = console.getvalue()
    assert result.failed()
    assert "raised unexpected: django.db.utils.IntegrityError\n" in text
    assert "error=builtins.KeyError (message withheld)" in text
    assert "error=django.db.utils.IntegrityError (message withheld)" in text
    assert CANARY not in text


@pytest.mark.parametrize(
    ("exc", "logged"),
    [
        (f"Retry in 5s: ValueError('{CANARY}')", "Retry in 5s: ValueError"),
        (
            f"Retry at 2026-03-01 10:00:00.5+00:00: RateLimited('{CANARY}')",
            "Retry at 2026-03-01 10:00:00.5+00:00: RateLimited",
        ),
        ("Retry in 5s", "Retry in 5s"),
        (f"Reject('{CANARY}', False)", "Reject"),
        (CANARY, "[withheld]"),
    ],
)
def test_celery_trace_log_without_traceback_keeps_only_exception_class(
    console: io.StringIO, exc: str, logged: str
) -> None:
    """Celery's retry and expected-failure lines carry ``repr(exc)`` in the message itself."""
    context = {"name": "inbox.perform_action", "id": "t-1", "exc": exc, "args": "(7,)"}

    logging.getLogger("celery.app.trace").warning(
        "Task %(name)s[%(id)s] retry: %(exc)s", context, extra={"data": context}
    )

    assert f"Task inbox.perform_action[t-1] retry: {logged}\n" in console.getvalue()
    assert CANARY not in console.getvalue()
