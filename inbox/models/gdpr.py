"""Data-subject exports (GDPR Art. 15 and 20): encrypted, single-use, expiring downloads."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


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
    # Ids only, so erasing one of these tickets also deletes the export that holds it.
    ticket_public_ids = models.JSONField(default=list, blank=True)
    message_count = models.PositiveIntegerField(default=0)
    archive_ciphertext = models.BinaryField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Subject export #{self.pk}"
