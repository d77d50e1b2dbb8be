"""The PostgreSQL connection pool under the production ASGI server (uvicorn).

Under ASGI each request runs its sync code in a thread of its own, so persistent connections are
never reused there; with DATABASE_POOL_MAX_SIZE the pages and the websocket consumers share the
pool's few connections instead of opening one each.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import websockets
from django.conf import settings
from django.db import connection
from django.test import Client
from websockets.typing import Origin

from tests import factories
from tests.integration.conftest import ROOT, wait_for, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

POOL_SIZE = 2
HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _server_up(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def pooled_server(transactional_db: None) -> Iterator[str]:
    """uvicorn on the test database with a pool of POOL_SIZE connections."""
    port = _free_port()
    env = worker_env(
        DATABASE_POOL_MAX_SIZE=str(POOL_SIZE),
        DATABASE_CONN_MAX_AGE="60",  # the pool must override it
        DJANGO_DEBUG="false",
        DJANGO_SECURE_SSL_REDIRECT="false",
        HAVEN_SECURE_COOKIES="false",
        DJANGO_ALLOWED_HOSTS=HOST,
        HAVEN_LOG_LEVEL="WARNING",
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            HOST,
            "--port",
            str(port),
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://{HOST}:{port}"
    try:
        wait_for(lambda: _server_up(base), timeout=30, what="uvicorn to answer /healthz")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def _server_backends() -> set[int]:
    """Backend pids connected to the test database, other than this test's own connection."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {row[0] for row in cursor.fetchall()}


def _agent_session_cookie() -> str:
    """A signed-in agent's session cookie (the session row is committed: transactional db).

    The server runs without secure cookies, so the cookie has the plain name.
    """
    client = Client()
    client.force_login(factories.agent_of(factories.TeamFactory()))
    return f"sessionid={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def _open_inbox_socket(base: str, cookie: str) -> None:
    url = base.replace("http://", "ws://") + "/ws/inbox/"
    async with websockets.connect(
        url, origin=Origin(base), additional_headers={"Cookie": cookie}
    ) as ws:
        await ws.ping()


def test_uvicorn_serves_pages_and_sockets_from_the_pools_connections(pooled_server: str) -> None:
    cookie = _agent_session_cookie()

    def get(path: str) -> int:
        response = requests.get(
            f"{pooled_server}{path}", headers={"Cookie": cookie}, timeout=10, allow_redirects=False
        )
        return response.status_code

    assert get("/") == 200
    first = _server_backends()

    statuses = [get("/") for _ in range(20)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses += pool.map(lambda _: get("/inbox/rows/"), range(12))
    asyncio.run(_open_inbox_socket(pooled_server, cookie))

    assert set(statuses) == {200}
    assert 1 <= len(first) <= POOL_SIZE
    assert _server_backends() == first  # the same connections, none opened per request
