"""Date-of-birth recogniser: a day-and-month date after a birth cue, in six languages."""

from __future__ import annotations

import re
from collections.abc import Iterator

from redaction.base import Hit, Options, words
from redaction.finding import Entity
from redaction.normalise import Normalised

_MONTHS = words(
    # en
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec",
    # de
    "januar", "jänner", "februar", "märz", "maerz", "mai", "juni", "juli", "oktober", "dezember",
    "okt", "dez",
    # fr
    "janvier", "février", "fevrier", "mars", "avril", "juin", "juillet", "août", "aout",
    "septembre", "octobre", "novembre", "décembre", "decembre", "janv", "févr", "fév", "avr",
    "juil",
    # es
    "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
    "setiembre", "octubre", "noviembre", "diciembre", "ene", "abr", "ago", "dic",
    # it
    "gennaio", "febbraio", "aprile", "maggio", "giugno", "luglio", "settembre", "ottobre",
    "dicembre", "gen", "mag", "giu", "lug", "set", "ott",
    # nl
    "januari", "februari", "maart", "mei", "augustus", "oktober",
)  # fmt: skip
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th|er|º|°|\.)?"
_YEAR = r"(?:19|20)\d{2}|'?\d{2}"
_DATE = (
    rf"(?:\d{{4}}[./-]\d{{1,2}}[./-]\d{{1,2}}"
    rf"|\d{{1,2}}[./-]\d{{1,2}}(?:[./-](?:\d{{4}}|\d{{2}}))?"
    rf"|{_DAY}\s?(?:of\s|de\s|del\s)?(?:{_MONTHS})\.?(?:,?\s?(?:de\s|del\s)?(?:{_YEAR}))?"
    rf"|(?:{_MONTHS})\.?\s{_DAY}(?:,?\s(?:{_YEAR}))?)"
)
_CUES = words(
    "dob", "d.o.b", "d.o.b.", "date of birth", "birth date", "birthdate", "birthday", "born",
    "born on", "geb.", "geb", "geboren", "geboren am", "geburtsdatum", "geburtstag", "né le",
    "née le", "né(e) le", "né", "née", "date de naissance", "anniversaire", "fecha de nacimiento",
    "f. nac.", "nacido el", "nacida el", "nacido", "nacida", "cumpleaños", "data di nascita",
    "nato il", "nata il", "nato", "nata", "compleanno", "geboortedatum", "geboren op",
    "verjaardag",
)  # fmt: skip
# Up to 30 digit-free characters may sit between cue and date ("is", "IT'S", ": ", "am").
_DOB = re.compile(
    rf"(?<![\w])(?:{_CUES})(?![\w])(?P<filler>[^\d\n]{{0,30}}?)(?P<date>(?<![\w]){_DATE})"
    rf"(?![\w]|[./-]\d)",
    re.IGNORECASE,
)
_EVENT = re.compile(
    r"order|deliver|ship|arriv|bought|paid|placed|flight|booked|sent|bestell|liefer|gekauft|"
    r"command|livr|achet|pedid|envi|compr|lleg|ordin|spedi|consegn|acquist|bezorg|besteld|"
    r"gekocht|verzonden",
    re.IGNORECASE,
)
# Word stems that every cue starts with, checked against the message's words first.
_STEMS = (
    "dob", "birth", "born", "geb", "né", "nee", "naissance", "naci", "nac", "cumple", "nato",
    "nata", "nascita", "complean", "geboorte", "geboren", "verjaardag", "anniversaire",
)  # fmt: skip


def find(doc: Normalised, options: Options) -> Iterator[Hit]:
    """Yield DATE_OF_BIRTH hits."""
    text = doc.text
    vocabulary = doc.vocabulary
    if not any(w.startswith(_STEMS) for w in vocabulary) and "d.o.b" not in doc.lower:
        return
    for match in _DOB.finditer(text):
        # "born in Madrid, ordered on 12/03": a new event between cue and date ends the cue.
        if _EVENT.search(match.group("filler")):
            continue
        yield Hit(Entity.DATE_OF_BIRTH, match.start("date"), match.end("date"), 0.93)
