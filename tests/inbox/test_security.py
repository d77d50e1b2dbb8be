"""Security headers and log scrubbing (SECURITY-DESIGN.md §1, §3, §8)."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from inbox.log_filters import ScrubPortalPathsFilter, scrub

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
