"""Payment-card (network prefix + Luhn) and IBAN (mod-97, country length) recognisers."""

from __future__ import annotations

import re
from collections.abc import Iterator

from stdnum import iban as stdnum_iban
from stdnum import luhn

from redaction.base import Hit, Options
from redaction.finding import Entity
from redaction.normalise import Normalised

_CARD = re.compile(r"\d(?<![\w.,/-]\d)(?:[ -]?\d){12,18}(?![\w]|[.,/-]\d)")
_GROUP_END = re.compile(r"\d(?=[ -]|$)")
# Codes that merely pass Luhn by chance are still codes: the wording around them says so.
_CARD_NEGATIVE = frozenset(
    [
        "voucher", "gift", "giftcard", "coupon", "promo", "transaction", "trans", "tracking",
        "order", "invoice", "serial", "imei", "ean", "barcode", "gutschein", "gutscheincode",
        "bon", "cupón", "cupon", "buono", "cadeaukaart", "tegoedbon", "transaktion", "transacción",
        "transazione", "transactie", "commande", "pedido", "ordine", "bestelling", "geschenkkarte",
        "carte-cadeau", "regalo",
    ]
)  # fmt: skip
_WORD = re.compile(r"[^\W\d_]+")


def _network_ok(digits: str) -> bool:
    n = len(digits)
    first2 = int(digits[:2])
    first4 = int(digits[:4])
    if digits[0] == "4":
        return n in (13, 16, 19)
    if 51 <= first2 <= 55 or 2221 <= first4 <= 2720:
        return n == 16
    if first2 in (34, 37):
        return n == 15
    if first2 in (36, 38, 39) or 300 <= int(digits[:3]) <= 305:
        return 14 <= n <= 19
    if 3528 <= first4 <= 3589:
        return 16 <= n <= 19
    # Discover, UnionPay, Maestro and the rest of the 5x/6x ranges.
    return digits[0] in "56" and 13 <= n <= 19


def _cards(doc: Normalised) -> Iterator[Hit]:
    text = doc.text
    for match in _CARD.finditer(text):
        # Only the words of the same clause, just before the number, speak for it.
        head = doc.lower[max(0, match.start() - 30) : match.start()]
        if not _CARD_NEGATIVE.isdisjoint(_WORD.findall(head)):
            continue
        raw = match.group()
        # Greedy matching may run into a following number; retreat group by group.
        ends = [m.end() for m in _GROUP_END.finditer(raw)]
        for end in reversed(ends):
            digits = "".join(c for c in raw[:end] if c.isdigit())
            if len(digits) < 13:
                break
            if _network_ok(digits) and luhn.is_valid(digits):
                yield Hit(Entity.PAYMENT_CARD, match.start(), match.start() + end, 0.95)
                break


# Starts at the first check digit (digits are rarer than letters, so the engine skips ahead);
# the two country letters are checked behind it.
# Written compact or in groups of four, so "IP67 rated my foot" is not even a candidate.
_IBAN = re.compile(
    r"\d(?<=(?<![\w])[A-Za-z]{2}\d)\d"
    r"(?:[A-Za-z0-9]{11,30}|(?:[ -][A-Za-z0-9]{4}){2,8}(?:[ -][A-Za-z0-9]{1,3}(?![\w]))?)"
)


def _ibans(doc: Normalised) -> Iterator[Hit]:
    text = doc.text
    for match in _IBAN.finditer(text):
        begin = match.start() - 2
        raw = text[begin : match.end()]
        compact: list[str] = []
        boundaries: list[tuple[int, int]] = []
        for i, ch in enumerate(raw):
            if ch.isalnum():
                compact.append(ch.upper())
                nxt = raw[i + 1 : i + 2]
                if not nxt or not nxt.isalnum():
                    boundaries.append((len(compact), i + 1))
        # Try the longest grouping first; the country format fixes the only valid length.
        # National BBAN check digits are not part of the spec (mod-97 and length are), so
        # stdnum's per-country extras stay off.
        for length, end in reversed(boundaries):
            if length < 15:
                break
            if stdnum_iban.is_valid("".join(compact[:length]), check_country=False):
                yield Hit(Entity.IBAN, begin, begin + end, 0.97)
                break


def find(doc: Normalised, options: Options) -> Iterator[Hit]:
    """Yield PAYMENT_CARD and IBAN hits."""
    if doc.digit_count >= 13:
        yield from _cards(doc)
    # Every IBAN has at least eight digits (check digits plus a numeric bank or account part).
    if doc.digit_count >= 8:
        yield from _ibans(doc)
