"""Webhook signatures and handshakes: good, bad, missing, legacy-only, over the raw bytes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from channels_bridge.signatures import (
    facebook_signature,
    facebook_verification_response,
    verify_facebook,
    verify_x,
    x_crc_response,
    x_signature,
)
from tests.channels_bridge.conftest import raw

APP_SECRET = "app-secret-synthetic"
CONSUMER_SECRET = "consumer-secret-synthetic"
FB_BODY = raw("facebook", "webhook_feed__comment_add.json")
X_BODY = raw("x", "webhook_aaa_tweet_create_events__mention.json")


def meta_header(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def x_header(body: bytes, secret: str = CONSUMER_SECRET) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def test_verify_facebook_accepts_good_signature() -> None:
    assert verify_facebook(APP_SECRET, FB_BODY, meta_header(FB_BODY))
    assert facebook_signature(APP_SECRET, FB_BODY) == meta_header(FB_BODY)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha256=zz",
        "sha256=" + "0" * 64,
        meta_header(FB_BODY, "another-secret"),
        "sha1=" + hmac.new(APP_SECRET.encode(), FB_BODY, hashlib.sha1).hexdigest(),
        "md5=" + "0" * 32,
        meta_header(FB_BODY) + "0" * 300,
    ],
)
def test_verify_facebook_rejects_bad_missing_or_legacy_signature(header: str | None) -> None:
    assert not verify_facebook(APP_SECRET, FB_BODY, header)


def test_verify_facebook_checks_raw_bytes_not_reserialised_json() -> None:
    reserialised = json.dumps(json.loads(FB_BODY)).encode()
    assert reserialised != FB_BODY
    assert not verify_facebook(APP_SECRET, reserialised, meta_header(FB_BODY))


def test_verify_facebook_with_empty_secret_never_verifies() -> None:
    assert not verify_facebook("", FB_BODY, meta_header(FB_BODY, ""))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"hub.mode": "subscribe", "hub.verify_token": "vt", "hub.challenge": "1158201444"},
            "1158201444",
        ),
        (
            {"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1158201444"},
            None,
        ),
        ({"hub.mode": "unsubscribe", "hub.verify_token": "vt", "hub.challenge": "1"}, None),
        ({"hub.mode": "subscribe", "hub.verify_token": "vt"}, None),
        ({"hub.mode": "subscribe", "hub.challenge": "1"}, None),
        ({"hub.mode": "subscribe", "hub.verify_token": "vt", "hub.challenge": "<script>"}, None),
    ],
)
def test_facebook_verification_response_echoes_challenge_only_for_our_token(
    params: dict[str, str], expected: str | None
) -> None:
    assert facebook_verification_response(params, "vt") == expected


def test_facebook_verification_response_refuses_empty_configured_token() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}
    assert facebook_verification_response(params, "") is None


def test_verify_x_accepts_good_signature() -> None:
    assert verify_x(CONSUMER_SECRET, X_BODY, x_header(X_BODY))
    assert x_signature(CONSUMER_SECRET, X_BODY) == x_header(X_BODY)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha256=!!notbase64!!",
        x_header(X_BODY, "another-secret"),
        x_header(X_BODY).replace("sha256=", "sha1="),
        "sha256=" + hmac.new(CONSUMER_SECRET.encode(), X_BODY, hashlib.sha256).hexdigest(),
    ],
)
def test_verify_x_rejects_bad_or_missing_signature(header: str | None) -> None:
    assert not verify_x(CONSUMER_SECRET, X_BODY, header)


def test_x_crc_response_matches_x_documented_algorithm() -> None:
    digest = hmac.new(CONSUMER_SECRET.encode(), b"crc-token-synthetic", hashlib.sha256).digest()
    expected = "sha256=" + base64.b64encode(digest).decode()
    assert x_crc_response(CONSUMER_SECRET, "crc-token-synthetic") == {"response_token": expected}


def test_x_crc_response_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="consumer secret"):
        x_crc_response("", "crc")
