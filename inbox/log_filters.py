"""Logging and error-report filters that keep portal secrets and personal data out of logs."""

from __future__ import annotations

import ipaddress
import logging
import re
import traceback
from http import HTTPStatus
from typing import Any

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter

# /r/<secret>, /s/<drop_ref>, /x/<export> and similar: the path segment is a secret.
_SECRET_PATH = re.compile(r"(/(?:r|s|m|x)/)[A-Za-z0-9_\-]{6,}")
# ?code=...&state=... of an OAuth callback (Sign in with X): one-time, but still secrets.
_SECRET_QUERY = re.compile(r"([?&](?:code|state)=)[^&\s\"']+")


# The query string of a path ("/dpo/search/?q=..."), wherever a path appears in a line.
_PATH_QUERY = re.compile(r"(/[^\s?#\"']*)[?#][^\s\"']*")


def scrub(text: str) -> str:
    return _SECRET_QUERY.sub(r"\1[redacted]", _SECRET_PATH.sub(r"\1[redacted]", text))


def scrub_path(text: str) -> str:
    """``text`` with secret path segments redacted and every path's query string dropped."""
    return _PATH_QUERY.sub(r"\1", scrub(text))


def mask_address(text: str) -> str:
    """An ``ip`` or ``ip:port`` cut to its network (IPv4 /24, IPv6 /48), without the port.

    Anything that is not an address is returned as it is.
    """
    host = text
    if text.startswith("[") and "]" in text:  # [v6]:port
        host = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        host = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return text
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


class ScrubPortalPathsFilter(logging.Filter):
    """Rewrite secret-bearing portal paths in any log line (access logs included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        if record.args:
            if isinstance(record.args, tuple):
                record.args = tuple(scrub(a) if isinstance(a, str) else a for a in record.args)
            elif isinstance(record.args, dict):
                record.args = {
                    k: scrub(v) if isinstance(v, str) else v for k, v in record.args.items()
                }
        return True


class AccessLogFilter(logging.Filter):
    """Access log lines (uvicorn's, runserver's): no query string, no secret path segment and
    no full client address (SECURITY-DESIGN.md §8).

    uvicorn logs ``'%s - "%s %s HTTP/%s" %d'`` with the client's ``ip:port``, the method and
    the path *with* its query string; runserver logs the whole request line. Works on the
    arguments, so uvicorn's own formatter (which reads them) gets the cleaned values too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = scrub_path(record.msg)
        if isinstance(record.args, tuple) and record.args:
            first, *rest = record.args
            record.args = tuple(
                scrub_path(a) if isinstance(a, str) else a
                for a in (mask_address(first) if isinstance(first, str) else first, *rest)
            )
        return True


def install_access_log_filter(logger_name: str = "uvicorn.access") -> None:
    """Put ``AccessLogFilter`` on the ASGI server's access logger, whatever handler it has.

    On the logger rather than in ``LOGGING``: the server's own ``--no-access-log`` (which
    leaves the logger without handlers) keeps working, and its own handler gets clean lines.
    """
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, AccessLogFilter) for f in logger.filters):
        logger.addFilter(AccessLogFilter())


def route_server_log_to_console(logger_name: str = "uvicorn") -> None:
    """Send the ASGI server's own lines (start-up, "Exception in ASGI application" with its
    traceback) to the console handler of ``LOGGING``, so ``SafeConsoleFormatter`` writes them.

    uvicorn gives its "uvicorn" logger a handler of its own, whose formatter prints exception
    messages. Done here rather than in ``LOGGING``: configuring "uvicorn" there would reset its
    child "uvicorn.access" and switch the access log back on under ``--no-access-log``. Its
    access logger keeps its own handler, when it has one (``propagate`` is off on it). Nothing
    changes while the root logger has no handler (``LOGGING`` not applied).
    """
    if not logging.getLogger().handlers:
        return
    logger = logging.getLogger(logger_name)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.propagate = True


class ServerErrorLogFilter(logging.Filter):
    """``django.request`` lines for 5xx: method, route pattern, status and exception class.

    Django logs an unhandled exception with its message and traceback, and both can carry
    personal data (a query's parameters, a customer's text in a library's error). This keeps
    the line useful without them: ``Internal Server Error: method=POST
    route=/tickets/<uuid:public_id>/reply/ status=500 error=django.db.utils.IntegrityError``.
    The route is the URL pattern, so no id or link secret of the path appears, and no query
    string. Set on the logger, so every handler (the console, Django's DEBUG console) gets the
    short line; Sentry reports exceptions itself, with its own scrubbing (config/sentry.py).
    Lines below 500 are left to ``ScrubPortalPathsFilter``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if getattr(record, "haven_shortened", False) or (
            not record.exc_info and not (isinstance(status, int) and status >= 500)
        ):
            # Already shortened: a reconfigured LOGGING can leave two of these on the logger.
            return True
        request = getattr(record, "request", None)
        method = (getattr(request, "method", None) or "-")[:16]
        match = getattr(request, "resolver_match", None)
        route = f"/{match.route}" if match is not None and match.route else "[unresolved]"
        error = "-"
        if record.exc_info and record.exc_info[0] is not None:
            kind = record.exc_info[0]
            error = f"{kind.__module__}.{kind.__qualname__}"
        try:
            reason = HTTPStatus(status).phrase if isinstance(status, int) else "Server Error"
        except ValueError:
            reason = "Server Error"
        record.msg = "%s: method=%s route=%s status=%s error=%s"
        record.args = (reason, method, route, status if status is not None else "-", error)
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        record.haven_shortened = True
        return True


class HavenExceptionReporterFilter(SafeExceptionReporterFilter):
    """Error reports show no request body and no local variables: both can hold customer text."""

    def is_active(self, request: HttpRequest | None) -> bool:
        return True

    def get_post_parameters(self, request: HttpRequest | None) -> dict[str, Any]:
        if request is None:
            return {}
        return dict.fromkeys(request.POST, self.cleansed_substitute)

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: Any) -> Any:
        return []


# The class name at the start of an exception's repr ("ValueError('<text>')").
_REPR_CLASS = re.compile(r"([A-Za-z_][\w.]*)\(")
# The "when" of Celery's retry line ("Retry in 5s: ...", "Retry at 2026-01-02 03:04:05+00:00: ...").
_RETRY_WHEN = re.compile(
    r"Retry (?:in [\d.]+s|at \d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)?)"
)
# A code attribute worth keeping (HavenError.code, a bridge error's platform code, SQLSTATE).
_SAFE_CODE = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
_CODE_ATTRIBUTES = ("code", "sqlstate", "pgcode")
_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"
# Sub-exceptions shown per exception group, and group nesting shown, as the traceback module.
_GROUP_WIDTH = 15
_GROUP_DEPTH = 10
WITHHELD = "[withheld]"


def exception_name(kind: type[BaseException]) -> str:
    """``module.QualName`` of an exception class, as in ``builtins.ValueError``."""
    return f"{kind.__module__}.{kind.__qualname__}"


def _error_line(exc: BaseException) -> str:
    """``error=<class> [code=<code>] (message withheld)``: never ``str(exc)``."""
    line = f"error={exception_name(type(exc))}"
    for attribute in _CODE_ATTRIBUTES:
        value = getattr(exc, attribute, None)
        if isinstance(value, int) and not isinstance(value, bool):
            line += f" {attribute}={value}"
            break
        if isinstance(value, str) and _SAFE_CODE.fullmatch(value):
            line += f" {attribute}={value}"
            break
    return f"{line} (message withheld)"


def _chain(exc: BaseException) -> list[tuple[BaseException, str | None]]:
    """``exc`` and the exceptions it was raised from or while handling, oldest first, each
    with the line that links it to the one printed before it."""
    newest_first: list[tuple[BaseException, str | None]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if current.__cause__ is not None:
            newest_first.append((current, _CAUSE))
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            newest_first.append((current, _CONTEXT))
            current = current.__context__
        else:
            newest_first.append((current, None))
            current = None
    oldest_first = newest_first[::-1]
    return [(e, link if i else None) for i, (e, link) in enumerate(oldest_first)]


def format_exception_safely(exc: BaseException, *, depth: int = 0) -> str:
    """A traceback without exception messages or notes, for the whole chain.

    Keeps, for every exception, its class, any short ``code`` and its frames (file, line,
    function and the source line, which is code, not data). Never ``str(exc)``, ``repr(exc)``,
    ``__notes__`` or local variables: they can hold what a customer wrote or a row's values.
    """
    parts: list[str] = []
    for current, link in _chain(exc):
        if link:
            parts.append(f"\n{link}\n")
        if current.__traceback__ is not None:
            frames = "".join(traceback.extract_tb(current.__traceback__).format())
            parts.append("Traceback (most recent call last):\n" + frames.rstrip("\n"))
        parts.append(_error_line(current))
        if isinstance(current, BaseExceptionGroup):
            parts.extend(_format_group(current, depth=depth))
    return "\n".join(parts)


def _format_group(group: BaseExceptionGroup[BaseException], *, depth: int) -> list[str]:
    if depth >= _GROUP_DEPTH:
        return [f"  | ... {len(group.exceptions)} nested exceptions not shown"]
    parts: list[str] = []
    for number, sub in enumerate(group.exceptions[:_GROUP_WIDTH], 1):
        parts.append(f"  +---------------- {number} ----------------")
        text = format_exception_safely(sub, depth=depth + 1)
        parts.extend(f"  | {line}" for line in text.splitlines())
    if len(group.exceptions) > _GROUP_WIDTH:
        parts.append(f"  | ... and {len(group.exceptions) - _GROUP_WIDTH} more exceptions")
    return parts


class _ExceptionName(str):
    """An exception's class name standing in for the exception: same text for ``%s`` and ``%r``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


def _safe_argument(value: object) -> object:
    if isinstance(value, BaseException):
        return _ExceptionName(exception_name(type(value)))
    return value


def _celery_exception_text(text: str, record: logging.LogRecord) -> str:
    """Celery's trace logger puts ``repr(exc)`` (or a Retry's text, which ends in one) in the
    message itself: only the class name of it stays."""
    if record.exc_info and record.exc_info[1] is not None:
        return exception_name(type(record.exc_info[1]))
    retry = _RETRY_WHEN.match(text)
    if retry and text[retry.end() :].startswith(": "):
        cause = _REPR_CLASS.match(text, retry.end() + 2)
        return f"{retry.group()}: {cause.group(1) if cause else WITHHELD}"
    if retry and retry.end() == len(text):
        return text
    named = _REPR_CLASS.match(text)
    return named.group(1) if named else WITHHELD


def _safe_message_parts(record: logging.LogRecord) -> tuple[object, Any]:
    msg: object = _safe_argument(record.msg)
    args: Any = record.args
    if isinstance(args, tuple):
        args = tuple(_safe_argument(a) for a in args)
    elif isinstance(args, dict):
        args = {k: _safe_argument(v) for k, v in args.items()}
        if record.name == "celery.app.trace" and isinstance(args.get("exc"), str):
            args["exc"] = _celery_exception_text(args["exc"], record)
    return msg, args


class SafeConsoleFormatter(logging.Formatter):
    """Console lines with the record's own message and, for an exception, its class and frames
    but never its message (SECURITY-DESIGN.md §8).

    Haven's own messages carry ids only (STYLE.md §6); an exception's message is someone
    else's text (an IntegrityError prints the conflicting row, a ValueError echoes its input).
    So the traceback is ``format_exception_safely``'s, exceptions passed as arguments
    (``"failed: %r", exc``) print as their class, and Celery's "raised unexpected:
    ValueError('<text>')" keeps only ``ValueError``. The record is left as it came, so other
    handlers (Sentry reports exceptions itself, scrubbed by config/sentry.py) see it unchanged;
    a traceback text another formatter cached on the record is never printed.
    """

    def format(self, record: logging.LogRecord) -> str:
        saved = (record.msg, record.args, record.exc_text)
        record.msg, record.args = _safe_message_parts(record)
        record.exc_text = None
        try:
            return super().format(record)
        finally:
            record.msg, record.args, record.exc_text = saved

    def formatException(self, ei: Any) -> str:  # noqa: N802  # logging's name
        kind, value = ei[0], ei[1]
        if isinstance(value, BaseException):
            return format_exception_safely(value)
        if isinstance(kind, type) and issubclass(kind, BaseException):
            return f"error={exception_name(kind)} (message withheld)"
        return ""
