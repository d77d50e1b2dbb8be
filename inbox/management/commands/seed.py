"""``manage.py seed --tickets N``: synthetic bulk data for benchmarks (never real data).

Writes in batches with ``bulk_create``; every ticket still gets its own data key through the
vault, and every personal field is encrypted as the pipeline would store it.
"""

from __future__ import annotations

import logging
import random
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from inbox import services, vault
from inbox.models import (
    BlindIndex,
    Channel,
    Membership,
    Message,
    MessageKind,
    MessageSource,
    Platform,
    Role,
    Team,
    Ticket,
    TicketStatus,
)
from inbox.services.threads import redacted_preview

logger = logging.getLogger(__name__)

BATCH = 1000
BENCH_REFERENCE = "HV-BENCH020"
FIRST = ["Ada", "Noor", "Lena", "Tomas", "Yuki", "Ravi", "Ines", "Omar", "Mila", "Jon"]
LAST = ["Park", "Vogt", "Silva", "Okafor", "Berg", "Moreau", "Ito", "Kaya", "Roe", "Diaz"]
LINES = [
    "My parcel has not arrived yet, can you check?",
    "The app logs me out every time I open it.",
    "I was charged twice for the same order.",
    "Where do I change my delivery address?",
    "Thanks for the quick help yesterday!",
]


class Command(BaseCommand):
    help = "Seed synthetic tickets for benchmarks: one team, one agent, N tickets."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickets", type=int, required=True)
        parser.add_argument("--team", default="Bench team")
        parser.add_argument("--username", default="bench")
        parser.add_argument("--password", default="bench-password-not-secret")
        parser.add_argument("--thread-messages", type=int, default=20)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, **options: Any) -> None:
        rng = random.Random(options["seed"])  # noqa: S311 - synthetic data, not secrets
        team, _ = Team.objects.get_or_create(name=options["team"])
        user_model = get_user_model()
        agent, _ = user_model.objects.get_or_create(username=options["username"])
        # Argon2 as production: the benchmark logs in like an agent does.
        hasher = Argon2PasswordHasher()
        agent.password = hasher.encode(options["password"], hasher.salt())
        agent.save()
        Membership.objects.get_or_create(team=team, user=agent, defaults={"role": Role.AGENT})
        channel = Channel.objects.filter(team=team).first() or services.create_channel(
            team=team,
            platform=Platform.X,
            name="Bench on X",
            external_account_id=f"bench-{uuid.uuid4().hex[:12]}",
            credentials={"access_token": "synthetic-bench-token"},
        )
        total = options["tickets"]
        now = timezone.now()
        made = 0
        while made < total:
            size = min(BATCH, total - made)
            self._batch(rng, team=team, channel=channel, size=size, now=now, offset=made)
            made += size
            if made % 10_000 == 0 or made == total:
                self.stdout.write(f"seeded {made}/{total} tickets")
        self._thread_ticket(
            team=team, channel=channel, agent=agent, count=options["thread_messages"]
        )
        self.stdout.write(
            f"agent={agent.get_username()} team={team.public_id} bench_ticket={BENCH_REFERENCE} "
            f"database={settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"
        )

    @transaction.atomic
    def _batch(
        self,
        rng: random.Random,
        *,
        team: Team,
        channel: Channel,
        size: int,
        now: Any,
        offset: int,
    ) -> None:
        statuses = [TicketStatus.OPEN] * 6 + [TicketStatus.PENDING] * 2 + [TicketStatus.SOLVED]
        tickets = [
            Ticket(
                public_id=uuid.uuid4(),
                team=team,
                channel=channel,
                status=rng.choice(statuses),
                author_external_id=str(10_000_000 + offset + i),
                last_activity_at=now - timedelta(seconds=(offset + i) * 7 + rng.randint(0, 6)),
                unread_for_agents=rng.random() < 0.3,
            )
            for i in range(size)
        ]
        Ticket.objects.bulk_create(tickets, batch_size=BATCH)
        if tickets[0].pk is None:  # backends that don't return ids from bulk inserts
            by_uuid = dict(
                Ticket.objects.filter(public_id__in=[t.public_id for t in tickets]).values_list(
                    "public_id", "pk"
                )
            )
            for ticket in tickets:
                ticket.pk = by_uuid[ticket.public_id]
        messages: list[Message] = []
        indexes: list[BlindIndex] = []
        for ticket in tickets:
            vault.create_key(ticket)
            first, last = rng.choice(FIRST), rng.choice(LAST)
            handle = f"@{first.lower()}_{last.lower()}{ticket.pk}"
            body = f"{rng.choice(LINES)} Reach me at {first.lower()}{ticket.pk}@example.invalid"
            start = body.index("Reach me at ") + len("Reach me at ")
            findings = [{"entity": "EMAIL", "start": start, "end": len(body), "score": 0.98}]
            ticket.customer_handle_ciphertext = vault.encrypt(
                ticket, ticket, "customer_handle", handle
            )
            ticket.customer_name_ciphertext = vault.encrypt(
                ticket, ticket, "customer_name", f"{first} {last}"
            )
            ticket.preview_ciphertext = vault.encrypt(
                ticket,
                ticket,
                "preview",
                redacted_preview(body, findings),  # type: ignore[arg-type]
            )
            message = Message(
                public_id=uuid.uuid4(),
                ticket=ticket,
                kind=MessageKind.INBOUND,
                source=MessageSource.SOCIAL,
                findings=findings,
            )
            message.body_ciphertext = vault.encrypt(ticket, message, "body", body)
            messages.append(message)
            indexes.append(
                BlindIndex(ticket=ticket, kind="handle", digest=vault.blind_index("handle", handle))
            )
        Ticket.objects.bulk_update(
            tickets,
            ["customer_handle_ciphertext", "customer_name_ciphertext", "preview_ciphertext"],
            batch_size=BATCH,
        )
        Message.objects.bulk_create(messages, batch_size=BATCH)
        BlindIndex.objects.bulk_create(indexes, batch_size=BATCH, ignore_conflicts=True)

    @transaction.atomic
    def _thread_ticket(self, *, team: Team, channel: Channel, agent: Any, count: int) -> None:
        """One ticket with a ``count``-message thread under a fixed reference, for page benches."""
        Ticket.objects.filter(reference=BENCH_REFERENCE).delete()
        ticket = services.threads.open_ticket(
            team=team, channel=channel, customer_handle="@bench_thread", customer_name="Bench"
        )
        Ticket.objects.filter(pk=ticket.pk).update(reference=BENCH_REFERENCE)
        ticket.reference = BENCH_REFERENCE
        for i in range(count):
            kind = [MessageKind.INBOUND, MessageKind.OUTBOUND, MessageKind.NOTE][i % 3]
            services.threads.add_message(
                ticket=ticket,
                kind=kind,
                source=MessageSource.SOCIAL if kind == MessageKind.INBOUND else MessageSource.AGENT,
                body=f"Synthetic message {i} about order {1000 + i}.",
                author=None if kind == MessageKind.INBOUND else agent,
            )
