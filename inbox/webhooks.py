"""Webhook endpoints (SECURITY-DESIGN.md §5): verify over raw bytes, ingest, answer fast.

One URL per channel (``/webhooks/<platform>/<channel public id>/``) tells which secret signs
the body before anything is parsed. The answer is 200 only after the items are committed. Any
database failure, wherever it happens (finding the channel, reading its key, storing), gives
503 so the platform retries; only the size limit, which needs no database, is checked first.
The signature needs the channel's secret, so a database failure before it can be checked is a
503 too, and stores nothing; so are credentials that cannot be decrypted (a master key missing
from the deployment). A signed body we cannot read (not JSON, or refused by the parser)
is never dropped: it is stored encrypted as a quarantined ``InboundEnvelope`` before the answer
(400 for not JSON, 200 for the rest), and an admin reprocesses it once the parser is fixed.
Unsigned or oversized bodies store nothing.
"""

from __future__ import annotations

import json
import logging
import uuid

from django.db import DatabaseError, InterfaceError
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseNotFound,
    JsonResponse,
)
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from channels_bridge import signatures
from channels_bridge import webhooks as bridge_webhooks
from channels_bridge.errors import MalformedPayload
from channels_bridge.items import Item
from inbox import vault
from inbox.models import Channel, EnvelopeReason
from inbox.services import envelopes, pipeline

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
ACCEPTING = envelopes.ACCEPTING


def _channel(platform: str, channel_ref: uuid.UUID) -> Channel | None:
    return (
        Channel.objects.select_related("team")
        .filter(public_id=channel_ref, platform=platform)
        .first()
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def receive(request: HttpRequest, platform: str, channel_ref: uuid.UUID) -> HttpResponse:
    body = b""
    if request.method == "POST":
        # Before any query: an oversized body is refused the same whether or not the
        # database answers.
        refused = _refuse_size(request)
        if refused is not None:
            return refused
        body = request.body
    try:
        channel = _channel(platform, channel_ref)
        if channel is None:
            return HttpResponseNotFound("Unknown webhook.", content_type="text/plain")
        if request.method == "GET":
            return _handshake(request, channel)
        return _deliver(request, channel, body)
    except (DatabaseError, InterfaceError):
        # Any step (the channel, its key on a cold cache, storing) may meet a database that
        # has gone away: the platform retries a 503, and ingest is idempotent. InterfaceError
        # (a driver refusing a connection it already closed) is not a DatabaseError.
        logger.exception("webhook database unavailable platform=%s", platform)
        return _unavailable()
    except vault.DecryptionError as exc:
        # The channel's credentials cannot be read: this deployment lacks the master key that
        # wrapped its key, or the key row is gone. The operator's to fix, not the sender's:
        # the platform retries a 503, and nothing was stored. The class only, no traceback.
        logger.error(
            "webhook channel credentials unreadable platform=%s channel_ref=%s error=%s",
            platform,
            channel_ref,
            type(exc).__name__,
        )
        return _unavailable()


def _refuse_size(request: HttpRequest) -> HttpResponse | None:
    """413 when the body is over the limit (the declared length is checked before reading it),
    400 for an unreadable ``Content-Length``; None when the body may be used."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return HttpResponseBadRequest("Bad Content-Length.", content_type="text/plain")
    if declared > MAX_BODY_BYTES or len(request.body) > MAX_BODY_BYTES:
        return HttpResponse("Body too large.", status=413, content_type="text/plain")
    return None


def _handshake(request: HttpRequest, channel: Channel) -> HttpResponse:
    if channel.platform == "facebook":
        # Answered from the verify token alone: the channel's key is not needed.
        challenge = signatures.facebook_verification_response(
            request.GET.dict(), channel.webhook_verify_token
        )
        if challenge is None:
            return HttpResponseForbidden("Verification failed.", content_type="text/plain")
        return HttpResponse(challenge, content_type="text/plain")
    crc_token = request.GET.get("crc_token", "")
    if not crc_token:
        return HttpResponseBadRequest("Missing crc_token.", content_type="text/plain")
    secret = vault.decrypt_channel_credentials(channel).get("consumer_secret", "")
    if not secret:
        # Credentials without the app's consumer secret (an OAuth 2.0 token alone) cannot
        # answer X's challenge: webhooks need it, polling does not.
        return HttpResponseBadRequest(
            "The channel has no consumer secret to answer the challenge with.",
            content_type="text/plain",
        )
    return JsonResponse(signatures.x_crc_response(secret, crc_token))


def _deliver(request: HttpRequest, channel: Channel, body: bytes) -> HttpResponse:
    """Verify, then store; the caller turns a database failure into 503."""
    credentials = vault.decrypt_channel_credentials(channel)
    if channel.platform == "facebook":
        valid = signatures.verify_facebook(
            credentials.get("app_secret", ""), body, request.headers.get("X-Hub-Signature-256")
        )
    else:
        valid = signatures.verify_x(
            credentials.get("consumer_secret", ""),
            body,
            request.headers.get("x-twitter-webhooks-signature"),
        )
    if not valid:
        logger.warning("webhook signature rejected channel=%s", channel.pk)
        return HttpResponseForbidden("Invalid signature.", content_type="text/plain")

    if channel.status not in ACCEPTING:
        logger.info("webhook ignored channel=%s status=%s", channel.pk, channel.status)
        return HttpResponse("Channel is not switched on.", content_type="text/plain")

    reason: str | None = None
    items: list[Item] = []
    try:
        json.loads(body)
    except ValueError:
        reason = EnvelopeReason.NOT_JSON
    else:
        try:
            items = bridge_webhooks.parse(
                channel.platform, body, own_id=channel.external_account_id, now=timezone.now()
            )
        except MalformedPayload:
            reason = EnvelopeReason.MALFORMED
    if reason is not None:
        # Signed by the platform but unusable: keep it (encrypted) for reprocessing, then
        # answer; a JSON body the parser refuses is acknowledged so it is not retried forever.
        try:
            envelopes.quarantine_body(channel=channel, body=body, reason=reason)
        except DatabaseError as exc:
            # The class only: a traceback could carry the query's parameters.
            logger.error(
                "webhook quarantine failed channel=%s error=%s", channel.pk, type(exc).__name__
            )
            return _unavailable()
        if reason == EnvelopeReason.NOT_JSON:
            # SECURITY-DESIGN.md §5: not JSON is the sender's error (400); it is kept all the
            # same, and a redelivery of the same bytes is stored once.
            return HttpResponseBadRequest(
                "Body is not JSON; kept for review.", content_type="text/plain"
            )
        return HttpResponse("Quarantined.", content_type="text/plain")
    try:
        result = pipeline.ingest_items(channel=channel, items=items)
    except DatabaseError:
        logger.exception("webhook ingest failed channel=%s", channel.pk)
        return _unavailable()
    return HttpResponse(f"OK {result.stored} new", content_type="text/plain")


def _unavailable() -> HttpResponse:
    return HttpResponse("Service unavailable, retry later.", status=503, content_type="text/plain")
