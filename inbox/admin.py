"""Django admin for every model. Encrypted fields never show; credentials are write-only.

State changes with rules (switching a channel on, recording the terms review, credentials) go
through ``inbox.services``, never through a plain field edit.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from inbox import services
from inbox.exceptions import HavenError
from inbox.models import (
    AuditEvent,
    BlindIndex,
    Channel,
    ChannelPolicy,
    InboundEnvelope,
    InboundMessage,
    Membership,
    Message,
    OutboxAction,
    PortalSecret,
    Team,
    Ticket,
    Tombstone,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "public_id"]
    search_fields = ["name"]
    inlines = [MembershipInline]


class ChannelForm(forms.ModelForm):
    api_base_url = forms.URLField(
        required=False,
        assume_scheme="https",
        help_text="Leave empty for the real platform; set for the simulator.",
    )
    credentials = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off"}),
        help_text=(
            "JSON object of credentials. Write-only: stored encrypted and never shown again. "
            "Leave empty to keep the current credentials."
        ),
    )
    record_terms_review = forms.BooleanField(
        required=False,
        label="I reviewed the platform's privacy terms now",
        help_text="Recorded with your name and the time; needed before switching the channel on.",
    )

    class Meta:
        model = Channel
        fields = [
            "team",
            "platform",
            "name",
            "external_account_id",
            "api_base_url",
            "poll_interval_seconds",
            "terms_review_notes",
        ]

    def clean_credentials(self) -> dict[str, str] | None:
        raw = self.cleaned_data.get("credentials", "").strip()
        if not raw:
            if self.instance.pk is None:
                raise forms.ValidationError("A new channel needs its credentials.")
            return None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError("Enter the credentials as a JSON object.") from exc
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise forms.ValidationError("Enter a JSON object of text values.")
        return {str(k): v for k, v in value.items()}


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ["name", "platform", "team", "status", "terms_reviewed_at", "last_polled_at"]
    list_filter = ["platform", "status"]
    readonly_fields = [
        "public_id",
        "status",
        "webhook_verify_token",
        "terms_reviewed_by",
        "terms_reviewed_at",
        "last_polled_at",
        "last_error_code",
        "rate_limited_until",
        "poll_cursor",
    ]
    actions = ["switch_on", "pause"]

    def save_model(self, request: HttpRequest, obj: Channel, form: Any, change: bool) -> None:
        credentials = form.cleaned_data.get("credentials")
        if not change:
            created = services.create_channel(
                team=obj.team,
                platform=obj.platform,
                name=obj.name,
                external_account_id=obj.external_account_id,
                credentials=credentials or {},
                created_by=request.user,  # type: ignore[arg-type]  # admin users are authenticated
                api_base_url=obj.api_base_url,
            )
            obj.pk = created.pk
            obj.refresh_from_db()
        else:
            super().save_model(request, obj, form, change)
            if credentials is not None:
                services.set_channel_credentials(
                    channel=obj,
                    credentials=credentials,
                    changed_by=request.user,  # type: ignore[arg-type]
                )
        if form.cleaned_data.get("record_terms_review"):
            services.record_terms_review(
                channel=obj,
                reviewer=request.user,  # type: ignore[arg-type]
                notes=form.cleaned_data.get("terms_review_notes", ""),
            )

    @admin.action(description="Switch on (needs the terms review)")
    def switch_on(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        for channel in queryset:
            try:
                services.enable_channel(channel=channel, enabled_by=request.user)  # type: ignore[arg-type]
            except HavenError as exc:
                self.message_user(request, f"{channel}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{channel}: switched on.", messages.SUCCESS)

    @admin.action(description="Pause")
    def pause(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        for channel in queryset:
            services.pause_channel(channel=channel, paused_by=request.user)  # type: ignore[arg-type]


@admin.register(ChannelPolicy)
class ChannelPolicyAdmin(admin.ModelAdmin):
    list_display = ["channel", "mode", "hide_original", "send_private_link", "retention_days"]
    # Retention changes go through the channel pages (/channels/), which apply a shorter
    # retention only after the grace period and ask for the password again.
    readonly_fields = ["retention_days", "pending_retention_days", "pending_retention_effective_at"]


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ["public_id", "channel", "kind", "status", "received_at", "ticket"]
    list_filter = ["status", "kind", "channel__platform"]
    readonly_fields = [
        "public_id",
        "channel",
        "platform_message_id",
        "kind",
        "author_external_id",
        "status",
        "ticket",
        "decision",
        "attempts",
        "last_error_code",
        "received_at",
        "processed_at",
    ]
    fields = list(readonly_fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(InboundEnvelope)
class InboundEnvelopeAdmin(admin.ModelAdmin):
    """Quarantined webhook bodies: metadata only. Reprocess from the channel's page."""

    list_display = [
        "public_id",
        "channel",
        "status",
        "reason",
        "body_size",
        "attempts",
        "received_at",
    ]
    list_filter = ["status", "reason", "channel__platform"]
    readonly_fields = [
        "public_id",
        "channel",
        "received_at",
        "status",
        "reason",
        "body_size",
        "body_digest",
        "attempts",
        "last_attempt_at",
        "reprocessed_at",
    ]
    fields = list(readonly_fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Bodies go by age (``purge_expired``) or erasure (``erase_subject``), both audited.
        return False


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["public_id", "kind", "source", "verified", "created_at"]
    readonly_fields = ["public_id", "kind", "source", "verified", "created_at"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OutboxInline(admin.TabularInline):
    model = OutboxAction
    extra = 0
    fields = ["kind", "state", "external_result_id", "attempts", "last_error_code", "sent_at"]
    readonly_fields = [
        "kind",
        "state",
        "external_result_id",
        "attempts",
        "last_error_code",
        "sent_at",
    ]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["reference", "team", "channel", "status", "assignee", "last_activity_at"]
    list_filter = ["status", "team", "legal_hold"]
    search_fields = ["reference"]
    readonly_fields = ["public_id", "reference", "created_at", "last_activity_at", "closed_at"]
    fields = [
        "public_id",
        "reference",
        "team",
        "channel",
        "status",
        "assignee",
        "customer_verified",
        "legal_hold",
        "created_at",
        "last_activity_at",
        "closed_at",
    ]
    inlines = [MessageInline, OutboxInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Erasure destroys the key, leaves a tombstone and is audited: the DPO pages do it.
        return False


@admin.register(OutboxAction)
class OutboxActionAdmin(admin.ModelAdmin):
    list_display = ["public_id", "kind", "channel", "state", "attempts", "created_at", "sent_at"]
    list_filter = ["state", "kind"]
    readonly_fields = [f.name for f in OutboxAction._meta.fields if f.name != "payload_ciphertext"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(PortalSecret)
class PortalSecretAdmin(admin.ModelAdmin):
    list_display = ["public_id", "kind", "ticket", "created_at", "expires_at", "used_at"]
    list_filter = ["kind"]
    fields = ["public_id", "kind", "ticket", "created_at", "expires_at", "used_at", "revoked_at"]
    readonly_fields = ["public_id", "kind", "ticket", "created_at", "expires_at", "used_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(BlindIndex)
class BlindIndexAdmin(admin.ModelAdmin):
    list_display = ["ticket", "kind"]
    fields = ["ticket", "kind"]
    readonly_fields = ["ticket", "kind"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Tombstone)
class TombstoneAdmin(admin.ModelAdmin):
    list_display = ["reference", "ticket_public_id", "reason", "ticket_created_at", "erased_at"]
    readonly_fields = [f.name for f in Tombstone._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "actor_type",
        "actor_id",
        "action",
        "object_type",
        "purpose",
    ]
    list_filter = ["action", "actor_type"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
