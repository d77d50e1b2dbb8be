"""System checks on settings that must agree (``manage.py check --deploy``)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks


@pytest.mark.parametrize(("stale", "warned"), [(39, True), (40, False)])
def test_deploy_check_warns_when_a_claim_can_expire_during_a_platform_call(
    settings: Any, stale: int, warned: bool
) -> None:
    settings.HAVEN_PLATFORM_TIMEOUT = 10
    settings.HAVEN_STALE_CLAIM_SECONDS = stale

    ids = {message.id for message in run_checks(include_deployment_checks=True)}

    assert ("haven.W001" in ids) is warned


def test_the_claim_check_is_a_deployment_check_only(settings: Any) -> None:
    settings.HAVEN_STALE_CLAIM_SECONDS = 2  # as the integration tests run their workers

    ids = {message.id for message in run_checks()}

    assert "haven.W001" not in ids
