"""Helpers for bridge tests: recorded fixtures, credentials, items, a responses mock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import facebook
import pytest
import responses

from channels_bridge.facebook import FacebookConnector
from channels_bridge.items import Item, ItemKind
from channels_bridge.registry import get_connector
from channels_bridge.simulator import RunningSimulator, default_credentials, start_simulator
from channels_bridge.x import XConnector
from tests.channels_bridge.simulated import RewritingSession

RECORDED_FIXTURES = Path(__file__).resolve().parent / "recorded"
LOCAL_FIXTURES = Path(__file__).resolve().parent / "fixtures"
GRAPH = "https://graph.facebook.com/v26.0"
XAPI = "https://api.twitter.com/2"

FB_PAGE = "1234567890321"
FB_CREDENTIALS = {"page_id": FB_PAGE, "page_access_token": "page-token-synthetic"}
X_USER = "2975699229"
X_CREDENTIALS = {
    "user_id": X_USER,
    "username": "HavenBrand",
    "consumer_key": "ck-synthetic",
    "consumer_secret": "cs-synthetic",
    "access_token": "at-synthetic",
    "access_token_secret": "ats-synthetic",
}


def fixture_path(platform: str, name: str) -> Path:
    return RECORDED_FIXTURES / platform / name


def load(platform: str, name: str) -> dict[str, object]:
    data = json.loads(fixture_path(platform, name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def raw(platform: str, name: str) -> bytes:
    return fixture_path(platform, name).read_bytes()


def make_item(
    platform: str = "facebook",
    kind: ItemKind = ItemKind.COMMENT,
    external_id: str = "111_222",
    *,
    created_at: datetime | None = None,
    author_id: str | None = "9001",
    parent_id: str | None = None,
    conversation_id: str | None = None,
    text: str = "synthetic text",
    from_self: bool = False,
) -> Item:
    return Item(
        platform=platform,
        kind=kind,
        external_id=external_id,
        author_id=author_id,
        author_handle=None,
        author_name=None,
        text=text,
        created_at=created_at or datetime.now(UTC),
        permalink=None,
        parent_id=parent_id,
        conversation_id=conversation_id,
        from_self=from_self,
    )


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def fb() -> FacebookConnector:
    connector = get_connector("facebook", FB_CREDENTIALS)
    assert isinstance(connector, FacebookConnector)
    return connector


@pytest.fixture
def xc() -> XConnector:
    connector = get_connector("x", X_CREDENTIALS)
    assert isinstance(connector, XConnector)
    return connector


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSimulator]:
    """One simulator per test module (a module may override this, e.g. with another seed)."""
    with start_simulator() as sim:
        yield sim


@pytest.fixture
def sim(running: RunningSimulator) -> RunningSimulator:
    """The module's simulator, reset to its default world and with traffic off."""
    running.sim.reset()
    running.traffic.set_rate(0)
    return running


@pytest.fixture
def graph(sim: RunningSimulator) -> facebook.GraphAPI:
    """facebook-sdk's GraphAPI on the simulator, pinned to v26.0 as the connector does."""
    api = facebook.GraphAPI(
        access_token=default_credentials("facebook")["page_access_token"],
        timeout=5,
        session=RewritingSession(sim.base_url),
    )
    api.version = "v26.0"
    return api
