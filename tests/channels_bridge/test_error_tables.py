"""Every row of PLATFORMS.md's error tables becomes the right bridge error via the real SDKs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import requests
import responses
import time_machine

from channels_bridge import errors
from channels_bridge.facebook import FacebookConnector
from channels_bridge.items import ItemKind
from channels_bridge.x import XConnector
from tests.channels_bridge.conftest import FB_PAGE, GRAPH, X_USER, XAPI, load, make_item

ANY_GRAPH = re.compile(re.escape(GRAPH) + r"/.*")
MENTIONS = f"{XAPI}/users/{X_USER}/mentions"


def graph_body(code: int, subcode: int | None = None, **extra: object) -> dict[str, object]:
    error: dict[str, object] = {
        "message": f"(#{code}) synthetic",
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "synthetic",
        **extra,
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


# code, subcode, HTTP status, expected (PLATFORMS.md §1.6, one row or cell each)
GRAPH_ROWS = [
    (1, None, 500, errors.TransientError),
    (2, None, 503, errors.TransientError),
    (4, None, 403, errors.RateLimited),
    (17, None, 400, errors.RateLimited),
    (32, None, 400, errors.RateLimited),
    (613, None, 400, errors.RateLimited),
    (80001, None, 400, errors.RateLimited),
    (80006, None, 400, errors.RateLimited),
    (341, None, 400, errors.RateLimited),
    (368, None, 400, errors.PlatformError),
    (3, None, 400, errors.PermissionDenied),
    (10, None, 400, errors.PermissionDenied),
    (200, None, 403, errors.PermissionDenied),
    (230, None, 403, errors.PermissionDenied),
    (299, None, 403, errors.PermissionDenied),
    (100, 33, 400, errors.NotFound),
    (100, None, 400, errors.PlatformError),
    (190, 458, 400, errors.AuthExpired),
    (190, 459, 400, errors.AuthExpired),
    (190, 460, 400, errors.AuthExpired),
    (190, 463, 400, errors.AuthExpired),
    (190, 464, 400, errors.AuthExpired),
    (190, 467, 400, errors.AuthExpired),
    (190, 492, 400, errors.AuthExpired),
    (551, None, 400, errors.PermissionDenied),
]


@pytest.mark.parametrize(("code", "subcode", "status", "expected"), GRAPH_ROWS)
def test_graph_error_maps_to_bridge_error_on_read(
    fb: FacebookConnector,
    mocked: responses.RequestsMock,
    code: int,
    subcode: int | None,
    status: int,
    expected: type[errors.BridgeError],
) -> None:
    mocked.get(ANY_GRAPH, json=graph_body(code, subcode), status=status)
    with pytest.raises(expected) as caught:
        fb.fetch_since(None)
    assert type(caught.value) is expected
    assert caught.value.code == code
    assert "synthetic" not in str(caught.value)  # platform text never travels


@pytest.mark.parametrize("code", [1, 2])
def test_graph_transient_error_on_write_is_ambiguous(
    fb: FacebookConnector, mocked: responses.RequestsMock, code: int
) -> None:
    mocked.post(ANY_GRAPH, json=graph_body(code, is_transient=True), status=500)
    with pytest.raises(errors.AmbiguousOutcome):
        fb.reply_publicly(make_item(), "redirect")


def test_graph_error_in_a_200_body_still_raises(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    mocked.get(ANY_GRAPH, json=graph_body(190, 463), status=200)
    with pytest.raises(errors.AuthExpired):
        fb.fetch_since(None)


def test_graph_already_replied_counts_as_sent(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    mocked.post(ANY_GRAPH, json=graph_body(10900), status=400)
    with pytest.raises(errors.AlreadyReplied):
        fb.send_private(make_item(), "link")


@pytest.mark.parametrize(("code", "subcode"), [(10902, None), (100, 2018292)])
def test_graph_private_reply_refusal_is_permission_denied(
    fb: FacebookConnector, mocked: responses.RequestsMock, code: int, subcode: int | None
) -> None:
    mocked.post(ANY_GRAPH, json=graph_body(code, subcode), status=400)
    with pytest.raises(errors.PermissionDenied):
        fb.send_private(make_item(), "link")


def test_graph_rate_limit_retries_at_business_use_case_estimate(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    usage = {FB_PAGE: [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 7}]}
    mocked.get(
        ANY_GRAPH,
        json=load("facebook", "error_32_page_request_limit.json"),
        status=400,
        headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
    )
    before = datetime.now(UTC)
    with pytest.raises(errors.RateLimited) as caught:
        fb.fetch_since(None)
    assert before + timedelta(minutes=7) <= caught.value.retry_at
    assert caught.value.retry_at <= datetime.now(UTC) + timedelta(minutes=7)


def test_graph_rate_limit_without_headers_retries_in_fifteen_minutes(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    mocked.get(ANY_GRAPH, json=load("facebook", "error_4_app_request_limit.json"), status=403)
    with pytest.raises(errors.RateLimited) as caught:
        fb.fetch_since(None)
    assert caught.value.retry_at - datetime.now(UTC) > timedelta(minutes=14)


def test_graph_usage_header_at_limit_stops_the_next_call(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    usage = {FB_PAGE: [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 3}]}
    mocked.get(
        f"{GRAPH}/{FB_PAGE}/feed",
        json={"data": []},
        headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
    )
    assert fb.fetch_since(None).items == ()  # the Messenger part waits for a later poll
    assert len(mocked.calls) == 1  # the conversations call was never made
    with pytest.raises(errors.RateLimited):
        fb.fetch_since(None)
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(
    ("body", "content_type", "expected_read", "expected_write"),
    [
        (
            "<html>502 Bad Gateway</html>",
            "text/html",
            errors.TransientError,
            errors.AmbiguousOutcome,
        ),
        ("", "text/plain", errors.TransientError, errors.AmbiguousOutcome),
    ],
)
def test_graph_non_json_answer_is_transient_and_ambiguous_on_write(
    fb: FacebookConnector,
    mocked: responses.RequestsMock,
    body: str,
    content_type: str,
    expected_read: type[errors.BridgeError],
    expected_write: type[errors.BridgeError],
) -> None:
    mocked.get(ANY_GRAPH, body=body, status=502, content_type=content_type)
    mocked.post(ANY_GRAPH, body=body, status=502, content_type=content_type)
    with pytest.raises(expected_read) as read:
        fb.fetch_since(None)
    assert type(read.value) is expected_read
    with pytest.raises(expected_write):
        fb.hide(make_item())


def test_graph_answer_without_content_type_is_transient(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    mocked.get(ANY_GRAPH, body="{}", status=200, content_type=None)
    with pytest.raises(errors.TransientError):
        fb.fetch_since(None)


@pytest.mark.parametrize(
    ("exc", "expected_write"),
    [
        (requests.ConnectionError("synthetic"), errors.AmbiguousOutcome),
        (requests.ReadTimeout("synthetic"), errors.AmbiguousOutcome),
        (requests.ConnectTimeout("synthetic"), errors.TransientError),
    ],
)
def test_graph_network_failure_is_transient_or_ambiguous(
    fb: FacebookConnector,
    mocked: responses.RequestsMock,
    exc: Exception,
    expected_write: type[errors.BridgeError],
) -> None:
    mocked.get(ANY_GRAPH, body=exc)
    mocked.post(ANY_GRAPH, body=exc)
    with pytest.raises(errors.TransientError) as read:
        fb.fetch_since(None)
    assert type(read.value) is errors.TransientError
    with pytest.raises(expected_write) as write:
        fb.reply_publicly(make_item(), "redirect")
    assert type(write.value) is expected_write


# -- X (PLATFORMS.md §2.4) -------------------------------------------------------------


def x_problem(status: int, kind: str = "about:blank", **extra: object) -> dict[str, object]:
    return {"title": "synthetic", "type": kind, "status": status, "detail": "synthetic", **extra}


X_ROWS = [
    (
        400,
        x_problem(400, "https://api.twitter.com/2/problems/invalid-request"),
        errors.PlatformError,
    ),
    (401, load("x", "error_401_unauthorized.json"), errors.AuthExpired),
    (403, load("x", "error_403_client_not_enrolled.json"), errors.PermissionDenied),
    (403, load("x", "error_403_code_453.json"), errors.PermissionDenied),
    (
        403,
        x_problem(403, "https://api.twitter.com/2/problems/disallowed-resource"),
        errors.PermissionDenied,
    ),
    (404, x_problem(404, "https://api.twitter.com/2/problems/resource-not-found"), errors.NotFound),
    (429, load("x", "error_429_too_many_requests.json"), errors.RateLimited),
    (429, {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}, errors.RateLimited),
    (500, x_problem(500), errors.TransientError),
    (503, x_problem(503), errors.TransientError),
    (418, x_problem(418), errors.PlatformError),
]


@pytest.mark.parametrize(("status", "body", "expected"), X_ROWS)
def test_x_error_maps_to_bridge_error_on_read(
    xc: XConnector,
    mocked: responses.RequestsMock,
    status: int,
    body: dict[str, object],
    expected: type[errors.BridgeError],
) -> None:
    mocked.get(MENTIONS, json=body, status=status, headers={"x-rate-limit-reset": "1900000000"})
    with pytest.raises(expected) as caught:
        xc.fetch_since(None)
    assert type(caught.value) is expected
    assert "synthetic" not in str(caught.value)


def test_x_rate_limit_retries_at_the_reset_header(
    xc: XConnector, mocked: responses.RequestsMock
) -> None:
    reset = int((datetime.now(UTC) + timedelta(minutes=9)).timestamp())
    mocked.get(
        MENTIONS,
        json=load("x", "error_429_too_many_requests.json"),
        status=429,
        headers={"x-rate-limit-reset": str(reset)},
    )
    with pytest.raises(errors.RateLimited) as caught:
        xc.fetch_since(None)
    assert caught.value.retry_at == datetime.fromtimestamp(reset, tz=UTC)
    assert len(mocked.calls) == 1  # tweepy did not sleep and retry


def test_x_usage_cap_retries_next_month(xc: XConnector, mocked: responses.RequestsMock) -> None:
    body = x_problem(429, "https://api.twitter.com/2/problems/usage-capped")
    mocked.get(MENTIONS, json=body, status=429)
    with pytest.raises(errors.RateLimited) as caught:
        xc.fetch_since(None)
    retry_at = caught.value.retry_at
    assert (retry_at.day, retry_at.hour) == (1, 0)
    assert retry_at > datetime.now(UTC)


def test_x_server_error_on_write_is_ambiguous(
    xc: XConnector, mocked: responses.RequestsMock
) -> None:
    mocked.post(f"{XAPI}/tweets", body="<html>502 Bad Gateway</html>", status=502)
    with pytest.raises(errors.AmbiguousOutcome):
        xc.reply_publicly(make_item("x", ItemKind.MENTION, "77"), "hi")


@pytest.mark.parametrize(
    ("exc", "expected_write"),
    [
        (requests.ConnectionError("synthetic"), errors.AmbiguousOutcome),
        (requests.ReadTimeout("synthetic"), errors.AmbiguousOutcome),
        (requests.ConnectTimeout("synthetic"), errors.TransientError),
    ],
)
def test_x_network_failure_is_transient_or_ambiguous(
    xc: XConnector,
    mocked: responses.RequestsMock,
    exc: Exception,
    expected_write: type[errors.BridgeError],
) -> None:
    mocked.get(MENTIONS, body=exc)
    mocked.post(f"{XAPI}/tweets", body=exc)
    with pytest.raises(errors.TransientError) as read:
        xc.fetch_since(None)
    assert type(read.value) is errors.TransientError
    with pytest.raises(expected_write) as write:
        xc.reply_publicly(make_item("x", ItemKind.MENTION, "77"), "hi")
    assert type(write.value) is expected_write


def test_x_reply_restriction_is_permission_denied(
    xc: XConnector, mocked: responses.RequestsMock
) -> None:
    body = x_problem(403, "about:blank", detail="Reply to this conversation is not allowed")
    mocked.post(f"{XAPI}/tweets", json=body, status=403)
    with pytest.raises(errors.PermissionDenied):
        xc.reply_publicly(make_item("x", ItemKind.REPLY, "77"), "hi")


def test_no_sdk_exception_leaks_as_cause(xc: XConnector, mocked: responses.RequestsMock) -> None:
    mocked.get(MENTIONS, json=load("x", "error_401_unauthorized.json"), status=401)
    with pytest.raises(errors.AuthExpired) as caught:
        xc.fetch_since(None)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_graph_invalid_json_is_transient(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    mocked.get(ANY_GRAPH, body="{not json", content_type="application/json")
    with pytest.raises(errors.TransientError):
        fb.fetch_since(None)


def test_x_invalid_json_on_write_is_ambiguous(
    xc: XConnector, mocked: responses.RequestsMock
) -> None:
    mocked.post(f"{XAPI}/tweets", body="{not json", status=201, content_type="application/json")
    with pytest.raises(errors.AmbiguousOutcome):
        xc.reply_publicly(make_item("x", ItemKind.MENTION, "77"), "hi")


def test_graph_usage_throttle_lifts_after_retry_at(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    usage = {FB_PAGE: [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 3}]}
    mocked.get(
        f"{GRAPH}/{FB_PAGE}/feed",
        json={"data": []},
        headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
    )
    fb.fetch_since(None)
    with pytest.raises(errors.RateLimited) as caught:
        fb.fetch_since(None)
    mocked.replace(responses.GET, f"{GRAPH}/{FB_PAGE}/feed", json={"data": []})
    mocked.get(f"{GRAPH}/{FB_PAGE}/conversations", json={"data": []})
    with time_machine.travel(caught.value.retry_at + timedelta(seconds=1)):
        assert fb.fetch_since(None).items == ()
