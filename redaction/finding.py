"""The Finding value and label names shared by every recogniser; holds no matched text."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Entity(StrEnum):
    """The eleven labels of shared/pii/LABELS.md."""

    EMAIL = "EMAIL"
    PHONE = "PHONE"
    PAYMENT_CARD = "PAYMENT_CARD"
    IBAN = "IBAN"
    IP_ADDRESS = "IP_ADDRESS"
    PERSON = "PERSON"
    STREET_ADDRESS = "STREET_ADDRESS"
    POSTCODE = "POSTCODE"
    NATIONAL_ID = "NATIONAL_ID"
    DATE_OF_BIRTH = "DATE_OF_BIRTH"
    ACCOUNT_NUMBER = "ACCOUNT_NUMBER"


@dataclass(frozen=True, slots=True)
class Finding:
    """One PII hit: a label and a span of the original text, end exclusive.

    It deliberately keeps no copy of the text, so printing or logging a finding can never leak
    the personal data it points at.
    """

    entity: Entity
    start: int
    end: int
    score: float

    def __repr__(self) -> str:
        return f"Finding({self.entity.value} {self.start}:{self.end})"

    __str__ = __repr__
