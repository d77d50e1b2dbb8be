"""``manage.py access_report``: who read a data subject's data, when and why."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from inbox.management.commands._gdpr_args import add_subject_arguments, parse_when, subject_from
from inbox.services import gdpr


class Command(BaseCommand):
    help = "List every audited decryption of a data subject's tickets."

    def add_arguments(self, parser: CommandParser) -> None:
        add_subject_arguments(parser)
        parser.add_argument("--since", default="")
        parser.add_argument("--until", default="")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        match = gdpr.find_subject(subject_from(options))
        rows = gdpr.access_report(
            match=match,
            since=parse_when(options["since"], name="--since"),
            until=parse_when(options["until"], name="--until"),
        )
        if options["json"]:
            payload = [
                {
                    "at": r.at.isoformat(),
                    "actor_type": r.actor_type,
                    "actor_id": r.actor_id,
                    "actor_name": r.actor_name,
                    "purpose": r.purpose,
                    "ticket": r.ticket_reference,
                    "ticket_public_id": r.ticket_public_id,
                    "objects": r.objects,
                }
                for r in rows
            ]
            self.stdout.write(json.dumps(payload, indent=2))
            return
        for r in rows:
            who = r.actor_name or f"{r.actor_type}:{r.actor_id}"
            self.stdout.write(
                f"{r.at.isoformat()}  {who}  {r.purpose}  {r.ticket_reference}  "
                f"{r.objects} object(s)"
            )
        self.stdout.write(f"{len(rows)} read(s) of {len(match.tickets)} ticket(s)")
