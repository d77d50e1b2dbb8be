"""Data-subject exports (Art. 15, 20) and deletions of Haven's public replies after erasure."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from inbox.models.fields import CiphertextField


class SubjectExport(models.Model):
    """One export of everything about a data subject, sealed under a key only its link holds.

    The archive is encrypted with a key derived from the download code, which is stored only as
    a peppered hash (its ``PortalSecret``): the database alone can never open an export.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    secret = models.OneToOneField(
        "inbox.PortalSecret", on_delete=models.CASCADE, related_name="subject_export"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Ids only, so erasing one of these tickets, or one of these kept webhook deliveries,
    # also deletes the export that holds it.
    ticket_public_ids = models.JSONField(default=list, blank=True)
    envelope_public_ids = models.JSONField(default=list, blank=True)
    message_count = models.PositiveIntegerField(default=0)
    archive_ciphertext = CiphertextField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Subject export #{self.pk}"


class ReplyDeletionState(models.TextChoices):
    PENDING = "pending", _("Waiting")
    IN_FLIGHT = "in_flight", _("Deleting")
    DONE = "done", _("Deleted")
    FAILED = "failed", _("Not deleted")


class ReplyDeletion(models.Model):
    """Deleting one of Haven's own public replies from its platform, after an erasure.

    Holds platform ids only (the reply and its channel), never text or the person's ids, so it
    may outlive the erased ticket: ``erasure_id`` groups the deletions one erasure asked for
    and ``ticket_public_id`` names the erased ticket's tombstone. The reply id is cleared once
    the reply is gone (docs/gdpr.md says why keeping it until then is fine).
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    erasure_id = models.UUIDField(db_index=True)
    channel = models.ForeignKey(
        "inbox.Channel", on_delete=models.PROTECT, related_name="reply_deletions"
    )
    reply_external_id = models.CharField(max_length=128, blank=True)
    ticket_public_id = models.UUIDField(null=True, blank=True)
    state = models.CharField(
        max_length=10, choices=ReplyDeletionState.choices, default=ReplyDeletionState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error_code = models.CharField(max_length=64, blank=True)
    last_error_message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One live deletion per reply: a second erasure that reaches it adds nothing.
            models.UniqueConstraint(
                fields=["channel", "reply_external_id"],
                condition=~models.Q(reply_external_id=""),
                name="replydeletion_unique_reply",
            )
        ]
        indexes = [models.Index(fields=["state", "created_at"], name="replydeletion_sweep_idx")]

    def __str__(self) -> str:
        return f"Reply deletion #{self.pk}"
