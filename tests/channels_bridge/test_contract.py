"""The public contract: registry, protocol, dataclasses, errors and the import rule."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest

from channels_bridge import errors
from channels_bridge.items import Batch, Capabilities, ItemAction, ItemKind
from channels_bridge.protocol import Connector
from channels_bridge.registry import PLATFORMS, get_connector
from tests.channels_bridge.conftest import FB_CREDENTIALS, X_CREDENTIALS, make_item


@pytest.mark.parametrize(
    ("platform", "credentials"), [("facebook", FB_CREDENTIALS), ("x", X_CREDENTIALS)]
)
def test_get_connector_returns_a_connector(platform: str, credentials: dict[str, str]) -> None:
    connector = get_connector(platform, credentials, base_url="http://127.0.0.1:8000", timeout=3)
    assert isinstance(connector, Connector)
    assert connector.platform == platform
    assert set(connector.capabilities) == set(ItemKind)


def test_get_connector_refuses_an_unknown_platform() -> None:
    with pytest.raises(ValueError, match="unknown platform"):
        get_connector("myspace", {})
    assert PLATFORMS == ("facebook", "x")


def test_item_is_frozen_slotted_and_hides_text_in_repr() -> None:
    item = make_item(text="secret customer words")
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.text = "changed"  # type: ignore[misc]  # proving it is frozen
    assert not hasattr(item, "__dict__")
    assert "secret customer words" not in repr(item)
    assert item.action is ItemAction.CREATE
    assert item.kind == "comment"


def test_item_refuses_naive_time_and_empty_id() -> None:
    with pytest.raises(ValueError, match="aware"):
        make_item(created_at=datetime(2026, 1, 1))  # the naive value under test
    with pytest.raises(ValueError, match="external_id"):
        make_item(external_id="")


def test_batch_and_capabilities_are_frozen() -> None:
    batch = Batch(items=(), next_cursor=None)
    caps = Capabilities(reply_publicly=True, hide=False, send_private=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        batch.next_cursor = "x"  # type: ignore[misc]  # proving it is frozen
    with pytest.raises(dataclasses.FrozenInstanceError):
        caps.hide = True  # type: ignore[misc]  # proving it is frozen


def test_rate_limited_carries_aware_utc_retry_at() -> None:
    local = datetime(2026, 11, 29, 3, 0, tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))
    exc = errors.RateLimited(local)
    assert exc.retry_at.tzinfo is UTC
    assert exc.retry_at == local
    assert isinstance(exc, errors.BridgeError)
    with pytest.raises(ValueError, match="aware"):
        errors.RateLimited(datetime(2026, 1, 1))  # the naive value under test


def test_error_hierarchy_matches_the_contract() -> None:
    assert issubclass(errors.AmbiguousOutcome, errors.TransientError)
    assert issubclass(errors.AlreadyReplied, errors.PlatformError)
    for cls in (
        errors.RateLimited,
        errors.AuthExpired,
        errors.PermissionDenied,
        errors.NotFound,
        errors.TransientError,
        errors.PlatformError,
        errors.MalformedPayload,
    ):
        assert issubclass(cls, errors.BridgeError)


def test_bridge_imports_no_django_channels_or_celery() -> None:
    code = (
        "import sys, channels_bridge, channels_bridge.registry, channels_bridge.webhooks, "
        "channels_bridge.signatures\n"
        "roots = {'django', 'channels', 'celery'}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in roots)\n"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
