"""Connected social accounts (channels), their policies and keys, and inbound items."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from inbox.models.fields import CiphertextField

DEFAULT_RETENTION_DAYS = 90
# A shortened retention only takes effect after this many days (SECURITY-DESIGN.md §4).
RETENTION_GRACE_DAYS = 7


class Platform(models.TextChoices):
    FACEBOOK = "facebook", "Facebook"
    X = "x", "X"


class ItemKind(models.TextChoices):
    COMMENT = "comment", _("Comment")
    MENTION = "mention", _("Mention")
    REPLY = "reply", _("Reply")
    DM = "dm", _("Direct message")


class ChannelStatus(models.TextChoices):
    DRAFT = "draft", _("Draft (not switched on)")
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    NEEDS_REAUTH = "needs_reauth", _("Needs re-authorisation")


class PolicyMode(models.TextChoices):
    REDIRECT_ON_PII = "redirect_on_pii", _("Redirect when personal data is found")
    REDIRECT_SUPPORT = "redirect_support", _("Redirect every support message")
    OBSERVE = "observe", _("Observe only")


class XReplyStyle(models.TextChoices):
    ASK_DM = "ask_dm", _("Ask the customer to DM us (no URL, cheaper)")
    LINK = "link", _("Reply with the secure link")


def _verify_token() -> str:
    return secrets.token_urlsafe(24)


class Channel(models.Model):
    """One connected social account. Its credentials are encrypted under its own data key."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey("inbox.Team", on_delete=models.PROTECT, related_name="channels")
    platform = models.CharField(max_length=16, choices=Platform.choices)
    name = models.CharField(max_length=100, help_text="The company's page or account name.")
    # The page id or user id of the company's own account: platform ids stay clear.
    external_account_id = models.CharField(max_length=64)
    status = models.CharField(
        max_length=16, choices=ChannelStatus.choices, default=ChannelStatus.DRAFT
    )
    credentials_ciphertext = CiphertextField(null=True, blank=True, editable=False)
    api_base_url = models.URLField(
        blank=True, help_text="Leave empty for the real platform; set for the simulator."
    )
    webhook_verify_token = models.CharField(max_length=64, default=_verify_token, editable=False)

    poll_interval_seconds = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(15), MaxValueValidator(86_400)]
    )
    poll_cursor = models.CharField(max_length=512, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error_code = models.CharField(max_length=64, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    rate_limited_until = models.DateTimeField(null=True, blank=True)
    reauth_notified_at = models.DateTimeField(null=True, blank=True)

    terms_reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    terms_reviewed_at = models.DateTimeField(null=True, blank=True)
    terms_review_notes = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "external_account_id"], name="channel_unique_account"
            )
        ]
        indexes = [models.Index(fields=["status", "next_poll_at"], name="channel_due_poll_idx")]

    def __str__(self) -> str:
        return f"{self.get_platform_display()}: {self.name}"

    @property
    def terms_reviewed(self) -> bool:
        return self.terms_reviewed_at is not None


class ChannelPolicy(models.Model):
    """What an admin decided for one channel. Defaults protect the customer."""

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="policy")
    mode = models.CharField(
        max_length=20, choices=PolicyMode.choices, default=PolicyMode.REDIRECT_ON_PII
    )
    trigger_labels = models.JSONField(
        default=list, blank=True, help_text="Labels that trigger a redirect; empty means all."
    )
    min_score = models.FloatField(
        default=0.5, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    support_cues = models.JSONField(
        default=list, blank=True, help_text="Extra words that mark a support message."
    )
    hide_original = models.BooleanField(default=True)
    send_private_link = models.BooleanField(default=True)
    reply_templates = models.JSONField(
        default=dict, blank=True, help_text="Language code → template with {link} and {ref}."
    )
    x_reply_style = models.CharField(
        max_length=10, choices=XReplyStyle.choices, default=XReplyStyle.ASK_DM
    )
    retention_days = models.PositiveIntegerField(
        default=DEFAULT_RETENTION_DAYS, validators=[MinValueValidator(1)]
    )
    pending_retention_days = models.PositiveIntegerField(null=True, blank=True)
    pending_retention_effective_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "channel policies"

    def __str__(self) -> str:
        return f"Policy of channel #{self.channel_id}"


class WrappedKey(models.Model):
    """A data key (DEK) wrapped by a master key; only ``inbox.vault`` reads these."""

    kid = models.CharField(max_length=32)
    wrapped = CiphertextField()
    created_at = models.DateTimeField(auto_now_add=True)
    rewrapped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class ChannelKey(WrappedKey):
    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="key")

    class Meta:
        indexes = [models.Index(fields=["kid"], name="channelkey_kid_idx")]

    def __str__(self) -> str:
        return f"Key of channel #{self.channel_id}"


class InboundStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    PROCESSED = "processed", _("Processed")
    IGNORED = "ignored", _("Ignored")
    FAILED = "failed", _("Failed (will retry)")
    ERASED = "erased", _("Erased")


class InboundMessage(models.Model):
    """One item pulled or pushed from a platform, stored once per channel and platform id.

    Its text and author are encrypted under the channel's key until processing moves them into
    a ticket (under the ticket's key); then the inbound copies are cleared.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="inbound")
    platform_message_id = models.CharField(max_length=128)
    kind = models.CharField(max_length=10, choices=ItemKind.choices)
    author_external_id = models.CharField(max_length=128)
    parent_external_id = models.CharField(max_length=128, blank=True)
    conversation_external_id = models.CharField(max_length=128, blank=True)
    platform_created_at = models.DateTimeField()
    permalink = models.URLField(max_length=500, blank=True)
    from_self = models.BooleanField(default=False)
    # Encrypted under the channel key (AAD binds each to this row and field).
    text_ciphertext = CiphertextField(null=True, editable=False)
    author_handle_ciphertext = CiphertextField(null=True, editable=False)
    author_name_ciphertext = CiphertextField(null=True, editable=False)

    status = models.CharField(
        max_length=10, choices=InboundStatus.choices, default=InboundStatus.RECEIVED
    )
    ticket = models.ForeignKey(
        "inbox.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound"
    )
    decision = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error_code = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "platform_message_id"], name="inbound_unique_per_channel"
            )
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="inbound_pending_idx"),
            # Subject access and erasure find a person's items by platform author id.
            models.Index(fields=["channel", "author_external_id"], name="inbound_author_idx"),
        ]

    def __str__(self) -> str:
        return f"Inbound #{self.pk}"
