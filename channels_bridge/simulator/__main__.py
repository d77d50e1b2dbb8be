"""Command line: run the platform simulator in the foreground until interrupted."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from channels_bridge.simulator import world
from channels_bridge.simulator.server import SimulatorBindError, start_simulator

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """Arguments of `python -m channels_bridge.simulator`."""
    parser = argparse.ArgumentParser(
        prog="python -m channels_bridge.simulator",
        description="Simulated Facebook Graph API and X API v2 on one loopback port.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765, 0 = any)")
    parser.add_argument(
        "--traffic-per-minute",
        type=float,
        default=0,
        help="synthetic customer events per minute (default 0)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the traffic generator")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    return parser


def summary(base_url: str, traffic_per_minute: float, seed: int) -> str:
    """Human-readable start banner with the simulated credentials."""
    lines = [
        f"Haven platform simulator listening on {base_url}",
        f"  Graph API: {base_url}/{world.GRAPH_VERSION}/...   (replaces https://graph.facebook.com)",
        f"  X API v2:  {base_url}/2/...          (replaces https://api.twitter.com)",
        f"  Control:   {base_url}/_sim/state, /_sim/faults, /_sim/customer/...",
        f"  Traffic:   {traffic_per_minute:g} events/minute, seed {seed}",
        "Simulated credentials (fake values, valid only against this simulator):",
    ]
    for platform in world.PLATFORMS:
        for key, value in world.default_credentials(platform).items():
            lines.append(f"  {platform}.{key} = {value}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run until SIGINT/SIGTERM. Returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        running = start_simulator(
            args.port, host=args.host, seed=args.seed, traffic_per_minute=args.traffic_per_minute
        )
    except SimulatorBindError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except OSError as exc:
        sys.stderr.write(f"error: cannot listen on {args.host}:{args.port} ({exc.strerror})\n")
        return 1
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    # Before the banner: whoever reads it may stop the simulator at once, and must get a clean
    # exit rather than the default SIGTERM death.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    sys.stdout.write(summary(running.base_url, args.traffic_per_minute, args.seed) + "\n")
    sys.stdout.flush()
    done.wait()
    running.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
