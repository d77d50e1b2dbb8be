"""Agent page benchmark: inbox list and a 20-message ticket, served by uvicorn on PostgreSQL.

For each N (default 10,000 and 100,000) it creates a throwaway PostgreSQL database, runs
``migrate`` and ``manage.py seed --tickets N``, starts uvicorn (the production ASGI server) on
127.0.0.1, logs in as the seeded agent and sends bounded request loops to loopback only:

- latency: sequential requests, p50/p95/p99;
- throughput: a fixed number of requests from a few client threads, requests per second;
- live: the time from a message being committed to its event reaching a connected agent's
  websocket, and to the refetched list fragment arriving (needs Redis: the message is written
  by this process, the socket lives in uvicorn's).

The server runs as production is configured: DEBUG off and, unless ``--pool-size 0``, the
PostgreSQL connection pool (``DATABASE_POOL_MAX_SIZE``). ``--runs`` repeats the latency loops
and prints the median of each percentile over the runs, with the load average before and
after: the development machine is shared, so one run proves little.

Usage: python bench/pages.py [--tickets 10000 100000] [--requests 300] [--runs 1] [--keep]
       python bench/pages.py --database-url postgres://.../haven_perf [--runs 5]
``--database-url`` reuses a database already migrated and seeded (``manage.py seed
--tickets N --password bench-password-not-secret``) and leaves it in place.
Environment: BENCH_PG (default postgres://postgres@127.0.0.1:5432), REDIS_URL (optional).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
HOST = "127.0.0.1"
PASSWORD = "bench-password-not-secret"  # noqa: S105 - the seeded synthetic agent


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(name: str, samples_ms: list[float]) -> str:
    return (
        f"{name:<28} n={len(samples_ms):<4} p50={percentile(samples_ms, 50):7.1f} ms "
        f"p95={percentile(samples_ms, 95):7.1f} ms p99={percentile(samples_ms, 99):7.1f} ms"
    )


def median_summary(name: str, runs: list[list[float]]) -> str:
    """The median over runs of each run's p50, p95 and p99."""
    p50, p95, p99 = (statistics.median(percentile(r, q) for r in runs) for q in (50, 95, 99))
    return (
        f"{name:<28} runs={len(runs):<2} median p50={p50:7.1f} ms p95={p95:7.1f} ms "
        f"p99={p99:7.1f} ms"
    )


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def psql(base: str, sql: str) -> None:
    subprocess.run(
        ["psql", f"{base}/postgres", "-qc", sql], check=True, capture_output=True, text=True
    )


def server_env(database_url: str, pool_size: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            # The pool needs CONN_MAX_AGE 0; without it, keep connections as far as ASGI lets.
            "DATABASE_POOL_MAX_SIZE": str(pool_size),
            "DATABASE_CONN_MAX_AGE": "0" if pool_size else "60",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECURE_SSL_REDIRECT": "false",  # plain http on loopback
            "HAVEN_SECURE_COOKIES": "false",
            "DJANGO_ALLOWED_HOSTS": HOST,
            "DJANGO_CSRF_TRUSTED_ORIGINS": f"http://{HOST}",
            "HAVEN_LOG_LEVEL": "WARNING",
        }
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


class Server:
    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        # The server's own output (Django's access log, errors) goes to a file, not between
        # the figures; it is written as in production, so its cost stays in the numbers.
        self.log_path = Path(tempfile.gettempdir()) / f"haven-bench-uvicorn-{self.port}.log"
        self.log = self.log_path.open("w")
        print(f"server output: {self.log_path}")
        self.process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base}/healthz", timeout=1).status_code < 500:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("uvicorn did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def login(base: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if token is None:
        raise RuntimeError("no CSRF token on the login page")
    response = session.post(
        f"{base}/login/",
        data={"username": "bench", "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": f"{base}/login/"},
        timeout=10,
        allow_redirects=False,
    )
    if response.status_code != 302:
        raise RuntimeError(f"login failed: {response.status_code}")
    return session


def timed_get(session: requests.Session, url: str) -> float:
    start = time.perf_counter()
    response = session.get(url, timeout=10, allow_redirects=False)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{url}: {response.status_code}")
    return elapsed


def latency(session: requests.Session, url: str, count: int) -> list[float]:
    for _ in range(10):
        timed_get(session, url)
    return [timed_get(session, url) for _ in range(count)]


def throughput(base: str, url: str, count: int, workers: int = 4) -> float:
    sessions = [login(base) for _ in range(workers)]
    per = count // workers

    def run(session: requests.Session) -> None:
        for _ in range(per):
            timed_get(session, url)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(run, sessions))
    return per * workers / (time.perf_counter() - start)


async def live_latency(
    base: str, session: requests.Session, rounds: int
) -> tuple[list[float], list[float]]:
    """Commit a message here; time until the agent's socket hears of it, and until refetched."""
    import websockets
    from asgiref.sync import sync_to_async
    from django.db import connections
    from websockets.typing import Origin

    from inbox.models import Ticket
    from inbox.services.threads import add_message

    await sync_to_async(connections.close_all)()  # drop a connection to an earlier database
    # Not the page-bench ticket: its thread must stay at 20 messages when a database is reused.
    ticket = await sync_to_async(
        Ticket.objects.exclude(reference="HV-BENCH020").order_by("-last_activity_at").first
    )()
    if ticket is None:
        raise RuntimeError("no ticket to write live messages to: seed the database first")
    cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    ws_url = base.replace("http://", "ws://") + "/ws/inbox/"
    to_frame: list[float] = []
    to_content: list[float] = []
    async with websockets.connect(
        ws_url,
        origin=Origin(base),
        additional_headers={"Cookie": cookie},
        max_size=2**16,
    ) as ws:
        for i in range(rounds):
            await sync_to_async(add_message)(
                ticket=ticket, kind="inbound", source="social", body=f"live {i}"
            )
            committed = time.perf_counter()  # add_message's atomic block has committed here
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=5))
                if frame.get("ticket") == str(ticket.public_id):
                    break
            to_frame.append((time.perf_counter() - committed) * 1000)
            await asyncio.to_thread(timed_get, session, f"{base}/inbox/rows/")
            to_content.append((time.perf_counter() - committed) * 1000)
            await asyncio.sleep(0.05)
    return to_frame, to_content


def bench_one(n: int, requests_per_page: int, keep: bool, runs: int, pool_size: int) -> None:
    pg = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    name = f"haven_bench_{n}_{os.getpid()}"
    database_url = f"{pg}/{name}"
    psql(pg, f"DROP DATABASE IF EXISTS {name}")
    psql(pg, f"CREATE DATABASE {name}")
    env = server_env(database_url, pool_size)
    try:
        manage(env, "migrate", "--no-input", "-v0")
        manage(env, "collectstatic", "--no-input", "-v0")
        start = time.perf_counter()
        manage(env, "seed", "--tickets", str(n), "--password", PASSWORD)
        print(f"\n== N={n:,} tickets (seeded in {time.perf_counter() - start:.0f} s) ==")
        serve_and_measure(env, database_url, requests_per_page, runs)
    finally:
        if not keep:
            if _ready:
                from django.db import connections

                connections.close_all()
            psql(pg, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def bench_existing(database_url: str, requests_per_page: int, runs: int, pool_size: int) -> None:
    """Measure a database migrated and seeded beforehand; it is left as it was found."""
    env = server_env(database_url, pool_size)
    manage(env, "migrate", "--no-input", "-v0")  # a no-op on an up-to-date database
    count = manage(
        env, "shell", "-c", "from inbox.models import Ticket; print(Ticket.objects.count())"
    )
    print(f"\n== existing database, N={int(count.split()[-1]):,} tickets ==")
    serve_and_measure(env, database_url, requests_per_page, runs)


def serve_and_measure(
    env: dict[str, str], database_url: str, requests_per_page: int, runs: int
) -> None:
    pool = env["DATABASE_POOL_MAX_SIZE"]
    print(f"connection pool: {'max ' + pool if pool != '0' else 'off (CONN_MAX_AGE 60)'}")
    server = Server(env)
    try:
        session = login(server.base)
        ticket_url = _ticket_url(env)
        pages = {
            "inbox list (full page)": f"{server.base}/",
            "inbox rows (live refetch)": f"{server.base}/inbox/rows/",
            "ticket page (20 messages)": f"{server.base}{ticket_url}",
        }
        results: dict[str, list[list[float]]] = {label: [] for label in pages}
        for run in range(runs):
            print(f"-- run {run + 1}/{runs}, load average {loadavg()}")
            for label, url in pages.items():
                samples = latency(session, url, requests_per_page)
                results[label].append(samples)
                print(summary(label, samples))
        print(f"load average after the runs: {loadavg()}")
        if runs > 1:
            for label, samples_per_run in results.items():
                print(median_summary(label, samples_per_run))
        measure_rest(server, session, database_url, ticket_url, requests_per_page)
    finally:
        server.stop()


def measure_rest(
    server: Server,
    session: requests.Session,
    database_url: str,
    ticket_url: str,
    requests_per_page: int,
) -> None:
    """Throughput with a few clients, and live latency when Redis is configured."""
    inbox_rps = throughput(server.base, f"{server.base}/", requests_per_page)
    ticket_rps = throughput(server.base, f"{server.base}{ticket_url}", requests_per_page)
    print(f"throughput (4 clients): inbox {inbox_rps:.0f} req/s, ticket {ticket_rps:.0f} req/s")
    if os.environ.get("REDIS_URL"):
        _django(database_url)
        from websockets.exceptions import WebSocketException

        try:
            frame, content = asyncio.run(live_latency(server.base, session, 50))
        except (OSError, TimeoutError, WebSocketException) as exc:
            # A shared Redis restarted or the socket dropped: report it and go on.
            print(f"live latency interrupted: {type(exc).__name__}")
        else:
            print(summary("commit -> websocket frame", frame))
            print(summary("commit -> refetched rows", content))
    else:
        print("live latency skipped: set REDIS_URL (writer and server are two processes)")


_ready = False


def _django(database_url: str) -> None:
    """Django in this process, pointed at the benchmark database (the writer of live events)."""
    global _ready
    if not _ready:
        sys.path.insert(0, str(ROOT))
        os.environ["DATABASE_URL"] = database_url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        _ready = True
    from django.db import connections

    # Every thread's connection is built from this shared dict; sync_to_async threads reconnect.
    connections.settings["default"]["NAME"] = database_url.rsplit("/", 1)[-1]
    connections.close_all()


def _ticket_url(env: dict[str, str]) -> str:
    out = subprocess.run(
        [
            PYTHON,
            "manage.py",
            "shell",
            "-c",
            "from inbox.models import Ticket; "
            "print(Ticket.objects.get(reference='HV-BENCH020').get_absolute_url())",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--runs", type=int, default=1, help="latency loops per page")
    parser.add_argument(
        "--pool-size", type=int, default=4, help="connection pool max size; 0 turns it off"
    )
    parser.add_argument(
        "--database-url", help="measure this seeded database instead of creating and seeding"
    )
    args = parser.parse_args()
    print(f"uvicorn, 1 worker, PostgreSQL, {os.cpu_count()} cores, loopback only")
    print(f"load average at start: {loadavg()}")
    if args.database_url:
        bench_existing(args.database_url, args.requests, args.runs, args.pool_size)
        return
    for n in args.tickets:
        bench_one(n, args.requests, args.keep, args.runs, args.pool_size)


if __name__ == "__main__":
    main()
