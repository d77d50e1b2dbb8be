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


CANARY = "canary-lena.synthetic@example.org"

# What uvicorn does when the application raises: "Exception in ASGI application" with the
# exception on "uvicorn.error", after the start-up of UVICORN_START.
UVICORN_APP_ERROR = f"""
import logging
from uvicorn.config import Config

Config(app="config.asgi:application", access_log=False).configure_logging()
import config.asgi  # noqa: F401

def receive_body():
    raise ValueError("bad body {CANARY}")

try:
    receive_body()
except ValueError as exc:
    logging.getLogger("uvicorn.error").error("Exception in ASGI application\\n", exc_info=exc)
"""

# What `celery -A config worker --loglevel=INFO` does before it runs tasks (the fixup calls
# django.setup(), then the worker sets logging up), then a failing task through the worker's
# trace logger and a task logger from celery.utils.log.
CELERY_WORKER = f"""
import django
from celery.utils.log import get_task_logger
from config.celery import app

django.setup()
app.log.setup(loglevel="INFO", redirect_stdouts=True)

@app.task(name="tests.fail")
def fail() -> None:
    try:
        raise KeyError("lookup {CANARY}")
    except KeyError as exc:
        raise ValueError("Key (email_digest)=({CANARY}) already exists") from exc

fail.apply()
try:
    fail.run()
except ValueError:
    get_task_logger("inbox.tasks").exception("task failed ticket=%s", 42)
"""


# An exception logged on a django.* logger with DEBUG on (as `make demo` runs): Django's own
# logging config gives "django" a console handler of its own for DEBUG, with a plain formatter.
DJANGO_DEBUG_ERROR = f"""
import logging
import os
import django

os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"

django.setup()
try:
    raise ValueError("template said {CANARY}")
except ValueError:
    logging.getLogger("django.template").exception("template failed")
"""


def _run(script: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=production_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout + result.stderr


def test_uvicorn_exception_in_asgi_application_has_class_and_frames_but_no_message() -> None:
    output = _run(UVICORN_APP_ERROR)

    assert "ERROR uvicorn.error Exception in ASGI application" in output
    assert "in receive_body" in output
    assert "error=builtins.ValueError (message withheld)" in output
    assert CANARY not in output


def test_celery_worker_task_failure_log_has_classes_and_frames_but_no_message() -> None:
    output = _run(CELERY_WORKER)

    assert "ERROR celery.app.trace Task tests.fail[" in output
    assert "] raised unexpected: builtins.ValueError\n" in output
    assert "The above exception was the direct cause of the following exception:" in output
    assert "error=builtins.KeyError (message withheld)" in output
    assert "ERROR inbox.tasks task failed ticket=42" in output
    assert output.count("error=builtins.ValueError (message withheld)") == 2
    assert CANARY not in output


def test_django_exception_with_debug_on_prints_once_without_its_message() -> None:
    output = _run(DJANGO_DEBUG_ERROR, DJANGO_DEBUG="true")

    assert output.count("ERROR django.template template failed") == 1
    assert "builtins.ValueError (message withheld)" in output
    assert CANARY not in output
