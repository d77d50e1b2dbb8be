"""Records of processing (GDPR Art. 30) from configuration, and the breach-impact query.

Both read configuration and ids only: no ciphertext is opened here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from inbox import audit, vault
from inbox.models import (
    AuditEvent,
    Channel,
    ChannelPolicy,
    InboundMessage,
    Platform,
    Ticket,
    TicketKey,
    Tombstone,
)
from inbox.models.social import DEFAULT_RETENTION_DAYS, RETENTION_GRACE_DAYS

DATA_CATEGORIES = [
    "social account identifiers (platform id, handle, display name)",
    "message content, which may include: contact data (e-mail, phone, postal address),"
    " order and account numbers, payment card and bank numbers, national identifiers,"
    " dates of birth",
    "timestamps and conversation metadata",
]
SECURITY_MEASURES = [
    "AES-256-GCM encryption at rest with one data key per conversation, wrapped by rotating"
    " master keys kept outside the database and its backups",
    "every decryption for a person is written to a hash-chained, append-only audit log",
    "exact-match search only through peppered blind indexes, no plaintext index",
    "personal data never logged, never in task arguments or realtime events",
    "agents authenticate with a second factor; destructive operations need re-authentication",
    "erasure and retention by key destruction (crypto-shredding)",
]
_PLATFORM_CONTROLLERS = {
    Platform.FACEBOOK: "Meta Platforms Ireland Ltd. (Facebook), a separate controller",
    Platform.X: "X Corp. / Twitter International Unlimited Company (X), a separate controller",
}


def _purposes(policy: ChannelPolicy | None) -> list[str]:
    out = [
        "answering customer enquiries and complaints (Art. 6(1)(b) and (f))",
        "moving conversations that contain personal data off the public platform to an"
        " encrypted thread (Art. 5(1)(f), Art. 32)",
    ]
    if policy is not None and policy.hide_original:
        out.append("hiding public posts that expose the customer's personal data")
    return out


def channel_processing(channel: Channel) -> dict[str, Any]:
    """The Art. 30 (and Art. 15 notice) entry for one channel, built from its configuration."""
    policy = ChannelPolicy.objects.filter(channel=channel).first()
    retention = policy.retention_days if policy else DEFAULT_RETENTION_DAYS
    pending = policy.pending_retention_days if policy else None
    pending_at = policy.pending_retention_effective_at if policy else None
    return {
        "channel": channel.public_id.hex,
        "name": channel.name,
        "platform": channel.platform,
        "status": channel.status,
        "source": f"messages the data subject posted to or sent our {channel.platform} account",
        "purposes": _purposes(policy),
        "data_categories": DATA_CATEGORIES,
        "subject_categories": [
            f"customers and members of the public who write to our {channel.platform} account"
        ],
        "recipients": [
            "our support agents (team: internal)",
            _PLATFORM_CONTROLLERS.get(Platform(channel.platform), channel.platform)
            + ": receives only our public redirect reply and private link, never the thread",
            "the hosting provider of this Haven installation (processor)",
        ],
        "transfers": (
            "the platform processes its own copy under its own terms, possibly outside the EEA;"
            " Haven's copy stays on this installation"
        ),
        "retention": {
            "days": retention,
            "pending_days": pending,
            "pending_effective_at": pending_at.isoformat() if pending_at else None,
            "grace_days_for_shortening": RETENTION_GRACE_DAYS,
            "measured_from": "the conversation's last activity",
            "backups": "unreadable once the master key that wrapped them is retired",
        },
        "security_measures": SECURITY_MEASURES,
        "terms_reviewed_at": (
            channel.terms_reviewed_at.isoformat() if channel.terms_reviewed_at else None
        ),
    }


def build_ropa() -> dict[str, Any]:
    """Records of processing for every channel, as JSON-ready data."""
    channels = Channel.objects.order_by("platform", "name", "pk")
    return {
        "controller": settings.HAVEN_ORGANISATION_NAME,
        "privacy_notice": settings.HAVEN_PRIVACY_NOTICE_URL,
        "generated_at": timezone.now().isoformat(),
        "master_keys_in_use": vault.key_usage(),
        "activities": [channel_processing(c) for c in channels],
    }


# --- breach impact -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AffectedTicket:
    public_id: uuid.UUID
    reference: str
    subject: str  # "platform:author id", or "" when erased or unknown
    erased: bool


@dataclass(slots=True)
class BreachImpact:
    tickets: list[AffectedTicket] = field(default_factory=list)
    loose_subjects: set[str] = field(default_factory=set)

    @property
    def subjects(self) -> set[str]:
        return {t.subject for t in self.tickets if t.subject} | self.loose_subjects


def _tickets(public_ids: set[uuid.UUID]) -> list[AffectedTicket]:
    live = Ticket.objects.filter(public_id__in=public_ids).select_related("channel")
    out = [
        AffectedTicket(
            t.public_id,
            t.reference,
            f"{t.channel.platform}:{t.author_external_id}"
            if t.channel and t.author_external_id
            else "",
            erased=False,
        )
        for t in live
    ]
    seen = {t.public_id for t in out}
    for stone in Tombstone.objects.filter(ticket_public_id__in=public_ids - seen):
        out.append(AffectedTicket(stone.ticket_public_id, stone.reference, "", erased=True))
    return sorted(out, key=lambda t: t.reference)


def affected_subjects(
    *,
    start: datetime,
    end: datetime,
    actor: audit.Actor | None = None,
    kid: str | None = None,
) -> BreachImpact:
    """Which tickets and subjects an account (``actor``) or a master key (``kid``) touched.

    For an actor: every ticket it decrypted or changed in [start, end], from the audit log.
    For a master key: every ticket whose data key it wraps and that was active in the window,
    and every subject whose unprocessed items sat under a channel key it wraps.
    """
    impact = BreachImpact()
    ids: set[uuid.UUID] = set()
    if actor is not None:
        ids |= {
            ref
            for ref in AuditEvent.objects.filter(
                actor_type=actor.type,
                actor_id=actor.id,
                created_at__gte=start,
                created_at__lte=end,
                ticket_public_id__isnull=False,
            ).values_list("ticket_public_id", flat=True)
            if ref is not None
        }
    if kid is not None:
        ids |= set(
            TicketKey.objects.filter(
                kid=kid, ticket__created_at__lte=end, ticket__last_activity_at__gte=start
            ).values_list("ticket__public_id", flat=True)
        )
        for platform, author in (
            InboundMessage.objects.filter(
                channel__key__kid=kid,
                received_at__gte=start,
                received_at__lte=end,
                ticket__isnull=True,
            )
            .exclude(author_external_id="")
            .values_list("channel__platform", "author_external_id")
        ):
            impact.loose_subjects.add(f"{platform}:{author}")
    impact.tickets = _tickets(ids)
    return impact
