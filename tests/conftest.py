"""Shared fixtures. Integration tests fail loudly when their services are missing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from channels_bridge.simulator import RunningSimulator, start_simulator
from inbox.models import Platform
from tests import factories


@pytest.fixture(scope="session", autouse=True)
def _collected_static() -> None:
    """Pages render through the production (manifest) static storage, which needs collectstatic
    (it copies only what changed, so running it every session costs about a second)."""
    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: pytest.FixtureRequest) -> None:
    # Test speed only: Argon2 costs tens of milliseconds per hash by design.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]


class HttpsClient(Client):
    """A test client whose every request arrives over HTTPS, as production's do behind TLS."""

    def request(self, **request: Any) -> Any:
        request.update({"wsgi.url_scheme": "https", "SERVER_PORT": "443"})
        return super().request(**request)


@pytest.fixture
def client() -> Client:
    return HttpsClient()


def _services_error() -> str | None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return "DATABASE_URL must point at PostgreSQL for integration tests"
    if not settings.REDIS_URL:
        return "REDIS_URL must be set for integration tests"
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at REDIS_URL is unreachable: {type(exc).__name__}"
    return None


@pytest.fixture(autouse=True)
def _eager_celery(request: pytest.FixtureRequest) -> Iterator[None]:
    """Unit tests run tasks in-process; integration tests use a real broker and worker."""
    from config.celery import app

    if request.node.get_closest_marker("integration"):
        yield
        return
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _require_services(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("integration"):
        problem = _services_error()
        if problem:
            pytest.fail(f"integration test needs real services: {problem}", pytrace=False)


@pytest.fixture
def team() -> factories.Team:
    return factories.TeamFactory()


@pytest.fixture
def agent(team: factories.Team) -> factories.User:
    return factories.agent_of(team)


@pytest.fixture
def channel(team: factories.Team) -> factories.Channel:
    return factories.make_channel(team=team)


@pytest.fixture
def ticket(channel: factories.Channel) -> factories.Ticket:
    return factories.make_ticket(channel=channel)


@pytest.fixture
def simulator() -> Iterator[RunningSimulator]:
    """The platform simulator on a free loopback port, in this process."""
    running = start_simulator(seed=1)
    yield running
    running.stop()


@pytest.fixture
def x_channel(team: factories.Team, simulator: RunningSimulator) -> factories.Channel:
    """A switched-on X channel of ``team`` whose real connector calls the simulator."""
    return factories.simulated_channel(team=team, simulator=simulator, platform=Platform.X)


@pytest.fixture
def fb_channel(team: factories.Team, simulator: RunningSimulator) -> factories.Channel:
    """A switched-on Facebook Page channel of ``team`` whose real connector calls the simulator."""
    return factories.simulated_channel(team=team, simulator=simulator, platform=Platform.FACEBOOK)


def pytest_report_header() -> list[str]:
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return [f"haven: database={engine} redis={'yes' if os.environ.get('REDIS_URL') else 'no'}"]
