"""Synthetic PII values with valid check digits, computed here; no real person's data."""

from __future__ import annotations

from collections.abc import Callable

from stdnum import iban, luhn
from stdnum.de import idnr
from stdnum.es import dni
from stdnum.fr import nir
from stdnum.gb import nhs
from stdnum.it import codicefiscale
from stdnum.nl import bsn


def grouped(value: str, sizes: tuple[int, ...], sep: str = " ") -> str:
    """Split `value` into groups of the given sizes (the last size repeats)."""
    parts: list[str] = []
    i = 0
    k = 0
    while i < len(value):
        size = sizes[min(k, len(sizes) - 1)]
        parts.append(value[i : i + size])
        i += size
        k += 1
    return sep.join(parts)


def card(prefix: str, length: int) -> str:
    """A Luhn-valid card number with the given network prefix."""
    body = (prefix + "3141592653589793238")[: length - 1]
    return body + luhn.calc_check_digit(body)


def card_invalid(prefix: str, length: int) -> str:
    """The same number with a wrong check digit."""
    valid = card(prefix, length)
    return valid[:-1] + str((int(valid[-1]) + 1) % 10)


def make_iban(country: str, bban: str) -> str:
    """A mod-97-valid IBAN for `bban`."""
    return country + iban.calc_check_digits(country + "00" + bban) + bban


def bad_iban(country: str, bban: str) -> str:
    valid = make_iban(country, bban)
    check = (int(valid[2:4]) + 1) % 100
    return f"{country}{check:02d}{bban}"


def _complete(body: str, is_valid: Callable[[str], bool]) -> str:
    for digit in "0123456789":
        if is_valid(body + digit):
            return body + digit
    raise ValueError("no check digit")


def steuer_id() -> str:
    return _complete("8615204936", idnr.is_valid)


def bsn_number() -> str:
    return _complete("29310785", bsn.is_valid)


def nhs_number() -> str:
    return _complete("401023213", nhs.is_valid)


def dni_number() -> str:
    body = "48213957"
    return body + dni.calc_check_digit(body)


def codice_fiscale() -> str:
    body = "BNCGLI88C52F205"
    return body + codicefiscale.calc_check_digit(body)


def nir_number() -> str:
    body = "2880575123456"
    return body + nir.calc_check_digits(body)


def fullwidth(text: str) -> str:
    """ASCII digits and capitals as their fullwidth forms (U+FF10...), as some phones type them."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() or "A" <= c <= "Z" else c for c in text)


def wrong_last(value: str) -> str:
    """`value` with its last character (the check digit or letter) changed."""
    last = value[-1]
    if last.isdigit():
        return value[:-1] + str((int(last) + 1) % 10)
    return value[:-1] + ("A" if last.upper() != "A" else "B")
