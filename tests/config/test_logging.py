"""Logging wiring under the production ASGI server: uvicorn's access log (SECURITY-DESIGN §8)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.config.test_settings import production_env

ROOT = Path(__file__).resolve().parents[2]

# What `uvicorn config.asgi:application [--no-access-log]` does before serving: configure its
# own logging, then import the application (django.setup() applies LOGGING), then log each
# request on "uvicorn.access" only when that logger has a handler.
UVICORN_START = """
import logging, sys
from uvicorn.config import Config

Config(app="config.asgi:application", access_log=sys.argv[1] == "on").configure_logging()
import config.asgi  # noqa: F401
access = logging.getLogger("uvicorn.access")
print("handlers", access.hasHandlers(), flush=True)
if access.hasHandlers():
    access.info(
        '%s - "%s %s HTTP/%s" %d',
        "203.0.113.77:51234",
        "GET",
        "/r/S3cr3tS3cr3tS3cr3t?utm=lena.synthetic@example.org",
        "1.1",
        200,
    )
"""


def _uvicorn_start(access_log: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", UVICORN_START, access_log],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_no_access_log_flag_stays_off_after_django_configures_logging() -> None:
    result = _uvicorn_start("off")

    assert "handlers False" in result.stdout


def test_uvicorn_access_log_line_has_no_secret_query_or_full_address() -> None:
    result = _uvicorn_start("on")

    output = result.stdout + result.stderr
    assert "handlers True" in output
    assert '203.0.113.0 - "GET /r/[redacted] HTTP/1.1" 200' in output
    for leak in ("S3cr3t", "lena.synthetic", "203.0.113.77", "51234"):
        assert leak not in output
