"""Arguments shared by the GDPR commands: how to name a data subject and a time window."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import datetime
from typing import Any

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from inbox.services.gdpr import Subject


def add_subject_arguments(parser: ArgumentParser) -> None:
    group = parser.add_argument_group("data subject (give at least one identifier)")
    group.add_argument("--platform", choices=["facebook", "x"], default="")
    group.add_argument("--author-id", default="", help="The platform's id of the author.")
    group.add_argument("--handle", default="", help="The platform handle, with or without @.")
    group.add_argument("--email", default="")
    group.add_argument("--phone", default="", help="With country code, e.g. +49 151 …")


def subject_from(options: dict[str, Any]) -> Subject:
    subject = Subject(
        platform=options["platform"],
        author_id=options["author_id"],
        handle=options["handle"],
        email=options["email"],
        phone=options["phone"],
    )
    if subject.is_empty:
        raise CommandError("name the subject with --author-id, --handle, --email or --phone")
    if subject.author_id and not subject.platform:
        raise CommandError("--author-id needs --platform")
    return subject


def parse_when(value: str | None, *, name: str) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise CommandError(f"{name} must be an ISO date-time such as 2026-11-01T00:00:00Z")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_default_timezone())
    return parsed
