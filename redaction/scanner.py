"""scan() and redact(): run the recognisers, map spans to the original text, settle overlaps."""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Iterable, Sequence

from redaction import (
    accounts,
    addresses,
    dates,
    emails,
    financial,
    identifiers,
    network,
    persons,
    phones,
)
from redaction.base import Hit, Options, Recogniser
from redaction.finding import Finding
from redaction.normalise import normalise

logger = logging.getLogger(__name__)

# Order matters only for speed; overlaps are settled by score, then length, then position.
RECOGNISERS: tuple[Recogniser, ...] = (
    emails.find,
    financial.find,
    identifiers.find,
    network.find,
    phones.find,
    accounts.find,
    dates.find,
    addresses.find,
    persons.find,
)
MIN_SCORE = 0.5
_DEFAULT_REGIONS = ("GB", "US", "DE", "FR", "ES", "IT", "NL", "IE", "AT", "CH", "BE")
_LANGUAGE_REGIONS = {
    "en": ("GB", "US", "IE"),
    "de": ("DE", "AT", "CH"),
    "fr": ("FR", "BE", "CH"),
    "es": ("ES",),
    "it": ("IT",),
    "nl": ("NL", "BE"),
}
_TRIM = " \t\r\n.,;!?[]{}\"'<>\u00ab\u00bb\u201c\u201d\u2018\u2019"


def _options(locales: Sequence[str] | None) -> Options:
    if not locales:
        return _DEFAULT_OPTIONS
    regions: list[str] = []
    languages: set[str] = set()
    for locale in locales:
        lang, _, region = locale.replace("-", "_").partition("_")
        lang = lang.lower()
        languages.add(lang)
        if region:
            regions.append(region.upper())
        regions.extend(_LANGUAGE_REGIONS.get(lang, ()))
    # Region hints go first; the defaults stay as a fallback for foreign numbers.
    ordered = tuple(dict.fromkeys([*regions, *_DEFAULT_REGIONS]))
    return Options(regions=ordered, languages=frozenset(languages))


_DEFAULT_OPTIONS = Options(regions=_DEFAULT_REGIONS, languages=frozenset(_LANGUAGE_REGIONS))


def _resolve(hits: Iterable[Hit]) -> list[Hit]:
    """Keep the best non-overlapping hits: higher score, then longer, then earlier."""
    ranked = sorted(hits, key=lambda h: (-h.score, h.start - h.end, h.start, h.entity))
    # Kept spans never overlap, so sorted by start they are sorted by end too: a bisection
    # finds the only two neighbours that could clash, keeping dense inputs near-linear.
    starts: list[int] = []
    taken: list[Hit] = []
    for hit in ranked:
        if hit.score < MIN_SCORE or hit.end <= hit.start:
            continue
        i = bisect_right(starts, hit.start)
        if i and taken[i - 1].end > hit.start:
            continue
        if i < len(taken) and taken[i].start < hit.end:
            continue
        starts.insert(i, hit.start)
        taken.insert(i, hit)
    return taken


def scan(
    text: str,
    *,
    locales: Sequence[str] | None = None,
    extra: Sequence[Recogniser] = (),
) -> list[Finding]:
    """Find personal data in `text`; offsets are `str` indices into `text` itself.

    `locales` ("en", "de_AT", ...) orders the phone-region hints. `extra` adds recognisers,
    such as an NER model adapter, that return `Hit`s on the normalised text. Pure and
    deterministic; never raises on any `str`.
    """
    doc = normalise(text)
    options = _options(locales)
    hits: list[Hit] = []
    for recogniser in (*RECOGNISERS, *extra):
        hits.extend(recogniser(doc, options))
    findings: list[Finding] = []
    for hit in _resolve(hits):
        start, end = doc.span(hit.start, hit.end)
        # Spans never start or end on whitespace or surrounding punctuation.
        while start < end and text[start] in _TRIM:
            start += 1
        while end > start and text[end - 1] in _TRIM:
            end -= 1
        # Brackets belong to the value only in pairs: "(0161) 496 0272" but not "(Maria)".
        if start < end and text[start] == "(" and ")" not in text[start:end]:
            start += 1
        if start < end and text[end - 1] == ")" and "(" not in text[start:end]:
            end -= 1
        if start < end:
            findings.append(Finding(hit.entity, start, end, round(hit.score, 2)))
    return findings


def redact(text: str, findings: Sequence[Finding] | None = None) -> str:
    """Replace each finding's span with `[ENTITY]`; scans `text` when no findings are given.

    When it scans, it scans the result again until nothing new turns up (at most a few
    rounds): a placeholder can end a value that was glued to its neighbour ("…0130 00Maria"),
    and what that reveals must go too. Overlapping findings (possible when they come from
    elsewhere) are merged into the first.
    """
    if findings is not None:
        return _replace(text, findings)
    for _ in range(_MAX_ROUNDS):
        found = scan(text)
        if not found:
            break
        text = _replace(text, found)
    return text


_MAX_ROUNDS = 4


def _replace(text: str, findings: Sequence[Finding]) -> str:
    parts: list[str] = []
    cursor = 0
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        if finding.start < cursor:
            # Overlaps the previous span: widen that one rather than add a second label.
            cursor = max(cursor, finding.end)
            continue
        parts.append(text[cursor : finding.start])
        parts.append(f"[{finding.entity.value}]")
        cursor = finding.end
    parts.append(text[cursor:])
    return "".join(parts)
