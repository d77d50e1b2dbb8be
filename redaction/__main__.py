"""The JSONL command line: `python -m redaction scan --jsonl`, stdin records to stdout findings."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable
from typing import IO, TypedDict

from redaction.scanner import scan

logger = logging.getLogger("redaction.cli")


class FindingRecord(TypedDict):
    entity: str
    start: int
    end: int
    score: float


class ResultRecord(TypedDict):
    id: object
    findings: list[FindingRecord]


class ErrorRecord(TypedDict):
    id: object
    line: int
    error: str


def _dump(record: ResultRecord | ErrorRecord) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def process(lines: Iterable[bytes], out: IO[str], locales: list[str] | None) -> int:
    """Scan each JSONL record; return the number of lines that failed.

    A failing line gets `{"id", "line", "error"}` on `out` and the run goes on. Error texts
    name the condition only, never the input, which may hold personal data.
    """
    failed = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            failed += 1
            out.write(_dump({"id": None, "line": number, "error": "line is not valid JSON"}))
            continue
        ident = record.get("id") if isinstance(record, dict) else None
        text = record.get("text") if isinstance(record, dict) else None
        if not isinstance(text, str):
            failed += 1
            out.write(
                _dump(
                    {"id": ident, "line": number, "error": "expected an object with a string text"}
                )
            )
            continue
        try:
            findings = scan(text, locales=locales)
        except Exception as exc:  # noqa: BLE001 - process edge: report the line, keep going
            failed += 1
            logger.error("scan failed line=%s error=%s", number, type(exc).__name__)
            out.write(_dump({"id": ident, "line": number, "error": "scan failed"}))
            continue
        out.write(
            _dump(
                {
                    "id": ident,
                    "findings": [
                        {"entity": f.entity.value, "start": f.start, "end": f.end, "score": f.score}
                        for f in findings
                    ],
                }
            )
        )
    return failed


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit status 0 when every line was scanned, 1 when any failed, 2 on usage."""
    parser = argparse.ArgumentParser(prog="python -m redaction", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    scan_cmd = commands.add_parser("scan", help="scan JSONL records read from stdin")
    scan_cmd.add_argument(
        "--jsonl", action="store_true", required=True, help='stdin lines {"id", "text"}'
    )
    scan_cmd.add_argument(
        "--locale", action="append", dest="locales", help="locale hint such as en_GB (repeatable)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    failed = process(sys.stdin.buffer, sys.stdout, args.locales)
    sys.stdout.flush()
    if failed:
        logger.warning("lines failed count=%s", failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
