"""PII benchmark: scores redaction.scan() on a LABELS.md-format JSONL set and times it.

Usage: .venv/bin/python bench/pii/run_bench.py [--data PATH] [--passes N] [--errors]
Prints per-label precision/recall/F1 (>=50% overlap of the gold span, one-to-one), micro F1,
exact-span and label-agnostic scores, message-level rates, in-process and CLI throughput, and
the time of 100 kB pathological inputs. Figures only; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from redaction import Finding, scan  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "pii" / "dev_set.jsonl"


@dataclass(frozen=True, slots=True)
class Span:
    entity: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Record:
    ident: str
    text: str
    spans: tuple[Span, ...]


def load(path: Path) -> list[Record]:
    records = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                raw = json.loads(line)
                spans = tuple(Span(s["entity"], s["start"], s["end"]) for s in raw["spans"])
                records.append(Record(raw["id"], raw["text"], spans))
    return records


def overlap(a_start: int, a_end: int, b_start: int, b_end: int) -> int:
    return max(0, min(a_end, b_end) - max(a_start, b_start))


def match(gold: tuple[Span, ...], pred: list[Span], *, labelled: bool) -> list[tuple[Span, Span]]:
    """One-to-one pairs where the prediction covers >= 50% of the gold span."""
    pairs: list[tuple[Span, Span]] = []
    used: set[int] = set()
    for g in sorted(gold, key=lambda s: s.start):
        best, best_overlap = -1, 0
        for i, p in enumerate(pred):
            if i in used or (labelled and p.entity != g.entity):
                continue
            ov = overlap(g.start, g.end, p.start, p.end)
            if 2 * ov >= (g.end - g.start) and ov > best_overlap:
                best, best_overlap = i, ov
        if best >= 0:
            used.add(best)
            pairs.append((g, pred[best]))
    return pairs


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def to_spans(findings: list[Finding]) -> list[Span]:
    return [Span(f.entity.value, f.start, f.end) for f in findings]


def score(records: list[Record], show_errors: bool) -> None:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    exact = any_tp = any_fp = any_fn = 0
    pii_msgs = pii_flagged = clean_msgs = clean_flagged = 0
    for rec in records:
        pred = to_spans(scan(rec.text))
        pairs = match(rec.spans, pred, labelled=True)
        for g, p in pairs:
            tp[g.entity] += 1
            exact += (g.start, g.end) == (p.start, p.end)
        matched_gold = {id(g) for g, _ in pairs}
        matched_pred = {id(p) for _, p in pairs}
        for g in rec.spans:
            if id(g) not in matched_gold:
                fn[g.entity] += 1
                if show_errors:
                    print(f"  FN {rec.ident} {g.entity} {g.start}:{g.end}")
        for p in pred:
            if id(p) not in matched_pred:
                fp[p.entity] += 1
                if show_errors:
                    print(f"  FP {rec.ident} {p.entity} {p.start}:{p.end}")
        any_pairs = match(rec.spans, pred, labelled=False)
        any_tp += len(any_pairs)
        any_fn += len(rec.spans) - len(any_pairs)
        any_fp += len(pred) - len(any_pairs)
        if rec.spans:
            pii_msgs += 1
            pii_flagged += bool(pred)
        else:
            clean_msgs += 1
            clean_flagged += bool(pred)
    labels = sorted(set(tp) | set(fp) | set(fn))
    print(f"{'label':<16}{'P':>7}{'R':>7}{'F1':>7}{'TP':>5}{'FP':>5}{'FN':>5}")
    for label in labels:
        prec, recall, f1 = prf(tp[label], fp[label], fn[label])
        print(
            f"{label:<16}{prec:7.3f}{recall:7.3f}{f1:7.3f}{tp[label]:5}{fp[label]:5}{fn[label]:5}"
        )
    total_tp, total_fp, total_fn = sum(tp.values()), sum(fp.values()), sum(fn.values())
    prec, recall, f1 = prf(total_tp, total_fp, total_fn)
    print(f"{'MICRO':<16}{prec:7.3f}{recall:7.3f}{f1:7.3f}{total_tp:5}{total_fp:5}{total_fn:5}")
    ap, ar, af = prf(any_tp, any_fp, any_fn)
    print(f"{'ANY PII':<16}{ap:7.3f}{ar:7.3f}{af:7.3f}")
    print(f"exact-span matches: {exact}/{total_tp} true positives")
    print(f"PII messages flagged: {pii_flagged}/{pii_msgs} = {pii_flagged / max(pii_msgs, 1):.3f}")
    print(
        f"false alarms (PII-free messages flagged): {clean_flagged}/{clean_msgs} = "
        f"{clean_flagged / max(clean_msgs, 1):.3f}"
    )


def throughput(texts: list[str], passes: int) -> None:
    """Median msgs/s over passes, by wall clock and by this process's CPU time.

    The CPU-time figure is the one to compare across runs on a shared machine: other
    processes stretch wall time but not it.
    """
    repeat = max(1, 20_000 // len(texts))
    batch = texts * repeat
    wall_rates = []
    cpu_rates = []
    for _ in range(passes):
        wall, cpu = time.perf_counter(), time.process_time()
        for text in batch:
            scan(text)
        wall_rates.append(len(batch) / (time.perf_counter() - wall))
        cpu_rates.append(len(batch) / max(time.process_time() - cpu, 1e-9))
    print(
        f"scan() in-process: median {statistics.median(wall_rates):,.0f} msgs/s wall clock "
        f"(min {min(wall_rates):,.0f}, max {max(wall_rates):,.0f}), "
        f"median {statistics.median(cpu_rates):,.0f} msgs/s per CPU second; "
        f"{passes} passes of {len(batch)} messages"
    )


def cli_throughput(records: list[Record]) -> None:
    lines = [json.dumps({"id": r.ident, "text": r.text}) for r in records]
    payload = ("\n".join(lines * max(1, 20_000 // len(lines))) + "\n").encode()
    count = payload.count(b"\n")
    command = [sys.executable, "-m", "redaction", "scan", "--jsonl"]
    start = time.perf_counter()
    subprocess.run(command, input=b"", cwd=REPO, check=True, capture_output=True)
    startup = time.perf_counter() - start
    start = time.perf_counter()
    done = subprocess.run(command, input=payload, cwd=REPO, check=True, capture_output=True)
    elapsed = time.perf_counter() - start
    out_lines = done.stdout.count(b"\n")
    print(
        f"CLI: {count / elapsed:,.0f} msgs/s end to end ({count} lines in {elapsed:.2f} s, "
        f"{out_lines} output lines; start-up alone {startup:.2f} s)"
    )


def pathological() -> None:
    size = 100_000
    cases = {
        "digits": "1" * size,
        "digits+spaces": "1 " * (size // 2),
        "digits+dashes": "1-" * (size // 2),
        "digits+dots": "1." * (size // 2),
        "digits+slashes": "12/" * (size // 3),
        "spaces": " " * size,
        "dashes": "-" * size,
        "dots": "." * size,
        "at-signs": "@" * size,
        "at+dots": "@." * (size // 2),
        "a@a.": "a@a." * (size // 4),
        "word dots": "a." * (size // 2),
        "letters": "a" * size,
        "colons/hex": "a:" * (size // 2),
        "ip-like": "1.1.1.1." * (size // 8),
        "words at dot": "jane dot doe at " * (size // 16),
        "number words": "one two " * (size // 8),
        "capitalised names": "Maria " * (size // 6),
        "cue words": "order born my name is " * (size // 22),
        "parens digits": "(0)" * (size // 3),
        "plus signs": "+1 " * (size // 3),
        "iban-like": "DE12 " * (size // 5),
        "iban groups": "DE12 3456 " * (size // 10),
        "card-like groups": "4111 " * (size // 5),
        "street-like": "12 Baker Street, " * (size // 17),
        "compound streets": "Hauptstraße " * (size // 12),
        "phone words": "oh seven " * (size // 9),
        "dob cues": "born 1/1/1990 " * (size // 14),
        "zero-width digits": "1\u200b" * (size // 2),
        "fullwidth digits": "\uff11" * size,
        "no-break spaces": "1\u00a0" * (size // 2),
        "emoji": "\U0001f937\u200d\u2640\ufe0f" * (size // 4),
    }
    worst = 0.0
    for name, text in cases.items():
        start = time.perf_counter()
        findings = scan(text)
        elapsed = time.perf_counter() - start
        worst = max(worst, elapsed)
        print(
            f"  {name:<20} {len(text):>7} chars  {elapsed * 1000:8.1f} ms  {len(findings)} findings"
        )
    print(f"pathological inputs: worst {worst * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--passes", type=int, default=7)
    parser.add_argument("--errors", action="store_true", help="list FP/FN ids and offsets")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    records = load(args.data)
    print(f"data: {args.data} ({len(records)} messages)")
    score(records, args.errors)
    if not args.skip_speed:
        # Other processes on the machine stretch wall-clock figures: print the load with them.
        print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        throughput([r.text for r in records], args.passes)
        cli_throughput(records)
        pathological()


if __name__ == "__main__":
    main()
