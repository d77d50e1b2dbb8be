"""Sentry (SECURITY-DESIGN.md §8): off without a DSN; events carry no secret and no PII."""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
import sentry_sdk
from asgiref.sync import async_to_sync

from channels_bridge.errors import NotFound
from channels_bridge.simulator import RunningSimulator
from config import sentry
from inbox.models import Ticket
from inbox.services import portal as portal_services
from inbox.services import secrets
from tests import factories
from tests.config.sentry_capture import asgi_request, captured_sentry, csrf_for
from tests.config.test_settings import ROOT, production_env

CANARY_EMAIL = "canary.sentry.7f3a@example.org"
CANARY_NAME = "Qzanary Vexholm Sentry"


def _event(**fields: Any) -> Any:
    """A raw event as sentry_sdk hands it to before_send."""
    return {"event_id": "0" * 32, "level": "error", **fields}


# --- scrubbing, one rule at a time ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /r/abcDEF123_-xyz HTTP/1.1", "GET /r/[redacted] HTTP/1.1"),
        ("Not Found: /s/Zm9vYmFyYmF6", "Not Found: /s/[redacted]"),
        ("/m/token123456/ and /x/exp0rtcode", "/m/[redacted]/ and /x/[redacted]"),
        (
            "https://graph.facebook.com/v26.0/me?access_token=PAGE&fields=id",
            "https://graph.facebook.com/v26.0/me?[redacted]",
        ),
        ("/r/#t=readsecretvalue", "/r/#[redacted]"),
        ("posted with access_token=abc123&x=1", "posted with access_token=[redacted]&x=1"),
        ("/t/3f2b7c1e-0000-4000-8000-000000000001", "/t/3f2b7c1e-0000-4000-8000-000000000001"),
        ("action 91 of Ticket #42 failed? limit=100", "action 91 of Ticket #42 failed? limit=100"),
    ],
)
def test_scrub_text_redacts_secrets_and_keeps_ids(text: str, expected: str) -> None:
    assert sentry.scrub_text(text) == expected


def test_before_breadcrumb_drops_http_query_and_fragment() -> None:
    crumb = {
        "type": "http",
        "category": "httplib",
        "data": {
            "url": "https://graph.facebook.com/v26.0/1_2/comments",
            "http.method": "POST",
            "http.query": "access_token=PAGE-TOKEN&appsecret_proof=abc",
            "http.fragment": "t=secret",
            "status_code": 200,
        },
    }

    kept = sentry.before_breadcrumb(crumb, {})

    assert kept is not None
    assert kept["data"] == {
        "url": "https://graph.facebook.com/v26.0/1_2/comments",
        "http.method": "POST",
        "status_code": 200,
    }


def test_before_breadcrumb_scrubs_urls_and_log_messages() -> None:
    crumb = {
        "category": "uvicorn.access",
        "message": '"GET /r/secretsecret?x=1 HTTP/1.1" 200',
        "data": {"url": "http://127.0.0.1/s/dropref123?access_token=T"},
    }

    kept = sentry.before_breadcrumb(crumb, {})

    assert kept is not None
    assert kept["message"] == '"GET /r/[redacted]?[redacted] HTTP/1.1" 200'
    assert kept["data"]["url"] == "http://127.0.0.1/s/[redacted]"


def test_before_send_keeps_only_method_and_scrubbed_path_of_the_request() -> None:
    event = _event(
        request={
            "url": "https://haven.example/s/dropref12345",
            "method": "POST",
            "query_string": f"email={CANARY_EMAIL}",
            "cookies": {"__Host-sessionid": "s3ss10n"},
            "headers": {"User-Agent": CANARY_NAME, "Cookie": "a=b"},
            "data": {"body": CANARY_NAME},
            "env": {"REMOTE_ADDR": "203.0.113.9"},
        }
    )

    cleaned = sentry.before_send(event, {})

    assert cleaned is not None
    assert cleaned["request"] == {"method": "POST", "url": "https://haven.example/s/[redacted]"}


def test_before_send_drops_extra_user_and_request_contexts() -> None:
    event = _event(
        extra={"celery-job": {"args": [CANARY_EMAIL]}},
        user={"email": CANARY_EMAIL, "ip_address": "203.0.113.9"},
        contexts={"runtime": {"name": "CPython"}, "response": {"body": CANARY_NAME}},
        tags={"url": "/r/secretsecret"},
    )

    cleaned = sentry.before_send(event, {})

    assert cleaned is not None
    assert "extra" not in cleaned
    assert "user" not in cleaned
    assert cleaned["contexts"] == {"runtime": {"name": "CPython"}}
    assert cleaned["tags"] == {"url": "/r/[redacted]"}


def test_before_send_redacts_other_libraries_messages_and_frame_variables() -> None:
    frame = {"function": "view", "module": "inbox.portal", "vars": {"body": CANARY_NAME}}
    event = _event(
        exception={
            "values": [
                {
                    "type": "ValueError",
                    "module": "builtins",
                    "value": f"invalid literal for int() with base 10: '{CANARY_EMAIL}'",
                    "stacktrace": {"frames": [frame]},
                },
                {
                    "type": "TicketNotFound",
                    "module": "inbox.exceptions",
                    "value": "ticket 7 not found at /r/secretsecret",
                },
            ]
        },
        threads={"values": [{"stacktrace": {"frames": [{"vars": {"x": CANARY_NAME}}]}}]},
    )

    cleaned = sentry.before_send(event, {})

    assert cleaned is not None
    foreign, own = cleaned["exception"]["values"]
    assert foreign["value"] == "[redacted]"
    assert foreign["type"] == "ValueError"
    assert foreign["stacktrace"]["frames"] == [{"function": "view", "module": "inbox.portal"}]
    assert own["value"] == "ticket 7 not found at /r/[redacted]"
    assert cleaned["threads"]["values"][0]["stacktrace"]["frames"] == [{}]


def test_before_send_scrubs_log_entries_and_breadcrumbs() -> None:
    event = _event(
        logentry={"message": "Internal Server Error: %s", "params": ["/s/dropref12345"]},
        breadcrumbs={
            "values": [
                {
                    "type": "http",
                    "data": {"url": "https://api.twitter.com/2/tweets", "http.query": "a=b"},
                },
            ]
        },
    )

    cleaned = sentry.before_send(event, {})

    assert cleaned is not None
    assert cleaned["logentry"]["params"] == ["/s/[redacted]"]
    assert cleaned["breadcrumbs"]["values"] == [
        {"type": "http", "data": {"url": "https://api.twitter.com/2/tweets"}}
    ]


def test_before_send_transaction_sends_no_performance_data() -> None:
    assert sentry.before_send_transaction(_event(type="transaction", spans=[]), {}) is None


def test_sentry_options_are_the_private_ones() -> None:
    options = sentry.sentry_options("https://public@sentry.invalid/1", environment="test")

    assert options["send_default_pii"] is False
    assert options["include_local_variables"] is False
    assert options["max_request_body_size"] == "never"
    assert options["before_send"] is sentry.before_send
    assert options["before_breadcrumb"] is sentry.before_breadcrumb
    assert options["trace_propagation_targets"] == []


# --- switched on and off by the environment -------------------------------------------------


def test_sentry_is_off_without_a_dsn() -> None:
    assert not sentry_sdk.get_client().is_active()


def test_sentry_starts_from_settings_when_sentry_dsn_is_set() -> None:
    probe = (
        "import sentry_sdk; o = sentry_sdk.get_client().options; "
        "print(sentry_sdk.get_client().is_active(), o['send_default_pii'], "
        "o['include_local_variables'], o['max_request_body_size'], o['environment'])"
    )
    env = production_env(SENTRY_DSN="https://public@sentry.invalid/1", SENTRY_ENVIRONMENT="eu1")

    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    # The last line: Django's shell first says how many objects it imported.
    assert result.stdout.splitlines()[-1].split() == ["True", "False", "False", "never", "eu1"]


# --- a real client, a real failing request --------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_failing_request_reports_an_event_without_secrets_or_personal_data(
    monkeypatch: pytest.MonkeyPatch, simulator: RunningSimulator
) -> None:
    channel = factories.make_channel(team=factories.TeamFactory())
    ticket: Ticket = factories.make_ticket(channel=channel)
    drop_ref = secrets.issue_drop_ref(ticket=ticket)
    token = f"tok-{uuid.uuid4().hex}"

    def failing_store(**kwargs: Any) -> None:
        # A library call that fails and echoes its input, after an outgoing API call.
        requests.get(f"{simulator.base_url}/_sim/health?access_token={token}", timeout=5)
        raise ValueError(f"could not store {kwargs['body']!r} for {kwargs['email']}")

    monkeypatch.setattr(portal_services, "add_drop_message", failing_store)
    csrf_cookie, csrf_token = csrf_for(f"/s/{drop_ref}")
    form = {"body": f"I am {CANARY_NAME}", "email": CANARY_EMAIL, "key": "k" * 32}
    body = urlencode({**form, "csrfmiddlewaretoken": csrf_token}).encode()
    cookies = f"{csrf_cookie}; tracking={CANARY_EMAIL}".encode()

    with captured_sentry() as transport:
        status, _, _ = async_to_sync(asgi_request)(
            "POST",
            f"/s/{drop_ref}?from={CANARY_EMAIL}",
            body,
            [(b"cookie", cookies), (b"x-customer", CANARY_NAME.encode())],
        )

    assert status == 500
    (event,) = transport.events()
    assert event["exception"]["values"][-1]["type"] == "ValueError"
    assert event["request"] == {"method": "POST", "url": "https://localhost/s/[redacted]"}
    assert any(c.get("category") == "httplib" for c in event["breadcrumbs"]["values"])
    wire = transport.wire()
    for secret in (CANARY_EMAIL, CANARY_NAME, drop_ref, token, "tracking", "203.0.113.9"):
        assert secret not in wire, secret


def test_own_error_message_reaches_sentry_scrubbed() -> None:
    with captured_sentry() as transport:
        try:
            raise NotFound("comment gone at /v26.0/1_2?access_token=PAGE-TOKEN", code=100)
        except NotFound:
            sentry_sdk.capture_exception()

    (event,) = transport.events()
    assert event["exception"]["values"][-1]["value"] == "comment gone at /v26.0/1_2?[redacted]"
