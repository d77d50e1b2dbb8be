"""Tickets, their encrypted thread, outbox actions, portal secrets and blind indexes."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from inbox.models.fields import CiphertextField
from inbox.models.social import WrappedKey

# Crockford's base32 without I, L, O, U: easy to read aloud, no look-alikes.
_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference() -> str:
    """A short, non-sequential, non-secret ticket reference such as ``HV-7K3Q9P2M``."""
    return "HV-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


class TicketStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PENDING = "pending", _("Waiting for customer")
    SOLVED = "solved", _("Solved")
    CLOSED = "closed", _("Closed")


class Ticket(models.Model):
    """One customer conversation. Every personal field is encrypted under its own data key."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    reference = models.CharField(max_length=16, unique=True, default=new_reference, editable=False)
    team = models.ForeignKey("inbox.Team", on_delete=models.PROTECT, related_name="tickets")
    channel = models.ForeignKey(
        "inbox.Channel", null=True, blank=True, on_delete=models.PROTECT, related_name="tickets"
    )
    status = models.CharField(
        max_length=10, choices=TicketStatus.choices, default=TicketStatus.OPEN
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
    )
    # The social author: the platform id stays clear (it routes DMs and joins threads); the
    # handle and display name are personal data and encrypted.
    author_external_id = models.CharField(max_length=128, blank=True)
    conversation_external_id = models.CharField(max_length=128, blank=True)
    customer_handle_ciphertext = CiphertextField(null=True, editable=False)
    customer_name_ciphertext = CiphertextField(null=True, editable=False)
    customer_verified = models.BooleanField(default=False)
    language = models.CharField(max_length=8, blank=True)
    preview_ciphertext = CiphertextField(null=True, editable=False)
    unread_for_agents = models.BooleanField(default=True)
    legal_hold = models.BooleanField(default=False)
    # When an agent last ended the customer's access without sending a new private link.
    # While set, "Sign in with X" is refused too; a new private link clears it.
    portal_access_ended_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    last_activity_at = models.DateTimeField(db_index=False)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The agent inbox: a team's tickets by status, newest activity first (keyset).
            models.Index(
                fields=["team", "status", "-last_activity_at", "-id"], name="ticket_inbox_idx"
            ),
            models.Index(
                fields=["team", "-last_activity_at", "-id"], name="ticket_team_recent_idx"
            ),
            models.Index(fields=["assignee", "status"], name="ticket_assignee_idx"),
            models.Index(
                fields=["channel", "author_external_id", "conversation_external_id"],
                name="ticket_thread_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Ticket {self.reference}"

    def get_absolute_url(self) -> str:
        return reverse("inbox:ticket", kwargs={"public_id": self.public_id})

    @property
    def is_closed(self) -> bool:
        return self.status == TicketStatus.CLOSED


class TicketKey(WrappedKey):
    """The ticket's data key. Deleting this row makes every field of the ticket unreadable."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="key")

    class Meta:
        indexes = [models.Index(fields=["kid"], name="ticketkey_kid_idx")]

    def __str__(self) -> str:
        return f"Key of ticket #{self.ticket_id}"


class MessageKind(models.TextChoices):
    INBOUND = "inbound", _("From the customer")
    OUTBOUND = "outbound", _("To the customer")
    NOTE = "note", _("Internal note")


class MessageSource(models.TextChoices):
    SOCIAL = "social", _("Imported from the social platform")
    PORTAL = "portal", _("Secure portal")
    DROP = "drop", _("Public drop box (unverified)")
    AGENT = "agent", _("Agent")
    EMAIL = "email", _("E-mail")


class Message(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=10, choices=MessageKind.choices)
    source = models.CharField(max_length=10, choices=MessageSource.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body_ciphertext = CiphertextField(null=True, editable=False)
    # Labels and offsets of personal data found in the body, never the values.
    findings = models.JSONField(default=list, blank=True)
    verified = models.BooleanField(default=False)
    inbound = models.OneToOneField(
        "inbox.InboundMessage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="message",
    )
    # NULL, not "", for "no key": the unique constraint must not treat keyless messages as equal.
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "idempotency_key"], name="message_unique_idempotency_key"
            )
        ]
        indexes = [models.Index(fields=["ticket", "created_at", "id"], name="message_thread_idx")]

    def __str__(self) -> str:
        return f"Message #{self.pk}"


class OutboxKind(models.TextChoices):
    PUBLIC_REPLY = "public_reply", _("Public reply with the link")
    HIDE = "hide", _("Hide the original")
    PRIVATE_MESSAGE = "private_message", _("Private message with the secret link")


class OutboxState(models.TextChoices):
    PENDING = "pending", _("Pending")
    IN_FLIGHT = "in_flight", _("In flight")
    SENT = "sent", _("Done")
    FAILED = "failed", _("Failed")
    UNKNOWN = "unknown", _("Unknown: check the platform")
    CANCELLED = "cancelled", _("Cancelled")


class OutboxAction(models.Model):
    """One side effect on a platform. Unique per kind, channel and target, so never doubled."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="actions")
    channel = models.ForeignKey("inbox.Channel", on_delete=models.PROTECT, related_name="actions")
    inbound = models.ForeignKey(
        "inbox.InboundMessage", null=True, on_delete=models.SET_NULL, related_name="actions"
    )
    kind = models.CharField(max_length=20, choices=OutboxKind.choices)
    target_external_id = models.CharField(max_length=128)
    state = models.CharField(
        max_length=10, choices=OutboxState.choices, default=OutboxState.PENDING
    )
    # The text to post, encrypted under the ticket key; cleared once sent (it may hold a secret).
    payload_ciphertext = CiphertextField(null=True, editable=False)
    external_result_id = models.CharField(max_length=128, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error_code = models.CharField(max_length=64, blank=True)
    last_error_message = models.CharField(max_length=300, blank=True)
    estimated_cost_usd = models.DecimalField(max_digits=8, decimal_places=4, default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "channel", "target_external_id"], name="outbox_unique_target"
            )
        ]
        indexes = [models.Index(fields=["state", "created_at"], name="outbox_sweep_idx")]

    def __str__(self) -> str:
        return f"Action #{self.pk} ({self.kind})"


class SecretKind(models.TextChoices):
    DROP = "drop", _("Public drop-box reference")
    READ = "read", _("Private read secret")
    MAGIC = "magic", _("E-mail magic link")
    EXPORT = "export", _("Export download")


class PortalSecret(models.Model):
    """A secret handed to a customer. Only its peppered HMAC is stored (SECURITY-DESIGN §1)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="secrets"
    )
    kind = models.CharField(max_length=10, choices=SecretKind.choices)
    secret_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # For e-mail magic links: the contact the link proves; encrypted under the ticket key.
    contact_ciphertext = CiphertextField(null=True, editable=False)

    class Meta:
        indexes = [models.Index(fields=["ticket", "kind"], name="secret_ticket_kind_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class BlindIndex(models.Model):
    """Peppered HMAC of an exact handle, e-mail or phone, for search without plaintext."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="blind_indexes")
    kind = models.CharField(max_length=16)
    digest = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "kind", "digest"], name="blindindex_unique_per_ticket"
            )
        ]
        indexes = [models.Index(fields=["kind", "digest"], name="blindindex_lookup_idx")]

    def __str__(self) -> str:
        return f"Blind index #{self.pk}"


class Tombstone(models.Model):
    """What remains of an erased or purged ticket: ids, dates and the reason, no personal data."""

    ticket_public_id = models.UUIDField(unique=True)
    reference = models.CharField(max_length=16)
    team = models.ForeignKey("inbox.Team", null=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.ForeignKey(
        "inbox.Channel", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    ticket_created_at = models.DateTimeField()
    erased_at = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(max_length=32)

    def __str__(self) -> str:
        return f"Tombstone {self.reference}"
