"""End-to-end pipeline throughput and latency on PostgreSQL, Redis and real Celery workers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/12 \
        .venv/bin/python bench/ingest.py [--messages 2000] [--latency-samples 40]

0. Floor: the real tweepy client posts replies to the simulator in a process of its own, with
   no database and no Celery. Prints the CPU each side spends per reply: what any pipeline
   built on tweepy and this simulator pays per message at the least, and the rate the cores
   would allow if that were all (--floor-replies 0 skips it).
1. Throughput: the simulator holds N mentions with personal data; one poll ingests them and
   the workers (one process per core, prefork; with --worker-threads N each of them a
   threads-pool process instead; with --outbox-threads N also a threads-pool worker on the
   outbox queue, as docker-compose runs it) scan, open tickets and post the public replies.
   Prints messages/s from the start of the poll until every outbox action is sent (median of
   runs), and the CPU per message of the workers, of this process (the poll and the
   simulator) and of the PostgreSQL and Redis servers.
2. Latency: signed webhooks arrive one at a time; prints p50/p95 seconds from the webhook
   request to the public reply existing in the simulator.

A throwaway test database is created and dropped; nothing else is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from _django import ROOT, throwaway_database


def _worker(concurrency: int, *args: str, name: str) -> subprocess.Popen[str]:
    from django.db import connection

    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
        f"{db['NAME']}"
    )
    env["HAVEN_LOG_LEVEL"] = "WARNING"
    # As .env.example (and so docker-compose.yml) runs them: connections kept between tasks.
    env.setdefault("DATABASE_CONN_MAX_AGE", "60")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            f"--concurrency={concurrency}",
            *args,
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname=bench-{os.getpid()}-{name}@localhost",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    ready = threading.Event()

    def read() -> None:
        for line in process.stdout or ():
            if " ready." in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(60):
        process.kill()
        raise SystemExit("celery worker did not start")
    return process


# Quinn accepts no DMs; the others stand for a crowd of customers writing at once.
CUSTOMERS = ("lena", "tom", "camille", "diego", "giulia", "sanne")


def _cpu_seconds(root: int) -> float:
    """User + system CPU of a process and its children (the prefork pool), from /proc."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        pid, ppid = int(stat.parent.name), int(fields[1])
        if root in (pid, ppid):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _workers_cpu(*processes: subprocess.Popen[str] | None) -> float:
    return sum(_cpu_seconds(p.pid) for p in processes if p is not None)


def _services_cpu() -> float:
    """User + system CPU of every PostgreSQL and Redis server process on this machine.

    The server processes are shared with anything else running here: on a busy machine this
    over-counts. Backends that exited count too, through their parent's reaped-children time
    (cutime and cstime of the postmaster), so a connection per task is not free here.
    """
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        if name.startswith(("postgres", "redis-server")):
            fields = raw.rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


_FLOOR_SERVER = """
import sys, threading
from channels_bridge.simulator import start_simulator
running = start_simulator(seed=5)
running.sim.x_reply_requires_mention = False
ids = running.sim.customer_x_mention("my order is lost")
print(running.base_url, ids["tweet_id"], ids["author_id"], flush=True)
sys.stdin.read()  # until the bench closes the pipe
running.stop()
"""


def x_credentials(auth: str) -> dict[str, str]:
    """The simulated brand account's credentials, signing with OAuth 1.0a or, with "oauth2",
    calling with an OAuth 2.0 user token (tweepy sends it as a Bearer header: no signing)."""
    from channels_bridge.simulator import world

    credentials = world.default_credentials("x")
    if auth == "oauth2":
        credentials["access_token"] = credentials["oauth2_user_token"]
        del credentials["consumer_key"], credentials["access_token_secret"]
    return credentials


def reply_floor(replies: int, auth: str) -> tuple[float, float]:
    """CPU milliseconds per public reply of the SDK alone and of the simulator alone.

    The real tweepy client posts ``replies`` replies, one after another, to a simulator in a
    process of its own, so each side's CPU can be read apart. No database, no Celery: what any
    pipeline built on tweepy and this simulator pays per message at the least.
    """
    from channels_bridge.items import Item, ItemKind
    from channels_bridge.registry import get_connector

    server = subprocess.Popen(
        [sys.executable, "-c", _FLOOR_SERVER],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        base_url, tweet_id, author_id = (server.stdout or sys.stdin).readline().split()
        connector = get_connector("x", x_credentials(auth), base_url=base_url)
        item = Item(
            platform="x",
            kind=ItemKind.MENTION,
            external_id=tweet_id,
            author_id=author_id,
            author_handle=None,
            author_name=None,
            text="",
            created_at=datetime.now(UTC),
            permalink=None,
            parent_id=None,
            conversation_id=None,
        )
        connector.reply_publicly(item, "warm-up")
        client_start, server_start = time.thread_time(), _cpu_seconds(server.pid)
        for i in range(replies):
            connector.reply_publicly(item, f"Let's continue privately: https://h.example/s/{i}")
        client_ms = (time.thread_time() - client_start) * 1000 / replies
        server_ms = (_cpu_seconds(server.pid) - server_start) * 1000 / replies
    finally:
        (server.stdin or sys.stdout).close()
        server.wait(20)
    return client_ms, server_ms


def _print_timeline(start: datetime) -> None:
    """Per half second of the run: inbound items processed and replies sent."""
    from inbox.models import InboundMessage, OutboxAction

    def buckets(stamps: list[datetime | None]) -> dict[int, int]:
        counts: dict[int, int] = {}
        for stamp in filter(None, stamps):
            slot = int((stamp - start).total_seconds() * 2)
            counts[slot] = counts.get(slot, 0) + 1
        return counts

    processed = buckets(
        list(
            InboundMessage.objects.filter(processed_at__gte=start).values_list(
                "processed_at", flat=True
            )
        )
    )
    sent = buckets(
        list(OutboxAction.objects.filter(sent_at__gte=start).values_list("sent_at", flat=True))
    )
    for slot in range(max([*processed, *sent], default=-1) + 1):
        done, sent_now = processed.get(slot, 0), sent.get(slot, 0)
        print(f"         {slot / 2:5.1f} s  processed {done:4d}  sent {sent_now:4d}")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-samples", type=int, default=40)
    parser.add_argument(
        "--platform-latency-ms",
        type=int,
        default=0,
        help="make the simulator answer every reply POST this much later (the real platforms "
        "take about 100-300 ms; the simulator on loopback a few)",
    )
    parser.add_argument(
        "--outbox-threads",
        type=int,
        default=0,
        help="also run a threads-pool worker with this many threads on the outbox queue "
        "(docker-compose's outbox service); 0: only the worker processes, one per core",
    )
    parser.add_argument(
        "--worker-threads",
        type=int,
        default=0,
        help="run each per-core worker process as a threads pool of this size (waits overlap); "
        "0: prefork, one process per core",
    )
    parser.add_argument(
        "--floor-replies",
        type=int,
        default=1000,
        help="first measure what this many replies cost tweepy and the simulator alone (0: skip)",
    )
    parser.add_argument(
        "--x-auth",
        choices=("oauth1", "oauth2"),
        default="oauth1",
        help="how the X channel authenticates: OAuth 1.0a user context (each request signed, "
        "as the simulator's default credentials) or an OAuth 2.0 user token (a Bearer header)",
    )
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="print, per half second of each run, the items processed and the replies sent",
    )
    args = parser.parse_args()
    # This process and the workers log warnings only: the simulator would log every post.
    os.environ.setdefault("HAVEN_LOG_LEVEL", "WARNING")
    if not os.environ.get("REDIS_URL") or "postgres" not in os.environ.get("DATABASE_URL", ""):
        raise SystemExit("bench/ingest.py needs DATABASE_URL (PostgreSQL) and REDIS_URL")

    floors = (
        [reply_floor(args.floor_replies, args.x_auth) for _ in range(3)]
        if args.floor_replies
        else []
    )
    with throwaway_database():
        from django.test import Client
        from django.urls import reverse

        from channels_bridge import signatures
        from channels_bridge.simulator import start_simulator
        from config.celery import app
        from inbox import services
        from inbox.models import InboundMessage, InboundStatus, OutboxAction, OutboxState, Team
        from inbox.services import pipeline
        from tests import factories

        app.control.purge()
        cores = os.cpu_count() or 2
        if args.worker_threads:
            # One process per core, each running its tasks in threads (waits overlap).
            worker, *more = [
                _worker(args.worker_threads, "--pool=threads", name=f"threads{n}")
                for n in range(cores)
            ]
        else:
            worker, more = _worker(cores, name="prefork"), []
        outbox = (
            _worker(args.outbox_threads, "--queues=outbox", "--pool=threads", name="outbox")
            if args.outbox_threads
            else None
        )
        simulator = start_simulator(seed=5)
        simulator.sim.x_reply_requires_mention = False
        if args.platform_latency_ms:
            simulator.sim.add_fault(
                "slow",
                platform="x",
                method="POST",
                path="/2/tweets",
                times=None,
                delay_ms=args.platform_latency_ms,
            )
        try:
            team = Team.objects.create(name="Bench")
            channel = factories.simulated_channel(
                team=team,
                simulator=simulator,
                platform="x",
                x_reply_style="link",
                send_private_link=False,
                hide_original=False,
            )
            if args.x_auth != "oauth1":
                channel = services.set_channel_credentials(
                    channel=channel, credentials=x_credentials(args.x_auth), changed_by=None
                )
            rates = []
            cpu_per_message: list[tuple[float, float, float]] = []
            for run in range(args.runs):
                OutboxAction.objects.all().delete()
                for i in range(args.messages):
                    simulator.sim.customer_x_mention(
                        f"order {run}-{i} lost, call me on +49 151 2{i % 10}4{run}6789{i % 7}",
                        customer=CUSTOMERS[i % len(CUSTOMERS)],
                    )
                start, start_wall = time.perf_counter(), datetime.now(UTC)
                cpu_start = (
                    _workers_cpu(worker, outbox, *more),
                    time.process_time(),
                    _services_cpu(),
                )
                stored, batch = 0, -1
                while stored < args.messages and batch != 0:  # past the page cap: more polls
                    batch = pipeline.poll_channel(channel_id=channel.pk).stored
                    stored += batch
                polled = time.perf_counter() - start
                processed = None
                deadline = time.monotonic() + 600
                while OutboxAction.objects.filter(state=OutboxState.SENT).count() < args.messages:
                    if time.monotonic() > deadline:
                        raise SystemExit("throughput run did not finish within 10 minutes")
                    if (
                        processed is None
                        and not InboundMessage.objects.filter(
                            status=InboundStatus.RECEIVED
                        ).exists()
                    ):
                        processed = time.perf_counter() - start
                    time.sleep(0.05)
                elapsed = time.perf_counter() - start
                workers_cpu = _workers_cpu(worker, outbox, *more) - cpu_start[0]
                workers_ms = workers_cpu * 1000 / args.messages
                here_ms = (time.process_time() - cpu_start[1]) * 1000 / args.messages
                services_ms = (_services_cpu() - cpu_start[2]) * 1000 / args.messages
                cpu_per_message.append((workers_ms, here_ms, services_ms))
                rates.append(args.messages / elapsed)
                if args.timeline:
                    _print_timeline(start_wall)
                print(
                    f"  run {run + 1}: {args.messages} messages in {elapsed:.2f} s "
                    f"(polled and stored by {polled:.2f} s, all in tickets by "
                    f"{processed or elapsed:.2f} s; load average {os.getloadavg()[0]:.1f})\n"
                    f"         CPU per message: workers {workers_ms:.2f} ms, this process "
                    f"(poll, simulator) {here_ms:.2f} ms, PostgreSQL and Redis {services_ms:.2f} ms"
                )

            secret = simulator.credentials("x")["consumer_secret"]
            url = reverse("webhook", kwargs={"platform": "x", "channel_ref": channel.public_id})
            client = Client()
            latencies = []
            for i in range(args.latency_samples):
                text = f"@HavenDemoShop help, my phone is +49 151 7{i:02d}45678"
                ids = simulator.sim.customer_x_mention(text)
                created = datetime.now(UTC).strftime("%a %b %d %H:%M:%S +0000 %Y")
                body = json.dumps(
                    {
                        "for_user_id": channel.external_account_id,
                        "tweet_create_events": [
                            {
                                "id": int(ids["tweet_id"]),
                                "id_str": ids["tweet_id"],
                                "text": text,
                                "created_at": created,
                                "user": {
                                    "id_str": ids["author_id"],
                                    "screen_name": "c",
                                    "name": "C",
                                },
                                "entities": {
                                    "user_mentions": [{"id_str": channel.external_account_id}]
                                },
                            }
                        ],
                    }
                ).encode()
                start = time.perf_counter()
                client.post(
                    url,
                    data=body,
                    content_type="application/json",
                    secure=True,
                    HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=signatures.x_signature(secret, body),
                )
                while not any(
                    r["in_reply_to_tweet_id"] == ids["tweet_id"]
                    for r in simulator.sim.snapshot()["x"]["replies"]  # type: ignore[index]
                ):
                    if time.perf_counter() - start > 30:
                        states = [
                            list(
                                InboundMessage.objects.order_by("-id").values_list(
                                    "status", "decision"
                                )[:1]
                            ),
                            list(
                                OutboxAction.objects.order_by("-id").values_list(
                                    "kind", "state", "last_error_code", "target_external_id"
                                )[:2]
                            ),
                            ids,
                        ]
                        raise SystemExit(f"a webhook's reply did not appear within 30 s: {states}")
                    time.sleep(0.005)
                latencies.append(time.perf_counter() - start)
        finally:
            simulator.stop()
            for process in (worker, outbox, *more):
                if process is not None:
                    process.terminate()
                    process.wait(20)

    extra = f" + a {args.outbox_threads}-thread outbox worker" if args.outbox_threads else ""
    if args.platform_latency_ms:
        extra += f", replies answered after {args.platform_latency_ms} ms"
    if args.x_auth == "oauth2":
        extra += ", X with an OAuth 2.0 user token"
    pool = f"{args.worker_threads} threads each" if args.worker_threads else "prefork"
    print(
        f"ingest bench: PostgreSQL + Redis, {cores} worker processes ({pool}){extra}, "
        "simulator on loopback"
    )
    median_rate = statistics.median(rates)
    print(
        "  throughput (poll -> scan -> ticket -> reply sent): "
        f"median {median_rate:.0f} msg/s over {args.runs} runs of {args.messages}"
    )
    workers_ms = statistics.median(w for w, _, _ in cpu_per_message)
    here_ms = statistics.median(h for _, h, _ in cpu_per_message)
    services_ms = statistics.median(s for _, _, s in cpu_per_message)
    total_ms = workers_ms + here_ms + services_ms
    print(
        f"  CPU per message (median): workers {workers_ms:.2f} ms + poll and simulator "
        f"{here_ms:.2f} ms + PostgreSQL and Redis {services_ms:.2f} ms = {total_ms:.2f} ms; "
        f"at this cost {cores} idle cores bound the pipeline at {cores * 1000 / total_ms:.0f} msg/s"
    )
    if floors:
        client_ms = statistics.median(c for c, _ in floors)
        server_ms = statistics.median(s for _, s in floors)
        print(
            f"  floor, one public reply with nothing else (median of 3 x {args.floor_replies}): "
            f"tweepy {client_ms:.2f} ms + simulator {server_ms:.2f} ms CPU; these two alone "
            f"bound {cores} cores at {cores * 1000 / (client_ms + server_ms):.0f} msg/s"
        )
    p50, p95 = _percentile(latencies, 0.5), _percentile(latencies, 0.95)
    print(
        f"  webhook -> public reply in simulator: p50 {p50:.3f} s, p95 {p95:.3f} s "
        f"({len(latencies)} samples)"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
