"""Optional error reporting to Sentry, scrubbed of secrets and personal data (SECURITY-DESIGN §8).

Off unless ``SENTRY_DSN`` is set (``config/settings.py`` calls ``init_sentry`` then). What may
leave: the exception type, our own exceptions' messages (ids and codes by STYLE.md §4, scrubbed
again here), stack frames without their variables, the request's method and path with every
secret path segment redacted, and breadcrumbs without query strings. What never leaves: request
bodies, query strings, headers, cookies, the user, ``extra``, local variables, other libraries'
exception messages (they may echo what a customer wrote), and performance traces.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import MutableMapping, MutableSequence
from importlib import metadata
from typing import TYPE_CHECKING

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.transport import Transport

if TYPE_CHECKING:
    from sentry_sdk._types import Breadcrumb, BreadcrumbHint, Event, Hint

REDACTED = "[redacted]"
# Packages whose exception messages hold only ids and codes (STYLE.md §4-5).
OWN_PACKAGES = ("inbox", "channels_bridge", "redaction", "config")
# Contexts that describe the machine, not the request or a person.
KEPT_CONTEXTS = frozenset({"runtime", "os", "device", "app", "trace"})

# /r/<secret>, /s/<drop_ref>, /m/<magic>, /x/<export>: the segment after them is a secret.
# (/t/<public_id> names a ticket and grants nothing: it stays.)
_SECRET_PATH = re.compile(r"(/(?:r|s|m|x)/)[^/?#\s\"'<>]+")
# A query string or fragment (with a key=value in it) of any URL-ish text: Graph calls carry
# the page token there, portal links the read secret (#t=...). "Ticket #42" and "why?" stay.
_QUERY = re.compile(r"([?#])(?=[^\s\"'<>]*=)[^\s\"'<>]*")
# Credentials written as key=value anywhere (a URL without its "?", a form body in a message).
_CREDENTIAL = re.compile(
    r"(\b(?:access_token|appsecret_proof|token|secret|code|state|password|t)=)[^&\s\"'<>]+",
    re.IGNORECASE,
)


def scrub_text(text: str) -> str:
    """``text`` with secret path segments, query strings and credentials redacted."""
    text = _SECRET_PATH.sub(rf"\1{REDACTED}", text)
    text = _QUERY.sub(rf"\1{REDACTED}", text)
    return _CREDENTIAL.sub(rf"\1{REDACTED}", text)


def scrub_url(url: str) -> str:
    """The URL without query string or fragment, its secret path segments redacted."""
    bare = url.split("#", 1)[0].split("?", 1)[0]
    return _SECRET_PATH.sub(rf"\1{REDACTED}", bare)


def _scrub_strings(mapping: MutableMapping[str, object]) -> None:
    for key, value in list(mapping.items()):
        if isinstance(value, str):
            mapping[key] = scrub_text(value)


def before_breadcrumb(crumb: Breadcrumb, hint: BreadcrumbHint) -> Breadcrumb | None:
    """Drop HTTP query strings and fragments (Graph calls carry ``access_token`` there)."""
    data = crumb.get("data")
    if isinstance(data, dict):
        for key in ("http.query", "http.fragment", "query_string"):
            data.pop(key, None)
        if isinstance(data.get("url"), str):
            data["url"] = scrub_url(data["url"])
        _scrub_strings(data)
    if isinstance(crumb.get("message"), str):
        crumb["message"] = scrub_text(crumb["message"])
    return crumb


def _clean_request(request: object) -> dict[str, object]:
    """Only the method and the scrubbed path: no query, body, headers, cookies or env."""
    if not isinstance(request, dict):
        return {}
    kept: dict[str, object] = {}
    if isinstance(request.get("method"), str):
        kept["method"] = request["method"]
    if isinstance(request.get("url"), str):
        kept["url"] = scrub_url(request["url"])
    return kept


def _is_own(module: object) -> bool:
    return isinstance(module, str) and module.split(".", 1)[0] in OWN_PACKAGES


def _clean_frames(container: object) -> None:
    stacktrace = container.get("stacktrace") if isinstance(container, dict) else None
    frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
    if isinstance(frames, MutableSequence):
        for frame in frames:
            if isinstance(frame, dict):
                frame.pop("vars", None)


def _clean_exceptions(event: Event) -> None:
    for exception in event.get("exception", {}).get("values", []):
        if not isinstance(exception, dict):
            continue
        value = exception.get("value")
        if isinstance(value, str):
            # Other libraries' messages may echo input (``int("<what they typed>")``).
            exception["value"] = scrub_text(value) if _is_own(exception.get("module")) else REDACTED
        _clean_frames(exception)
    for thread in event.get("threads", {}).get("values", []):
        _clean_frames(thread)


def _clean_logentry(event: Event) -> None:
    entry = event.get("logentry")
    if not isinstance(entry, dict):
        return
    _scrub_strings(entry)
    params = entry.get("params")
    if isinstance(params, list):
        entry["params"] = [scrub_text(p) if isinstance(p, str) else p for p in params]


def before_send(event: Event, hint: Hint) -> Event | None:
    """Strip an error event to what SECURITY-DESIGN §8 allows to leave the server."""
    if "request" in event:
        event["request"] = _clean_request(event["request"])
    event.pop("extra", None)
    event.pop("user", None)
    contexts = event.get("contexts")
    if isinstance(contexts, dict):
        event["contexts"] = {k: v for k, v in contexts.items() if k in KEPT_CONTEXTS}
    _clean_exceptions(event)
    _clean_logentry(event)
    if isinstance(event.get("message"), str):
        event["message"] = scrub_text(event["message"])
    if isinstance(event.get("transaction"), str):
        event["transaction"] = scrub_text(event["transaction"])
    tags = event.get("tags")
    if isinstance(tags, dict):
        _scrub_strings(tags)
    breadcrumbs = event.get("breadcrumbs")
    if isinstance(breadcrumbs, dict) and isinstance(breadcrumbs.get("values"), list):
        kept = [before_breadcrumb(c, {}) for c in breadcrumbs["values"] if isinstance(c, dict)]
        breadcrumbs["values"] = [c for c in kept if c is not None]
    return event


def before_send_transaction(event: Event, hint: Hint) -> Event | None:
    """No performance data: spans would carry SQL, URLs and timings of customers' requests."""
    return None


def _release() -> str | None:
    try:
        return f"haven@{metadata.version('haven')}"
    except metadata.PackageNotFoundError:
        return None


def sentry_options(dsn: str, *, environment: str) -> dict[str, object]:
    """The ``sentry_sdk.init`` options: privacy first, every scrubbing hook installed."""
    return {
        "dsn": dsn,
        "environment": environment,
        # Explicit, so the SDK neither reads SENTRY_RELEASE nor runs git to guess one.
        "release": _release(),
        "send_default_pii": False,
        "include_local_variables": False,
        "max_request_body_size": "never",
        "before_send": before_send,
        "before_breadcrumb": before_breadcrumb,
        "before_send_transaction": before_send_transaction,
        "traces_sample_rate": None,
        # No sentry-trace/baggage headers on calls to Facebook and X, nor on Celery messages.
        "trace_propagation_targets": [],
        "integrations": [CeleryIntegration(propagate_traces=False)],
        "auto_session_tracking": False,
        "enable_logs": False,
    }


def init_sentry(dsn: str, *, environment: str, transport: Transport | None = None) -> None:
    """Start reporting errors to ``dsn``. ``transport`` replaces the network (tests only)."""
    options = sentry_options(dsn, environment=environment)
    if transport is not None:
        options["transport"] = transport
    with warnings.catch_warnings():
        # sentry-sdk 2.7x deprecates send_default_pii for data_collection but still honours
        # it; it is the setting SECURITY-DESIGN §8 names, so keep it explicit.
        warnings.simplefilter("ignore", DeprecationWarning)
        sentry_sdk.init(**options)  # type: ignore[arg-type]  # options typed per key above
