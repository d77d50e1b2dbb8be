"""Telephone recogniser: candidates by shape, checked and typed by phonenumbers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType

from redaction.base import Hit, Options, words
from redaction.finding import Entity
from redaction.normalise import Normalised

# Digits with separators, an optional +/00 prefix and bracketed area codes such as "(0)" or
# "(0161)". Each repetition must consume a digit, so the pattern cannot backtrack badly.
# It opens with a plain character class (the preceding character is checked after it), so the
# regex engine skips ahead to candidates instead of trying every position.
_CANDIDATE = re.compile(
    r"[+(\d](?<![\w+@/.,-][+(\d])"
    r"(?:(?<=\+)\s?(?:\(\s?\d{1,5}\s?\)\s?|\d)|(?<=\()\s?\d{1,5}\s?\)\s?|(?<=\d))"
    r"(?:[ ./-]{0,2}(?:\(\s?\d{1,5}\s?\)|\d)){6,22}+(?![\w@]|[.,/-]\d)"
)
_DATE_LIKE = re.compile(
    r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d{1,2}[./]\d{1,2}|\d{4}-\d{2}-\d{2}[ T]\d.*"
)
_IPV4_LIKE = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_NANP = re.compile(r"(?:1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}")
_ONE_DIGIT_GROUPS = re.compile(r"\d(?:[ ./-]\d){6,}")

_PERSONAL_TYPES = frozenset(
    {
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.VOIP,
        PhoneNumberType.PERSONAL_NUMBER,
    }
)
_SERVICE_TYPES = frozenset(
    {
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.PREMIUM_RATE,
        PhoneNumberType.SHARED_COST,
        PhoneNumberType.UAN,
        PhoneNumberType.VOICEMAIL,
    }
)

_NUMBER_WORDS: dict[str, str] = {}
for _digit, _names in enumerate(
    (
        "zero oh o null zéro cero nul", "one eins un une uno een één",
        "two zwei zwo deux dos due twee", "three drei trois tres tre drie",
        "four vier quatre cuatro quattro", "five fünf fuenf cinq cinco cinque vijf",
        "six sechs seis sei zes", "seven sieben sept siete sette zeven",
        "eight acht huit ocho otto", "nine neun neuf nueve nove negen",
    )
):  # fmt: skip
    for _name in _names.split():
        _NUMBER_WORDS[_name] = str(_digit)
_MULTIPLIERS = {"double": 2, "triple": 3, "doppel": 2, "doble": 2, "doppio": 2, "dubbel": 2}
_NUMBER_WORD = words(*_NUMBER_WORDS, *_MULTIPLIERS)
_WORDED = re.compile(
    rf"\b(?:(?:plus|\+)\s?)?(?:{_NUMBER_WORD})(?:[\s,.-]{{1,3}}(?:{_NUMBER_WORD})){{6,24}}+\b",
    re.IGNORECASE,
)
_NUMBER_WORD_SET = frozenset(_NUMBER_WORDS) | frozenset(_MULTIPLIERS)
_WORD_SPLIT = re.compile(r"[\s,.-]+")
# Numbers right after these words are parcels, orders or a company's own service line.
_NEGATIVE_WORDS = frozenset(
    [
        "tracking", "track", "sendung", "sendungsnummer", "suivi", "seguimiento", "spedizione",
        "zending", "order", "invoice", "iban", "transaction", "ref", "serial", "imei", "hotline",
        "helpline", "service", "servicenummer", "kundenservice", "kundendienst", "klantenservice",
        "atención", "servizio", "verde", "care", "support",
    ]
)  # fmt: skip
_LETTERS = re.compile(r"[^\W\d_]+")


_NANP_REGIONS = frozenset({"US", "CA"})
_SERVICE_VETO_REGIONS = frozenset({"GB", "US", "DE", "FR", "ES", "IT", "NL"})


@lru_cache(maxsize=64)
def _national_prefix(region: str) -> str:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    return (metadata.national_prefix or "") if metadata else ""


def _written_for(region: str, digits: str) -> bool:
    """Whether a national number could be written like this in `region` at all.

    Without it, "347 123 4567" (an Italian mobile) would also be read as a British 03 number
    and thrown out as a service line.
    """
    if region in _NANP_REGIONS:
        return len(digits) == 10 or (len(digits) == 11 and digits[0] == "1")
    prefix = _national_prefix(region)
    return not prefix or digits.startswith(prefix)


@lru_cache(maxsize=8192)
def _classify(raw: str, regions: tuple[str, ...]) -> bool:
    """Whether `raw` is a valid personal (not service) number in one of `regions`."""
    personal = False
    international = raw.startswith(("+", "00"))
    digits = "".join(c for c in raw if c.isdigit())
    for region in ("ZZ",) if raw.startswith("+") else regions:
        if not international and not _written_for(region, digits):
            continue
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_valid_number(number):
            continue
        kind = phonenumbers.number_type(number)
        if kind in _SERVICE_TYPES and (international or region in _SERVICE_VETO_REGIONS):
            # A service line in one of the six languages' home countries ("01806 …" in
            # Germany, "0 800 …" in France) is most likely that line, even where the same
            # digits would also be a landline elsewhere.
            return False
        if kind in _PERSONAL_TYPES:
            personal = True
        if international:
            break
    if not personal and international:
        # "+44 7700 900461": ranges kept for fiction or not yet allocated are still written as
        # someone's number. An international prefix plus a possible length is evidence enough.
        try:
            number = phonenumbers.parse(raw, None if raw.startswith("+") else regions[0])
        except phonenumbers.NumberParseException:
            return False
        return (
            not phonenumbers.is_valid_number(number)
            and phonenumbers.is_possible_number(number)
            and number.country_code is not None
            and phonenumbers.region_code_for_country_code(number.country_code) != "001"
        )
    return personal


def _plausible_shape(raw: str, digits: str) -> bool:
    """National numbers need a recognisable national shape, so bare ids and counts stay out."""
    if raw.startswith(("+", "00", "0", "(")):
        return True
    if _NANP.fullmatch(raw):
        return True
    # Spain and Italy have no trunk prefix: their mobiles and landlines start 6-9 and 3/0.
    return (len(digits) == 9 and digits[0] in "6789") or (len(digits) == 10 and digits[0] == "3")


def _words_to_digits(phrase: str) -> str:
    out: list[str] = []
    repeat = 1
    for token in _WORD_SPLIT.split(phrase.lower()):
        if not token:
            continue
        if token in ("plus", "+"):
            out.append("+")
        elif token in _MULTIPLIERS:
            repeat = _MULTIPLIERS[token]
        elif token in _NUMBER_WORDS:
            out.append(_NUMBER_WORDS[token] * repeat)
            repeat = 1
    return "".join(out)


def find(doc: Normalised, options: Options) -> Iterator[Hit]:
    """Yield PHONE hits."""
    text = doc.text
    lower = doc.lower
    for match in _CANDIDATE.finditer(text) if doc.digit_count >= 7 else ():
        raw = match.group()
        digits = "".join(c for c in raw if c.isdigit())
        if not 7 <= len(digits) <= 17:
            continue
        if _DATE_LIKE.fullmatch(raw) or _IPV4_LIKE.fullmatch(raw):
            continue
        if not _plausible_shape(raw, digits):
            continue
        # Only the words since the previous number speak for this one: in "order 123 & my
        # phone 0791…" the order cue belongs to 123.
        head = lower[max(0, match.start() - 30) : match.start()]
        head = head[max(map(head.rfind, "0123456789")) + 1 :]
        if not _NEGATIVE_WORDS.isdisjoint(_LETTERS.findall(head)[-3:]):
            continue
        if not _classify(raw, options.regions):
            continue
        spread = bool(_ONE_DIGIT_GROUPS.fullmatch(raw))
        score = 0.9 if raw.startswith(("+", "00", "(")) or spread else 0.8
        yield Hit(Entity.PHONE, match.start(), match.end(), score)
    if len(_NUMBER_WORD_SET.intersection(doc.vocabulary)) < 2:
        return
    for match in _WORDED.finditer(text):
        number = _words_to_digits(match.group())
        plausible = len(number) >= 7 and _plausible_shape(number, number.lstrip("+"))
        if plausible and _classify(number, options.regions):
            yield Hit(Entity.PHONE, match.start(), match.end(), 0.85)
