"""Shared types and helpers of the recognisers: hits in normalised offsets, scan options, cues."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from redaction.finding import Entity
from redaction.normalise import Normalised


class Hit(NamedTuple):
    """A candidate finding in normalised-text offsets, before overlap resolution.

    A named tuple rather than a frozen dataclass: recognisers make many, and tuples are built
    in C.
    """

    entity: Entity
    start: int
    end: int
    score: float


@dataclass(frozen=True, slots=True)
class Options:
    """Per-call settings derived from `scan(locales=...)`.

    `regions` orders the phone-number region hints; `languages` is there for plug-in
    recognisers (an NER adapter picks its model by it); the built-in ones cover all six.
    """

    regions: tuple[str, ...]
    languages: frozenset[str]


Recogniser = Callable[[Normalised, Options], Iterable[Hit]]


def words(*alternatives: str) -> str:
    """A regex alternation of literal words, longest first so prefixes never win."""
    return "|".join(re.escape(a) for a in sorted(set(alternatives), key=len, reverse=True))
