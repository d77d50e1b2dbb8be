"""Channel services: connect a social account, its credentials, terms review, on and off."""

from __future__ import annotations

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from inbox import audit, vault
from inbox.exceptions import TermsNotReviewed
from inbox.models import Channel, ChannelPolicy, ChannelStatus, Team

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
