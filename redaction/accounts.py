"""Account-number recogniser: order, account, booking... identifiers after a cue word."""

from __future__ import annotations

import re
from collections.abc import Iterator

from redaction.base import Hit, Options, words
from redaction.finding import Entity
from redaction.normalise import Normalised

# Multi-word entries document the phrases; matching keys on the single-word cues among them
# and lets the link words ("number", "no.", "de") cover the rest.
_CUES = (
    # en
    "order", "order number", "order no", "order id", "account", "account number", "acct",
    "customer", "customer number", "customer id", "client", "client number", "member",
    "membership", "member number", "loyalty", "loyalty card", "loyalty number", "rewards",
    "booking", "booking reference", "reservation", "pnr", "confirmation", "confirmation code",
    "policy", "policy number", "contract", "contract number", "invoice", "invoice number",
    "subscriber", "subscription",
    # de
    "bestellung", "bestellnummer", "bestell-nr", "bestellnr", "auftrag", "auftragsnummer",
    "kundennummer", "kunden-nr", "kundennr", "kundenkonto", "kunde", "konto", "kontonummer",
    "mitgliedsnummer", "buchung", "buchungsnummer", "buchungscode", "reservierung",
    "reservierungsnummer", "vertrag", "vertragsnummer", "vertragskonto", "rechnung",
    "rechnungsnummer", "police", "policennummer", "versicherungsnummer", "versicherungsschein",
    # fr
    "commande", "numéro de commande", "compte", "numéro de compte", "numéro client", "n° client",
    "client n°", "adhérent", "carte fidélité", "fidélité", "réservation", "dossier", "contrat",
    "facture", "abonné", "abonnement",
    # es
    "pedido", "número de pedido", "cuenta", "número de cuenta", "cliente", "número de cliente",
    "socio", "reserva", "localizador", "póliza", "poliza", "contrato", "factura", "abonado",
    # it
    "ordine", "numero d'ordine", "numero ordine", "conto", "codice cliente", "tessera",
    "tessera fedeltà", "carta fedeltà", "kundenkarte", "klantenkaart", "klantenpas",
    "carte de fidélité", "prenotazione", "polizza", "contratto", "fattura", "abbonamento",
    # nl
    "bestelling", "bestelnummer", "ordernummer", "klantnummer", "klant", "account nummer",
    "accountnummer", "lidnummer", "boeking", "boekingsnummer", "reservering", "reserveringsnummer",
    "polis", "polisnummer", "contractnummer", "factuur", "factuurnummer", "fedeltà",
    "fidelización",
)  # fmt: skip
# Filler allowed between cue and value: "ref", "number", "no.", "#", "n°", ":", "is", ...
_LINK = words(
    "card", "kaart", "karte", "carte", "tarjeta", "carta", "pas", "ref", "ref.", "reference",
    "referenz", "référence", "referencia", "riferimento", "referentie", "number", "no", "no.",
    "nr", "nr.", "num", "num.", "nº", "n°", "n.", "#", "id", "code", "is", "es", "est", "ist", "è",
    "is:", "nummer", "número", "numero", "numéro", "de", "di", "van", "mi", "my", "mein", "meine",
    "ma", "mon", "mio", "mijn",
)  # fmt: skip
# Digit groups may be split by single spaces ("6345 1234 5678"), words may not.
# Abbreviation marks may touch the number: "n°12345", "nr.12345".
_LINK_MARKS = words("nº", "n°", "n.", "no.", "nr.", "num.", "#")
_VALUE = (
    r"(?P<value>[A-Za-z0-9](?:[A-Za-z0-9]|[-/.](?=[A-Za-z0-9])|(?<=\d) (?=\d{3})){3,28}+)"
    r"(?![\w@])"
)
# Cues are found as words (a set look-up per word), then the rest is matched from there.
_CUE_TOKENS = frozenset(c for c in _CUES if " " not in c)
_TAIL = re.compile(
    rf"(?:[\s:#]{{0,3}}(?:(?:{_LINK})(?![\w])|(?:{_LINK_MARKS})(?![^\W\d_]))){{0,3}}"
    rf"[\s:#-]{{0,3}}"
    rf"{_VALUE}",
    re.IGNORECASE,
)
_DATE_OR_TIME = re.compile(r"\d{1,4}[./-]\d{1,2}(?:[./-]\d{1,4})?|\d{1,2}[:.h]\d{2}")
_YEAR = re.compile(r"(?:19|20)\d{2}")
# Carrier formats: UPS "1Z…", UPU "RR123456789IT", 18-22 digit parcel numbers (DHL, DPD).
_TRACKING_SHAPE = re.compile(
    r"1Z[0-9A-Z]{16}|[A-Z]{2}\d{9}[A-Z]{2}|\d{18,22}|JJD\d+", re.IGNORECASE
)
_IBAN_SHAPE = re.compile(r"[A-Za-z]{2}\d{2}[A-Za-z0-9]{11,}")
_PNR = re.compile(r"[A-Z0-9]{5,8}")
_PNR_CUE = re.compile(
    r"booking|r[eé]serv|pnr|confirm|localizador|buchung|boeking|prenotaz|dossier|code|código",
    re.IGNORECASE,
)
# A locator of letters only ("QWERTY") needs a cue that names a code, or "booking FAILED"
# in a shouted message would pass.
_LETTERS_ONLY_CUE = re.compile(r"ref|pnr|code|código|localizador|confirm|dossier", re.IGNORECASE)
_UNIT_AFTER = re.compile(
    r"\s?(?:€|\$|£|eur|euro|usd|gbp|items?|x\b|pcs|stück|days?|tage|jours|días|giorni|dagen)",
    re.IGNORECASE,
)


_GATE = frozenset(w for c in _CUES for w in re.findall(r"[^\W\d_]+", c) if len(w) > 2) - {
    "number", "num", "the", "card", "code", "reference",
}  # fmt: skip


# "Customer" inside a name for the company's service desk is no account cue.
_SERVICE_DESK = re.compile(
    r"customer\s(?:service|care|support)|service\sclients?|atención\sal\scliente|"
    r"servicio\sal\scliente|servizio\sclienti|kundenservice|klantenservice",
    re.IGNORECASE,
)


def find(doc: Normalised, options: Options) -> Iterator[Hit]:
    """Yield ACCOUNT_NUMBER hits."""
    if _GATE.isdisjoint(doc.vocabulary):
        return
    text = doc.text
    lowered = text == doc.lower
    last_value = -1
    words = doc.words
    for word_start, word_end, word in zip(words.starts, words.ends, words.values, strict=True):
        key = word.lower()
        if key not in _CUE_TOKENS and key.rpartition("'")[2] not in _CUE_TOKENS:
            continue
        match = _TAIL.match(text, word_end)
        if match is None or match.start("value") <= last_value:
            continue
        value = match.group("value")
        digits = sum(c.isdigit() for c in value)
        if digits < 3:
            cue = text[word_start : match.start("value")]
            # Passenger records are often letters only ("SGT3NH", "QWERTY").
            # In an all-lower-case message the record locator is lower-case too.
            locator = value.upper() if lowered and digits else value
            if not (_PNR.fullmatch(locator) and _PNR_CUE.search(cue)):
                continue
            if not digits and not _LETTERS_ONLY_CUE.search(cue):
                continue
        if (
            _DATE_OR_TIME.fullmatch(value)
            or _YEAR.fullmatch(value)
            or _IBAN_SHAPE.match(value.replace(" ", ""))
            or _TRACKING_SHAPE.fullmatch(value)
        ):
            continue
        if _UNIT_AFTER.match(text, match.end("value")):
            continue
        if _SERVICE_DESK.search(text, max(0, word_start - 25), match.start("value")):
            continue
        last_value = match.start("value")
        yield Hit(Entity.ACCOUNT_NUMBER, match.start("value"), match.end("value"), 0.9)
