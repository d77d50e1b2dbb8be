"""Portal secrets (SECURITY-DESIGN.md §1): issue, rotate and revoke. Only hashes are stored."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inbox import audit, vault
from inbox.models import PortalSecret, SecretKind, Ticket

DROP_REF_BYTES = 16  # 128 bits: the public link only writes, so guessing it reads nothing
READ_SECRET_BYTES = 32  # 256 bits
READ_TTL_FACEBOOK_PRIVATE_REPLY = timedelta(days=7)
READ_TTL_DEFAULT = timedelta(hours=24)


def drop_link(drop_ref: str) -> str:
    return f"{settings.HAVEN_BASE_URL}/s/{drop_ref}"


def read_link(read_secret: str) -> str:
    # The secret rides in the fragment: servers, unfurlers, logs and Referer never see it.
    return f"{settings.HAVEN_BASE_URL}/r/#t={read_secret}"


# What ``read_link`` puts in a message: the secret is URL-safe base64 after "#t=".
_READ_LINK_SECRET = re.compile(r"/r/#t=([A-Za-z0-9_-]+)")


def revoke_read_secret_in(*, ticket: Ticket, text: str) -> bool:
    """Revoke the unused read secret whose link ``text`` (a private message) carries.

    For a private message being replaced by another one: its link did not reach the
    customer, or must not count on having done so. True when a secret was revoked.
    """
    found = _READ_LINK_SECRET.search(text)
    if found is None:
        return False
    return bool(
        PortalSecret.objects.filter(
            ticket=ticket,
            kind=SecretKind.READ,
            secret_hash=vault.secret_hash(SecretKind.READ, found.group(1)),
            used_at__isnull=True,
            revoked_at__isnull=True,
        ).update(revoked_at=timezone.now())
    )


@dataclass(frozen=True, slots=True)
class SecretRequest:
    """One secret to issue: for which ticket, of which kind, living how long."""

    ticket: Ticket
    kind: str
    ttl: timedelta | None
    nbytes: int = READ_SECRET_BYTES


@transaction.atomic
def issue_secret(
    *, ticket: Ticket, kind: str, ttl: timedelta | None, nbytes: int = READ_SECRET_BYTES
) -> str:
    """Create a secret of ``kind`` for ``ticket``; return it once. Only its HMAC is stored."""
    return issue_secrets([SecretRequest(ticket, kind, ttl, nbytes)])[0]


@transaction.atomic
def issue_secrets(requests: Sequence[SecretRequest]) -> list[str]:
    """Create several secrets in one insert; return them once, in order."""
    issued, rows = prepare_secrets(requests)
    save_secrets(requests, rows)
    return issued


def prepare_secrets(requests: Sequence[SecretRequest]) -> tuple[list[str], list[PortalSecret]]:
    """New secrets and their unsaved rows (only the HMAC), for tickets perhaps not saved yet."""
    now = timezone.now()
    issued = [secrets.token_urlsafe(r.nbytes) for r in requests]
    rows = [
        PortalSecret(
            ticket=r.ticket,
            kind=r.kind,
            secret_hash=vault.secret_hash(r.kind, secret),
            expires_at=now + r.ttl if r.ttl else None,
        )
        for r, secret in zip(requests, issued, strict=True)
    ]
    return issued, rows


def save_secrets(requests: Sequence[SecretRequest], rows: Sequence[PortalSecret]) -> None:
    """Insert prepared secret rows; their audit events follow the commit in one transaction."""
    PortalSecret.objects.bulk_create(rows)
    audit.record_many_after_commit(
        [
            audit.Entry(
                actor=audit.Actor.system("secrets"),
                action="secret.issue",
                object_type="ticket",
                object_id=r.ticket.public_id,
                ticket_public_id=r.ticket.public_id,
                data={"kind": r.kind, "ttl_s": int(r.ttl.total_seconds()) if r.ttl else None},
            )
            for r in requests
        ]
    )


def issue_drop_ref(*, ticket: Ticket) -> str:
    """The public drop-box reference: it writes to the ticket and never reads it."""
    return issue_secret(ticket=ticket, kind=SecretKind.DROP, ttl=None, nbytes=DROP_REF_BYTES)


def issue_read_secret(*, ticket: Ticket, ttl: timedelta = READ_TTL_DEFAULT) -> str:
    """The private secret: one exchange for a portal session on this ticket."""
    return issue_secret(ticket=ticket, kind=SecretKind.READ, ttl=ttl)


@transaction.atomic
def revoke_ticket_secrets(*, ticket: Ticket, kinds: tuple[str, ...] | None = None) -> int:
    """Revoke the ticket's unused secrets (all kinds unless given); returns how many."""
    qs = PortalSecret.objects.filter(ticket=ticket, revoked_at__isnull=True)
    if kinds:
        qs = qs.filter(kind__in=kinds)
    return qs.update(revoked_at=timezone.now())
