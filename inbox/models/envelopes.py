"""Signed webhook bodies kept because they could not be turned into items (quarantine).

A body whose signature checks out but that our parser refuses is never dropped: it is stored
encrypted under its channel's data key, answered 200 (so the platform stops retrying), shown
as a count on the channel's admin page, and reprocessed once the parser is fixed
(``inbox.services.envelopes``). Bodies that parse are not kept: their items are the record.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inbox.models.fields import CiphertextField

# Raw bodies are personal data in an unchecked shape: they live at most this many days, or the
# channel's retention when that is shorter (SECURITY-DESIGN.md §2).
ENVELOPE_MAX_AGE_DAYS = 7


class EnvelopeStatus(models.TextChoices):
    QUARANTINED = "quarantined", _("Quarantined (could not be read)")
    REPROCESSED = "reprocessed", _("Reprocessed")


class EnvelopeReason(models.TextChoices):
    NOT_JSON = "not_json", _("Not JSON")
    MALFORMED = "malformed", _("Malformed, unknown shape or outside the time window")


class InboundEnvelope(models.Model):
    """One signed webhook body, encrypted, with what is needed to dedupe and reprocess it.

    Nothing here but the ciphertext comes from the body: size, digest and reason are ours.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.ForeignKey("inbox.Channel", on_delete=models.CASCADE, related_name="envelopes")
    received_at = models.DateTimeField(default=timezone.now, editable=False)
    status = models.CharField(
        max_length=12, choices=EnvelopeStatus.choices, default=EnvelopeStatus.QUARANTINED
    )
    reason = models.CharField(max_length=12, choices=EnvelopeReason.choices)
    body_size = models.PositiveIntegerField()
    # Peppered HMAC-SHA256 of the raw body (``vault.body_digest``): identical redeliveries are
    # stored once, and a guessed body cannot be confirmed from a database dump.
    body_digest = models.CharField(max_length=64)
    # Encrypted under the channel key, bound to this row and field; cleared once reprocessed.
    body_ciphertext = CiphertextField(null=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    reprocessed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "body_digest"], name="envelope_unique_body_per_channel"
            )
        ]
        indexes = [
            models.Index(fields=["channel", "status"], name="envelope_channel_status_idx"),
            models.Index(fields=["received_at"], name="envelope_received_idx"),
        ]

    def __str__(self) -> str:
        return f"Envelope #{self.pk}"
