"""The one way in: a connector per platform slug and credentials. Knows nothing of tickets."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from channels_bridge.facebook import FacebookConnector
from channels_bridge.protocol import Connector
from channels_bridge.x import XConnector

__all__ = ["PLATFORMS", "get_connector"]

_Factory = Callable[..., Connector]

_CONNECTORS: dict[str, _Factory] = {
    "facebook": FacebookConnector,
    "x": XConnector,
}
PLATFORMS: tuple[str, ...] = tuple(_CONNECTORS)


def get_connector(
    platform: str,
    credentials: Mapping[str, str],
    *,
    base_url: str | None = None,
    timeout: float = 10.0,
) -> Connector:
    """A connector for ``platform`` ("facebook" or "x").

    ``credentials`` holds the keys docs/bridge.md lists (missing ones: ValueError).
    ``base_url`` (``http://127.0.0.1:PORT``) sends every SDK call to that host instead of
    graph.facebook.com / api.twitter.com, e.g. to the simulator; None means the real hosts.
    ``timeout`` (seconds) bounds every HTTP call. Unknown platform: ValueError.
    """
    factory = _CONNECTORS.get(platform)
    if factory is None:
        raise ValueError(f"unknown platform {platform!r}; expected one of {', '.join(PLATFORMS)}")
    return factory(credentials, base_url=base_url, timeout=timeout)
