"""The append-only, hash-chained audit log. Events carry ids and reasons, never personal data."""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """One audited act. ``hash`` chains each event to the previous one (see ``inbox.audit``)."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField()
    actor_type = models.CharField(max_length=16)
    actor_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=48)
    object_type = models.CharField(max_length=32, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    ticket_public_id = models.UUIDField(null=True, blank=True)
    purpose = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["ticket_public_id", "created_at"], name="audit_ticket_idx"),
            models.Index(fields=["actor_type", "actor_id", "created_at"], name="audit_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"Audit #{self.pk} {self.action}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None and not self._state.adding:
            raise RuntimeError(f"audit event {self.pk} is append-only")
        super().save(*args, **kwargs)  # type: ignore[arg-type]  # Model.save's kwargs are typed

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise RuntimeError(f"audit event {self.pk} is append-only")


class AuditHead(models.Model):
    """A single row locked by every append, so concurrent writers chain in one order."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_event_id = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return "Audit chain head"


class AuditCheckpoint(models.Model):
    """The newest event a verification of the chain reached, so the next one starts there.

    A single row. ``full_verified_at`` is when the whole chain was last walked from the start
    (``verify_audit_log`` or the DPO page's button); a break found by a full walk deletes the
    row, so every later check walks from the start again and keeps reporting the break.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    event_id = models.BigIntegerField()
    event_hash = models.CharField(max_length=64)
    checked = models.BigIntegerField()
    verified_at = models.DateTimeField()
    full_verified_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Audit checkpoint at event {self.event_id}"
