"""PII detection and redaction for short social messages: pure Python, no Django.

Public API: `scan(text, *, locales=None) -> list[Finding]` and `redact(text, findings=None)`.
Offsets are `str` indices into the text as given. An optional recogniser (for example an NER
model adapter) plugs in through `scan(..., extra=[...])`; nothing here needs one.
"""

from redaction.finding import Entity, Finding
from redaction.scanner import redact, scan

__all__ = ["Entity", "Finding", "redact", "scan"]
