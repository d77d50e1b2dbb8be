"""Realtime event cost on the Redis channel layer: CPU per ``send_now`` in the sending thread
and on the events loop thread, to a group nobody has joined (a busy pipeline's usual case) and
to a group with a member.

    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/events.py [--events 3000]

Prints medians of five rounds; the machine is shared, so compare ratios rather than figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def _loop_thread_cpu() -> float:
    """CPU seconds of the events loop thread ("haven-events") so far."""
    for thread in threading.enumerate():
        if thread.name == "haven-events" and thread.ident is not None:
            return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=3000)
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        raise SystemExit("bench/events.py needs REDIS_URL (the Redis channel layer)")
    import django

    django.setup()
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from inbox import events

    layer = get_channel_layer()
    layer.capacity = args.events  # the member's channel holds a whole round
    watched = uuid.uuid4()
    receiver = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(events.ticket_agents_group(watched), receiver)

    def send(ticket: uuid.UUID) -> None:
        events.send_now(
            events.ticket_agents_group(ticket),
            events.action_changed(
                ticket_public_id=ticket, action_public_id=uuid.uuid4(), status="sent"
            ),
        )

    def settled_loop_cpu() -> float:
        """The loop thread's CPU once it has stopped working (no change for 0.3 s)."""
        last = _loop_thread_cpu()
        while True:
            time.sleep(0.3)
            now = _loop_thread_cpu()
            if now - last < 1e-4:
                return now
            last = now

    def one_round(tickets: list[uuid.UUID], received: int) -> tuple[float, float]:
        """Microseconds per event in the sending thread and on the loop thread."""
        loop_start, start = settled_loop_cpu(), time.thread_time()
        for ticket in tickets:
            send(ticket)
        caller = time.thread_time() - start
        for _ in range(received):
            async_to_sync(layer.receive)(receiver)
        loop = settled_loop_cpu() - loop_start
        return caller * 1e6 / len(tickets), loop * 1e6 / len(tickets)

    send(watched)
    async_to_sync(layer.receive)(receiver)
    cases = (
        ("to groups nobody has joined", lambda: [uuid.uuid4() for _ in range(args.events)], 0),
        ("to a group with a member", lambda: [watched] * (args.events // 10), args.events // 10),
    )
    for label, tickets, received in cases:
        samples = [one_round(tickets(), received) for _ in range(5)]
        caller = statistics.median(c for c, _ in samples)
        loop = statistics.median(w for _, w in samples)
        print(
            f"send_now {label}: {caller:.0f} us in the sender + {loop:.0f} us on the events "
            f"loop = {caller + loop:.0f} us of CPU per event (median of 5 x {len(tickets())})"
        )


if __name__ == "__main__":
    main()
