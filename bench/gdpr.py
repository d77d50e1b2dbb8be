"""GDPR throughput: ``erase_subject`` and ``purge_expired`` in tickets per second.

Run: ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/haven_bench .venv/bin/python bench/gdpr.py
[--tickets 100000] [--erase 1000]`` (a throwaway test database is created and destroyed).
Seeds N tickets (key, two encrypted messages, blind index and inbound row each) with
``bulk_create``, erases ``--erase`` subjects one by one (one transaction each, as a DPO would),
then lets every remaining ticket expire and purges them. The machine is shared: compare runs.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import timedelta

from _django import throwaway_database


def seed(n: int, batch: int = 2000) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from django.utils import timezone

    from inbox import services, vault
    from inbox.models import (
        BlindIndex,
        InboundMessage,
        InboundStatus,
        Message,
        MessageKind,
        MessageSource,
        Team,
        Ticket,
        TicketKey,
    )

    team = Team.objects.create(name="Bench")
    channel = services.create_channel(
        team=team, platform="x", name="Bench", external_account_id="1", credentials={}
    )
    now = timezone.now()
    body = "Synthetic customer text about an order that never arrived. " * 3
    for start in range(0, n, batch):
        tickets = [
            Ticket(
                team=team,
                channel=channel,
                author_external_id=str(10_000_000 + i),
                conversation_external_id=f"conv-{i}",
                last_activity_at=now,
            )
            for i in range(start, min(start + batch, n))
        ]
        Ticket.objects.bulk_create(tickets)
        keys, messages, indexes, inbound = [], [], [], []
        for ticket in tickets:
            dek = AESGCM.generate_key(bit_length=256)
            # Bench seeding only: the vault's own wrap, without one INSERT per key.
            kid, wrapped = vault._wrap("ticket", ticket.public_id, dek)
            keys.append(TicketKey(ticket=ticket, kid=kid, wrapped=wrapped))
            row = InboundMessage(
                channel=channel,
                platform_message_id=f"p{ticket.author_external_id}",
                kind="mention",
                author_external_id=ticket.author_external_id,
                platform_created_at=now,
                status=InboundStatus.PROCESSED,
                ticket=ticket,
            )
            inbound.append(row)
            for kind in (MessageKind.INBOUND, MessageKind.OUTBOUND):
                message = Message(ticket=ticket, kind=kind, source=MessageSource.SOCIAL)
                aad = vault.field_aad(ticket, message, "body")
                message.body_ciphertext = vault._seal(dek, body.encode(), aad)
                messages.append(message)
            indexes.append(
                BlindIndex(
                    ticket=ticket,
                    kind="author_id",
                    digest=vault.blind_index("author_id", f"x:{ticket.author_external_id}"),
                )
            )
        TicketKey.objects.bulk_create(keys)
        InboundMessage.objects.bulk_create(inbound)
        Message.objects.bulk_create(messages)
        BlindIndex.objects.bulk_create(indexes)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--erase", type=int, default=1_000)
    args = parser.parse_args()
    os.environ.setdefault("HAVEN_LOG_LEVEL", "WARNING")
    with throwaway_database():
        from django.db import connection
        from django.utils import timezone

        from inbox import audit
        from inbox.models import Ticket
        from inbox.services import gdpr

        started = time.perf_counter()
        seed(args.tickets)
        print(
            f"seeded {args.tickets} tickets on {connection.vendor} "
            f"in {time.perf_counter() - started:.1f}s"
        )

        authors = list(
            Ticket.objects.order_by("?").values_list("author_external_id", flat=True)[: args.erase]
        )
        actor = audit.Actor.system("bench")
        started = time.perf_counter()
        for author in authors:
            gdpr.erase_subject(subject=gdpr.Subject(platform="x", author_id=author), actor=actor)
        elapsed = time.perf_counter() - started
        print(
            f"erase_subject: {len(authors)} subjects (1 ticket each) in {elapsed:.1f}s = "
            f"{len(authors) / elapsed:.0f} tickets/s"
        )

        remaining = Ticket.objects.count()
        later = timezone.now() + timedelta(days=365)
        started = time.perf_counter()
        report = gdpr.purge_expired(now=later)
        elapsed = time.perf_counter() - started
        print(
            f"purge_expired: {report.tickets} of {remaining} tickets in {elapsed:.1f}s = "
            f"{report.tickets / elapsed:.0f} tickets/s"
        )
        print(f"audit chain intact: {audit.verify().ok}")


if __name__ == "__main__":
    main()
