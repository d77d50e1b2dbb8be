"""Subject access and portability exports (GDPR Art. 15 and 20).

An export is a ZIP of ``export.json`` (machine-readable) and ``export.html`` (readable), with the
Art. 15 information (purposes, recipients, retention, source) per channel, and the parts of kept
webhook bodies (``InboundEnvelope``) that name the person. Every decryption goes through
``vault.reveal`` (``reveal_bytes`` for bodies) and is audited. The archive is sealed under a key
derived from a one-time download code that only the requester sees; the code is stored as a
peppered hash, is single use and expires.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from inbox import audit, vault
from inbox.exceptions import LinkExpired
from inbox.models import (
    ChannelPolicy,
    EnvelopeReason,
    InboundEnvelope,
    InboundMessage,
    Message,
    MessageKind,
    MessageSource,
    PortalSecret,
    SecretKind,
    SubjectExport,
    Ticket,
)
from inbox.models.envelopes import ENVELOPE_MAX_AGE_DAYS
from inbox.services.envelopes import BODY_FIELD, find_subject_envelopes, subject_parts
from inbox.services.records import channel_processing
from inbox.services.retention import effective_retention_days
from inbox.services.subjects import Subject, SubjectMatch, find_subject, subject_messages

logger = logging.getLogger(__name__)

EXPORT_TTL = timedelta(hours=24)
EXPORT_FORMAT = "haven.subject_export/1"
PURPOSE = "subject_export"


def _reason_words(reason: str) -> str:
    """Why a delivery was kept (``InboundEnvelope.reason``), in words for the person."""
    if reason == EnvelopeReason.NOT_JSON:
        return _("It was not in the platform's data format (not JSON).")
    if reason == EnvelopeReason.MALFORMED:
        return _(
            "Its content had a shape Haven could not read, or a time outside the accepted window."
        )
    return reason


_DIRECTION = {
    MessageKind.INBOUND: "from_you",
    MessageKind.OUTBOUND: "to_you",
    MessageKind.NOTE: "internal_note",
}


def _ticket_section(
    ticket: Ticket, subject: Subject, match: SubjectMatch, *, owned: bool, actor: audit.Actor
) -> dict[str, Any]:
    contacts = match.contacts.get(ticket.pk, [])
    messages = subject_messages(ticket, subject, owned=owned, contact_ids=match.contact_ids(ticket))
    sealed = [
        *(vault.Sealed(c, "email", c.email_ciphertext) for c in contacts),
        vault.Sealed(
            ticket, "customer_handle", ticket.customer_handle_ciphertext if owned else None
        ),
        vault.Sealed(ticket, "customer_name", ticket.customer_name_ciphertext if owned else None),
        *(vault.Sealed(m, "body", m.body_ciphertext) for m in messages),
    ]
    plain = vault.reveal(ticket, sealed, actor=actor, purpose=PURPOSE)
    emails, plain = plain[: len(contacts)], plain[len(contacts) :]
    return {
        "reference": ticket.reference,
        "channel": ticket.channel.public_id.hex if ticket.channel else None,
        "platform": ticket.channel.platform if ticket.channel else None,
        "your_conversation": owned,
        "opened_at": ticket.created_at.isoformat(),
        "last_activity_at": ticket.last_activity_at.isoformat(),
        "status": ticket.status,
        "your_handle": plain[0],
        "your_name": plain[1],
        "your_email_contacts": [e for e in emails if e],
        # Unverified drop-box messages may be a third party's: withheld, for the DPO to review.
        "withheld_unverified_messages": (
            Message.objects.filter(ticket=ticket, source=MessageSource.DROP).count() if owned else 0
        ),
        "messages": [
            {
                "id": str(m.public_id),
                "at": m.created_at.isoformat(),
                "direction": _DIRECTION.get(MessageKind(m.kind), m.kind),
                "source": m.source,
                "text": body,
                "personal_data_found": sorted({str(f.get("entity")) for f in m.findings or []}),
            }
            for m, body in zip(messages, plain[2:], strict=True)
        ],
    }


def _inbound_section(rows: list[InboundMessage], actor: audit.Actor) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in rows:
        sealed = [
            vault.Sealed(row, "text", row.text_ciphertext),
            vault.Sealed(row, "author_handle", row.author_handle_ciphertext),
            vault.Sealed(row, "author_name", row.author_name_ciphertext),
        ]
        text, handle, name = vault.reveal(row.channel, sealed, actor=actor, purpose=PURPOSE)
        out.append(
            {
                "platform": row.channel.platform,
                "kind": row.kind,
                "platform_message_id": row.platform_message_id,
                "posted_at": row.platform_created_at.isoformat(),
                "received_at": row.received_at.isoformat(),
                "permalink": row.permalink,
                "status": row.status,
                "text": text,
                "your_handle": handle,
                "your_name": name,
            }
        )
    return out


def _envelope_section(
    envelopes: list[InboundEnvelope], subject: Subject, actor: audit.Actor
) -> list[dict[str, Any]]:
    """The kept webhook bodies that name the subject: only the entries that name them.

    Decrypts through ``vault.reveal_bytes`` (one audit event per channel, ids only).
    """
    by_channel: dict[int, list[InboundEnvelope]] = {}
    for envelope in envelopes:
        by_channel.setdefault(envelope.channel_id, []).append(envelope)
    bodies: dict[int, bytes | None] = {}
    keep_days: dict[int, int] = {}
    for channel_id, group in by_channel.items():
        channel = group[0].channel
        sealed = [vault.Sealed(e, BODY_FIELD, e.body_ciphertext) for e in group]
        plain = vault.reveal_bytes(channel, sealed, actor=actor, purpose=PURPOSE)
        bodies.update((e.pk, body) for e, body in zip(group, plain, strict=True))
        policy = ChannelPolicy.objects.filter(channel_id=channel_id).first()
        days = effective_retention_days(policy) if policy else ENVELOPE_MAX_AGE_DAYS
        keep_days[channel_id] = min(days, ENVELOPE_MAX_AGE_DAYS)
    out: list[dict[str, Any]] = []
    for envelope in envelopes:
        body = bodies[envelope.pk]
        parts = subject_parts(body, subject) if body is not None else None
        deleted_after = envelope.received_at + timedelta(days=keep_days[envelope.channel_id])
        out.append(
            {
                "id": str(envelope.public_id),
                "channel": envelope.channel.public_id.hex,
                "channel_name": envelope.channel.name,
                "platform": envelope.channel.platform,
                "received_at": envelope.received_at.isoformat(),
                "reason": envelope.reason,
                "reason_text": _reason_words(envelope.reason),
                "deleted_after": deleted_after.isoformat(),
                # "json": the body with other people's entries left out; "text": not JSON,
                # shown whole; None: it could not be decrypted any more.
                "content_format": parts.format if parts else None,
                "content": parts.content if parts else None,
                "withheld_entries": parts.withheld if parts else 0,
            }
        )
    return out


def build_export(*, subject: Subject, match: SubjectMatch, actor: audit.Actor) -> dict[str, Any]:
    """The export document. Decrypts through ``vault.reveal`` (one audit event per owner)."""
    owned = {t.pk for t in match.owned}
    conversations = [
        _ticket_section(t, subject, match, owned=t.pk in owned, actor=actor) for t in match.tickets
    ]
    envelopes = find_subject_envelopes(subject=subject)
    channels = {t.channel for t in match.tickets if t.channel is not None}
    channels |= {row.channel for row in match.inbound}
    channels |= {envelope.channel for envelope in envelopes}
    return {
        "format": EXPORT_FORMAT,
        "generated_at": timezone.now().isoformat(),
        "controller": {
            "name": settings.HAVEN_ORGANISATION_NAME,
            "privacy_notice": settings.HAVEN_PRIVACY_NOTICE_URL,
        },
        "subject": {
            "platform": subject.platform,
            "author_id": subject.author_id,
            "handle": subject.handle,
            "email": subject.email,
            "phone": subject.phone,
        },
        "processing": [channel_processing(c) for c in sorted(channels, key=lambda c: c.pk)],
        "conversations": conversations,
        "platform_items": _inbound_section(match.inbound, actor),
        "kept_webhook_deliveries": _envelope_section(envelopes, subject, actor),
        "your_rights": [
            "rectification (Art. 16)",
            "erasure (Art. 17)",
            "restriction (Art. 18)",
            "portability (Art. 20)",
            "objection (Art. 21)",
            "complaint to a supervisory authority (Art. 77)",
        ],
    }


def _content_text(delivery: dict[str, Any]) -> str:
    """A kept delivery's content as readable text (the HTML escapes it like any text)."""
    content = delivery["content"]
    if delivery["content_format"] == "json":
        return json.dumps(content, indent=2, ensure_ascii=False)
    return content if isinstance(content, str) else ""


def render_archive(document: dict[str, Any]) -> bytes:
    """ZIP the JSON and the HTML rendering (autoescaped: customer text is data)."""
    deliveries = [
        {**d, "content_text": _content_text(d)} for d in document["kept_webhook_deliveries"]
    ]
    html = render_to_string("dpo/export_document.html", {"doc": document, "deliveries": deliveries})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export.json", json.dumps(document, indent=2, ensure_ascii=False))
        archive.writestr("export.html", html)
    return buffer.getvalue()


def _archive_place(export: SubjectExport) -> str:
    return f"export={export.public_id}|field=archive"


@dataclass(frozen=True, slots=True)
class IssuedExport:
    export: SubjectExport
    code: str
    expires_at: datetime
    tickets: int
    messages: int
    envelopes: int = 0


def export_language(match: SubjectMatch, *, fallback: str) -> str:
    """The language to write a subject's export in: that of their most recent conversation,
    when Haven speaks it, else ``fallback`` (the language of whoever asks for it)."""
    spoken = {code for code, _name in settings.LANGUAGES}
    for ticket in sorted(match.owned, key=lambda t: t.last_activity_at, reverse=True):
        code = (ticket.language or "").split("-")[0].lower()
        if code in spoken:
            return code
    return fallback


@transaction.atomic
def export_subject(
    *,
    subject: Subject,
    requested_by: AbstractBaseUser | None,
    actor: audit.Actor,
    ttl: timedelta = EXPORT_TTL,
    language: str | None = None,
) -> IssuedExport:
    """Build, seal and store an export of ``subject``; return the one-time download code.

    Written in ``language`` (one of ``settings.LANGUAGES``), by default in the language of
    their most recent conversation (``export_language``): the export is for the data
    subject, not for whoever asks for it.
    """
    match = find_subject(subject)
    language = language or export_language(match, fallback=translation.get_language())
    with translation.override(language):
        document = build_export(subject=subject, match=match, actor=actor)
        archive = render_archive(document)
    code = secrets.token_urlsafe(32)
    expires_at = timezone.now() + ttl
    secret = PortalSecret.objects.create(
        kind=SecretKind.EXPORT,
        secret_hash=vault.secret_hash(SecretKind.EXPORT, code),
        expires_at=expires_at,
    )
    count = sum(len(c["messages"]) for c in document["conversations"])
    envelope_ids = [d["id"] for d in document["kept_webhook_deliveries"]]
    export = SubjectExport.objects.create(
        secret=secret,
        requested_by=requested_by,  # type: ignore[misc]  # the configured user model
        ticket_public_ids=[str(i) for i in match.ticket_public_ids],
        envelope_public_ids=envelope_ids,
        message_count=count,
    )
    export.archive_ciphertext = vault.seal_with_secret(
        code, place=_archive_place(export), plaintext=archive
    )
    export.save(update_fields=["archive_ciphertext"])
    audit.record(
        actor=actor,
        action="subject.export",
        object_type="export",
        object_id=export.public_id,
        data={
            "tickets": [str(i) for i in match.ticket_public_ids],
            "messages": count,
            "inbound": len(match.inbound),
            "envelopes": envelope_ids,
            "expires_at": expires_at.isoformat(),
            "language": language,
        },
    )
    logger.info(
        "subject export created export=%s tickets=%s envelopes=%s",
        export.pk,
        len(match.tickets),
        len(envelope_ids),
    )
    return IssuedExport(export, code, expires_at, len(match.tickets), count, len(envelope_ids))


@transaction.atomic
def download_export(*, export_ref: str, code: str, actor: audit.Actor) -> bytes:
    """Consume the one-time code and return the archive; then nothing of it remains stored.

    Raises LinkExpired for an unknown, used, revoked or expired code (all alike).
    """
    now = timezone.now()
    digest = vault.secret_hash(SecretKind.EXPORT, code)
    export = (
        SubjectExport.objects.select_for_update()
        .filter(public_id=export_ref, secret__secret_hash=digest)
        .first()
    )
    if export is None:
        raise LinkExpired("export code unknown")
    claimed = PortalSecret.objects.filter(
        pk=export.secret_id,
        kind=SecretKind.EXPORT,
        used_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=now,
    ).update(used_at=now)
    if claimed != 1 or export.archive_ciphertext is None:
        raise LinkExpired(f"export {export.pk} used or expired")
    archive = vault.open_with_secret(
        code, place=_archive_place(export), blob=bytes(export.archive_ciphertext)
    )
    SubjectExport.objects.filter(pk=export.pk).update(archive_ciphertext=None, downloaded_at=now)
    audit.record(
        actor=actor,
        action="subject.export_download",
        object_type="export",
        object_id=export.public_id,
    )
    logger.info("subject export downloaded export=%s", export.pk)
    return archive


def open_archive(archive: bytes) -> dict[str, Any]:
    """The JSON document inside an archive (for tests and the command line)."""
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        loaded: dict[str, Any] = json.loads(z.read("export.json"))
    return loaded
