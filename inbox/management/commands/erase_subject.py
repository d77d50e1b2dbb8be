"""``manage.py erase_subject``: crypto-shred everything about a data subject (Art. 17)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inbox import audit
from inbox.management.commands._gdpr_args import add_subject_arguments, subject_from
from inbox.services import gdpr


class Command(BaseCommand):
    help = (
        "Erase a data subject: destroy their tickets' keys and delete ciphertext, indexes, "
        "pending actions, secrets and exports. Without --yes, only lists what would go."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_subject_arguments(parser)
        parser.add_argument("--yes", action="store_true", help="Really erase.")

    def handle(self, *args: Any, **options: Any) -> None:
        subject = subject_from(options)
        match = gdpr.find_subject(subject)
        for ticket in match.owned:
            hold = " (legal hold: will be kept)" if ticket.legal_hold else ""
            self.stdout.write(f"ticket {ticket.reference}{hold}")
        for ticket in match.contributed:
            self.stdout.write(f"their messages in ticket {ticket.reference}")
        self.stdout.write(f"stored platform items: {len(match.inbound)}")
        if not options["yes"]:
            raise CommandError("nothing erased: run again with --yes to erase")
        report = gdpr.erase_subject(subject=subject, actor=audit.Actor.system("manage.py"))
        self.stdout.write(
            f"erased tickets={len(report.tickets_erased)} "
            f"messages_in_other_tickets={report.messages_erased_elsewhere} "
            f"inbound={report.inbound_erased}"
        )
        if report.tickets_held:
            raise CommandError(
                f"kept {len(report.tickets_held)} ticket(s) under legal hold: "
                + ", ".join(report.tickets_held)
            )
