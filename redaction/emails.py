"""E-mail recogniser, including obfuscated forms in six languages; knows nothing of other labels."""

from __future__ import annotations

import re
from collections.abc import Iterator

from redaction.base import Hit, Options, words
from redaction.finding import Entity
from redaction.normalise import Normalised

_AT_WORD_SET = frozenset(
    {"at", "arobase", "arroba", "chiocciola", "apenstaartje", "klammeraffe", "ät"}
)
_AT_WORDS = words(*_AT_WORD_SET)
_DOT_WORDS = words("dot", "punkt", "point", "punto", "punt")
# The "at" anchor: a real @, a bracketed word, or a bare word between spaces.
_AT = re.compile(
    rf"@|[\[({{<]\s?(?:{_AT_WORDS}|@)\s?[\])}}>]|(?<=\s)(?:{_AT_WORDS})(?=\s)", re.IGNORECASE
)
_DOMAIN_START = re.compile(
    rf"\s?[^\W_][\w\-]{{0,62}}(?:\s?\.|\s?[\[({{]\s?(?:{_DOT_WORDS})|\s(?:{_DOT_WORDS})\s)",
    re.IGNORECASE,
)
_LOCAL_MAX = 64
# Local part, anchored at the end of a bounded window (so the search stays linear overall).
_LOCAL = re.compile(
    rf"(?<![\w.+\-])[\w+\-]+(?:(?:\.|\s?[\[(]\s?(?:{_DOT_WORDS})\s?[\])]\s?|\s(?:{_DOT_WORDS})\s)"
    rf"[\w+\-]+)*(?P<gap>\s?)$",
    re.IGNORECASE,
)
_LABEL = re.compile(r"[^\W_][\w\-]{0,62}")
_PLAIN_DOT = re.compile(r"\.")
_SPACED_SEP = re.compile(
    rf"\s?\.\s?|\s?[\[({{]\s?(?:{_DOT_WORDS})\s?[\])}}]\s?|\s(?:{_DOT_WORDS})\s", re.IGNORECASE
)
_GAP = re.compile(r"\s?")
_BARE_AT = re.compile(rf"(?:{_AT_WORDS})", re.IGNORECASE)
_WORD_DOT = re.compile(rf"\b(?:{_DOT_WORDS})\b", re.IGNORECASE)
_LOCAL_MARK = re.compile(r"[\d._+]")
# "ordered at zalando.de" must not read as an address, so a bare "at" needs another sign.
_MAIL_HOSTS = frozenset(
    [
        "gmail", "googlemail", "yahoo", "hotmail", "outlook", "live", "msn", "icloud", "me", "mac",
        "aol", "gmx", "web", "t-online", "freenet", "posteo", "mailbox", "proton", "protonmail",
        "orange", "free", "laposte", "wanadoo", "sfr", "bbox", "libero", "virgilio", "tiscali",
        "alice", "tim", "fastwebnet", "telefonica", "movistar", "ziggo", "kpn", "xs4all", "hetnet",
        "planet", "home", "btinternet", "sky", "virginmedia", "talktalk", "ntlworld", "mail",
        "email",
    ]
)  # fmt: skip
# For obfuscated or spaced forms the last label must be a real TLD, or "gmail . Thanks" would
# pass; for the plain form any alphabetic label of two letters or more is accepted.
_TLDS = frozenset(
    [
        "com", "net", "org", "info", "biz", "edu", "gov", "eu", "de", "fr", "es", "it", "nl", "uk",
        "be", "ch", "at", "ie", "lu", "pt", "pl", "se", "dk", "no", "fi", "cz", "gr", "io", "me",
        "co", "us", "ca", "au", "nz", "tv", "app", "dev", "email", "online", "shop", "cat", "gal",
        "mail", "xyz", "ru", "jp", "in", "br", "mx", "ar",
    ]
)  # fmt: skip


def _domain_end(text: str, pos: int, spaced: bool) -> int:
    """End of the longest acceptable domain starting at `pos`, or -1."""
    label = _LABEL.match(text, pos)
    if label is None:
        return -1
    sep_re = _SPACED_SEP if spaced else _PLAIN_DOT
    end = -1
    cur = label.end()
    for _ in range(8):
        sep = sep_re.match(text, cur)
        if sep is None:
            break
        nxt = _LABEL.match(text, sep.end())
        if nxt is None:
            break
        tld = nxt.group()
        plain = sep.group() == "."
        if tld.isalpha() and (tld.lower() in _TLDS or (plain and len(tld) >= 2)):
            end = nxt.end()
        cur = nxt.end()
    return end


def find(doc: Normalised, options: Options) -> Iterator[Hit]:
    """Yield EMAIL hits."""
    text = doc.text
    if "@" not in text and _AT_WORD_SET.isdisjoint(doc.vocabulary):
        return
    for at in _AT.finditer(text):
        # The domain is the rarer half: check for "label<dot>" right after the anchor first.
        if _DOMAIN_START.match(text, at.end()) is None:
            continue
        local = _LOCAL.search(text, max(0, at.start() - _LOCAL_MAX), at.start())
        if local is None:
            continue
        anchor = at.group()
        obfuscated = anchor != "@"
        gap_before = bool(local.group("gap"))
        gap = _GAP.match(text, at.end())
        gap_after = bool(gap and gap.group())
        if anchor == "@" and gap_before != gap_after:
            # "thanks @Brand" is a mention, not "local @ domain".
            continue
        start_domain = at.end() + (1 if gap_after else 0)
        spaced = obfuscated or gap_before or " " in local.group().strip()
        end = _domain_end(text, start_domain, spaced)
        if end < 0 and not spaced:
            end = _domain_end(text, start_domain, True)
        if end < 0:
            continue
        host = _LABEL.match(text, start_domain)
        if _BARE_AT.fullmatch(anchor) and not (
            _LOCAL_MARK.search(local.group())
            or _WORD_DOT.search(text, local.start(), end)
            or (host is not None and host.group().lower() in _MAIL_HOSTS)
        ):
            continue
        yield Hit(Entity.EMAIL, local.start(), end, 0.85 if obfuscated or spaced else 0.97)
