"""The JSONL CLI as a subprocess: one result line per input line, errors reported per line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.redaction.synthetic import dni_number, fullwidth

ROOT = Path(__file__).resolve().parents[2]


def run_cli(stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "redaction", "scan", "--jsonl", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_cli_writes_findings_per_line_with_original_offsets() -> None:
    dni = fullwidth(dni_number()[:-1]) + "-" + dni_number()[-1]
    text = f"{fullwidth('DNI')} {dni} y correo ana.ruiz@example.es"
    records = [{"id": "a", "text": text}, {"id": 7, "text": "nothing here"}]
    done = run_cli("".join(json.dumps(r) + "\n" for r in records))
    assert done.returncode == 0
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert first["id"] == "a"
    spans = [(f["entity"], text[f["start"] : f["end"]]) for f in first["findings"]]
    assert spans == [("NATIONAL_ID", dni), ("EMAIL", "ana.ruiz@example.es")]
    assert set(first["findings"][0]) == {"entity", "start", "end", "score"}
    assert second == {"id": 7, "findings": []}


def test_cli_reports_bad_lines_and_goes_on() -> None:
    stdin = (
        '{"id": 1, "text": "call 07911 123456"}\n'
        "this is not json\n"
        '{"id": 2, "text": 42}\n'
        '["not", "an", "object"]\n'
        '{"id": 3, "text": "ok"}\n'
    )
    done = run_cli(stdin)
    assert done.returncode == 1
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line.get("id") for line in lines] == [1, None, 2, None, 3]
    assert lines[0]["findings"][0]["entity"] == "PHONE"
    assert lines[1] == {"id": None, "line": 2, "error": "line is not valid JSON"}
    assert lines[2]["line"] == 3
    assert "error" in lines[2]
    assert "error" in lines[3]
    assert lines[4] == {"id": 3, "findings": []}


def test_cli_never_echoes_input_text() -> None:
    secret = "zoe.secret@example.org"
    done = run_cli(json.dumps({"id": 1, "text": secret}) + "\n{broken " + secret + "\n")
    assert secret not in done.stdout
    assert secret not in done.stderr


def test_cli_skips_blank_lines_and_accepts_locale() -> None:
    done = run_cli('\n{"id": "x", "text": "llámame al 612 345 678"}\n\n', "--locale", "es_ES")
    assert done.returncode == 0
    (line,) = done.stdout.splitlines()
    assert json.loads(line)["findings"][0]["entity"] == "PHONE"


def test_cli_requires_the_jsonl_flag() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "redaction", "scan"],
        input="",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
