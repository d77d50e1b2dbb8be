"""The public contract: Finding's shape and repr, redact(), offsets on the original string."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from redaction import Entity, Finding, redact, scan
from redaction.base import Hit, Options
from redaction.normalise import Normalised

TEXT = "hi, Charlie Wood here. charlie7@example.org / +1-415-555-0100"


def test_finding_repr_shows_entity_and_span_only() -> None:
    findings = scan(TEXT)
    assert findings
    for finding in findings:
        shown = repr(finding) + str(finding)
        assert TEXT[finding.start : finding.end] not in shown
        assert finding.entity.value in shown


def test_finding_is_frozen_and_slotted() -> None:
    finding = Finding(Entity.EMAIL, 0, 3, 0.9)
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.start = 1  # type: ignore[misc]
    assert not hasattr(finding, "__dict__")


def test_scan_finds_each_value_of_a_mixed_message() -> None:
    found = [(f.entity, TEXT[f.start : f.end]) for f in scan(TEXT)]
    assert found == [
        (Entity.PERSON, "Charlie Wood"),
        (Entity.EMAIL, "charlie7@example.org"),
        (Entity.PHONE, "+1-415-555-0100"),
    ]


def test_redact_replaces_spans_with_labels() -> None:
    assert redact(TEXT) == "hi, [PERSON] here. [EMAIL] / [PHONE]"


def test_redact_uses_given_findings_only() -> None:
    findings = [Finding(Entity.PERSON, 4, 16, 0.8)]
    assert redact(TEXT, findings) == "hi, [PERSON] here. charlie7@example.org / +1-415-555-0100"


def test_redact_merges_overlapping_findings() -> None:
    findings = [Finding(Entity.PHONE, 0, 5, 0.9), Finding(Entity.ACCOUNT_NUMBER, 3, 8, 0.9)]
    assert redact("0123456789", findings) == "[PHONE]89"


def test_scan_offsets_cover_invisible_characters_inside_a_value() -> None:
    text = "mail: ja\u200bne@exa\u2060mple.org ok"
    (finding,) = scan(text)
    assert text[finding.start : finding.end] == "ja\u200bne@exa\u2060mple.org"


def test_scan_offsets_count_code_points_after_emoji() -> None:
    text = "🤷\u200d♀️🔥 call 07911 123456"
    (finding,) = scan(text)
    assert text[finding.start : finding.end] == "07911 123456"


def test_scan_locale_hint_orders_phone_regions() -> None:
    # A bare Spanish mobile is found with or without the hint; the hint must not lose it.
    text = "llámame al 612 345 678"
    assert [f.entity for f in scan(text, locales=["es_ES"])] == [Entity.PHONE]
    assert [f.entity for f in scan(text, locales=["de"])] == [Entity.PHONE]


def test_scan_returns_nothing_for_empty_text() -> None:
    assert scan("") == []
    assert redact("") == ""


def test_scan_logs_no_matched_text(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        scan(TEXT)
        redact(TEXT)
    assert "charlie7" not in caplog.text
    assert "Wood" not in caplog.text


def test_scan_accepts_an_extra_recogniser_as_plug_in() -> None:
    def shouty_names(doc: Normalised, options: Options) -> list[Hit]:
        start = doc.text.find("ZORBLAX")
        return [Hit(Entity.PERSON, start, start + 7, 0.9)] if start >= 0 else []

    text = "ask \u200bZORBLAX about it"
    (finding,) = scan(text, extra=[shouty_names])
    assert (finding.entity, text[finding.start : finding.end]) == (Entity.PERSON, "ZORBLAX")
    assert scan(text) == []


def test_scan_finds_international_number_in_a_range_kept_for_fiction() -> None:
    # +44 7700 900xxx is reserved for drama, so phonenumbers calls it invalid; a customer
    # writing it still writes a phone number, and the international prefix says so.
    text = "my mobile is +44 7700 900461, thanks"

    findings = scan(text)

    assert [(f.entity, text[f.start : f.end]) for f in findings] == [("PHONE", "+44 7700 900461")]
