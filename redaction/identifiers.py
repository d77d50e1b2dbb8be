"""National identifier recogniser: formats plus check digits from python-stdnum, cue-gated."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from stdnum.be import nn as be_nn
from stdnum.de import idnr as de_idnr
from stdnum.es import dni as es_dni
from stdnum.es import nie as es_nie
from stdnum.fr import nir as fr_nir
from stdnum.gb import nhs as gb_nhs
from stdnum.it import codicefiscale as it_cf
from stdnum.nl import bsn as nl_bsn
from stdnum.us import ssn as us_ssn

from redaction.base import Hit, Options
from redaction.finding import Entity
from redaction.normalise import Normalised

Validator = Callable[[str], bool]

# Bare digit runs of 9-11 digits are everywhere (orders, phones), so those identifiers need
# their name nearby; formats with letters or a fixed grouping carry their own evidence.
_SSN_CUE = re.compile(r"ssn|social\s?security|soc\.?\s?sec")
_NINO_CUE = re.compile(r"\bni\b|\bnino\b|national\s?insurance|\bn\.i\.")
_NHS_CUE = re.compile(r"\bnhs\b")
_IDNR_CUE = re.compile(
    r"steuer|\bidnr|identifikationsnummer|\btin\b|tax\s?(?:id|number|identification)"
)
_BSN_CUE = re.compile(r"\bbsn\b|burgerservice|\bsofi")
_BE_CUE = re.compile(r"rijksregister|registre\s?national|numéro\s?national|national\s?number")

# Patterns open with a plain character class and check the character before it afterwards:
# the regex engine can then skip ahead by that class instead of trying every position.
_SSN = re.compile(r"\d(?<![\w-]\d)\d{2}([- ]?)\d{2}\1\d{4}(?![\w-]|[.,]\d)")
# Starts at the first digit; the two prefix letters (and an optional space) are behind it.
_NINO = re.compile(
    r"\d(?:(?<=(?<![\w])[A-Za-z]{2}\d)|(?<=(?<![\w])[A-Za-z]{2} \d))\d ?\d{2} ?\d{2} ?[A-Da-d]"
    r"(?![\w])"
)
_NINO_BAD_PREFIX = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
_TEN = re.compile(r"\d(?<![\w-]\d)\d{2}[ -]?\d{3}[ -]?\d{4}(?![\w-]|[.,]\d)")
_ELEVEN = re.compile(r"\d(?<![\w-]\d)\d[ ]?\d{3}[ ]?\d{3}[ ]?\d{3}(?![\w-]|[.,]\d)")
_NIR = re.compile(
    r"[12](?<![\w][12]) ?\d{2} ?\d{2} ?(?:\d{2}|2[ABab]) ?\d{3} ?\d{3} ?\d{2}(?![\w]|[.,]\d)"
)
_DNI = re.compile(r"\d(?<![\w]\d)\d{7} ?-? ?[A-Za-z](?![\w])")
_NIE = re.compile(r"[XYZxyz](?<![\w][XYZxyz])[ -]?\d{7} ?-? ?[A-Za-z](?![\w])")
_NINE = re.compile(r"\d(?<![\w-]\d)\d{2}[ .]?\d{3}[ .]?\d{3}(?![\w-]|[.,]\d)")
_BE = re.compile(r"\d(?<![\w]\d)\d\.?\d{2}\.?\d{2}[- ]?\d{3}\.?\d{2}(?![\w]|[.,]\d)")
# Anchored on the two year digits after the six name letters (digits are rarer than letters).
# Omocodic codes, with digits swapped for letters to settle clashes, are rare and not matched.
_CF = re.compile(r"\d(?<=(?<![\w])[A-Za-z]{6}\d)\d[A-Za-z]\d{2}[A-Za-z]\d{3}[A-Za-z](?![\w])")


def _compact(value: str) -> str:
    return "".join(c for c in value if c.isalnum()).upper()


def _nino_ok(value: str) -> bool:
    code = _compact(value)
    first, second = code[0], code[1]
    return (
        first not in "DFIQUV"
        and second not in "DFIOQUV"
        and code[:2] not in _NINO_BAD_PREFIX
        and code[-1] in "ABCD"
    )


def _ssn_ok(value: str) -> bool:
    return bool(us_ssn.is_valid(_compact(value)))


def _checked(module_validate: Callable[[str], bool]) -> Validator:
    def validate(value: str) -> bool:
        try:
            return bool(module_validate(_compact(value)))
        except (ValueError, TypeError):
            return False

    return validate


# Words one of which must be in the message before a cue-gated rule runs at all.
_GATES: dict[re.Pattern[str], frozenset[str]] = {
    _SSN_CUE: frozenset({"ssn", "social", "soc"}),
    _NINO_CUE: frozenset({"ni", "nino", "national", "insurance", "n"}),
    _NHS_CUE: frozenset({"nhs"}),
    _IDNR_CUE: frozenset(
        {
            "steuer", "steuerid", "idnr", "identifikationsnummer", "tin", "tax", "steuernummer",
            "steueridentifikationsnummer", "id",
        }
    ),
    _BSN_CUE: frozenset({"bsn", "burgerservicenummer", "sofinummer", "sofi"}),
    _BE_CUE: frozenset({"rijksregisternummer", "rijksregister", "registre", "national"}),
}  # fmt: skip

_RULES: tuple[tuple[re.Pattern[str], Validator, re.Pattern[str] | None, int, float], ...] = (
    # (candidate pattern, validator, cue required when not None, minimum digits, score)
    (_CF, _checked(it_cf.is_valid), None, 7, 0.95),
    (_NIR, _checked(fr_nir.is_valid), None, 13, 0.92),
    (_DNI, _checked(es_dni.is_valid), None, 7, 0.92),
    (_NIE, _checked(es_nie.is_valid), None, 7, 0.92),
    (_NINO, _nino_ok, _NINO_CUE, 6, 0.93),
    (_ELEVEN, _checked(de_idnr.is_valid), _IDNR_CUE, 11, 0.95),
    (_TEN, _checked(gb_nhs.is_valid), _NHS_CUE, 10, 0.95),
    (_NINE, _checked(nl_bsn.is_valid), _BSN_CUE, 9, 0.95),
    (_NINE, _ssn_ok, _SSN_CUE, 9, 0.95),
    (_BE, _checked(be_nn.is_valid), _BE_CUE, 11, 0.95),
)


def find(doc: Normalised, options: Options) -> Iterator[Hit]:
    """Yield NATIONAL_ID hits."""
    text = doc.text
    lower = doc.lower
    digits = doc.digit_count
    if digits < 6:
        return
    for pattern, validate, cue, min_digits, score in _RULES:
        if digits < min_digits:
            continue
        # A rule whose cue word is absent skips the scan; an upper-case NINO needs no cue.
        gated_out = cue is not None and _GATES[cue].isdisjoint(doc.vocabulary)
        nino_upper_only = cue is _NINO_CUE and gated_out
        if gated_out and cue is not _NINO_CUE:
            continue
        for match in pattern.finditer(text):
            start = match.start()
            if pattern is _NINO:
                start -= 3 if text[start - 1] == " " else 2
            elif pattern is _CF:
                start -= 6
            value = text[start : match.end()]
            if nino_upper_only and not value.isupper():
                continue
            if cue is not None:
                cued = cue.search(lower, max(0, start - 45), start) is not None
                # An upper-case NINO in its usual grouping is distinctive enough on its own.
                if not cued and not (pattern is _NINO and value.isupper()):
                    continue
            if validate(value):
                yield Hit(Entity.NATIONAL_ID, start, match.end(), score)
    if digits < 9:
        return
    for match in _SSN.finditer(text):
        if match.group(1) and _ssn_ok(match.group()):
            yield Hit(Entity.NATIONAL_ID, match.start(), match.end(), 0.85)
