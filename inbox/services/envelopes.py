"""Quarantined webhook bodies (``InboundEnvelope``): keep, count, reprocess, expire, erase.

A signed body the parser refuses is stored encrypted under the channel's key before the
webhook answers 200, so nothing the platform sent us is lost. Once the parser is fixed, an
admin reprocesses the channel's envelopes (channel page or ``manage.py reprocess_envelopes``):
each body is decrypted, parsed with ``channels_bridge.webhooks.parse`` as of the time it
arrived, and ingested through ``pipeline.ingest_items`` like any delivery. Bodies are personal
data: a reprocessed envelope keeps only its metadata, and every envelope is deleted after
``ENVELOPE_MAX_AGE_DAYS`` or the channel's retention, whichever is shorter.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from channels_bridge import webhooks as bridge_webhooks
from channels_bridge.errors import MalformedPayload
from inbox import audit, vault
from inbox.models import (
    Channel,
    ChannelStatus,
    EnvelopeReason,
    EnvelopeStatus,
    InboundEnvelope,
)
from inbox.models.envelopes import ENVELOPE_MAX_AGE_DAYS
from inbox.services.ingest import ingest_items
from inbox.services.subjects import Subject

logger = logging.getLogger(__name__)

# Channels whose deliveries are taken in (and whose envelopes may be reprocessed).
ACCEPTING = (ChannelStatus.ACTIVE, ChannelStatus.NEEDS_REAUTH)
BODY_FIELD = "body"
DIGEST_KIND = "envelope"


@transaction.atomic
def quarantine_body(*, channel: Channel, body: bytes, reason: str) -> InboundEnvelope:
    """Store a signed body we could not read, encrypted, once per identical body and channel.

    Returns the new envelope, or the one already holding this body (a redelivery). Raises
    ``DatabaseError`` when the database is unavailable: the webhook then answers 503.
    """
    digest = vault.body_digest(DIGEST_KIND, body)
    existing = InboundEnvelope.objects.filter(channel=channel, body_digest=digest).first()
    if existing is not None:
        logger.info("envelope redelivered channel=%s envelope=%s", channel.pk, existing.pk)
        return existing
    envelope = InboundEnvelope(
        channel=channel,
        status=EnvelopeStatus.QUARANTINED,
        reason=reason,
        body_size=len(body),
        body_digest=digest,
    )
    envelope.body_ciphertext = vault.encrypt_bytes(channel, envelope, BODY_FIELD, body)
    envelope.full_clean(exclude=["body_ciphertext"], validate_constraints=False)
    try:
        with transaction.atomic():
            envelope.save()
    except IntegrityError:
        # The same body arrived twice at once: the other delivery stored it.
        return InboundEnvelope.objects.get(channel=channel, body_digest=digest)
    logger.warning(
        "webhook quarantined channel=%s envelope=%s reason=%s size=%s",
        channel.pk,
        envelope.pk,
        reason,
        envelope.body_size,
    )
    return envelope


def quarantined_count(*, channel: Channel) -> int:
    return InboundEnvelope.objects.filter(
        channel=channel, status=EnvelopeStatus.QUARANTINED
    ).count()


# --- reprocessing ---------------------------------------------------------------------------


class Outcome:
    REPROCESSED = "reprocessed"
    STILL_MALFORMED = "still_malformed"
    UNREADABLE = "unreadable"
    CHANNEL_OFF = "channel_off"
    ALREADY_DONE = "already_done"


@dataclass(frozen=True, slots=True)
class EnvelopeResult:
    outcome: str
    items_stored: int = 0


@dataclass(frozen=True, slots=True)
class ReprocessReport:
    reprocessed: int
    still_quarantined: int
    skipped: int
    items_stored: int


def _classify(body: bytes) -> str:
    try:
        json.loads(body)
    except ValueError:
        return EnvelopeReason.NOT_JSON
    return EnvelopeReason.MALFORMED


@transaction.atomic
def reprocess_envelope(*, envelope_id: int) -> EnvelopeResult:
    """Parse one quarantined body again and ingest its items. Idempotent.

    The time window is checked as of the envelope's arrival, as it would have been then. A body
    that still fails stays quarantined with one more attempt; so does one whose key is gone
    (counted as unreadable). A channel not switched on is left alone.
    """
    envelope = (
        InboundEnvelope.objects.select_for_update(of=("self",))
        .select_related("channel")
        .get(pk=envelope_id)
    )
    if envelope.status != EnvelopeStatus.QUARANTINED:
        return EnvelopeResult(Outcome.ALREADY_DONE)
    channel = envelope.channel
    if channel.status not in ACCEPTING:
        return EnvelopeResult(Outcome.CHANNEL_OFF)
    now = timezone.now()
    envelope.attempts += 1
    envelope.last_attempt_at = now
    try:
        body = vault.decrypt_bytes(channel, envelope, BODY_FIELD, envelope.body_ciphertext)
    except vault.DecryptionError:
        body = None
    if body is None:
        envelope.save(update_fields=["attempts", "last_attempt_at"])
        logger.warning("envelope unreadable envelope=%s channel=%s", envelope.pk, channel.pk)
        return EnvelopeResult(Outcome.UNREADABLE)
    try:
        items = bridge_webhooks.parse(
            channel.platform,
            body,
            own_id=channel.external_account_id,
            now=envelope.received_at,
        )
    except MalformedPayload:
        envelope.reason = _classify(body)
        envelope.save(update_fields=["attempts", "last_attempt_at", "reason"])
        logger.info(
            "envelope still quarantined envelope=%s channel=%s reason=%s attempts=%s",
            envelope.pk,
            channel.pk,
            envelope.reason,
            envelope.attempts,
        )
        return EnvelopeResult(Outcome.STILL_MALFORMED)
    result = ingest_items(channel=channel, items=items)
    envelope.status = EnvelopeStatus.REPROCESSED
    envelope.reprocessed_at = now
    # The items are the record now: the raw copy goes (data minimisation).
    envelope.body_ciphertext = None
    envelope.save(
        update_fields=[
            "attempts",
            "last_attempt_at",
            "status",
            "reprocessed_at",
            "body_ciphertext",
        ]
    )
    logger.info(
        "envelope reprocessed envelope=%s channel=%s items=%s stored=%s",
        envelope.pk,
        channel.pk,
        len(items),
        result.stored,
    )
    return EnvelopeResult(Outcome.REPROCESSED, result.stored)


def reprocess_envelopes(
    *, actor: audit.Actor, channel: Channel | None = None, limit: int | None = None
) -> ReprocessReport:
    """Reprocess quarantined envelopes (of one channel, or all), oldest first; audited.

    Each envelope commits on its own, so a crash loses at most the one in flight.
    """
    pending = InboundEnvelope.objects.filter(status=EnvelopeStatus.QUARANTINED)
    if channel is not None:
        pending = pending.filter(channel=channel)
    ids = list(pending.order_by("received_at", "pk").values_list("pk", flat=True)[:limit])
    counts = dict.fromkeys(
        (
            Outcome.REPROCESSED,
            Outcome.STILL_MALFORMED,
            Outcome.UNREADABLE,
            Outcome.CHANNEL_OFF,
            Outcome.ALREADY_DONE,
        ),
        0,
    )
    items_stored = 0
    for envelope_id in ids:
        result = reprocess_envelope(envelope_id=envelope_id)
        counts[result.outcome] += 1
        items_stored += result.items_stored
    report = ReprocessReport(
        reprocessed=counts[Outcome.REPROCESSED],
        still_quarantined=counts[Outcome.STILL_MALFORMED] + counts[Outcome.UNREADABLE],
        skipped=counts[Outcome.CHANNEL_OFF] + counts[Outcome.ALREADY_DONE],
        items_stored=items_stored,
    )
    audit.record(
        actor=actor,
        action="envelope.reprocess",
        object_type="channel" if channel is not None else "channels",
        object_id=channel.public_id if channel is not None else "",
        data={**counts, "items_stored": items_stored},
    )
    logger.info(
        "envelopes reprocessed channel=%s reprocessed=%s still=%s skipped=%s items=%s",
        channel.pk if channel is not None else "all",
        report.reprocessed,
        report.still_quarantined,
        report.skipped,
        report.items_stored,
    )
    return report


# --- retention and erasure ------------------------------------------------------------------


def purge_expired_envelopes(
    *, now: datetime, cutoffs: Iterable[tuple[int | None, datetime]] = ()
) -> int:
    """Delete envelopes older than ``ENVELOPE_MAX_AGE_DAYS`` or their channel's cutoff.

    ``cutoffs`` are ``(channel id, oldest time kept)`` pairs from the channel policies; the
    fixed maximum age applies to every envelope whatever its channel says.
    """
    oldest = now - timedelta(days=ENVELOPE_MAX_AGE_DAYS)
    with transaction.atomic():
        deleted, _ = InboundEnvelope.objects.filter(received_at__lt=oldest).delete()
        for channel_id, cutoff in cutoffs:
            if channel_id is None or cutoff <= oldest:
                continue
            more, _ = InboundEnvelope.objects.filter(
                channel_id=channel_id, received_at__lt=cutoff
            ).delete()
            deleted += more
    if deleted:
        logger.info("envelopes purged count=%s", deleted)
    return deleted


def _strings(document: object) -> Iterator[str]:
    """Every string, number and key in a JSON document (iteratively: bodies may be deep)."""
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                yield str(key)
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            yield node
        elif isinstance(node, int | float) and not isinstance(node, bool):
            yield str(node)


def _body_strings(body: bytes) -> list[str]:
    try:
        return list(_strings(json.loads(body)))
    except (ValueError, RecursionError):
        # Not JSON: look at the raw text (undecodable bytes cannot hold an identifier).
        return [body.decode("utf-8", "replace")]


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _mention_test(subject: Subject) -> Callable[[str], bool]:
    """The test of one string for the subject: platform id, handle, e-mail or phone.

    Ids match as whole numbers or tokens, the others case-insensitively anywhere in a string,
    so a message that quotes an e-mail address counts.
    """
    author_id = subject.author_id.strip()
    handle = vault.normalise_for_index("handle", subject.handle) if subject.handle else ""
    email = subject.email.strip().casefold()
    phone = _digits(subject.phone) if subject.phone else ""
    id_pattern = re.compile(rf"(?<![\w]){re.escape(author_id)}(?![\w])") if author_id else None
    handle_pattern = (
        re.compile(rf"(?<![\w]){re.escape(handle)}(?![\w])", re.IGNORECASE) if handle else None
    )

    def names_subject(value: str) -> bool:
        folded = value.casefold()
        if id_pattern is not None and id_pattern.search(value):
            return True
        if handle_pattern is not None and handle_pattern.search(folded):
            return True
        if email and email in folded:
            return True
        return len(phone) >= 7 and phone in _digits(value)

    return names_subject


def body_mentions(body: bytes, subject: Subject) -> bool:
    """Whether a raw body names the subject: their platform id, handle, e-mail or phone.

    Every string, number and key is tested (escaped JSON is decoded first).
    """
    names_subject = _mention_test(subject)
    return any(names_subject(value) for value in _body_strings(body))


def _held_envelopes(subject: Subject) -> QuerySet[InboundEnvelope]:
    """The envelopes that still hold a body and could name ``subject``."""
    held = InboundEnvelope.objects.filter(body_ciphertext__isnull=False).select_related("channel")
    if subject.platform and not (subject.email or subject.phone):
        held = held.filter(channel__platform=subject.platform)
    return held.order_by("received_at", "pk")


def find_subject_envelopes(*, subject: Subject) -> list[InboundEnvelope]:
    """Every kept body that names ``subject``, oldest first (for erasure and the export).

    Bodies are opaque, so each one still held (at most a week's worth of quarantined
    deliveries) is decrypted in memory and searched, unaudited like the pipeline's own reads;
    none is shown or logged here. A body whose key is gone is unreadable by anyone and is left
    to ``purge_expired``.
    """
    if subject.is_empty:
        return []
    found: list[InboundEnvelope] = []
    for envelope in _held_envelopes(subject).iterator(chunk_size=100):
        try:
            body = vault.decrypt_bytes(
                envelope.channel, envelope, BODY_FIELD, envelope.body_ciphertext
            )
        except vault.DecryptionError:
            continue
        if body is not None and body_mentions(body, subject):
            found.append(envelope)
    return found


# A real platform delivery nests a dozen levels; anything deeper is shown as text.
MAX_PART_DEPTH = 64
Json = dict[str, "Json"] | list["Json"] | str | int | float | bool | None


class PartFormat:
    JSON = "json"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class SubjectParts:
    """What of one kept body concerns the subject, for their export (GDPR Art. 15).

    ``content`` is the JSON body with the entries that do not name them left out (``withheld``
    counts those), or the body as text when it is not JSON.
    """

    content: Json
    format: str
    withheld: int


class _TooDeep(Exception):
    pass


def _clean(value: str) -> str:
    # NUL dropped, lone surrogates replaced: the export is written as UTF-8.
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _prune(node: Json, names_subject: Callable[[str], bool], depth: int) -> tuple[Json, bool, int]:
    """(the node with other people's entries left out, whether it names the subject, withheld).

    An entry is an object or array inside an array. Where some entries of an array name the
    subject and others don't (a batch of deliveries), the others are left out; an array none
    of whose entries name them belongs to its enclosing entry (attachments, tags) and stays.
    """
    if depth > MAX_PART_DEPTH:
        raise _TooDeep
    if isinstance(node, dict):
        kept: dict[str, Json] = {}
        named, withheld = False, 0
        for key, value in node.items():
            part, part_named, part_withheld = _prune(value, names_subject, depth + 1)
            kept[_clean(key)] = part
            named = named or part_named or names_subject(key)
            withheld += part_withheld
        return kept, named, withheld
    if isinstance(node, list):
        parts = [_prune(value, names_subject, depth + 1) for value in node]
        entries = [isinstance(value, dict | list) for value in node]
        batch = any(part[1] for part, entry in zip(parts, entries, strict=True) if entry)
        out: list[Json] = []
        named, withheld = False, 0
        for entry, (part, part_named, part_withheld) in zip(entries, parts, strict=True):
            if batch and entry and not part_named:
                withheld += 1
                continue
            out.append(part)
            named = named or part_named
            withheld += part_withheld
        return out, named, withheld
    if isinstance(node, str):
        return _clean(node), names_subject(node), 0
    if isinstance(node, float) and not math.isfinite(node):
        # JSON has no NaN or Infinity: keep the value readable, as the body wrote it.
        return str(node), False, 0
    if isinstance(node, int | float) and not isinstance(node, bool):
        return node, names_subject(str(node)), 0
    return node, False, 0


def subject_parts(body: bytes, subject: Subject) -> SubjectParts:
    """The parts of a kept body that concern ``subject`` (found by ``find_subject_envelopes``).

    Uses the same matching as erasure (``_mention_test``). A body that is not JSON, or nests
    deeper than any platform does, cannot be split into entries and is returned whole as text.
    """
    names_subject = _mention_test(subject)
    try:
        document = json.loads(body)
        content, _, withheld = _prune(document, names_subject, 0)
    except (ValueError, RecursionError, _TooDeep):
        return SubjectParts(_clean(body.decode("utf-8", "replace")), PartFormat.TEXT, 0)
    return SubjectParts(content, PartFormat.JSON, withheld)


def erase_subject_envelopes(*, subject: Subject) -> list[str]:
    """Delete every kept body that names ``subject``; return their public ids. Run inside the
    erasing transaction."""
    doomed = find_subject_envelopes(subject=subject)
    if doomed:
        InboundEnvelope.objects.filter(pk__in=[envelope.pk for envelope in doomed]).delete()
        logger.info("envelopes erased for subject count=%s", len(doomed))
    return [str(envelope.public_id) for envelope in doomed]
