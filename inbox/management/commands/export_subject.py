"""``manage.py export_subject``: a data subject's export (Art. 15/20) behind a one-time code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from inbox import audit
from inbox.management.commands._gdpr_args import add_subject_arguments, subject_from
from inbox.services import gdpr


class Command(BaseCommand):
    help = (
        "Export everything about a data subject as JSON and HTML. Prints a single-use, expiring "
        "download link and code, or with --out writes the ZIP straight to a directory."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_subject_arguments(parser)
        parser.add_argument("--requested-by", default="", help="Username of the DPO asking.")
        parser.add_argument(
            "--out", default="", help="Directory to write export-<id>.zip to (uses the code now)."
        )
        parser.add_argument(
            "--language",
            default="",
            choices=["", *(code for code, _name in settings.LANGUAGES)],
            help="Language to write it in (default: that of the person's latest conversation).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        subject = subject_from(options)
        user = None
        if options["requested_by"]:
            user = get_user_model().objects.filter(username=options["requested_by"]).first()
            if user is None:
                raise CommandError("no user with that --requested-by username")
        actor = audit.Actor.user(user.pk) if user else audit.Actor.system("manage.py")
        issued = gdpr.export_subject(
            subject=subject, requested_by=user, actor=actor, language=options["language"] or None
        )
        self.stdout.write(
            f"export {issued.export.public_id}: {issued.tickets} conversations, "
            f"{issued.messages} messages, {issued.envelopes} kept webhook deliveries"
        )
        if options["out"]:
            archive = gdpr.download_export(
                export_ref=str(issued.export.public_id), code=issued.code, actor=actor
            )
            path = Path(options["out"]) / f"export-{issued.export.public_id}.zip"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(archive)
            path.chmod(0o600)
            self.stdout.write(f"written to {path}")
            return
        url = settings.HAVEN_BASE_URL + reverse(
            "dpo:export_download", kwargs={"public_id": issued.export.public_id}
        )
        self.stdout.write(f"download once at {url}")
        self.stdout.write(f"code (shown once): {issued.code}")
        self.stdout.write(f"expires {issued.expires_at.isoformat()}")
