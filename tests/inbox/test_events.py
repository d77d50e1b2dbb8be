"""Realtime events over a network channel layer that is down: the write they follow goes on,
and the loss is logged once per burst, with no payload."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from django.test import override_settings

from inbox import events

UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # Nothing listens on port 1: every connection is refused at once.
        "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"], "prefix": "haven-test-down"},
    }
}


def test_a_burst_to_an_unreachable_layer_is_logged_once_and_never_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tickets = [uuid.uuid4() for _ in range(5)]

    with override_settings(CHANNEL_LAYERS=UNREACHABLE_REDIS), caplog.at_level(logging.WARNING):
        for ticket in tickets:
            events.send_now(
                events.ticket_agents_group(ticket),
                events.action_changed(
                    ticket_public_id=ticket, action_public_id=uuid.uuid4(), status="sent"
                ),
            )
        deadline = time.monotonic() + 10
        while _lost(caplog) < len(tickets) and time.monotonic() < deadline:
            time.sleep(0.02)

    # One line per burst (the five go out together unless the machine stalls for 10 ms).
    assert _lost(caplog) == len(tickets)
    failures = [r for r in caplog.records if r.getMessage().startswith("broadcast failed")]
    assert all(r.getMessage().endswith(" error=ConnectionError") for r in failures)
    assert not any(str(t) in r.getMessage() for r in caplog.records for t in tickets)


def _lost(caplog: pytest.LogCaptureFixture) -> int:
    """Events the failure lines account for."""
    return sum(
        int(r.getMessage().split("events=")[1].split()[0])
        for r in caplog.records
        if r.getMessage().startswith("broadcast failed events=")
    )
