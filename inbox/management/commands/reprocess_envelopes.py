"""``manage.py reprocess_envelopes``: list or reprocess quarantined webhook bodies."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inbox import audit
from inbox.models import Channel, EnvelopeStatus, InboundEnvelope
from inbox.services import envelopes


class Command(BaseCommand):
    help = (
        "Parse quarantined webhook bodies again (after a parser fix) and ingest their items. "
        "A body that still fails stays quarantined with one more attempt. With --list, only "
        "shows what is quarantined (never the body)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--channel", default="", help="The channel's public id (default: every channel)."
        )
        parser.add_argument("--list", action="store_true", help="List, do not reprocess.")
        parser.add_argument("--limit", type=int, default=None, help="At most this many.")

    def handle(self, *args: Any, **options: Any) -> None:
        channel = _channel(options["channel"])
        if options["list"]:
            self._list(channel)
            return
        report = envelopes.reprocess_envelopes(
            actor=audit.Actor.system("manage.py"), channel=channel, limit=options["limit"]
        )
        self.stdout.write(
            f"reprocessed={report.reprocessed} items_stored={report.items_stored} "
            f"still_quarantined={report.still_quarantined} skipped={report.skipped}"
        )
        if report.skipped:
            self.stdout.write("skipped envelopes belong to channels that are not switched on")

    def _list(self, channel: Channel | None) -> None:
        rows = InboundEnvelope.objects.filter(status=EnvelopeStatus.QUARANTINED)
        if channel is not None:
            rows = rows.filter(channel=channel)
        count = 0
        for envelope in rows.select_related("channel").order_by("received_at", "pk"):
            count += 1
            self.stdout.write(
                f"{envelope.public_id} channel={envelope.channel.public_id} "
                f"platform={envelope.channel.platform} "
                f"received={envelope.received_at:%Y-%m-%dT%H:%M:%SZ} reason={envelope.reason} "
                f"bytes={envelope.body_size} attempts={envelope.attempts}"
            )
        self.stdout.write(f"quarantined={count}")


def _channel(ref: str) -> Channel | None:
    if not ref:
        return None
    try:
        public_id = uuid.UUID(ref)
    except ValueError:
        raise CommandError("--channel takes the channel's public id (a UUID)") from None
    channel = Channel.objects.filter(public_id=public_id).first()
    if channel is None:
        raise CommandError(f"no channel with public id {public_id}")
    return channel
