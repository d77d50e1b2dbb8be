"""Integration fixtures: a real Celery worker process on the real broker and database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from channels_bridge import signatures
from channels_bridge.simulator import RunningSimulator
from inbox.models import Channel

ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """A `celery worker` subprocess against the test database; can be killed and restarted."""

    def __init__(self, env: dict[str, str], args: tuple[str, ...] = ("--pool=prefork",)) -> None:
        self.env = env
        self.args = args
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self._ready = threading.Event()

    def start(self, timeout: float = 60) -> None:
        self._ready.clear()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                *self.args,
                "--concurrency=2",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--hostname=itest-{os.getpid()}-{time.monotonic_ns()}@localhost",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        if not self._ready.wait(timeout):
            self.stop()
            tail = "\n".join(self.output[-30:])
            pytest.fail(f"celery worker did not become ready:\n{tail}", pytrace=False)

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.output.append(line.rstrip())
            if " ready." in line:
                self._ready.set()

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children), as a crash would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def worker_env(**extra: str) -> dict[str, str]:
    db = connection.settings_dict
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    url = f"postgres://{db['USER'] or 'postgres'}@{host}/{db['NAME']}"
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": url,
            "REDIS_URL": settings.REDIS_URL,
            "HAVEN_STALE_CLAIM_SECONDS": "2",
            "HAVEN_PLATFORM_TIMEOUT": "5",
            "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        }
    )
    env.update(extra)
    return env


@pytest.fixture
def worker(transactional_db: None) -> Iterator[Worker]:
    from config.celery import app

    app.control.purge()
    running = Worker(worker_env())
    running.start()
    yield running
    running.stop()


def wait_for(check: Callable[[], bool], *, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout}s waiting for {what}", pytrace=False)


def x_mention_webhook(
    channel: Channel,
    simulator: RunningSimulator,
    *,
    tweet_id: str,
    author_id: str,
    text: str,
    created_at: datetime,
) -> Callable[[], int]:
    """X's signed delivery of one mention of ``channel``; each call posts it with a client of
    its own (so threads can race) and returns the HTTP status."""
    body = json.dumps(
        {
            "for_user_id": channel.external_account_id,
            "tweet_create_events": [
                {
                    "id": int(tweet_id),
                    "id_str": tweet_id,
                    "text": text,
                    "created_at": created_at.strftime("%a %b %d %H:%M:%S +0000 %Y"),
                    "user": {"id_str": author_id, "screen_name": "tom", "name": "Tom"},
                    "entities": {"user_mentions": [{"id_str": channel.external_account_id}]},
                }
            ],
        }
    ).encode()
    secret = simulator.credentials("x")["consumer_secret"]
    url = reverse("webhook", kwargs={"platform": "x", "channel_ref": channel.public_id})

    def post() -> int:
        response = Client().post(
            url,
            data=body,
            content_type="application/json",
            secure=True,
            HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=signatures.x_signature(secret, body),
        )
        return response.status_code

    return post
