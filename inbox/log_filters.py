"""Logging and error-report filters that keep portal secrets and personal data out of logs."""

from __future__ import annotations

import ipaddress
import logging
import re
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
