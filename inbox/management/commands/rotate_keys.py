"""``manage.py rotate_keys``: re-wrap data keys under the newest master key, in batches."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from inbox import audit, vault


class Command(BaseCommand):
    help = "Re-wrap every data key under the newest master key (resumable, idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        report = vault.rotate_keys(batch_size=options["batch_size"])
        usage = vault.key_usage()
        audit.record(
            actor=audit.Actor.system("rotate_keys"),
            action="keys.rotate",
            data={"rewrapped": report.rewrapped, "newest_kid": report.newest_kid},
        )
        self.stdout.write(
            f"re-wrapped {report.rewrapped} data keys under {report.newest_kid}; "
            f"{report.remaining} remain under older keys"
        )
        for kid, count in usage.items():
            note = (
                " (unused: may be removed once the backup window has passed)" if not count else ""
            )
            self.stdout.write(f"  {kid}: {count} data keys{note}")
