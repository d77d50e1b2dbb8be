"""Ingest: store platform items once per channel and platform id, and queue their processing."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q

from channels_bridge.items import Item, ItemAction
from inbox import vault
from inbox.models import (
    Channel,
    InboundMessage,
    InboundStatus,
    OutboxAction,
    OutboxKind,
    OutboxState,
)
from inbox.services.connectors import enqueue_on_commit
from inbox.services.outbox import mark_sent
from inbox.services.processing import PROCESS_BATCH

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IngestResult:
    stored: int
    duplicates: int
    echoes: int
    new_inbound_ids: tuple[int, ...]


def _storage_id(item: Item) -> str:
    if item.action is ItemAction.EDIT:
        # An edit is a new version to scan; the original platform id stays the target.
        return f"{item.external_id}#edit:{int(item.created_at.timestamp())}"
    return item.external_id


@transaction.atomic
def ingest_items(
    *, channel: Channel, items: Sequence[Item], cursor: str | None = None
) -> IngestResult:
    """Store new items once per (channel, platform id) and queue their processing on commit.

    With ``cursor`` (polling), the channel's cursor advances in the same transaction, so a
    crash before commit re-fetches and dedupes. Our own posts coming back confirm the outbox
    row they answer and open nothing.
    """
    rows: list[InboundMessage] = []
    echoes = 0
    erased = _erased_ids(channel, items)
    for item in items:
        if item.external_id in erased:
            continue  # erased on request: a replay or a late edit must never bring it back
        if item.action is ItemAction.DELETE:
            InboundMessage.objects.filter(
                channel=channel, platform_message_id=item.external_id
            ).exclude(status=InboundStatus.ERASED).update(last_error_code="deleted_by_author")
            continue
        if item.action is ItemAction.HIDE:
            _confirm_hidden(channel=channel, item=item)
            continue
        if item.from_self:
            echoes += 1
            _confirm_own_echo(channel=channel, item=item)
        row = InboundMessage(
            channel=channel,
            platform_message_id=_storage_id(item),
            kind=item.kind.value,
            author_external_id=item.author_id or "",
            parent_external_id=item.parent_id or "",
            conversation_external_id=item.conversation_id or "",
            platform_created_at=item.created_at,
            permalink=(item.permalink or "")[:500],
            from_self=item.from_self,
            status=InboundStatus.IGNORED if item.from_self else InboundStatus.RECEIVED,
        )
        if not item.from_self:
            # Our own echoes need no copy: the outbox row already holds what we said.
            row.text_ciphertext = vault.encrypt(channel, row, "text", item.text)
            if item.author_handle:
                row.author_handle_ciphertext = vault.encrypt(
                    channel, row, "author_handle", item.author_handle
                )
            if item.author_name:
                row.author_name_ciphertext = vault.encrypt(
                    channel, row, "author_name", item.author_name
                )
        rows.append(row)

    InboundMessage.objects.bulk_create(rows, ignore_conflicts=True)
    new = list(
        InboundMessage.objects.filter(
            public_id__in=[r.public_id for r in rows], status=InboundStatus.RECEIVED
        ).values_list("id", flat=True)
    )
    stored = InboundMessage.objects.filter(public_id__in=[r.public_id for r in rows]).count()
    if cursor is not None:
        Channel.objects.filter(pk=channel.pk).update(poll_cursor=cursor[:512])
    for start in range(0, len(new), PROCESS_BATCH):
        enqueue_on_commit("process_messages", inbound_ids=new[start : start + PROCESS_BATCH])
    if rows:
        logger.info(
            "ingested channel=%s stored=%s duplicates=%s echoes=%s",
            channel.pk,
            stored,
            len(rows) - stored,
            echoes,
        )
    return IngestResult(stored, len(rows) - stored, echoes, tuple(new))


def _erased_ids(channel: Channel, items: Sequence[Item]) -> set[str]:
    return set(
        InboundMessage.objects.filter(
            channel=channel,
            platform_message_id__in=[i.external_id for i in items],
            status=InboundStatus.ERASED,
        ).values_list("platform_message_id", flat=True)
    )


def _confirm_own_echo(*, channel: Channel, item: Item) -> None:
    """Our own public reply or private message came back: the outbox row it answers is sent."""
    target = item.parent_id or ""
    candidates = OutboxAction.objects.filter(channel=channel).filter(
        Q(external_result_id=item.external_id)
        | Q(
            kind__in=[OutboxKind.PUBLIC_REPLY, OutboxKind.PRIVATE_MESSAGE],
            target_external_id=target,
            state__in=[OutboxState.IN_FLIGHT, OutboxState.UNKNOWN],
        )
    )
    for action in candidates.select_related("ticket"):
        if action.state != OutboxState.SENT:
            mark_sent(action, item.external_id, how="echo")


def _confirm_hidden(*, channel: Channel, item: Item) -> None:
    for action in OutboxAction.objects.filter(
        channel=channel,
        kind=OutboxKind.HIDE,
        target_external_id=item.external_id,
        state__in=[OutboxState.IN_FLIGHT, OutboxState.UNKNOWN, OutboxState.PENDING],
    ).select_related("ticket"):
        mark_sent(action, "", how="echo")
