"""Agent websockets: the live inbox and the open ticket page (ids and statuses only).

The browser refetches content over HTTPS on each event; nothing private travels here. Every
group-event handler re-checks access (cached for at most ``access_ttl`` seconds) and closes
with 4403 once it is gone.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from inbox import events, selectors, sessions

logger = logging.getLogger(__name__)

CLOSE_FORBIDDEN = 4403
CLOSE_TOO_BIG = 1009
CLOSE_TOO_MANY = 4429
MAX_FRAME_BYTES = 64 * 1024
MAX_SOCKETS_PER_USER = 20

# Per process: enough to stop one user from holding unbounded sockets on a worker.
_open_sockets: Counter[int] = Counter()


@database_sync_to_async
def _team_ids(user_id: int) -> list[uuid.UUID]:
    return selectors.team_public_ids_for(user_id=user_id)


@database_sync_to_async
def _can_access_ticket(user_id: int, ticket_ref: uuid.UUID) -> bool:
    return selectors.agent_can_access_ticket(user_id=user_id, ticket_ref=ticket_ref)


@database_sync_to_async
def _usernames(user_ids: list[int]) -> dict[int, str]:
    return selectors.agent_usernames(user_ids=user_ids)


class _AgentConsumer(AsyncJsonWebsocketConsumer):
    """Shared rules: an authenticated, active, verified agent with a live session."""

    access_ttl = 30.0
    groups_joined: list[str]
    counted_user: int | None = None

    async def _authenticate(self) -> int | None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        session = self.scope.get("session") or {}
        if sessions.session_expired(session):
            return None
        if session.get(sessions.MFA_STATE_KEY) in (
            sessions.MFA_REQUIRED,
            sessions.MFA_ENROLLED,
        ) and not session.get("otp_device_id"):
            return None
        return int(user.pk)

    async def _join(self, groups: list[str]) -> None:
        self.groups_joined = groups
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)

    async def _accept_for(self, user_id: int) -> bool:
        if _open_sockets[user_id] >= MAX_SOCKETS_PER_USER:
            await self.close(code=CLOSE_TOO_MANY)
            return False
        _open_sockets[user_id] += 1
        self.counted_user = user_id
        await self.accept()
        return True

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        user_id = getattr(self, "counted_user", None)
        if user_id is not None:
            _open_sockets[user_id] -= 1
            if _open_sockets[user_id] <= 0:
                del _open_sockets[user_id]
            self.counted_user = None

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        data = message.get("text") or message.get("bytes") or ""
        if len(data) > MAX_FRAME_BYTES:
            await self.close(code=CLOSE_TOO_BIG)
            return
        await super().websocket_receive(message)

    async def session_ended(self, event: dict[str, Any]) -> None:
        await self.close(code=CLOSE_FORBIDDEN)

    async def _still_allowed(self) -> bool:
        """Re-check access at most every ``access_ttl`` seconds; close 4403 once it is gone."""
        now = time.monotonic()
        if now - getattr(self, "checked_at", float("-inf")) < self.access_ttl:
            return True
        allowed = await self._check_access()
        if not allowed:
            logger.info("socket closed: access gone user=%s", getattr(self, "user_id", 0))
            await self.close(code=CLOSE_FORBIDDEN)
            return False
        self.checked_at = now
        return True

    async def _check_access(self) -> bool:
        raise NotImplementedError


class InboxConsumer(_AgentConsumer):
    """``/ws/inbox/``: tells the agent's inbox list that a ticket of one of its teams changed."""

    async def connect(self) -> None:
        user_id = await self._authenticate()
        if user_id is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user_id = user_id
        self.team_ids = await _team_ids(user_id)
        self.checked_at = time.monotonic()
        await self._join(
            [events.team_group(t) for t in self.team_ids] + [events.agent_user_group(user_id)]
        )
        await self._accept_for(user_id)

    async def _check_access(self) -> bool:
        current = set(await _team_ids(self.user_id))
        return set(self.team_ids) <= current

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The inbox socket only listens; a client frame is ignored.
        return

    async def inbox_ticket_changed(self, event: dict[str, Any]) -> None:
        if await self._still_allowed():
            await self.send_json(
                {
                    "type": "ticket_changed",
                    "ticket": event["ticket"],
                    "status": event["status"],
                    "change": event["change"],
                }
            )

    async def inbox_tickets_created(self, event: dict[str, Any]) -> None:
        if await self._still_allowed():
            await self.send_json({"type": "tickets_created", "tickets": event["tickets"]})


class TicketConsumer(_AgentConsumer):
    """``/ws/tickets/<uuid>/``: new messages, action and status changes, other agents' presence."""

    async def connect(self) -> None:
        user_id = await self._authenticate()
        ticket_ref: uuid.UUID = self.scope["url_route"]["kwargs"]["public_id"]
        if user_id is None or not await _can_access_ticket(user_id, ticket_ref):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user_id = user_id
        self.ticket_ref = ticket_ref
        self.group = events.ticket_agents_group(ticket_ref)
        self.checked_at = time.monotonic()
        await self._join([self.group, events.agent_user_group(user_id)])
        if await self._accept_for(user_id):
            await self._announce("joined")

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", None) and getattr(self, "counted_user", None):
            await self._announce("left")
        await super().disconnect(code)

    async def _check_access(self) -> bool:
        return bool(await _can_access_ticket(self.user_id, self.ticket_ref))

    async def _announce(self, state: str) -> None:
        event = events.presence(
            ticket_public_id=self.ticket_ref, agent_id=self.user_id, state=state
        )
        await self.channel_layer.group_send(self.group, dict(event))

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Accepts ``{"type": "presence", "state": "viewing" | "typing"}`` and nothing else."""
        if not isinstance(content, dict) or content.get("type") != "presence":
            await self.send_json({"type": "error", "code": "unknown_frame", "message": ""})
            return
        state = content.get("state")
        if state not in {"viewing", "typing"}:
            await self.send_json({"type": "error", "code": "bad_presence", "message": ""})
            return
        if await self._still_allowed():
            await self._announce(str(state))

    async def ticket_presence(self, event: dict[str, Any]) -> None:
        agent_id = int(event["agent"])
        if agent_id == self.user_id or not await self._still_allowed():
            return
        if event["state"] == "joined":
            # A newcomer should learn who is already here.
            await self._announce("viewing")
        names = await _usernames([agent_id])
        await self.send_json(
            {
                "type": "presence",
                "agent": agent_id,
                "name": names.get(agent_id, ""),
                "state": "viewing" if event["state"] == "joined" else event["state"],
            }
        )

    async def ticket_message_created(self, event: dict[str, Any]) -> None:
        if await self._still_allowed():
            await self.send_json(
                {"type": "message_created", "message": event["message"], "kind": event["kind"]}
            )

    async def ticket_action_changed(self, event: dict[str, Any]) -> None:
        if await self._still_allowed():
            await self.send_json(
                {"type": "action_changed", "action": event["action"], "status": event["status"]}
            )

    async def inbox_ticket_changed(self, event: dict[str, Any]) -> None:
        if await self._still_allowed():
            await self.send_json(
                {"type": "ticket_changed", "status": event["status"], "change": event["change"]}
            )
