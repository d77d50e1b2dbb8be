"""Text normalisation with a map back to original offsets; knows nothing of labels."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate
from operator import sub

# Zero-width, bidi and soft-hyphen characters: people (and copy-paste) hide them inside values.
_INVISIBLE = frozenset(
    "\u00ad\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)
_HAS_INVISIBLE = re.compile("[" + "".join(sorted(_INVISIBLE)) + "]")
# NFKC would turn these ordinal indicators into letters, which the address rules read as such.
_KEEP = frozenset("ºª")
_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
_WORD_SPLIT = re.compile(r"([^\W\d_]+(?:['-][^\W\d_]+)*)")
_PARTS = re.compile(r"['-]")


# Typographic apostrophes and dashes become ASCII ones, one for one, so patterns need one form.
_ASCII_PUNCT = {
    "\u2018": "'",
    "\u2019": "'",
    "\u02bc": "'",
    "\u2032": "'",
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
}


@lru_cache(maxsize=4096)
def _fold(ch: str) -> str:
    if ch in _INVISIBLE:
        return ""
    if ch in _ASCII_PUNCT:
        return _ASCII_PUNCT[ch]
    if ch in _KEEP:
        return ch
    out = unicodedata.normalize("NFKC", ch)
    # Every kind of space (NBSP, narrow NBSP, ideographic...) becomes a plain one.
    return " " if out.isspace() and out not in "\n\r\t" else out


class Words:
    """Letter tokens of a text as parallel lists; `gaps[i]` is the text before token i.

    `gaps` has one more item than `values`: the text after the last token. Offsets are worked
    out on first use only, since most messages never need them.
    """

    __slots__ = ("_ends", "_parts", "_starts", "gaps", "values")

    def __init__(self, parts: list[str]) -> None:
        self._parts = parts
        self.values = parts[1::2]
        self.gaps = parts[0::2]
        self._starts: list[int] | None = None
        self._ends: list[int] | None = None

    @property
    def ends(self) -> list[int]:
        if self._ends is None:
            self._ends = list(accumulate(map(len, self._parts)))[1::2]
        return self._ends

    @property
    def starts(self) -> list[int]:
        if self._starts is None:
            self._starts = list(map(sub, self.ends, map(len, self.values)))
        return self._starts


@dataclass(slots=True)
class Normalised:
    """Normalised text plus, for each of its characters, the original span it came from.

    `starts`/`ends` are None when the text needed no change (the common ASCII case), so the
    identity map costs nothing.
    """

    original: str
    text: str
    starts: list[int] | None = None
    ends: list[int] | None = None
    _lower: str | None = field(default=None, repr=False)
    _words: Words | None = field(default=None, repr=False)
    _vocabulary: set[str] | None = field(default=None, repr=False)
    _digits: int = field(default=-1, repr=False)

    @property
    def digit_count(self) -> int:
        """Number of ASCII digits: a cheap gate for the numeric recognisers."""
        if self._digits < 0:
            self._digits = sum(map(self.text.count, "0123456789"))
        return self._digits

    @property
    def words(self) -> Words:
        """Letter tokens; apostrophes and hyphens join ("O'Brien")."""
        if self._words is None:
            # One split, in C: a per-match loop costs twice as much.
            self._words = Words(_WORD_SPLIT.split(self.text))
        return self._words

    @property
    def vocabulary(self) -> set[str]:
        """The lower-cased words, for keyword gates before any costly pattern runs."""
        if self._vocabulary is None:
            vocab = set(map(str.lower, self.words.values))
            # "d'ordine", "IP-Adresse": the parts are keywords too.
            joined = [w for w in vocab if "'" in w or "-" in w]
            for word in joined:
                vocab.update(_PARTS.split(word))
            self._vocabulary = vocab
        return self._vocabulary

    @property
    def lower(self) -> str:
        """The normalised text lower-cased; same length, so offsets carry over."""
        if self._lower is None:
            low = self.text.lower()
            # A few characters change length when lower-cased (İ); fall back to per-char.
            if len(low) != len(self.text):
                low = "".join(c.lower()[:1] or c for c in self.text)
            self._lower = low
        return self._lower

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalised [start, end) span to the original text."""
        if self.starts is None or self.ends is None:
            return start, end
        return self.starts[start], self.ends[end - 1]


def normalise(text: str) -> Normalised:
    """Return `text` NFKC-folded, with invisible characters removed and spaces unified."""
    if text.isascii() or (
        unicodedata.is_normalized("NFKC", text) and not _HAS_INVISIBLE.search(text)
    ):
        # Emoji and accented letters alone need no change: keep the identity map.
        return Normalised(text, text)
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for i, ch in enumerate(text):
        if ch < "\x80":
            chars.append(ch)
            starts.append(i)
            ends.append(i + 1)
            continue
        if unicodedata.combining(ch) and chars:
            # A combining mark joins the character before it (e + U+0301 -> é) so word
            # patterns see one letter; the mapped span grows to cover both.
            merged = unicodedata.normalize("NFC", chars[-1] + ch)
            if len(merged) == 1:
                chars[-1] = merged
                ends[-1] = i + 1
                continue
        folded = _fold(ch)
        if not folded:
            # Dropped here; one inside a value is still covered, because a mapped span runs
            # from its first character's start to its last character's end.
            continue
        for out in folded:
            chars.append(out)
            starts.append(i)
            ends.append(i + 1)
    return Normalised(text, "".join(chars), starts, ends)
