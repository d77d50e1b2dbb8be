"""IP address recogniser (IPv4, IPv6) validated by the stdlib, with version-string exclusion."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from redaction.base import Hit, Options
from redaction.finding import Entity
from redaction.normalise import Normalised

_IPV4 = re.compile(r"\d(?<![\w.]\d)\d{0,2}\.(?:\d{1,3}\.){2}\d{1,3}(?![\w]|\.\d)")
# Bounded and possessive: a run of hex digits and colons is read once, then validated.
_IPV6 = re.compile(
    r"(?<![\w:.])(?=[0-9A-Fa-f.]{0,4}:[0-9A-Fa-f.]{0,4}:)[0-9A-Fa-f:.]{3,45}+(?![\w:])"
)
# Four dotted numbers after these words are versions, builds or error codes.
_VERSION_CUE = re.compile(
    r"(?:firmware|version|versión|versione|versie|build|release|update|app|code|código|codice|"
    r"fehlercode|error|erreur|fehler|errore|fout|software|ios|android|driver|bios|\bv)"
    r"\W{0,3}(?:\w+\W{1,3})?$",
    re.IGNORECASE,
)
_IP_CUE = re.compile(r"\bip\b|\bip-|adres|address|dirección|indirizzo|login|router|wan|lan|vpn")


def find(doc: Normalised, options: Options) -> Iterator[Hit]:
    """Yield IP_ADDRESS hits."""
    text = doc.text
    if "." in text:
        for match in _IPV4.finditer(text):
            try:
                ipaddress.IPv4Address(match.group())
            except ValueError:
                continue
            before = doc.lower[max(0, match.start() - 30) : match.start()]
            if before.endswith(("://", "@")):
                continue  # the host part of a URL; URLs are not personal data here
            cue = _VERSION_CUE.search(before)
            if cue and not _IP_CUE.search(cue.group()):
                continue
            yield Hit(Entity.IP_ADDRESS, match.start(), match.end(), 0.95)
    if "::" in text or text.count(":") >= 5:
        for match in _IPV6.finditer(text):
            value = match.group().rstrip(".")
            # "::D" and friends are emoticons; an address worth the name has a few hex digits.
            if sum(c not in ":." for c in value) < 4:
                continue
            try:
                ipaddress.IPv6Address(value)
            except ValueError:
                continue
            yield Hit(Entity.IP_ADDRESS, match.start(), match.start() + len(value), 0.95)
