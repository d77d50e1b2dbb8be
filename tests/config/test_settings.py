"""Settings: secrets are required at start-up, and production posture passes check --deploy."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def production_env(**overrides: str) -> dict[str, str]:
    """The documented production environment (.env.example), with throwaway secrets."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HAVEN_KEYFILE": "/nonexistent",
        "DJANGO_SECRET_KEY": base64.b64encode(os.urandom(48)).decode(),
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "haven.example.com",
        "DJANGO_BEHIND_TLS_PROXY": "true",
        "HAVEN_MASTER_KEYS": "k1:" + base64.b64encode(os.urandom(32)).decode(),
        "HAVEN_PEPPER": base64.b64encode(os.urandom(32)).decode(),
        "HAVEN_BASE_URL": "https://haven.example.com",
        "DATABASE_URL": f"sqlite:///{ROOT / '.check-deploy.sqlite3'}",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("missing", ["HAVEN_MASTER_KEYS", "DJANGO_SECRET_KEY", "HAVEN_PEPPER"])
def test_startup_fails_without_secret(missing: str) -> None:
    env = production_env()
    del env[missing]

    result = manage("check", env=env)

    assert result.returncode != 0
    assert f"{missing} is not set" in result.stderr


def test_startup_fails_with_malformed_master_key() -> None:
    result = manage("check", env=production_env(HAVEN_MASTER_KEYS="k1:dG9vIHNob3J0"))

    assert result.returncode != 0
    assert "must be 32 bytes" in result.stderr


def test_check_deploy_passes_with_production_environment() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_when_debug_is_on() -> None:
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", env=production_env(DJANGO_DEBUG="true")
    )

    assert result.returncode != 0
    assert "DEBUG" in result.stderr


_SHOW_DATABASE = (
    "import json; from django.conf import settings; d = settings.DATABASES['default']; "
    "print(json.dumps([d.get('OPTIONS', {}).get('pool'), d['CONN_MAX_AGE'], "
    "d['CONN_HEALTH_CHECKS']]))"
)


def test_database_pool_configured_from_environment() -> None:
    env = production_env(
        DATABASE_URL="postgres://haven@127.0.0.1:5432/haven",
        DATABASE_CONN_MAX_AGE="60",
        DATABASE_POOL_MAX_SIZE="6",
    )

    result = manage("shell", "-c", _SHOW_DATABASE, env=env)

    assert result.returncode == 0, result.stderr
    pool, conn_max_age, health_checks = json.loads(result.stdout.strip().splitlines()[-1])
    assert pool == {"min_size": 2, "max_size": 6, "timeout": 10}
    assert conn_max_age == 0  # the pool replaces persistent connections
    assert health_checks is True


@pytest.mark.parametrize(("max_age", "checked"), [("60", True), ("0", False)])
def test_database_pool_off_by_default_and_kept_connections_checked(
    max_age: str, checked: bool
) -> None:
    env = production_env(
        DATABASE_URL="postgres://haven@127.0.0.1:5432/haven", DATABASE_CONN_MAX_AGE=max_age
    )

    result = manage("shell", "-c", _SHOW_DATABASE, env=env)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [None, int(max_age), checked]


def test_startup_fails_with_pool_on_sqlite() -> None:
    result = manage("check", env=production_env(DATABASE_POOL_MAX_SIZE="4"))

    assert result.returncode != 0
    assert "DATABASE_POOL_MAX_SIZE needs PostgreSQL" in result.stderr
