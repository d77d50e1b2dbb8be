"""Canned replies: short texts a team reuses in replies to customers (never public replies)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class CannedReply(models.Model):
    """A team's saved reply. Its body is company text, not customer data, so it is stored clear.

    Placeholders (``{ref}``) are substituted literally when used, never evaluated.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey("inbox.Team", on_delete=models.CASCADE, related_name="canned_replies")
    title = models.CharField(max_length=80)
    body = models.TextField(max_length=4000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "title"], name="canned_unique_team_title")
        ]

    def __str__(self) -> str:
        return f"Canned reply #{self.pk}"
