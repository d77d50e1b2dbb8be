"""Logging and error-report filters that keep portal secrets and personal data out of logs."""

from __future__ import annotations

import logging
import re
from typing import Any

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter

# /r/<secret>, /s/<drop_ref>, /x/<export> and similar: the path segment is a secret.
_SECRET_PATH = re.compile(r"(/(?:r|s|m|x)/)[A-Za-z0-9_\-]{6,}")
# ?code=...&state=... of an OAuth callback (Sign in with X): one-time, but still secrets.
_SECRET_QUERY = re.compile(r"([?&](?:code|state)=)[^&\s\"']+")


def scrub(text: str) -> str:
    return _SECRET_QUERY.sub(r"\1[redacted]", _SECRET_PATH.sub(r"\1[redacted]", text))


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
