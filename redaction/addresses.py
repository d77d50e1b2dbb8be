"""Street-line and postcode recognisers for EN, DE, FR, ES, IT and NL addresses."""

from __future__ import annotations

import re
from collections.abc import Iterator

from redaction.base import Hit, Options, words
from redaction.finding import Entity
from redaction.normalise import Normalised

_UPPER_WORD = r"[A-ZÀ-Þ][\w'.-]*"
_ANY_WORD = r"[^\W\d_][\w'.-]*"
_NUM = r"\d{1,5}[A-Za-z]?(?:[-/]\d{1,4}[A-Za-z]?)?"
# A house number that opens a pattern: a plain digit first (the regex engine skips ahead to
# digits), then the check that no word character or separator precedes it.
_LEAD_NUM = r"\d(?<![\w.,/-]\d)\d{0,4}[A-Za-z]?(?:[-/]\d{1,4}[A-Za-z]?)?"
_UNIT = (
    r"(?i:flat|apt\.?|apartment|unit|suite|ste\.?|floor|piso|planta|étage|etage|wohnung|whg\.?|"
    r"interno|int\.?|scala|appartement|app\.?)\s?#?\s?\w{1,4}"
)

_EN_TYPES = words(
    "street", "st", "st.", "road", "rd", "rd.", "avenue", "ave", "ave.", "av.", "lane", "ln",
    "drive", "dr", "dr.", "close", "way", "place", "pl", "court", "ct", "crescent", "cres",
    "terrace", "gardens", "grove", "boulevard", "blvd", "square", "sq", "hill", "park", "row",
    "mews", "walk", "parade", "highway", "hwy", "parkway", "pkwy", "circle", "cir", "trail",
    "green", "rise", "view", "wharf", "embankment",
)  # fmt: skip
_DE_SEPARATE_TYPES = words(
    "straße", "strasse", "str.", "weg", "platz", "allee", "gasse", "ring", "damm", "ufer",
    "chaussee", "markt",
)  # fmt: skip
_FR_TYPES = words(
    "rue", "avenue", "av.", "bd", "boulevard", "place", "chemin", "allée", "impasse", "quai",
    "route", "cours", "passage", "square", "faubourg", "rond-point", "voie", "sentier",
)  # fmt: skip
_FR_PARTICLE = r"(?i:de la|de l'|du|des|de|d'|la|le|les|l')"
_ES_IT_TYPES = words(
    "calle", "c/", "avenida", "avda", "avda.", "av.", "plaza", "pza.", "paseo", "pº", "camino",
    "carretera", "ctra.", "ronda", "travesía", "glorieta", "via", "viale", "piazza", "piazzale",
    "corso", "largo", "vicolo", "strada", "contrada", "lungomare", "borgo",
)  # fmt: skip
_ES_IT_PARTICLE = (
    r"(?i:de la|de los|de las|del|de|dei|degli|delle|della|dello|di|da|d'|san|santa|sant')"
)


def _street_patterns(cap: str, flags: int) -> tuple[re.Pattern[str], ...]:
    """Street-line patterns; `cap` is what a name word must look like (capitalised or not)."""
    return (
        # "14 Baker Street", "Flat 2, 14 Baker Street", "1038 Park Place, Apt 5D"
        re.compile(
            rf"(?P<num>{_LEAD_NUM})\s(?P<words>(?:{cap}\s){{1,3}})"
            rf"(?i:{_EN_TYPES})(?![\w])(?:,?\s{_UNIT}(?![\w]))?",
            flags,
        ),
        # "Berliner Straße 12", "Am Markt 5", "Lange Str. 3", "Laan van Meerdervoort 12"
        re.compile(
            rf"(?<![\w])(?:(?:Am|An der|Auf dem|Im|In der|Zum|Zur|Alte|Neue)\s{cap}|"
            rf"{cap}\s(?i:{_DE_SEPARATE_TYPES})|"
            rf"(?:Laan|Plein|Kade|Weg|Straat|Dreef)\s(?:(?:van|der|de|den|het|op)\s){{1,2}}{cap})"
            rf"\s?{_NUM}(?![\w])",
            flags,
        ),
        # "12 rue de la Paix", "5 bis, avenue Victor Hugo"
        re.compile(
            rf"{_LEAD_NUM}(?:\s?(?i:bis|ter|b))?,?\s(?i:{_FR_TYPES})\s"
            rf"(?:{_FR_PARTICLE}\s?)?{cap}(?:[\s-](?:{_FR_PARTICLE}\s?)?{cap}){{0,3}}",
            flags,
        ),
        # "Calle Mayor 10, 3º B", "Via Roma 12", "Corso Vittorio Emanuele II, 45"
        re.compile(
            rf"(?<![\w])(?i:{_ES_IT_TYPES})\s?(?:{_ES_IT_PARTICLE}\s)?{cap}"
            rf"(?:\s(?:{_ES_IT_PARTICLE}\s)?{cap}){{0,3}}?,?\s(?:n[º°o]\.?\s?)?{_NUM}"
            rf"(?:,?\s\d{{1,2}}\s?[º°ª]\s?[A-Za-z]?(?![\w])|,?\s{_UNIT})?(?![\w])",
            flags,
        ),
    )


def _keywords(*alternations: str) -> frozenset[str]:
    """Lower-case words of the type alternations, as they appear in `Normalised.vocabulary`."""
    return frozenset(
        w for alternation in alternations for w in _TOKEN.findall(alternation.lower()) if w
    )


_STRICT = _street_patterns(_UPPER_WORD, 0)
# Messages typed all in lower case get the same shapes without the capital-letter evidence.
_LAX = _street_patterns(_ANY_WORD, re.IGNORECASE)
# Words that never sit between a house number and a street type ("2 hours in the park").
_NOT_STREET_WORDS = frozenset(
    [
        "in", "the", "at", "on", "of", "for", "to", "and", "or", "my", "our", "your", "a", "an",
        "is", "was", "are", "from", "with", "by", "hours", "hour", "days", "day", "weeks",
        "minutes", "mins", "times", "items", "x", "email", "mail", "e-mail", "app", "phone",
        "chat", "dm", "sms", "text", "post", "courier", "dhl", "ups", "dpd", "gls", "fedex", "web",
        "website",
    ]
)  # fmt: skip
_TOKEN = re.compile(r"[^\W\d_][\w'-]*")
_GATES: tuple[frozenset[str], ...] = (
    _keywords(_EN_TYPES),
    _keywords(_DE_SEPARATE_TYPES, "am an auf im in zum zur alte neue laan plein kade straat dreef"),
    _keywords(_FR_TYPES),
    _keywords(_ES_IT_TYPES, "c"),
)

_UK = re.compile(
    r"\d(?:(?<=(?<![\w])[A-Za-z]\d)|(?<=(?<![\w])[A-Za-z]{2}\d))"
    r"[A-Za-z\d]? ?\d[ABD-HJLNP-UW-Zabd-hjlnp-uw-z]{2}(?![\w])"
)
# The 121 postcode areas: "RX7 8AB" has the shape of a postcode but no such area exists.
_UK_AREAS = frozenset(
    [
        "AB", "AL", "B", "BA", "BB", "BD", "BH", "BL", "BN", "BR", "BS", "BT", "CA", "CB", "CF",
        "CH", "CM", "CO", "CR", "CT", "CV", "CW", "DA", "DD", "DE", "DG", "DH", "DL", "DN", "DT",
        "DY", "E", "EC", "EH", "EN", "EX", "FK", "FY", "G", "GL", "GU", "HA", "HD", "HG", "HP",
        "HR", "HS", "HU", "HX", "IG", "IP", "IV", "KA", "KT", "KW", "KY", "L", "LA", "LD", "LE",
        "LL", "LN", "LS", "LU", "M", "ME", "MK", "ML", "N", "NE", "NG", "NN", "NP", "NR", "NW",
        "OL", "OX", "PA", "PE", "PH", "PL", "PO", "PR", "RG", "RH", "RM", "S", "SA", "SE", "SG",
        "SK", "SL", "SM", "SN", "SO", "SP", "SR", "SS", "ST", "SW", "SY", "TA", "TD", "TF", "TN",
        "TQ", "TR", "TS", "TW", "UB", "W", "WA", "WC", "WD", "WF", "WN", "WR", "WS", "WV", "YO",
        "ZE", "GY", "JE", "IM",
    ]
)  # fmt: skip
_UK_FULL = re.compile(r"[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[ABD-HJLNP-UW-Zabd-hjlnp-uw-z]{2}")
_NL = re.compile(r"[1-9](?<![\w./:-][1-9])\d{3} ?(?!SA|SD|SS)[A-Z]{2}(?![\w])")
_NL_LOWER = re.compile(r"[1-9](?<![\w./:-][1-9])\d{3} ?(?!sa|sd|ss)[a-z]{2}(?![\w])")
_NL_NOT = frozenset(
    [
        "GB", "MB", "KB", "TB", "KW", "KM", "CM", "MM", "KG", "HP", "PS", "AM", "PM", "MG", "ML",
        "BC", "AD", "EU", "UK", "US", "CC", "HD", "TV", "PC", "XL", "CV", "VS", "OK", "EUR", "HZ",
        "MP",
    ]
)  # fmt: skip
_US_STATES = (
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "
    "NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC"
)
_STATES = "|".join(_US_STATES.split())
_US = re.compile(
    rf"(?P<zip>\d(?:(?<=(?<![\w])(?:{_STATES})\s\d)|(?<=(?<![\w])(?:{_STATES}),\s\d))"
    r"\d{4}(?:-\d{4})?)(?![\w-])"
)
_CODE_CUE = re.compile(
    r"(?<![\w])(?:zip(?:\s?code)?|postcode|post\s?code|postal\s?code|plz|postleitzahl|"
    r"code\s?postal|c\.?p\.?|c[oó]digo\s?postal|cap|postcode|c\.a\.p\.)\W{0,3}"
    r"(?:(?:is|es|est|ist|è|é|era|was|:)\W{1,2})?"
    r"(?P<code>[A-Za-z0-9][A-Za-z0-9 -]{2,8}[A-Za-z0-9])(?![\w])",
    re.IGNORECASE,
)
_FIVE_CITY = re.compile(r"(?P<code>\d(?<![\w.,-]\d)\d{4})\s(?=[A-ZÀ-Þ][^\W\d_]+)")
_FIVE_AFTER = re.compile(r"(?P<code>\d(?<![\w.,-]\d)\d{4})(?![\w]|[.,-]\d)")
_UNIT_BEFORE = re.compile(rf"{_UNIT},?\s$")
_COMPOUND_SUFFIXES = (
    "straße", "strasse", "str.", "weg", "platz", "allee", "gasse", "ring", "damm", "ufer",
    "chaussee", "pfad", "steig", "markt", "stieg", "graben", "wall", "hof", "berg", "brücke",
    "kamp", "twiete", "zeile", "straat", "laan", "plein", "gracht", "kade", "singel", "dijk",
    "pad", "steeg", "dreef", "park", "baan", "burgwal", "plantsoen", "erf",
)  # fmt: skip
_COMPOUND_ENDINGS = tuple(s.rstrip(".") for s in _COMPOUND_SUFFIXES)
_NUMBER_AFTER = re.compile(
    r"\.?\s?\d{1,5}[A-Za-z]?(?:[-/]\d{1,4}[A-Za-z]?)?(?:\s?(?:-\s?)?[IVX]{1,3}(?![\w]))?(?![\w])"
)
_PLAIN_CODE = re.compile(r"\d{4,5}(?:-\d{4})?|\d{4} ?[A-Za-z]{2}")


def _streets(doc: Normalised) -> list[Hit]:
    hits: list[Hit] = []
    text = doc.text
    patterns = _LAX if text == doc.lower else _STRICT
    vocabulary = doc.vocabulary
    for pattern, gate in zip(patterns, _GATES, strict=True):
        if gate.isdisjoint(vocabulary):
            continue
        for match in pattern.finditer(text):
            checked = match.group() if patterns is _LAX else match.groupdict().get("words") or ""
            if any(w.lower() in _NOT_STREET_WORDS for w in _TOKEN.findall(checked)):
                continue
            start = match.start()
            if "num" in pattern.groupindex:
                # "Flat 2, 14 Baker Street": a flat or unit before the number belongs to it.
                unit = _UNIT_BEFORE.search(text, max(0, start - 24), start)
                if unit is not None:
                    start = unit.start()
            end = match.end()
            # A trailing full stop belongs to the sentence, not to "St." or "Str.".
            while end > start and text[end - 1] in ".,":
                end -= 1
            hits.append(Hit(Entity.STREET_ADDRESS, start, end, 0.85))
    hits.extend(_compound_streets(doc))
    return hits


def _compound_streets(doc: Normalised) -> list[Hit]:
    """ "Hauptstraße 12", "Julianalaan 168": a compound street word, then the house number."""
    hits = []
    words = doc.words
    for i, word in enumerate(words.values):
        low = word.lower()
        # A bare "Ring" or "Weg" is a verb or a noun, not a street: only compounds count.
        if not low.endswith(_COMPOUND_ENDINGS) or low in _COMPOUND_ENDINGS:
            continue
        number = _NUMBER_AFTER.match(doc.text, words.ends[i])
        if number is not None:
            hits.append(Hit(Entity.STREET_ADDRESS, words.starts[i], number.end(), 0.85))
    return hits


_CODE_GATE = frozenset(
    [
        "zip", "zipcode", "postcode", "post", "postal", "plz", "postleitzahl", "code", "cp", "c",
        "p", "código", "codigo", "cap",
    ]
)  # fmt: skip
_STATE_GATE = frozenset(_US_STATES.split())


def _postcodes(doc: Normalised, streets: list[Hit]) -> Iterator[Hit]:
    text = doc.text
    digits = doc.digit_count
    vocabulary = doc.vocabulary
    for match in _UK.finditer(text):
        # The pattern starts at the first digit; the one or two area letters sit before it.
        start = match.start() - 1
        if start and text[start - 1].isalpha():
            start -= 1
        if text[start : match.start()].upper() not in _UK_AREAS:
            continue
        yield Hit(Entity.POSTCODE, start, match.end(), 0.85)
    for match in _CODE_CUE.finditer(text) if not _CODE_GATE.isdisjoint(vocabulary) else ():
        code = match.group("code")
        # The greedy code may have run into the next words ("91696 - is"); cut word by word.
        while code and not (_PLAIN_CODE.fullmatch(code) or _UK_FULL.fullmatch(code)):
            code = code[: max(code.rfind(" "), code.rfind("-"), 0)].rstrip(" -")
        if code:
            start = match.start("code")
            yield Hit(Entity.POSTCODE, start, start + len(code), 0.9)
    if digits < 4:
        return
    shouting = text.isupper()
    for match in _NL.finditer(text):
        # In a message typed in capitals "2024 AT" is no postcode without an address.
        if match.group()[-2:] not in _NL_NOT and (
            not shouting or _near_street(match.start(), streets)
        ):
            yield Hit(Entity.POSTCODE, match.start(), match.end(), 0.8)
    if streets and text == doc.lower:
        # Lower-case Dutch codes ("5697 gt") only count right after a street line.
        for match in _NL_LOWER.finditer(text):
            if _near_street(match.start(), streets) and match.group()[-2:].upper() not in _NL_NOT:
                yield Hit(Entity.POSTCODE, match.start(), match.end(), 0.8)
    if digits < 5:
        return
    if not _STATE_GATE.isdisjoint(doc.words.values):
        for match in _US.finditer(text):
            yield Hit(Entity.POSTCODE, match.start("zip"), match.end("zip"), 0.8)
    for match in _FIVE_CITY.finditer(text):
        before = text[max(0, match.start() - 2) : match.start()]
        if "," in before or _near_street(match.start(), streets):
            yield Hit(Entity.POSTCODE, match.start("code"), match.end("code"), 0.8)
    for street in streets:
        # "…, Tampa, FL 60757": a code shortly after a street line belongs to the address.
        for match in _FIVE_AFTER.finditer(text, street.end, min(len(text), street.end + 40)):
            yield Hit(Entity.POSTCODE, match.start("code"), match.end("code"), 0.8)
            break


def _near_street(pos: int, streets: list[Hit]) -> bool:
    return any(0 <= pos - s.end <= 40 for s in streets)


def find(doc: Normalised, options: Options) -> Iterator[Hit]:
    """Yield STREET_ADDRESS and POSTCODE hits."""
    if not doc.digit_count:
        return
    streets = _streets(doc)
    yield from streets
    yield from _postcodes(doc, streets)
