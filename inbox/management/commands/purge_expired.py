"""``manage.py purge_expired``: shred tickets and inbound items past their channel's retention."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from inbox.services import gdpr


class Command(BaseCommand):
    help = "Crypto-shred every ticket and inbound item older than its channel's retention."

    def handle(self, *args: Any, **options: Any) -> None:
        report = gdpr.purge_expired()
        self.stdout.write(
            f"purged tickets={report.tickets} messages={report.messages} "
            f"inbound={report.inbound} exports={report.exports} "
            f"held_by_legal_hold={report.held} retention_changes_applied={report.policies_applied}"
        )
