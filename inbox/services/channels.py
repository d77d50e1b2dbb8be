"""Channel services: connect a social account, its credentials, terms review, on and off."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

import redaction
from channels_bridge.errors import (
    AuthExpired,
    BridgeError,
    NotFound,
    PermissionDenied,
    RateLimited,
    TransientError,
)
from channels_bridge.facebook import FACEBOOK_CAPABILITIES
from channels_bridge.items import Capabilities, ConnectionReport
from channels_bridge.items import ItemKind as BridgeKind
from channels_bridge.x import X_CAPABILITIES
from inbox import audit, policies, vault
from inbox.exceptions import StepUpRequired, TermsNotReviewed
from inbox.models import Channel, ChannelPolicy, ChannelStatus, Platform, PolicyMode, Team
from inbox.services import retention
from inbox.services.connectors import connector_for

logger = logging.getLogger(__name__)


@transaction.atomic
def create_channel(
    *,
    team: Team,
    platform: str,
    name: str,
    external_account_id: str,
    credentials: dict[str, str],
    created_by: AbstractBaseUser | None = None,
    api_base_url: str = "",
) -> Channel:
    """Connect a social account in draft state, with its data key, encrypted credentials and a
    protective default policy. It polls nothing until ``enable_channel``."""
    channel = Channel(
        team=team,
        platform=platform,
        name=name,
        external_account_id=external_account_id,
        api_base_url=api_base_url,
    )
    channel.full_clean(exclude=["credentials_ciphertext"])
    channel.save()
    vault.create_key(channel)
    channel.credentials_ciphertext = vault.encrypt_channel_credentials(channel, credentials)
    channel.save(update_fields=["credentials_ciphertext"])
    ChannelPolicy.objects.create(channel=channel)
    audit.record(
        actor=audit.Actor.user(created_by.pk if created_by else None),
        action="channel.create",
        object_type="channel",
        object_id=channel.public_id,
        data={"platform": platform},
    )
    logger.info("channel created channel=%s platform=%s", channel.pk, platform)
    return channel


@transaction.atomic
def set_channel_credentials(
    *, channel: Channel, credentials: dict[str, str], changed_by: AbstractBaseUser | None
) -> Channel:
    """Replace a channel's credentials (write-only: nothing ever shows them again)."""
    channel.credentials_ciphertext = vault.encrypt_channel_credentials(channel, credentials)
    fields = ["credentials_ciphertext"]
    if channel.status == ChannelStatus.NEEDS_REAUTH:
        # New credentials are the re-authorisation: polling resumes from the stored cursor.
        channel.status = ChannelStatus.ACTIVE
        channel.reauth_notified_at = None
        channel.next_poll_at = timezone.now()
        fields += ["status", "reauth_notified_at", "next_poll_at"]
    channel.save(update_fields=fields)
    audit.record(
        actor=audit.Actor.user(changed_by.pk if changed_by else None),
        action="channel.credentials_set",
        object_type="channel",
        object_id=channel.public_id,
        data={"keys": sorted(credentials)},
    )
    return channel


@transaction.atomic
def record_terms_review(*, channel: Channel, reviewer: AbstractBaseUser, notes: str) -> Channel:
    """Record that an admin reviewed the platform's privacy terms for this channel."""
    channel.terms_reviewed_by = reviewer  # type: ignore[assignment]  # AbstractBaseUser is the User
    channel.terms_reviewed_at = timezone.now()
    channel.terms_review_notes = notes
    channel.full_clean(exclude=["credentials_ciphertext"])
    channel.save(update_fields=["terms_reviewed_by", "terms_reviewed_at", "terms_review_notes"])
    audit.record(
        actor=audit.Actor.user(reviewer.pk),
        action="channel.terms_reviewed",
        object_type="channel",
        object_id=channel.public_id,
        data={"notes_length": len(notes)},
    )
    return channel


@transaction.atomic
def enable_channel(*, channel: Channel, enabled_by: AbstractBaseUser | None) -> Channel:
    """Switch a channel on. Raises TermsNotReviewed until an admin recorded the terms review."""
    channel = Channel.objects.select_for_update().get(pk=channel.pk)
    if not channel.terms_reviewed:
        raise TermsNotReviewed(f"channel {channel.pk} has no terms review")
    channel.status = ChannelStatus.ACTIVE
    channel.next_poll_at = timezone.now()
    channel.save(update_fields=["status", "next_poll_at"])
    audit.record(
        actor=audit.Actor.user(enabled_by.pk if enabled_by else None),
        action="channel.enable",
        object_type="channel",
        object_id=channel.public_id,
    )
    logger.info("channel enabled channel=%s", channel.pk)
    return channel


@transaction.atomic
def pause_channel(*, channel: Channel, paused_by: AbstractBaseUser | None) -> Channel:
    channel.status = ChannelStatus.PAUSED
    channel.save(update_fields=["status"])
    audit.record(
        actor=audit.Actor.user(paused_by.pk if paused_by else None),
        action="channel.pause",
        object_type="channel",
        object_id=channel.public_id,
    )
    return channel


# --- admin pages: connection check, policy edits, preview ------------------------------------


# Fields of ChannelPolicy the policy editor may change (retention goes through retention.py).
POLICY_FIELDS = (
    "mode",
    "trigger_labels",
    "min_score",
    "hide_original",
    "send_private_link",
    "reply_templates",
    "x_reply_style",
)


@dataclass(frozen=True, slots=True)
class PolicyChanges:
    """What the policy editor submitted: every editable value, changed or not."""

    mode: str
    trigger_labels: tuple[str, ...]
    min_score: float
    hide_original: bool
    send_private_link: bool
    reply_templates: dict[str, str]
    x_reply_style: str
    retention_days: int
    poll_interval_seconds: int


def destructive_changes(*, channel: Channel, changes: PolicyChanges) -> tuple[str, ...]:
    """The changes that need a step-up: redirect switched off, or a shorter retention."""
    policy = channel.policy
    found: list[str] = []
    if changes.mode == PolicyMode.OBSERVE and policy.mode != PolicyMode.OBSERVE:
        found.append("mode")
    if changes.retention_days != target_retention_days(policy) and (
        changes.retention_days < retention.effective_retention_days(policy)
    ):
        found.append("retention_days")
    return tuple(found)


def target_retention_days(policy: ChannelPolicy) -> int:
    """The retention the admin last chose: a scheduled shorter value, else the one in force."""
    if policy.pending_retention_days is not None:
        return policy.pending_retention_days
    return retention.effective_retention_days(policy)


@dataclass(frozen=True, slots=True)
class PolicyUpdate:
    policy: ChannelPolicy
    changed: tuple[str, ...]
    retention: retention.RetentionChange | None


@transaction.atomic
def update_policy(
    *,
    channel: Channel,
    changes: PolicyChanges,
    changed_by: AbstractBaseUser,
    stepped_up: bool,
) -> PolicyUpdate:
    """Apply the policy editor's values. Audits the changed field names, never their values.

    A shorter retention is scheduled (it applies after the grace period, see retention.py).
    Raises StepUpRequired for a destructive change (redirect off, shorter retention) unless the
    caller checked a fresh step-up; ValidationError for invalid values.
    """
    channel = (
        Channel.objects.select_for_update(of=("self",)).select_related("policy").get(pk=channel.pk)
    )
    if destructive_changes(channel=channel, changes=changes) and not stepped_up:
        raise StepUpRequired(f"channel {channel.pk} destructive policy change without step-up")
    policy = channel.policy
    changed: list[str] = []
    for name in POLICY_FIELDS:
        value: object = getattr(changes, name)
        if name == "trigger_labels":
            value = sorted(set(changes.trigger_labels))
        if getattr(policy, name) != value:
            setattr(policy, name, value)
            changed.append(name)
    for language_style, template in changes.reply_templates.items():
        style = language_style.split(":", 1)[0]
        problems = policies.validate_template(template, style)
        if problems:
            raise ValidationError({"reply_templates": problems})
    if changed:
        policy.full_clean()
        policy.save(update_fields=[*changed, "updated_at"])
    if channel.poll_interval_seconds != changes.poll_interval_seconds:
        channel.poll_interval_seconds = changes.poll_interval_seconds
        channel.full_clean(exclude=["credentials_ciphertext"])
        channel.save(update_fields=["poll_interval_seconds"])
        changed.append("poll_interval_seconds")
    retention_change = None
    if changes.retention_days != target_retention_days(policy):
        retention_change = retention.change_retention(
            channel=channel,
            days=changes.retention_days,
            actor=audit.Actor.user(changed_by.pk),
        )
        changed.append("retention_days")
        policy.refresh_from_db()
    if changed:
        audit.record(
            actor=audit.Actor.user(changed_by.pk),
            action="policy.update",
            object_type="channel",
            object_id=channel.public_id,
            data={"fields": changed, "stepped_up": stepped_up},
        )
        logger.info("policy updated channel=%s fields=%s", channel.pk, ",".join(changed))
    return PolicyUpdate(policy=policy, changed=tuple(changed), retention=retention_change)


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    """What "test connection" found: the report, or a user-safe error and its code."""

    ok: bool
    report: ConnectionReport | None = None
    error_code: str = ""
    error_message: str = ""


# Translated when shown (gettext at call time).
_CHECK_ERRORS: dict[type[BridgeError], str] = {
    AuthExpired: gettext_noop("The platform refused the token: it expired or was revoked."),
    PermissionDenied: gettext_noop("The token lacks a permission the platform asked for."),
    RateLimited: gettext_noop("The platform is rate-limiting this account. Try again later."),
    NotFound: gettext_noop("The platform does not know this account id."),
    TransientError: gettext_noop("The platform did not answer in time. Try again in a minute."),
}


def check_channel_connection(*, channel: Channel, checked_by: AbstractBaseUser) -> ConnectionCheck:
    """Call the platform with the channel's credentials and report what the token may do.

    Network I/O; writes only the audit event (ids and the outcome code).
    """
    try:
        report = connector_for(channel).check_connection()
    except BridgeError as exc:
        code = type(exc).__name__
        message = next(
            (_(text) for kind, text in _CHECK_ERRORS.items() if isinstance(exc, kind)),
            str(_("The platform answered with an error. Check the credentials and try again.")),
        )
        check = ConnectionCheck(ok=False, error_code=code, error_message=message)
    except ValueError:
        check = ConnectionCheck(
            ok=False,
            error_code="incomplete_credentials",
            error_message=str(_("The stored credentials are incomplete. Enter them again.")),
        )
    else:
        check = ConnectionCheck(ok=True, report=report)
        if report.account_id != channel.external_account_id:
            check = ConnectionCheck(
                ok=True,
                report=replace(
                    report,
                    warnings=(
                        *report.warnings,
                        str(_("The token acts as another account than this channel's id.")),
                    ),
                ),
            )
    audit.record(
        actor=audit.Actor.user(checked_by.pk),
        action="channel.connection_checked",
        object_type="channel",
        object_id=channel.public_id,
        data={"ok": check.ok, "error": check.error_code},
    )
    logger.info(
        "channel connection checked channel=%s ok=%s error=%s",
        channel.pk,
        check.ok,
        check.error_code,
    )
    return check


_PLATFORM_CAPABILITIES: dict[str, Mapping[BridgeKind, Capabilities]] = {
    Platform.X: X_CAPABILITIES,
    Platform.FACEBOOK: FACEBOOK_CAPABILITIES,
}
PREVIEW_LINK = "https://haven.example/s/PREVIEW"
PREVIEW_REF = "HV-PREVIEW"


@dataclass(frozen=True, slots=True)
class PreviewFinding:
    entity: str
    start: int
    end: int
    score: float
    # The matched text, for the admin's page only: never stored, logged or audited.
    value: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Preview:
    findings: tuple[PreviewFinding, ...]
    decision: policies.Decision
    language: str
    reply_text: str
    reply_style: str
    template_problems: tuple[str, ...]
    reply_cost_usd: float = 0.0
    private_cost_usd: float = 0.0


def preview_policy(
    *,
    channel: Channel,
    policy: policies.PolicyView,
    templates: dict[str, str],
    support_cues: tuple[str, ...],
    sample: str,
    kind: str,
) -> Preview:
    """What the pipeline would do with ``sample`` under ``policy`` (saved or not).

    Pure apart from scanning: stores, logs and audits nothing, and calls no platform. Uses the
    platform's per-kind capabilities and a placeholder link and reference.
    """
    found = redaction.scan(sample)
    caps = _PLATFORM_CAPABILITIES[channel.platform].get(BridgeKind(kind))
    if caps is None:
        caps = Capabilities(reply_publicly=False, hide=False, send_private=False)
    allowed = policies.Allowed(
        reply_publicly=caps.reply_publicly,
        hide=caps.hide,
        send_private=caps.send_private,
        reply_cost_usd=caps.reply_cost_usd or 0.0,
        reply_url_cost_usd=caps.reply_url_cost_usd or caps.reply_cost_usd or 0.0,
        private_cost_usd=caps.private_cost_usd or 0.0,
    )
    facts = policies.ItemFacts(
        platform=channel.platform,
        kind=kind,
        support_cue=policies.find_support_cue(sample, support_cues),
    )
    decision = policies.decide(
        policy, [policies.FindingView(f.entity, f.score) for f in found], facts, allowed
    )
    language = policies.guess_language(sample)
    template = policies.template_for(templates, decision.reply_style, language)
    problems = tuple(policies.validate_template(template, decision.reply_style))
    reply = (
        policies.render_reply(template, link=PREVIEW_LINK, ref=PREVIEW_REF)
        if decision.public_reply
        else ""
    )
    return Preview(
        findings=tuple(
            PreviewFinding(
                entity=str(f.entity),
                start=f.start,
                end=f.end,
                score=round(f.score, 3),
                value=sample[f.start : f.end],
            )
            for f in found
        ),
        decision=decision,
        language=language,
        reply_text=reply,
        reply_style=decision.reply_style,
        template_problems=problems,
        reply_cost_usd=(
            (
                allowed.reply_url_cost_usd
                if decision.reply_style == policies.STYLE_LINK
                else allowed.reply_cost_usd
            )
            if decision.public_reply
            else 0.0
        ),
        private_cost_usd=allowed.private_cost_usd if decision.send_private else 0.0,
    )
