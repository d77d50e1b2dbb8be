"""The only code that touches keys or ciphertext (SECURITY-DESIGN.md §2).

AES-256-GCM everywhere. Each ticket and each channel has its own 32-byte data key (DEK), stored
wrapped by a master key (KEK) from ``HAVEN_MASTER_KEYS``. Every field blob is bound by its AAD to
its owner, its row and its field, so a blob copied elsewhere fails to decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.utils import timezone

from inbox import audit
from inbox.models import Channel, ChannelKey, Ticket, TicketKey

logger = logging.getLogger(__name__)

BLOB_VERSION = 1
NONCE_BYTES = 12
DEK_BYTES = 32
_KID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class DecryptionError(Exception):
    """A blob could not be decrypted: wrong place, tampered, or its key was destroyed."""


class KeyDestroyed(DecryptionError):
    """The owner's data key no longer exists (erased or purged)."""


@dataclass(frozen=True, slots=True)
class MasterKey:
    kid: str
    key: bytes

    def __repr__(self) -> str:
        return f"MasterKey(kid={self.kid!r})"


@dataclass(frozen=True, slots=True)
class Keyring:
    keys: tuple[MasterKey, ...]

    @property
    def newest(self) -> MasterKey:
        return self.keys[0]

    def get(self, kid: str) -> MasterKey:
        for key in self.keys:
            if key.kid == kid:
                return key
        raise DecryptionError(f"master key {kid!r} is not configured")

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(key.kid for key in self.keys)


def parse_master_keys(raw: str) -> Keyring:
    """Parse ``kid:base64key[,kid:base64key...]``, newest first. Raises ImproperlyConfigured."""
    keys: list[MasterKey] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        kid, sep, encoded = part.partition(":")
        if not sep or not _KID_RE.match(kid):
            raise ImproperlyConfigured(
                "HAVEN_MASTER_KEYS items must look like 'kid:base64key' (kid: letters, digits, ._-)"
            )
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ImproperlyConfigured(f"master key {kid!r} is not valid base64") from exc
        if len(key) != DEK_BYTES:
            raise ImproperlyConfigured(f"master key {kid!r} must be 32 bytes, not {len(key)}")
        if any(existing.kid == kid for existing in keys):
            raise ImproperlyConfigured(f"master key id {kid!r} appears twice")
        keys.append(MasterKey(kid, key))
    if not keys:
        raise ImproperlyConfigured("HAVEN_MASTER_KEYS holds no key")
    return Keyring(tuple(keys))


@lru_cache(maxsize=4)
def _keyring_for(raw: str) -> Keyring:
    return parse_master_keys(raw)


def keyring() -> Keyring:
    return _keyring_for(settings.HAVEN_MASTER_KEYS)


def generate_master_key(kid: str) -> str:
    """A new ``kid:base64`` item for HAVEN_MASTER_KEYS."""
    return f"{kid}:{base64.b64encode(os.urandom(DEK_BYTES)).decode()}"


# --- low-level AEAD ------------------------------------------------------------------------


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return bytes([BLOB_VERSION]) + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[0] != BLOB_VERSION:
        raise DecryptionError("blob has an unknown version or is truncated")
    try:
        return AESGCM(key).decrypt(blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :], aad)
    except InvalidTag as exc:
        raise DecryptionError("blob failed authentication (moved or tampered)") from exc


# --- data keys -----------------------------------------------------------------------------

Owner = Ticket | Channel


def _owner_scope(owner: Owner) -> tuple[str, uuid.UUID]:
    if isinstance(owner, Ticket):
        return "ticket", owner.public_id
    return "channel", owner.public_id


def _dek_aad(scope: str, owner_id: uuid.UUID, kid: str) -> bytes:
    return f"haven/dek/v1|{scope}={owner_id}|kid={kid}".encode()


class _DekCache:
    """Unwrapped DEKs, in process memory only, for at most ``ttl`` seconds (never in Redis).

    A hit skips the database: a key destroyed by another process stays usable here until its
    TTL runs out, which is harmless because erasure deletes the ciphertext in the same
    transaction as the key.
    """

    def __init__(self, maxsize: int = 4096, ttl: float = 300.0) -> None:
        self._data: OrderedDict[tuple[str, uuid.UUID], tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.maxsize = maxsize
        self.ttl = ttl

    def get(self, key: tuple[str, uuid.UUID]) -> bytes | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                return None
            stored_at, dek = hit
            if time.monotonic() - stored_at > self.ttl:
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return dek

    def put(self, key: tuple[str, uuid.UUID], dek: bytes) -> None:
        with self._lock:
            self._data[key] = (time.monotonic(), dek)
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def evict(self, key: tuple[str, uuid.UUID]) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_dek_cache = _DekCache()


def clear_key_cache() -> None:
    _dek_cache.clear()


def _wrap(scope: str, owner_id: uuid.UUID, dek: bytes) -> tuple[str, bytes]:
    kek = keyring().newest
    return kek.kid, _seal(kek.key, dek, _dek_aad(scope, owner_id, kek.kid))


def _unwrap(scope: str, owner_id: uuid.UUID, kid: str, wrapped: bytes) -> bytes:
    kek = keyring().get(kid)
    return _open(kek.key, wrapped, _dek_aad(scope, owner_id, kid))


def create_key(owner: Owner) -> None:
    """Give a new ticket or channel its data key. Call inside the owner's creating transaction."""
    if isinstance(owner, Ticket):
        new_ticket_key(owner).save()
        return
    scope, owner_id = _owner_scope(owner)
    dek = AESGCM.generate_key(bit_length=256)
    kid, wrapped = _wrap(scope, owner_id, dek)
    ChannelKey.objects.create(channel=owner, kid=kid, wrapped=wrapped)
    _dek_cache.put((scope, owner_id), dek)


def new_ticket_key(ticket: Ticket) -> TicketKey:
    """A new data key for a ticket not yet saved, as an unsaved row (for bulk creation).

    The key is usable for encryption at once; the caller saves the row in the ticket's
    creating transaction.
    """
    dek = AESGCM.generate_key(bit_length=256)
    kid, wrapped = _wrap("ticket", ticket.public_id, dek)
    _dek_cache.put(("ticket", ticket.public_id), dek)
    return TicketKey(ticket=ticket, kid=kid, wrapped=wrapped)


def _dek(owner: Owner) -> bytes:
    scope, owner_id = _owner_scope(owner)
    cached = _dek_cache.get((scope, owner_id))
    if cached is not None:
        return cached
    model: type[TicketKey] | type[ChannelKey] = TicketKey if scope == "ticket" else ChannelKey
    filter_field = "ticket_id" if scope == "ticket" else "channel_id"
    row = model.objects.filter(**{filter_field: owner.pk}).values_list("kid", "wrapped").first()
    if row is None:
        raise KeyDestroyed(f"{scope} {owner.pk} has no data key")
    dek = _unwrap(scope, owner_id, row[0], bytes(row[1]))
    _dek_cache.put((scope, owner_id), dek)
    return dek


def load_ticket_keys(tickets: Iterable[Ticket]) -> None:
    """Unwrap the data keys of several tickets with one query, for a batch about to use them.

    Keys already cached are skipped; a ticket without a key is left for ``_dek`` to report.
    """
    wanted = {t.pk: t.public_id for t in tickets if _dek_cache.get(("ticket", t.public_id)) is None}
    if not wanted:
        return
    for ticket_id, kid, wrapped in TicketKey.objects.filter(ticket_id__in=wanted).values_list(
        "ticket_id", "kid", "wrapped"
    ):
        owner_id = wanted[ticket_id]
        _dek_cache.put(("ticket", owner_id), _unwrap("ticket", owner_id, kid, bytes(wrapped)))


def destroy_ticket_key(ticket: Ticket) -> None:
    """Crypto-shred a ticket: delete its data key. Run inside the erasing transaction."""
    destroy_ticket_keys([ticket])


def destroy_ticket_keys(tickets: Iterable[Ticket]) -> int:
    """Crypto-shred many tickets with one DELETE; returns how many keys were destroyed."""
    tickets = list(tickets)
    deleted, _ = TicketKey.objects.filter(ticket__in=[t.pk for t in tickets]).delete()
    for ticket in tickets:
        _dek_cache.evict(("ticket", ticket.public_id))
    return deleted


# --- blobs sealed under a one-time secret (subject exports) --------------------------------


def _secret_key(secret: str, place: str) -> bytes:
    # The secret is a 256-bit random code, so HKDF (no stretching) is the right derivation.
    return HKDF(
        algorithm=hashes.SHA256(),
        length=DEK_BYTES,
        salt=settings.HAVEN_PEPPER.encode(),
        info=f"haven/secret-key/v1|{place}".encode(),
    ).derive(secret.encode())


def seal_with_secret(secret: str, *, place: str, plaintext: bytes) -> bytes:
    """Encrypt under a key derived from ``secret`` (never stored): only its holder can open."""
    return _seal(_secret_key(secret, place), plaintext, f"haven/sealed/v1|{place}".encode())


def open_with_secret(secret: str, *, place: str, blob: bytes) -> bytes:
    """Open a blob from ``seal_with_secret``. Raises DecryptionError for a wrong secret or place."""
    return _open(_secret_key(secret, place), blob, f"haven/sealed/v1|{place}".encode())


# --- fields --------------------------------------------------------------------------------


def field_aad(owner: Owner, obj: models.Model, field: str) -> bytes:
    scope, owner_id = _owner_scope(owner)
    obj_id = getattr(obj, "public_id", None)
    if obj_id is None:
        raise ValueError(f"{type(obj).__name__} has no public_id to bind ciphertext to")
    place = f"{scope}={owner_id}|obj={obj._meta.model_name}:{obj_id}|field={field}"
    return f"haven/field/v1|{place}".encode()


def encrypt(owner: Owner, obj: models.Model, field: str, plaintext: str) -> bytes:
    """Encrypt ``plaintext`` for ``obj.field`` under the owner's data key."""
    return _seal(
        _dek(owner), plaintext.encode("utf-8", "surrogatepass"), field_aad(owner, obj, field)
    )


def decrypt(
    owner: Owner, obj: models.Model, field: str, blob: bytes | memoryview | None
) -> str | None:
    """Decrypt without auditing: for the pipeline's own processing, never for showing to people.

    People's reads go through ``inbox.selectors``, which call ``reveal``.
    """
    if blob is None:
        return None
    plain = _open(_dek(owner), bytes(blob), field_aad(owner, obj, field))
    return plain.decode("utf-8", "surrogatepass")


def encrypt_bytes(owner: Owner, obj: models.Model, field: str, plaintext: bytes) -> bytes:
    """Encrypt raw bytes (a webhook body, which need not be text) for ``obj.field``."""
    return _seal(_dek(owner), plaintext, field_aad(owner, obj, field))


def decrypt_bytes(
    owner: Owner, obj: models.Model, field: str, blob: bytes | memoryview | None
) -> bytes | None:
    """``decrypt`` for raw bytes: the pipeline's own processing, never for showing to people."""
    if blob is None:
        return None
    return _open(_dek(owner), bytes(blob), field_aad(owner, obj, field))


@dataclass(frozen=True, slots=True)
class Sealed:
    """One blob to reveal: the object it belongs to, its field, and the ciphertext."""

    obj: models.Model
    field: str
    blob: bytes | memoryview | None


def reveal(
    owner: Owner,
    items: Sequence[Sealed],
    *,
    actor: audit.Actor,
    purpose: str,
) -> list[str | None]:
    """Decrypt for a person and write one audit event naming every object read.

    A blob that fails to decrypt comes back as None (shown as unavailable) and is counted in
    the event; it never raises into a page.
    """
    plain = reveal_bytes(owner, items, actor=actor, purpose=purpose)
    return [None if p is None else p.decode("utf-8", "surrogatepass") for p in plain]


def reveal_bytes(
    owner: Owner,
    items: Sequence[Sealed],
    *,
    actor: audit.Actor,
    purpose: str,
) -> list[bytes | None]:
    """``reveal`` for raw bytes (a kept webhook body, which need not be text). Audited alike."""
    results: list[bytes | None] = []
    failures = 0
    try:
        dek: bytes | None = _dek(owner)
    except DecryptionError:
        dek = None
    for item in items:
        if item.blob is None:
            results.append(None)
            continue
        if dek is None:
            failures += 1
            results.append(None)
            continue
        try:
            results.append(_open(dek, bytes(item.blob), field_aad(owner, item.obj, item.field)))
        except DecryptionError:
            failures += 1
            results.append(None)
    if failures:
        logger.warning("decrypt failures owner=%s count=%s", owner.pk, failures)
    scope, owner_id = _owner_scope(owner)
    audit.record(
        actor=actor,
        action="decrypt",
        object_type=scope,
        object_id=owner_id,
        ticket_public_id=owner_id if scope == "ticket" else None,
        purpose=purpose,
        data={
            "objects": sorted({f"{i.obj._meta.model_name}:{i.obj.pk}" for i in items})[:200],
            "fields": sorted({i.field for i in items}),
            "failures": failures,
        },
    )
    return results


def reveal_many(
    batches: Sequence[tuple[Owner, Sequence[Sealed]]],
    *,
    actor: audit.Actor,
    purpose: str,
    object_type: str = "ticket_list",
) -> list[list[str | None]]:
    """``reveal`` for many owners at once (an inbox page): one audit event names them all.

    Blobs that fail to decrypt (moved, tampered, key destroyed) come back as None and are
    counted in the event.
    """
    results: list[list[str | None]] = []
    failures = 0
    # A cold cache (another process created the tickets) costs one query, not one per ticket.
    load_ticket_keys(o for o, _ in batches if isinstance(o, Ticket))
    for owner, items in batches:
        try:
            dek: bytes | None = _dek(owner)
        except DecryptionError:
            dek = None
        values: list[str | None] = []
        for item in items:
            if item.blob is None:
                values.append(None)
                continue
            try:
                if dek is None:
                    raise DecryptionError("no key")
                plain = _open(dek, bytes(item.blob), field_aad(owner, item.obj, item.field))
                values.append(plain.decode("utf-8", "surrogatepass"))
            except DecryptionError:
                failures += 1
                values.append(None)
        results.append(values)
    if failures:
        logger.warning("decrypt failures batch=%s count=%s", len(batches), failures)
    if batches:
        audit.record(
            actor=actor,
            action="decrypt",
            object_type=object_type,
            purpose=purpose,
            data={
                "objects": [f"{o._meta.model_name}:{o.pk}" for o, _ in batches][:200],
                "fields": sorted({i.field for _, items in batches for i in items}),
                "failures": failures,
            },
        )
    return results


# --- rotation ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RotationReport:
    rewrapped: int
    remaining: int
    newest_kid: str


def rotate_keys(*, batch_size: int = 500, max_batches: int | None = None) -> RotationReport:
    """Re-wrap every data key not under the newest master key, one committed batch at a time.

    Resumable and idempotent: a crash loses at most the batch in flight, and a rerun picks up
    the keys still under an older master key.
    """
    newest = keyring().newest.kid
    rewrapped = 0
    batches = 0
    key_models: tuple[tuple[type[TicketKey] | type[ChannelKey], str], ...] = (
        (TicketKey, "ticket"),
        (ChannelKey, "channel"),
    )
    for model, scope in key_models:
        owner_field = "ticket" if scope == "ticket" else "channel"
        while max_batches is None or batches < max_batches:
            with transaction.atomic():
                rows = list(
                    model.objects.select_for_update()
                    .filter(~models.Q(kid=newest))
                    .select_related(owner_field)
                    .order_by("pk")[:batch_size]
                )
                if not rows:
                    break
                for row in rows:
                    owner = getattr(row, owner_field)
                    dek = _unwrap(scope, owner.public_id, row.kid, bytes(row.wrapped))
                    row.kid, row.wrapped = _wrap(scope, owner.public_id, dek)
                    row.rewrapped_at = timezone.now()
                model.objects.bulk_update(rows, ["kid", "wrapped", "rewrapped_at"])  # type: ignore[arg-type]  # rows are of `model`
                rewrapped += len(rows)
                batches += 1
            logger.info("rotate_keys batch scope=%s rows=%s", scope, len(rows))
    remaining = sum(m.objects.exclude(kid=newest).count() for m in (TicketKey, ChannelKey))
    return RotationReport(rewrapped=rewrapped, remaining=remaining, newest_kid=newest)


def key_usage() -> dict[str, int]:
    """How many data keys each master key wraps: a KEK with zero may be retired."""
    usage = dict.fromkeys(keyring().kids, 0)
    for model in (TicketKey, ChannelKey):
        for row in model.objects.values("kid").annotate(n=models.Count("id")):
            usage[row["kid"]] = usage.get(row["kid"], 0) + row["n"]
    return usage


# --- hashes for secrets and blind indexes --------------------------------------------------


def secret_hash(kind: str, secret: str) -> str:
    """Peppered HMAC-SHA256 of a secret, typed by ``kind``. Only this is ever stored."""
    pepper = settings.HAVEN_PEPPER.encode()
    return hmac.new(pepper, f"{kind}|{secret}".encode(), hashlib.sha256).hexdigest()


def body_digest(kind: str, body: bytes) -> str:
    """Peppered HMAC-SHA256 of raw bytes, typed by ``kind``: a dedupe key that confirms nothing."""
    pepper = settings.HAVEN_PEPPER.encode()
    return hmac.new(pepper, kind.encode() + b"|" + body, hashlib.sha256).hexdigest()


def blind_index(kind: str, value: str) -> str:
    """Peppered HMAC of a normalised exact value (handle, e-mail, phone) for lookup."""
    return secret_hash(f"blind:{kind}", normalise_for_index(kind, value))


def normalise_for_index(kind: str, value: str) -> str:
    value = value.strip()
    if kind in {"email", "handle"}:
        return value.lstrip("@").casefold()
    if kind == "phone":
        return re.sub(r"[^\d+]", "", value)
    return value


def encrypt_channel_credentials(channel: Channel, credentials: dict[str, str]) -> bytes:
    return encrypt(channel, channel, "credentials", json.dumps(credentials, sort_keys=True))


def decrypt_channel_credentials(channel: Channel) -> dict[str, str]:
    raw = decrypt(channel, channel, "credentials", channel.credentials_ciphertext)
    if raw is None:
        return {}
    loaded = json.loads(raw)
    return {str(k): str(v) for k, v in loaded.items()}


def iter_sealed(objs: Iterable[models.Model], field: str, attr: str) -> list[Sealed]:
    return [Sealed(obj, field, getattr(obj, attr)) for obj in objs]
