"""End-to-end pipeline throughput and latency on PostgreSQL, Redis and real Celery workers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/12 \
        .venv/bin/python bench/ingest.py [--messages 2000] [--latency-samples 40]

1. Throughput: the simulator holds N mentions with personal data; one poll ingests them and
   the workers (one process per core; with --outbox-threads N also a threads-pool worker on the
   outbox queue, as docker-compose runs it) scan, open tickets and post the public replies. Prints
   messages/s from the start of the poll until every outbox action is sent (median of runs).
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


def _worker(concurrency: int, *args: str) -> subprocess.Popen[str]:
    from django.db import connection

    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
        f"{db['NAME']}"
    )
    env["HAVEN_LOG_LEVEL"] = "WARNING"
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
            f"--hostname=bench-{os.getpid()}-{len(args)}@localhost",
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
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL") or "postgres" not in os.environ.get("DATABASE_URL", ""):
        raise SystemExit("bench/ingest.py needs DATABASE_URL (PostgreSQL) and REDIS_URL")

    with throwaway_database():
        from django.test import Client
        from django.urls import reverse

        from channels_bridge import signatures
        from channels_bridge.simulator import start_simulator
        from config.celery import app
        from inbox.models import InboundMessage, InboundStatus, OutboxAction, OutboxState, Team
        from inbox.services import pipeline
        from tests import factories

        app.control.purge()
        cores = os.cpu_count() or 2
        worker = _worker(cores)
        outbox = (
            _worker(args.outbox_threads, "--queues=outbox", "--pool=threads")
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
            rates = []
            cpu_per_message: list[tuple[float, float]] = []
            for run in range(args.runs):
                OutboxAction.objects.all().delete()
                for i in range(args.messages):
                    simulator.sim.customer_x_mention(
                        f"order {run}-{i} lost, call me on +49 151 2{i % 10}4{run}6789{i % 7}",
                        customer=CUSTOMERS[i % len(CUSTOMERS)],
                    )
                start = time.perf_counter()
                cpu_start = _workers_cpu(worker, outbox), time.process_time()
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
                workers_ms = (_workers_cpu(worker, outbox) - cpu_start[0]) * 1000 / args.messages
                here_ms = (time.process_time() - cpu_start[1]) * 1000 / args.messages
                cpu_per_message.append((workers_ms, here_ms))
                rates.append(args.messages / elapsed)
                print(
                    f"  run {run + 1}: {args.messages} messages in {elapsed:.2f} s "
                    f"(polled and stored by {polled:.2f} s, all in tickets by "
                    f"{processed or elapsed:.2f} s; load average {os.getloadavg()[0]:.1f})\n"
                    f"         CPU per message: workers {workers_ms:.2f} ms, this process "
                    f"(poll, simulator) {here_ms:.2f} ms"
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
            for process in (worker, outbox):
                if process is not None:
                    process.terminate()
                    process.wait(20)

    extra = f" + a {args.outbox_threads}-thread outbox worker" if args.outbox_threads else ""
    if args.platform_latency_ms:
        extra += f", replies answered after {args.platform_latency_ms} ms"
    print(
        f"ingest bench: PostgreSQL + Redis, {cores} worker processes{extra}, simulator on loopback"
    )
    median_rate = statistics.median(rates)
    print(
        "  throughput (poll -> scan -> ticket -> reply sent): "
        f"median {median_rate:.0f} msg/s over {args.runs} runs of {args.messages}"
    )
    workers_ms = statistics.median(w for w, _ in cpu_per_message)
    here_ms = statistics.median(h for _, h in cpu_per_message)
    print(
        f"  CPU per message (median): workers {workers_ms:.2f} ms + poll and simulator "
        f"{here_ms:.2f} ms (PostgreSQL and Redis not counted); at this cost {cores} idle "
        f"cores would bound the pipeline at {cores * 1000 / (workers_ms + here_ms):.0f} msg/s"
    )
    p50, p95 = _percentile(latencies, 0.5), _percentile(latencies, 0.95)
    print(
        f"  webhook -> public reply in simulator: p50 {p50:.3f} s, p95 {p95:.3f} s "
        f"({len(latencies)} samples)"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
