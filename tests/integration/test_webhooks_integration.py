"""Webhooks against a real PostgreSQL that is unreachable or goes away mid-request: 503, never 500.

SECURITY-DESIGN §5/§7: the platform retries a 503, so nothing is lost; nothing is stored from a
request that got one, and the same delivery later is stored once.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from django.db import connection

from channels_bridge.simulator import RunningSimulator
from inbox import vault
from inbox.models import Channel, InboundEnvelope, InboundMessage, Platform, Team
from tests import factories
from tests.integration.conftest import x_mention_webhook

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def x_channel(simulator: RunningSimulator) -> Channel:
    team = Team.objects.create(name="Integration")
    return factories.simulated_channel(team=team, simulator=simulator, platform=Platform.X)


def _deliver(channel: Channel, simulator: RunningSimulator) -> Callable[[], int]:
    """A signed X mention webhook for one new mention; calling it posts it and gives the status."""
    text = "parcel lost, ring me on +49 151 23456789"
    ids = simulator.sim.customer_x_mention(text)
    return x_mention_webhook(
        channel,
        simulator,
        tweet_id=ids["tweet_id"],
        author_id=ids["author_id"],
        text=text,
        created_at=datetime(2026, 11, 29, 8, tzinfo=UTC),
    )


@contextmanager
def _database_unreachable() -> Iterator[None]:
    """Point the connection at a loopback port nothing listens on: connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = connection.settings_dict
    real = settings["HOST"], settings["PORT"]
    connection.close()
    settings["HOST"], settings["PORT"] = "127.0.0.1", closed_port
    try:
        yield
    finally:
        connection.close()
        settings["HOST"], settings["PORT"] = real


def _terminate_backend_when(table: str) -> Callable[..., Any]:
    """An execute wrapper that, before the first query on ``table``, has PostgreSQL end this
    connection's backend from another session: that query then meets a server gone away."""
    done = False

    def wrapper(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        nonlocal done
        if not done and table in sql:
            done = True
            pid = connection.connection.info.backend_pid
            settings = connection.settings_dict
            with psycopg.connect(
                host=settings["HOST"] or "127.0.0.1",
                port=settings["PORT"] or 5432,
                user=settings["USER"] or "postgres",
                dbname=settings["NAME"],
                autocommit=True,
            ) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        return execute(sql, *args)

    return wrapper


def test_webhook_returns_503_when_db_down(x_channel: Channel, simulator: RunningSimulator) -> None:
    post = _deliver(x_channel, simulator)

    with _database_unreachable():
        status = post()

    assert status == 503
    assert not InboundMessage.objects.exists()
    assert not InboundEnvelope.objects.exists()
    assert post() == 200  # the platform's retry
    assert post() == 200  # and a second one, deduplicated
    assert InboundMessage.objects.count() == 1


def test_webhook_returns_503_when_db_goes_away_reading_the_channel_key(
    x_channel: Channel, simulator: RunningSimulator
) -> None:
    post = _deliver(x_channel, simulator)
    vault.clear_key_cache()  # the key must come from the database, as after a worker restart

    with connection.execute_wrapper(_terminate_backend_when("inbox_channelkey")):
        status = post()
    connection.close()  # the test's connection died with the backend

    assert status == 503
    assert not InboundMessage.objects.exists()
    assert post() == 200
    assert InboundMessage.objects.count() == 1
