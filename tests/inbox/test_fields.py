"""CiphertextField: bytes in and out as BinaryField, and bulk inserts in Django's UNNEST form."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inbox.models import Message, MessageKind, MessageSource
from tests import factories

pytestmark = pytest.mark.django_db

BODIES = [b"\x00\xffsealed", None, bytes(range(256))]


def test_bulk_created_ciphertext_reads_back_byte_for_byte() -> None:
    ticket = factories.make_ticket(channel=factories.make_channel(team=factories.TeamFactory()))
    rows = [
        Message(
            ticket=ticket,
            kind=MessageKind.NOTE,
            source=MessageSource.AGENT,
            body_ciphertext=body,
            findings=[{"entity": "PHONE", "start": 0, "end": n}],
        )
        for n, body in enumerate(BODIES)
    ]

    with CaptureQueriesContext(connection) as queries:
        Message.objects.bulk_create(rows)

    stored = Message.objects.filter(ticket=ticket).order_by("pk")
    read = [None if m.body_ciphertext is None else bytes(m.body_ciphertext) for m in stored]
    assert read == BODIES
    assert [m.findings[0]["end"] for m in stored] == [0, 1, 2]
    inserts = [q["sql"] for q in queries if q["sql"].startswith('INSERT INTO "inbox_message"')]
    assert len(inserts) == 1
    if connection.vendor == "postgresql":
        # One array per column, not one placeholder per value: BinaryField's get_placeholder
        # would turn this off for every model that holds ciphertext.
        assert "UNNEST(" in inserts[0]
