"""Plain request/response values passed between the HTTP server and the API handlers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

JsonObj = dict[str, object]

GRAPH_CONTENT_TYPE = "application/json; charset=UTF-8"
X_CONTENT_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Request:
    """One parsed HTTP request. Header names are lower-case."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    form: Mapping[str, list[str]]
    json_body: object
    headers: Mapping[str, str]
    base_url: str

    def param(self, name: str) -> str | None:
        """First value of a query or form parameter (query wins)."""
        values = self.query.get(name) or self.form.get(name)
        return values[0] if values else None

    def json_field(self, name: str) -> object:
        """A top-level field of a JSON object body, or None."""
        if isinstance(self.json_body, dict):
            return self.json_body.get(name)
        return None


@dataclass(slots=True)
class Response:
    """What to send back. `close` drops the connection without any response."""

    status: int
    body: JsonObj | bytes | None
    content_type: str = GRAPH_CONTENT_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False

    def encode(self) -> bytes:
        """Serialise the body."""
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")


def json_response(
    status: int,
    body: JsonObj,
    *,
    content_type: str = GRAPH_CONTENT_TYPE,
    headers: dict[str, str] | None = None,
) -> Response:
    """Build a JSON response."""
    return Response(status, body, content_type, dict(headers or {}))
