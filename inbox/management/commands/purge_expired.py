"""``manage.py purge_expired``: shred tickets, inbound items and webhook bodies past their time."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from inbox.services import gdpr


class Command(BaseCommand):
    help = (
        "Crypto-shred every ticket and inbound item older than its channel's retention, and "
        "delete kept webhook bodies after 7 days (or the channel's retention if shorter)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = gdpr.purge_expired()
        self.stdout.write(
            f"purged tickets={report.tickets} messages={report.messages} "
            f"inbound={report.inbound} exports={report.exports} envelopes={report.envelopes} "
            f"held_by_legal_hold={report.held} retention_changes_applied={report.policies_applied} "
            f"reply_deletions_pruned={report.reply_deletions}"
        )
