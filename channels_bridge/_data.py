"""Typed, forgiving accessors for decoded JSON from the platforms. Knows nothing of tickets."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime

__all__ = [
    "JSONObject",
    "as_id",
    "as_obj",
    "as_str",
    "clean_text",
    "decode_cursor",
    "encode_cursor",
    "from_epoch",
    "get_list",
    "get_obj",
    "get_str",
    "get_text",
    "parse_iso",
    "snowflake_time",
]

JSONObject = dict[str, object]

MAX_ID_LENGTH = 128
_ID_RE = re.compile(r"[A-Za-z0-9_.:\-<>]{1,128}")
_STRICT_ID_RE = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")
_TWITTER_EPOCH_MS = 1288834974657
# Earliest and latest instants accepted from the platforms (seconds since the epoch).
_MIN_EPOCH = 946684800  # 2000-01-01
_MAX_EPOCH = 4102444800  # 2100-01-01


def as_obj(value: object) -> JSONObject | None:
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return value
    return None


def get_obj(data: JSONObject | None, key: str) -> JSONObject | None:
    return as_obj(data.get(key)) if data is not None else None


def get_list(data: JSONObject | None, key: str) -> list[object]:
    value = data.get(key) if data is not None else None
    return value if isinstance(value, list) else []


def as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def get_str(data: JSONObject | None, key: str) -> str | None:
    return as_str(data.get(key)) if data is not None else None


def as_id(value: object, *, strict: bool = False) -> str | None:
    """A platform id as ``str``: a bounded non-empty string, or a JSON integer (Messenger).

    ``strict`` (webhooks) allows only letters, digits and ``_.:-``; otherwise the ``<...>``
    placeholders of anonymised recordings pass too.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 <= value < 10**40:
        return str(value)
    pattern = _STRICT_ID_RE if strict else _ID_RE
    if isinstance(value, str) and pattern.fullmatch(value):
        return value
    return None


def from_epoch(value: object, *, millis: bool = False) -> datetime | None:
    """Aware UTC datetime from epoch seconds (or milliseconds); numeric strings accepted."""
    if isinstance(value, bool):
        return None
    number: float
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and value.isdigit() and len(value) <= 16:
        number = float(int(value))
    else:
        return None
    seconds = number / 1000 if millis else number
    if not _MIN_EPOCH <= seconds <= _MAX_EPOCH:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


def parse_iso(value: object) -> datetime | None:
    """Graph ``2021-02-12T16:27:12+0000`` and X ``2022-10-07T22:40:00.000Z`` as aware UTC."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(UTC)


def snowflake_time(external_id: str) -> datetime | None:
    """Creation time encoded in an X id (used when ``created_at`` was not requested)."""
    if not external_id.isdigit() or len(external_id) > 20:
        return None
    return from_epoch(((int(external_id) >> 22) + _TWITTER_EPOCH_MS), millis=True)


def encode_cursor(state: JSONObject) -> str:
    """An opaque, URL-safe cursor string for ``state``."""
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, platform: str) -> JSONObject:
    """The state inside ``cursor`` (``{}`` for None or ""). ValueError when it is not ours."""
    if not cursor:
        return {}
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        state = as_obj(json.loads(raw))
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"not a {platform} cursor") from exc
    if state is None or state.get("p") != platform:
        raise ValueError(f"not a {platform} cursor")
    return state


def clean_text(value: object) -> str:
    """Text safe to store: NUL removed, lone surrogates replaced; non-strings become ""."""
    if not isinstance(value, str):
        return ""
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def get_text(data: JSONObject | None, key: str) -> str:
    return clean_text(data.get(key)) if data is not None else ""
