"""docker-compose.yml is checked here, since no Docker engine runs in CI."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
APP_SERVICES = ["migrate", "web", "worker", "outbox", "beat"]


def _command(service: str) -> list[str]:
    command: Any = COMPOSE["services"][service]["command"]
    return command if isinstance(command, list) else command.split()


def test_compose_has_the_deployment_services() -> None:
    assert set(COMPOSE["services"]) >= {"web", "worker", "beat", "postgres", "redis", "migrate"}


@pytest.mark.parametrize("service", ["web", "worker", "outbox", "postgres", "redis"])
def test_compose_long_running_services_have_health_checks(service: str) -> None:
    assert COMPOSE["services"][service]["healthcheck"]["test"]


def test_compose_web_command_names_the_real_asgi_application() -> None:
    command = _command("web")
    module, _, attr = next(arg for arg in command if ":application" in arg).partition(":")

    assert command[0] == "uvicorn"
    assert getattr(importlib.import_module(module), attr) is not None


@pytest.mark.parametrize("service", ["worker", "outbox", "beat"])
def test_compose_celery_commands_name_the_real_app(service: str) -> None:
    command = _command(service)
    app_module = command[command.index("-A") + 1]

    assert command[0] == "celery"
    assert importlib.import_module(app_module).celery_app.main == "haven"


def test_compose_manage_commands_exist() -> None:
    command = _command("migrate")

    assert command[:2] == ["python", "manage.py"]
    assert command[2] in get_commands()


def test_compose_sets_only_variables_the_settings_read() -> None:
    read = settings.HAVEN_ENV_VARIABLES_READ
    for service in APP_SERVICES:
        env = COMPOSE["services"][service].get("environment", {})
        assert set(env) <= read, f"{service} sets variables the settings never read"


def test_env_example_documents_exactly_the_variables_read() -> None:
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))

    assert documented == set(settings.HAVEN_ENV_VARIABLES_READ)


def test_compose_health_check_hits_healthz() -> None:
    test = " ".join(COMPOSE["services"]["web"]["healthcheck"]["test"])

    assert "/healthz" in test


def test_compose_outbox_worker_consumes_the_queue_platform_calls_are_routed_to() -> None:
    command = _command("outbox")
    queues = next(arg for arg in command if arg.startswith("--queues=")).split("=", 1)[1]
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}

    assert routed == set(queues.split(","))
    assert "--pool=threads" in command
    # The plain worker names no queue, so it consumes every configured one, this one included.
    assert not any(arg.startswith(("-Q", "--queues")) for arg in _command("worker"))
    assert routed <= {queue.name for queue in settings.CELERY_TASK_QUEUES}
