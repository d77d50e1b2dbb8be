"""Webhook signature checks and handshakes for Meta and X. Knows nothing of tickets."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

__all__ = [
    "facebook_signature",
    "facebook_verification_response",
    "verify_facebook",
    "verify_x",
    "x_crc_response",
    "x_signature",
]

_MAX_HEADER = 256


def _mac(secret: str | bytes, message: bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, hashlib.sha256).digest()


def facebook_signature(app_secret: str | bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``body``."""
    return "sha256=" + _mac(app_secret, body).hex()


def verify_facebook(app_secret: str | bytes, body: bytes, header: str | None) -> bool:
    """Check ``X-Hub-Signature-256: sha256=<hex>`` over the raw body, in constant time.

    The legacy ``X-Hub-Signature: sha1=...`` is never enough; an empty secret never verifies.
    """
    if not app_secret or not header or len(header) > _MAX_HEADER:
        return False
    scheme, _, given = header.strip().partition("=")
    if scheme.lower() != "sha256":
        return False
    try:
        given_bytes = bytes.fromhex(given)
    except ValueError:
        return False
    return hmac.compare_digest(given_bytes, _mac(app_secret, body))


def facebook_verification_response(params: Mapping[str, str], verify_token: str) -> str | None:
    """The ``hub.challenge`` to echo for Meta's subscription GET, or None (answer 403)."""
    mode = params.get("hub.mode")
    token = params.get("hub.verify_token")
    challenge = params.get("hub.challenge")
    if mode != "subscribe" or not verify_token or token is None or not challenge:
        return None
    if not hmac.compare_digest(token.encode(), verify_token.encode()):
        return None
    if len(challenge) > _MAX_HEADER or not challenge.isalnum():
        return None
    return challenge


def x_signature(consumer_secret: str | bytes, body: bytes) -> str:
    """The ``x-twitter-webhooks-signature`` value X sends for ``body``."""
    return "sha256=" + base64.b64encode(_mac(consumer_secret, body)).decode()


def verify_x(consumer_secret: str | bytes, body: bytes, header: str | None) -> bool:
    """Check ``x-twitter-webhooks-signature: sha256=<base64>`` over the raw body."""
    if not consumer_secret or not header or len(header) > _MAX_HEADER:
        return False
    scheme, _, given = header.strip().partition("=")
    if scheme.lower() != "sha256":
        return False
    try:
        given_bytes = base64.b64decode(given, validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given_bytes, _mac(consumer_secret, body))


def x_crc_response(consumer_secret: str | bytes, crc_token: str) -> dict[str, str]:
    """The JSON body answering X's ``GET ?crc_token=...`` challenge."""
    if not consumer_secret:
        raise ValueError("the consumer secret is needed to answer X's CRC")
    digest = _mac(consumer_secret, crc_token.encode())
    return {"response_token": "sha256=" + base64.b64encode(digest).decode()}
