"""Bridge to the social platforms: connectors, webhooks, signatures. Knows nothing of tickets."""

from channels_bridge.errors import (
    AlreadyReplied,
    AmbiguousOutcome,
    AuthExpired,
    BridgeError,
    MalformedPayload,
    NotFound,
    PermissionDenied,
    PlatformError,
    RateLimited,
    TransientError,
)
from channels_bridge.items import (
    Account,
    Batch,
    Capabilities,
    ConnectionReport,
    Item,
    ItemAction,
    ItemKind,
)
from channels_bridge.protocol import Connector

__all__ = [
    "Account",
    "AlreadyReplied",
    "AmbiguousOutcome",
    "AuthExpired",
    "Batch",
    "BridgeError",
    "Capabilities",
    "ConnectionReport",
    "Connector",
    "Item",
    "ItemAction",
    "ItemKind",
    "MalformedPayload",
    "NotFound",
    "PermissionDenied",
    "PlatformError",
    "RateLimited",
    "TransientError",
]
