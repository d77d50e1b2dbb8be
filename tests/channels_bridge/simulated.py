"""Helpers for tests that drive the simulator with the real SDKs or plain HTTP."""

from __future__ import annotations

import json
from typing import Any

import requests

from channels_bridge.simulator import RunningSimulator

SDK_HOSTS = ("https://graph.facebook.com", "https://api.twitter.com")


class RewritingSession(requests.Session):
    """Sends both SDKs' hard-coded hosts to the simulator, with a default timeout."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        assert isinstance(url, str)
        kwargs.setdefault("timeout", 5)
        for host in SDK_HOSTS:
            url = url.replace(host, self.base_url)
        return super().request(method, url, *args, **kwargs)


def snapshot(running: RunningSimulator) -> Any:
    """The state snapshot, round-tripped through JSON as the HTTP control API sends it."""
    return json.loads(json.dumps(running.sim.snapshot()))
