"""``manage.py reply_deletions``: what became of the public replies erasures asked to delete."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inbox.services import reply_deletion


class Command(BaseCommand):
    help = (
        "List the deletions of Haven's public replies that erasures queued, with their state. "
        "With --run, first carry out the ones that are due, in this process (for cron users "
        "without Celery beat)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--erasure", default="", help="Only this erasure's deletions.")
        parser.add_argument("--run", action="store_true", help="Carry out due deletions now.")
        parser.add_argument("--limit", type=int, default=200)

    def handle(self, *args: Any, **options: Any) -> None:
        erasure_id: uuid.UUID | None = None
        if options["erasure"]:
            try:
                erasure_id = uuid.UUID(options["erasure"])
            except ValueError as exc:
                raise CommandError("--erasure takes the erasure id erase_subject printed") from exc
        if options["run"]:
            ran = reply_deletion.sweep_reply_deletions(
                dispatch=lambda deletion_id: reply_deletion.delete_public_reply(
                    deletion_id=deletion_id
                ),
                older_than=timedelta(0),
            )
            self.stdout.write(f"carried out {ran} due deletion(s)")
        rows = reply_deletion.list_deletions(erasure_id=erasure_id, limit=options["limit"])
        for row in rows:
            ticket = row.ticket_reference or "-"
            reply = f" reply={row.reply_external_id}" if row.reply_external_id else ""
            reason = f" ({row.reason})" if row.reason else ""
            self.stdout.write(
                f"{row.created_at:%Y-%m-%d %H:%M} erasure={row.erasure_id} ticket={ticket} "
                f"{row.platform} {row.state}{reply}{reason}"
            )
        if not rows:
            self.stdout.write("no reply deletions")
        if any(r.state == "failed" for r in rows):
            raise CommandError("some replies could not be deleted: delete them on the platform")
