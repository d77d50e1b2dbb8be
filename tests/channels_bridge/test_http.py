"""The SDK session: base-URL rewriting, default timeout, per-thread last response."""

from __future__ import annotations

import threading

import pytest
import requests
import responses

from channels_bridge.http import BridgeSession, normalise_base_url, sent_for_sure_not


def test_session_rewrites_the_host_prefix_only(mocked: responses.RequestsMock) -> None:
    mocked.get("http://127.0.0.1:9/prefix/2/users/me", json={})
    session = BridgeSession(
        timeout=1, rewrites={"https://api.twitter.com/": "http://127.0.0.1:9/prefix/"}
    )
    session.get("https://api.twitter.com/2/users/me")
    assert mocked.calls[0].request.url == "http://127.0.0.1:9/prefix/2/users/me"


def test_session_adds_extra_params_without_overriding_given_ones(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get("https://graph.facebook.com/v26.0/me", json={})
    session = BridgeSession(timeout=1, extra_params={"appsecret_proof": "p", "x": "1"})
    session.get("https://graph.facebook.com/v26.0/me", params={"x": "2"})
    url = mocked.calls[0].request.url or ""
    assert "appsecret_proof=p" in url
    assert "x=2" in url


def test_session_remembers_the_last_response_per_thread(mocked: responses.RequestsMock) -> None:
    mocked.get("https://graph.facebook.com/a", json={}, status=200)
    mocked.get("https://graph.facebook.com/b", json={}, status=404)
    session = BridgeSession(timeout=1)
    session.get("https://graph.facebook.com/a")
    seen: list[int | None] = []
    other = threading.Thread(target=lambda: seen.append(session.last_status))
    other.start()
    other.join()
    assert (session.last_status, seen) == (200, [None])


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://127.0.0.1:8000", True),
        ("https://sim.example/base/", True),
        ("127.0.0.1:8000", False),
        ("ftp://127.0.0.1", False),
        ("http://127.0.0.1:8000/?q=1", False),
    ],
)
def test_normalise_base_url_accepts_only_http_hosts(url: str, ok: bool) -> None:
    if ok:
        assert not normalise_base_url(url).endswith("/")
    else:
        with pytest.raises(ValueError, match="base_url"):
            normalise_base_url(url)


def test_connect_timeout_is_known_not_to_have_been_sent() -> None:
    assert sent_for_sure_not(requests.ConnectTimeout())
    assert not sent_for_sure_not(requests.ReadTimeout())
    assert not sent_for_sure_not(requests.ConnectionError("reset by peer"))


def test_refused_connection_is_known_not_to_have_been_sent() -> None:
    session = BridgeSession(timeout=2)
    with pytest.raises(requests.ConnectionError) as caught:
        session.post("http://127.0.0.1:1/2/tweets", json={})
    assert sent_for_sure_not(caught.value)
