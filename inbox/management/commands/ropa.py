"""``manage.py ropa``: records of processing (GDPR Art. 30) generated from configuration."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from inbox.services import gdpr


class Command(BaseCommand):
    help = "Print the records of processing for every channel (Art. 30)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        ropa = gdpr.build_ropa()
        if options["json"]:
            self.stdout.write(json.dumps(ropa, indent=2, ensure_ascii=False))
            return
        self.stdout.write(f"Controller: {ropa['controller']}")
        for activity in ropa["activities"]:
            retention = activity["retention"]
            pending = (
                f" (shortening to {retention['pending_days']} on "
                f"{retention['pending_effective_at']})"
                if retention["pending_days"]
                else ""
            )
            self.stdout.write(
                f"- {activity['name']} [{activity['platform']}, {activity['status']}]: "
                f"retention {retention['days']} days{pending}"
            )
            for purpose in activity["purposes"]:
                self.stdout.write(f"    purpose: {purpose}")
            for recipient in activity["recipients"]:
                self.stdout.write(f"    recipient: {recipient}")
