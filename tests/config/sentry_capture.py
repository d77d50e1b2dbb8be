"""A real sentry_sdk client that records envelopes instead of sending them; ASGI requests."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sentry_sdk
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from config.asgi import application
from config.sentry import init_sentry

TEST_DSN = "https://public@sentry.invalid/1"


class CapturingTransport(Transport):
    """Keeps every envelope the client would have sent, serialised as it would go out."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def wire(self) -> str:
        """Everything captured, as the bytes on the wire (decoded)."""
        return "\n".join(e.serialize().decode("utf-8", "replace") for e in self.envelopes)

    def events(self) -> list[dict[str, Any]]:
        """The error events, as the JSON the server would receive."""
        found = []
        for envelope in self.envelopes:
            for item in envelope.items:
                if item.type == "event":
                    found.append(json.loads(item.get_bytes()))
        return found


@contextmanager
def captured_sentry() -> Iterator[CapturingTransport]:
    """Sentry initialised exactly as production does (``init_sentry``), sending nowhere."""
    transport = CapturingTransport()
    init_sentry(TEST_DSN, environment="test", transport=transport)
    try:
        yield transport
    finally:
        client = sentry_sdk.get_client()
        client.flush()
        client.close()
        sentry_sdk.get_global_scope().set_client(None)


async def asgi_request(
    method: str, path: str, body: bytes = b"", headers: Sequence[tuple[bytes, bytes]] = ()
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """One request through the production ASGI application (config.asgi), as uvicorn sends it."""
    bare, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": bare,
        "raw_path": bare.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"localhost"),
            (b"referer", f"https://localhost{bare}".encode()),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
        "client": ("203.0.113.9", 50000),
        "server": ("localhost", 443),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await communicator.receive_output(timeout=20)
    content = b""
    while True:
        message = await communicator.receive_output(timeout=20)
        content += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(timeout=5)
    return int(start["status"]), list(start["headers"]), content


def csrf_for(path: str) -> tuple[str, str]:
    """The CSRF cookie (``name=value``) and form token a browser gets from ``GET path``."""
    _, headers, content = async_to_sync(asgi_request)("GET", path)
    cookie = next(
        v.decode().split(";", 1)[0]
        for k, v in headers
        if k.lower() == b"set-cookie" and b"csrf" in v
    )
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', content)
    assert token is not None
    return cookie, token[1].decode()
