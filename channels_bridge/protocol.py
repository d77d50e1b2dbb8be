"""The Connector protocol every platform implements. Knows nothing of tickets."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol, runtime_checkable

from channels_bridge.items import Batch, Capabilities, ConnectionReport, Item, ItemKind

__all__ = ["Connector"]


@runtime_checkable
class Connector(Protocol):
    """One connected social account. Every method raises only ``channels_bridge.errors``."""

    platform: str
    capabilities: Mapping[ItemKind, Capabilities]

    def fetch_since(self, cursor: str | None) -> Batch:
        """Comments, mentions, replies and DMs after ``cursor`` (opaque), oldest first.

        Each item comes back once across successive calls; ``next_cursor`` resumes right
        after the last item returned (it equals ``cursor`` when nothing new arrived).
        """
        ...

    def reply_publicly(self, item: Item, text: str) -> str:
        """Post ``text`` publicly under ``item``; returns the platform id of the reply.

        Raises ``AmbiguousOutcome`` when the post may have happened: call ``find_own_reply``.
        """
        ...

    def hide(self, item: Item) -> None:
        """Hide ``item`` from the public; hiding twice is harmless."""
        ...

    def send_private(self, item: Item, text: str) -> str:
        """Send ``text`` privately to the author of ``item``; returns the message id."""
        ...

    def delete_reply(self, external_id: str) -> None:
        """Delete our own public reply ``external_id``; NotFound when it is gone already.

        Where ``capabilities[kind].delete_own_reply`` is False the platform refuses it.
        """
        ...

    def find_own_reply(self, item: Item) -> str | None:
        """Our own public reply under ``item``, to reconcile after a crash or timeout."""
        ...

    def capabilities_for(self, item: Item, *, now: datetime) -> Capabilities:
        """``capabilities[item.kind]`` narrowed by the per-item rules at ``now``."""
        ...

    def check_connection(self) -> ConnectionReport:
        """Who the credentials act as and what the token may do."""
        ...
