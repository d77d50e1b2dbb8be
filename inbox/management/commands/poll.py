"""``manage.py poll [--sweep]``: one poll of every due channel, without a broker (for cron)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from inbox.services import pipeline


class Command(BaseCommand):
    help = (
        "Poll every channel that is due, in this process. With --sweep, also process what a "
        "lost broker message left behind (pending items and actions, dead workers' claims) and "
        "carry out due deletions of public replies that erasures queued."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sweep", action="store_true", help="Also run the sweeper.")
        parser.add_argument(
            "--sweep-only", action="store_true", help="Run the sweeper without polling."
        )
        parser.add_argument(
            "--min-age",
            type=float,
            default=pipeline.SWEEP_AFTER.total_seconds(),
            help="Sweep rows pending for at least this many seconds (default 60).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = pipeline.run_inline(
            poll=not options["sweep_only"],
            sweep_too=options["sweep"] or options["sweep_only"],
            older_than=timedelta(seconds=options["min_age"]),
        )
        self.stdout.write(f"polled {result.polled} channels, stored {result.stored} new items")
        if result.swept is not None:
            self.stdout.write(
                f"swept {result.swept.inbound} items, {result.swept.actions} actions, "
                f"{result.swept.reconcile} stale claims, "
                f"{result.reply_deletions or 0} reply deletions"
            )
