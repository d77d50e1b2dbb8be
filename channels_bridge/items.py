"""Plain data the bridge hands out: items, batches, capabilities. Knows nothing of tickets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = [
    "Account",
    "Batch",
    "Capabilities",
    "ConnectionReport",
    "Item",
    "ItemAction",
    "ItemKind",
]


class ItemKind(StrEnum):
    COMMENT = "comment"
    MENTION = "mention"
    REPLY = "reply"
    DM = "dm"


class ItemAction(StrEnum):
    CREATE = "create"
    EDIT = "edit"
    DELETE = "delete"
    HIDE = "hide"


@dataclass(frozen=True, slots=True)
class Item:
    """One comment, mention, reply or direct message as the platform showed it.

    ``from_self`` marks our own page's or account's posts coming back: they never open tickets.
    ``repr`` shows ids only, so an item never prints what a customer wrote.
    """

    platform: str
    kind: ItemKind
    external_id: str
    author_id: str | None = field(repr=False)
    author_handle: str | None = field(repr=False)
    author_name: str | None = field(repr=False)
    text: str = field(repr=False)
    created_at: datetime
    permalink: str | None = field(repr=False)
    parent_id: str | None
    conversation_id: str | None
    from_self: bool = False
    action: ItemAction = ItemAction.CREATE

    def __post_init__(self) -> None:
        if self.created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")
        if not self.external_id:
            raise ValueError("external_id must not be empty")


@dataclass(frozen=True, slots=True)
class Batch:
    """Items fetched in one call, oldest first; store ``next_cursor`` with them."""

    items: tuple[Item, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a connector may do with one kind of item (or, via ``capabilities_for``, one item).

    ``private_window`` is how long after the item a private message is still allowed,
    ``private_limit`` how many private messages one item allows (``None``: no limit).
    Costs are per-request estimates in USD (X pay-per-use pricing; ``None`` where free).
    ``delete_own_reply``: the account may delete its own public reply to such an item again.
    ``reason`` explains, for people, why something is not allowed.
    """

    reply_publicly: bool
    hide: bool
    send_private: bool
    delete_own_reply: bool = False
    private_window: timedelta | None = None
    private_limit: int | None = None
    reply_cost_usd: float | None = None
    reply_url_cost_usd: float | None = None
    private_cost_usd: float | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    """Who the credentials act as and what they may do (the admin's "test connection")."""

    platform: str
    account_id: str
    account_name: str | None
    account_handle: str | None
    permissions: tuple[str, ...] = ()
    token_expires_at: datetime | None = None
    api_version: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Account:
    """A platform user as a lookup returns it."""

    account_id: str
    name: str | None = field(repr=False)
    handle: str | None = field(repr=False)
