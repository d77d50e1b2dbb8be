"""``manage.py breach_report``: which subjects an account or a master key touched in a window."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from inbox import audit
from inbox.management.commands._gdpr_args import parse_when
from inbox.services import gdpr


class Command(BaseCommand):
    help = "Breach impact: tickets and subjects an account (--user/--actor) or key (--kid) touched."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", default="", help="Username of the account.")
        parser.add_argument("--actor", default="", help="Audit actor as type:id, e.g. system:x.")
        parser.add_argument("--kid", default="", help="Master key id.")
        parser.add_argument("--since", required=True)
        parser.add_argument("--until", default="")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError("no user with that username")
            actor = audit.Actor.user(user.pk)
        elif options["actor"]:
            kind, _, ident = options["actor"].partition(":")
            actor = audit.Actor(kind, ident)
        if actor is None and not options["kid"]:
            raise CommandError("give --user, --actor or --kid")
        start = parse_when(options["since"], name="--since")
        if start is None:
            raise CommandError("--since is required")
        end = parse_when(options["until"], name="--until") or timezone.now()
        impact = gdpr.affected_subjects(
            start=start, end=end, actor=actor, kid=options["kid"] or None
        )
        if options["json"]:
            payload = {
                "subjects": sorted(impact.subjects),
                "tickets": [
                    {
                        "reference": t.reference,
                        "public_id": str(t.public_id),
                        "subject": t.subject,
                        "erased": t.erased,
                    }
                    for t in impact.tickets
                ],
            }
            self.stdout.write(json.dumps(payload, indent=2))
            return
        for t in impact.tickets:
            state = " (erased)" if t.erased else ""
            self.stdout.write(f"{t.reference}  {t.subject}{state}")
        self.stdout.write(
            f"{len(impact.tickets)} ticket(s), {len(impact.subjects)} subject(s) affected"
        )
