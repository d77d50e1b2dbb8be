"""``manage.py erase_subject``: crypto-shred everything about a data subject (Art. 17)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inbox import audit
from inbox.management.commands._gdpr_args import add_subject_arguments, subject_from
from inbox.services import gdpr, reply_deletion


class Command(BaseCommand):
    help = (
        "Erase a data subject: destroy their tickets' keys and delete ciphertext, indexes, "
        "pending actions, secrets and exports. Without --yes, only lists what would go. "
        "With --delete-public-replies, also deletes Haven's public replies to them from the "
        "platforms that allow it (after the erasure; see `reply_deletions` for the outcome)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_subject_arguments(parser)
        parser.add_argument("--yes", action="store_true", help="Really erase.")
        parser.add_argument(
            "--delete-public-replies",
            action="store_true",
            help="Also delete Haven's public replies to them where the platform allows it.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        subject = subject_from(options)
        match = gdpr.find_subject(subject)
        for ticket in match.owned:
            hold = " (legal hold: will be kept)" if ticket.legal_hold else ""
            self.stdout.write(f"ticket {ticket.reference}{hold}")
        for ticket in match.contributed:
            self.stdout.write(f"their messages in ticket {ticket.reference}")
        self.stdout.write(f"stored platform items: {len(match.inbound)}")
        replies = reply_deletion.count_subject_replies(match=match, subject=subject)
        for platform, count in sorted(replies.items()):
            will = "will be deleted" if options["delete_public_replies"] else "will stay"
            self.stdout.write(f"Haven's public replies on {platform}: {count} ({will})")
        if not options["yes"]:
            raise CommandError("nothing erased: run again with --yes to erase")
        report = gdpr.erase_subject(
            subject=subject,
            actor=audit.Actor.system("manage.py"),
            delete_replies_on=(
                reply_deletion.deletable_platforms() if options["delete_public_replies"] else ()
            ),
        )
        self.stdout.write(
            f"erased tickets={len(report.tickets_erased)} "
            f"messages_in_other_tickets={report.messages_erased_elsewhere} "
            f"inbound={report.inbound_erased} webhook_bodies={report.envelopes_erased}"
        )
        if report.reply_deletions:
            queued = " ".join(f"{p}={n}" for p, n in sorted(report.reply_deletions.items()))
            self.stdout.write(
                f"public replies queued for deletion: {queued} erasure={report.erasure_id} "
                f"(outcome: manage.py reply_deletions --erasure {report.erasure_id})"
            )
        if report.tickets_held:
            raise CommandError(
                f"kept {len(report.tickets_held)} ticket(s) under legal hold: "
                + ", ".join(report.tickets_held)
            )
