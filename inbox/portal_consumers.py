"""Customer websocket: live updates of one ticket for a portal session (ids only).

The socket needs the portal session cookie; no secret ever travels in its URL. It joins only
the ticket's customer group (never an agent group), re-checks access on every event (cached
for at most ``access_ttl`` seconds) and closes with 4403 once access is gone or revoked.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from inbox import events, portal_selectors
from inbox.consumers import CLOSE_FORBIDDEN, CLOSE_TOO_BIG, CLOSE_TOO_MANY, MAX_FRAME_BYTES

logger = logging.getLogger(__name__)

MAX_SOCKETS_PER_GRANT = 10
# Per process: enough to stop one portal session from holding unbounded sockets on a worker.
_open_sockets: Counter[uuid.UUID] = Counter()


@database_sync_to_async
def _access(grant_ref: uuid.UUID, seen: float) -> tuple[uuid.UUID, uuid.UUID | None] | None:
    access = portal_selectors.socket_access(grant_ref=grant_ref, seen=seen)
    if access is None:
        return None
    return access.ticket.public_id, access.contact.public_id if access.contact else None


@database_sync_to_async
def _visible(grant_ref: uuid.UUID, seen: float, message_ref: uuid.UUID) -> bool:
    access = portal_selectors.socket_access(grant_ref=grant_ref, seen=seen)
    return access is not None and portal_selectors.message_visible(
        access=access, message_ref=message_ref
    )


class PortalConsumer(AsyncJsonWebsocketConsumer):
    """``/ws/portal/``: tells the customer's thread page that a message it may read arrived."""

    access_ttl = 30.0
    group = ""
    counted: uuid.UUID | None = None

    async def connect(self) -> None:
        session = self.scope.get("session") or {}
        grant_ref = portal_selectors.grant_ref_from_session(session)
        state = session.get(portal_selectors.SESSION_KEY) or {}
        seen = float(state.get("seen") or 0) if isinstance(state, dict) else 0.0
        found = await _access(grant_ref, seen) if grant_ref is not None else None
        if grant_ref is None or found is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.grant_ref = grant_ref
        self.seen = seen
        self.ticket_ref, self.contact_ref = found
        self.checked_at = time.monotonic()
        if _open_sockets[grant_ref] >= MAX_SOCKETS_PER_GRANT:
            await self.close(code=CLOSE_TOO_MANY)
            return
        _open_sockets[grant_ref] += 1
        self.counted = grant_ref
        self.group = events.ticket_customer_group(self.ticket_ref)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.counted is not None:
            _open_sockets[self.counted] -= 1
            if _open_sockets[self.counted] <= 0:
                del _open_sockets[self.counted]
            self.counted = None

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        data = message.get("text") or message.get("bytes") or ""
        if len(data) > MAX_FRAME_BYTES:
            await self.close(code=CLOSE_TOO_BIG)
            return
        await super().websocket_receive(message)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The customer socket only listens: writing goes through the HTTPS form.
        return

    async def _still_allowed(self) -> bool:
        now = time.monotonic()
        if now - self.checked_at < self.access_ttl:
            return True
        if await _access(self.grant_ref, time.time()) is None:
            logger.info("portal socket closed: access gone")
            await self.close(code=CLOSE_FORBIDDEN)
            return False
        self.checked_at = now
        return True

    async def portal_message_created(self, event: dict[str, Any]) -> None:
        if not await self._still_allowed():
            return
        try:
            message_ref = uuid.UUID(str(event["message"]))
        except (KeyError, ValueError):
            return
        # Reading is checked again over HTTPS, but a session must not even learn that a
        # message it cannot read (an e-mail contact's, an unverified drop) exists.
        if not await _visible(self.grant_ref, time.time(), message_ref):
            return
        await self.send_json({"type": "message_created", "message": str(message_ref)})

    async def portal_contact_access_changed(self, event: dict[str, Any]) -> None:
        # A link to the social author was made or undone: this contact's page reloads and
        # shows what it may read now (what it showed before stays on screen otherwise).
        if self.contact_ref is not None and event.get("contact") == str(self.contact_ref):
            await self.send_json({"type": "access_changed"})

    async def session_revoked(self, event: dict[str, Any]) -> None:
        await self.close(code=CLOSE_FORBIDDEN)

    async def session_ended(self, event: dict[str, Any]) -> None:
        await self.close(code=CLOSE_FORBIDDEN)
