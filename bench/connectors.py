"""Connector throughput: items parsed per second from fixtures, round trips against the simulator.

Run: ``.venv/bin/python bench/connectors.py [--passes 5] [--round-trips 40]``.
Prints medians of several passes; the machine is shared, so compare ratios, not absolutes.
A round trip is what ``perform_action`` does for one customer comment or mention: fetch it,
reply publicly, hide (Facebook comments, X replies), send privately, and find the own reply,
all through the real SDKs over loopback HTTP.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from channels_bridge import webhooks  # noqa: E402  # after the path set-up above
from channels_bridge.facebook import FacebookConnector  # noqa: E402
from channels_bridge.items import Item  # noqa: E402
from channels_bridge.registry import get_connector  # noqa: E402
from channels_bridge.x import XConnector  # noqa: E402

SHARED = ROOT / "tests" / "channels_bridge" / "recorded"
LOCAL = ROOT / "tests" / "channels_bridge" / "fixtures"
WEBHOOK_PREFIXES = ("webhook_", "feed__", "messaging__", "mention__", "xaa_", "aaa_")


def _median_rate(passes: int, work: Callable[[], int]) -> tuple[float, int]:
    rates: list[float] = []
    count = 0
    for _ in range(passes):
        start = time.perf_counter()
        count = work()
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates), count


def bench_webhooks(passes: int, repeat: int) -> None:
    bodies = [
        (path.parent.name, path.read_bytes())
        for root in (SHARED, LOCAL)
        for path in sorted(root.glob("*/*.json"))
        if path.name.startswith(WEBHOOK_PREFIXES)
    ]

    def work() -> int:
        return sum(
            len(webhooks.parse(platform, body)) for _ in range(repeat) for platform, body in bodies
        )

    rate, count = _median_rate(passes, work)
    print(f"webhooks.parse: {rate:,.0f} items/s ({len(bodies)} bodies x {repeat}, {count} items)")


def bench_api_items(passes: int, repeat: int) -> None:
    facebook = FacebookConnector({"page_id": "1", "page_access_token": "t"})
    x = XConnector({"user_id": "1", "access_token": "t"})
    comments = [
        obj
        for name in ("comments_page1.json", "comments_page2.json", "comment_full_fields.json")
        for obj in _objects(SHARED / "facebook" / name)
    ]
    tweets = [
        obj
        for name in ("get_users_mentions.json", "get_users_mentions_with_fields.json")
        for obj in _objects(SHARED / "x" / name)
    ]

    def work() -> int:
        made: list[Item | None] = []
        for _ in range(repeat):
            made.extend(facebook.comment_item(raw, post_id="1_1") for raw in comments)
            made.extend(x.tweet_item(raw, users={}, root_authors={}) for raw in tweets)
        return sum(item is not None for item in made)

    rate, count = _median_rate(passes, work)
    print(f"API responses -> items: {rate:,.0f} items/s ({count} items per pass)")


def _objects(path: Path) -> list[dict[str, object]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    found = data.get("data", data) if isinstance(data, dict) else data
    rows = found if isinstance(found, list) else [found]
    return [row for row in rows if isinstance(row, dict)]


def bench_round_trips(passes: int, round_trips: int) -> None:
    try:
        from channels_bridge.simulator import start_simulator
    except ImportError:
        print("round trips: simulator not available")
        return
    for platform in ("facebook", "x"):
        rates: list[float] = []
        for _ in range(passes):
            with start_simulator(seed=1) as running:
                connector = get_connector(
                    platform, running.credentials(platform), base_url=running.base_url
                )
                cursor = connector.fetch_since(None).next_cursor
                start = time.perf_counter()
                for n in range(round_trips):
                    if platform == "facebook":
                        running.sim.customer_facebook_comment(f"synthetic question {n}")
                    else:
                        running.sim.customer_x_mention(
                            f"synthetic question {n}", in_reply_to_tweet_id="1850000000000000002"
                        )
                    batch = connector.fetch_since(cursor)
                    cursor = batch.next_cursor
                    item = next(i for i in batch.items if not i.from_self)
                    connector.reply_publicly(item, f"Let's continue privately: ref {n}")
                    connector.hide(item)
                    connector.send_private(item, f"Your private link: ref {n}")
                    connector.find_own_reply(item)
                rates.append(round_trips / (time.perf_counter() - start))
        print(
            f"round trips ({platform}, simulator): {statistics.median(rates):,.1f}/s "
            f"(fetch, reply, hide, private message, find own reply; {round_trips} per pass)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--round-trips", type=int, default=40)
    args = parser.parse_args()
    bench_webhooks(args.passes, args.repeat)
    bench_api_items(args.passes, args.repeat)
    bench_round_trips(args.passes, args.round_trips)


if __name__ == "__main__":
    main()
