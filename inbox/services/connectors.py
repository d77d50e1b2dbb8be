"""Connectors for channels, items rebuilt from stored rows, task queueing, channel health."""

from __future__ import annotations

import hashlib
import logging
import threading

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from channels_bridge import registry
from channels_bridge.items import Item
from channels_bridge.items import ItemKind as BridgeKind
from channels_bridge.protocol import Connector
from inbox import audit, vault
from inbox.models import (
    Channel,
    ChannelStatus,
    InboundMessage,
    Membership,
    Role,
)

logger = logging.getLogger(__name__)

_connector_cache: dict[tuple[int, str], Connector] = {}
_connector_lock = threading.Lock()


def connector_for(channel: Channel) -> Connector:
    """The channel's connector, built from its decrypted credentials (cached per thread)."""
    digest = hashlib.sha256(bytes(channel.credentials_ciphertext or b"")).hexdigest()
    base_url = channel.api_base_url or settings.HAVEN_PLATFORM_BASE_URL
    # One per thread too: a threads-pool worker never shares an SDK's HTTP session.
    current = f"{digest}|{base_url}"
    key = (channel.pk, f"{current}|{threading.get_ident()}")
    with _connector_lock:
        cached = _connector_cache.get(key)
    if cached is not None:
        return cached
    connector = registry.get_connector(
        channel.platform,
        vault.decrypt_channel_credentials(channel),
        base_url=base_url or None,
        timeout=settings.HAVEN_PLATFORM_TIMEOUT,
    )
    with _connector_lock:
        # Connectors of this channel built from old credentials go, in every thread.
        for stale in [
            k for k in _connector_cache if k[0] == channel.pk and k[1].rsplit("|", 1)[0] != current
        ]:
            del _connector_cache[stale]
        _connector_cache[key] = connector
    return connector


def item_from_inbound(inbound: InboundMessage, *, text: str = "") -> Item:
    """Rebuild the bridge item from the clear ids kept on the inbound row."""
    return Item(
        platform=inbound.channel.platform,
        kind=BridgeKind(inbound.kind),
        external_id=inbound.platform_message_id.split("#", 1)[0],
        author_id=inbound.author_external_id or None,
        author_handle=None,
        author_name=None,
        text=text,
        created_at=inbound.platform_created_at,
        permalink=inbound.permalink or None,
        parent_id=inbound.parent_external_id or None,
        conversation_id=inbound.conversation_external_id or None,
        from_self=inbound.from_self,
    )


def enqueue_on_commit(task_name: str, **kwargs: object) -> None:
    """Queue a task after commit. A broker that is down loses nothing: the sweeper finds the row."""
    from inbox import tasks  # tasks import services; importing here avoids the cycle

    task = getattr(tasks, task_name)

    def send() -> None:
        try:
            task.apply_async(kwargs=kwargs)
        except Exception:  # noqa: BLE001 - broker down: the sweeper dispatches the row later
            logger.warning("enqueue failed task=%s: left for the sweeper", task_name)

    transaction.on_commit(send)


def mark_needs_reauth(*, channel: Channel) -> bool:
    """Stop the channel until an admin re-authorises it; notify its admins once."""
    with transaction.atomic():
        changed = Channel.objects.filter(pk=channel.pk, status=ChannelStatus.ACTIVE).update(
            status=ChannelStatus.NEEDS_REAUTH,
            last_error_code="auth_expired",
            last_error_at=timezone.now(),
        )
        notify = Channel.objects.filter(pk=channel.pk, reauth_notified_at__isnull=True).update(
            reauth_notified_at=timezone.now()
        )
        if changed:
            audit.record(
                actor=audit.Actor.system("pipeline"),
                action="channel.needs_reauth",
                object_type="channel",
                object_id=channel.public_id,
            )
    if notify:
        _notify_admins_reauth(channel)
    if changed:
        logger.error(
            "channel needs reauthorisation channel=%s platform=%s", channel.pk, channel.platform
        )
    return bool(changed)


def _notify_admins_reauth(channel: Channel) -> None:
    recipients = sorted(
        {
            m.user.email
            for m in Membership.objects.filter(
                team=channel.team_id, role=Role.ADMIN
            ).select_related("user")
            if m.user.email
        }
    )
    if not recipients:
        return
    send_mail(
        subject=f"Haven: {channel.get_platform_display()} channel needs re-authorisation",
        message=(
            f'The {channel.get_platform_display()} channel "{channel.name}" stopped because its '
            "access token expired or was revoked. Nothing is lost: enter new credentials in "
            f"Haven ({settings.HAVEN_BASE_URL}"
            f"{reverse('channel_admin:credentials', kwargs={'channel_ref': channel.public_id})}) "
            "and polling resumes where it stopped."
        ),
        from_email=None,
        recipient_list=recipients,
        fail_silently=True,
    )
