"""Vault: AES-GCM field encryption bound to its place, data keys, rotation, destruction."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from inbox import audit, vault
from inbox.models import AuditEvent, Message, MessageKind, MessageSource, Ticket, TicketKey
from tests import factories

pytestmark = pytest.mark.django_db


def _message(ticket: Ticket, body: str) -> Message:
    message = Message(ticket=ticket, kind=MessageKind.INBOUND, source=MessageSource.SOCIAL)
    message.body_ciphertext = vault.encrypt(ticket, message, "body", body)
    message.save()
    return message


@hsettings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text())
def test_roundtrip_and_wrong_aad_fails(ticket: Ticket, text: str) -> None:
    message = Message(ticket=ticket, kind=MessageKind.INBOUND, source=MessageSource.SOCIAL)
    blob = vault.encrypt(ticket, message, "body", text)

    assert vault.decrypt(ticket, message, "body", blob) == text
    with pytest.raises(vault.DecryptionError):
        vault.decrypt(ticket, message, "preview", blob)


def test_decrypt_fails_when_ciphertext_moved_to_other_message(ticket: Ticket) -> None:
    first = _message(ticket, "first body")
    second = _message(ticket, "second body")

    with pytest.raises(vault.DecryptionError):
        vault.decrypt(ticket, second, "body", first.body_ciphertext)


def test_decrypt_fails_when_ciphertext_moved_to_other_ticket(channel: factories.Channel) -> None:
    one = factories.make_ticket(channel=channel)
    other = factories.make_ticket(channel=channel)
    message = _message(one, "body of ticket one")
    message.ticket = other

    with pytest.raises(vault.DecryptionError):
        vault.decrypt(other, message, "body", message.body_ciphertext)


def test_tampered_ciphertext_fails(ticket: Ticket) -> None:
    message = _message(ticket, "untouched")
    blob = bytearray(message.body_ciphertext)
    blob[-1] ^= 0x01

    with pytest.raises(vault.DecryptionError):
        vault.decrypt(ticket, message, "body", bytes(blob))


def test_each_encryption_uses_a_fresh_nonce(ticket: Ticket) -> None:
    message = Message(ticket=ticket, kind=MessageKind.NOTE, source=MessageSource.AGENT)

    blobs = {vault.encrypt(ticket, message, "body", "same text") for _ in range(20)}

    assert len(blobs) == 20


def test_rotate_keys_rewraps_and_old_key_removable(
    settings: pytest.FixtureRequest, channel: factories.Channel
) -> None:
    old_keys = settings.HAVEN_MASTER_KEYS  # type: ignore[attr-defined]
    tickets = [factories.make_ticket(channel=channel) for _ in range(5)]
    messages = [_message(t, f"body {i}") for i, t in enumerate(tickets)]
    new_item = vault.generate_master_key("rot2")
    settings.HAVEN_MASTER_KEYS = f"{new_item},{old_keys}"  # type: ignore[attr-defined]
    vault.clear_key_cache()

    report = vault.rotate_keys(batch_size=2)

    assert report.rewrapped == 6  # five tickets and the channel
    assert report.remaining == 0
    assert set(TicketKey.objects.values_list("kid", flat=True)) == {"rot2"}
    settings.HAVEN_MASTER_KEYS = new_item  # type: ignore[attr-defined]  # old KEK removed
    vault.clear_key_cache()
    assert [
        vault.decrypt(t, m, "body", m.body_ciphertext)
        for t, m in zip(tickets, messages, strict=True)
    ] == [f"body {i}" for i in range(5)]
    assert vault.key_usage() == {"rot2": 6}


def test_rotate_keys_is_resumable_after_a_partial_run(
    settings: pytest.FixtureRequest, channel: factories.Channel
) -> None:
    for _ in range(4):
        factories.make_ticket(channel=channel)
    settings.HAVEN_MASTER_KEYS = (  # type: ignore[attr-defined]
        f"{vault.generate_master_key('rot3')},{settings.HAVEN_MASTER_KEYS}"  # type: ignore[attr-defined]
    )

    first = vault.rotate_keys(batch_size=2, max_batches=1)
    second = vault.rotate_keys(batch_size=2)
    third = vault.rotate_keys(batch_size=2)

    assert (first.rewrapped, first.remaining) == (2, 3)
    assert (second.rewrapped, second.remaining) == (3, 0)
    assert third.rewrapped == 0


def test_load_ticket_keys_unwraps_a_batch_with_one_query(
    channel: factories.Channel, django_assert_num_queries: Callable[..., object]
) -> None:
    tickets = [factories.make_ticket(channel=channel) for _ in range(3)]
    messages = [_message(t, f"body {i}") for i, t in enumerate(tickets)]
    vault.clear_key_cache()

    with django_assert_num_queries(1):  # type: ignore[attr-defined]
        vault.load_ticket_keys(tickets)
    with django_assert_num_queries(0):  # type: ignore[attr-defined]
        texts = [
            vault.decrypt(t, m, "body", m.body_ciphertext)
            for t, m in zip(tickets, messages, strict=True)
        ]

    assert texts == ["body 0", "body 1", "body 2"]


def test_reveal_many_with_a_cold_key_cache_reads_keys_once(
    channel: factories.Channel, agent: object
) -> None:
    tickets = [factories.make_ticket(channel=channel) for _ in range(4)]
    messages = [_message(t, f"body {i}") for i, t in enumerate(tickets)]
    vault.clear_key_cache()

    with CaptureQueriesContext(connection) as ctx:
        values = vault.reveal_many(
            [
                (t, vault.iter_sealed([m], "body", "body_ciphertext"))
                for t, m in zip(tickets, messages, strict=True)
            ],
            actor=audit.Actor.system("test"),
            purpose="test",
        )

    assert values == [["body 0"], ["body 1"], ["body 2"], ["body 3"]]
    key_queries = [q for q in ctx.captured_queries if "inbox_ticketkey" in q["sql"]]
    assert len(key_queries) == 1


def test_destroyed_key_makes_every_field_undecryptable(ticket: Ticket) -> None:
    messages = [_message(ticket, f"secret {i}") for i in range(3)]

    vault.destroy_ticket_key(ticket)
    vault.clear_key_cache()

    for message in messages:
        with pytest.raises(vault.KeyDestroyed):
            vault.decrypt(ticket, message, "body", message.body_ciphertext)


def test_reveal_writes_one_audit_event_naming_objects(ticket: Ticket, agent: object) -> None:
    from inbox.audit import Actor

    messages = [_message(ticket, f"line {i}") for i in range(3)]
    before = AuditEvent.objects.count()

    texts = vault.reveal(
        ticket,
        [vault.Sealed(m, "body", m.body_ciphertext) for m in messages],
        actor=Actor.user(agent.pk),  # type: ignore[attr-defined]
        purpose="thread_view",
    )

    assert texts == ["line 0", "line 1", "line 2"]
    event = AuditEvent.objects.get(id__gt=0, action="decrypt", purpose="thread_view")
    assert AuditEvent.objects.count() == before + 1
    assert event.ticket_public_id == ticket.public_id
    assert sorted(event.data["objects"]) == sorted(f"message:{m.pk}" for m in messages)


def test_reveal_shows_none_for_moved_blob_and_counts_it(ticket: Ticket) -> None:
    from inbox.audit import Actor

    good = _message(ticket, "good")
    moved = _message(ticket, "moved")
    moved.body_ciphertext = good.body_ciphertext

    texts = vault.reveal(
        ticket,
        [
            vault.Sealed(good, "body", good.body_ciphertext),
            vault.Sealed(moved, "body", moved.body_ciphertext),
        ],
        actor=Actor.system("test"),
        purpose="check",
    )

    assert texts == ["good", None]
    assert AuditEvent.objects.filter(action="decrypt").latest("id").data["failures"] == 1


def test_db_dump_contains_no_plaintext_canary(ticket: Ticket) -> None:
    canary = "canary-" + base64.b32encode(os.urandom(10)).decode()
    _message(ticket, f"my mail is {canary}@example.org")
    ticket.customer_handle_ciphertext = vault.encrypt(ticket, ticket, "customer_handle", canary)
    ticket.save()

    dump = _dump_every_table()

    assert canary.encode() not in dump
    assert canary.encode("utf-16-le") not in dump


def _dump_every_table() -> bytes:
    chunks: list[bytes] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names come from introspection
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, (bytes, bytearray, memoryview)):
                        chunks.append(bytes(value))
                    else:
                        chunks.append(str(value).encode())
    return b"\n".join(chunks)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "holds no key"),
        ("nokid", "kid:base64key"),
        ("k1:not base64!", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "must be 32 bytes"),
        (
            f"k1:{base64.b64encode(bytes(32)).decode()},k1:{base64.b64encode(bytes(32)).decode()}",
            "twice",
        ),
    ],
)
def test_parse_master_keys_rejects_bad_values(raw: str, problem: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=problem):
        vault.parse_master_keys(raw)


def test_master_key_repr_hides_key_bytes() -> None:
    keyring = vault.parse_master_keys(vault.generate_master_key("kx"))

    assert "kx" in repr(keyring.newest)
    assert base64.b64encode(keyring.newest.key).decode() not in repr(keyring)


def test_secret_hash_depends_on_kind_and_pepper(settings: pytest.FixtureRequest) -> None:
    first = vault.secret_hash("read", "abc")

    assert first != vault.secret_hash("drop", "abc")
    settings.HAVEN_PEPPER = "another pepper"  # type: ignore[attr-defined]
    assert first != vault.secret_hash("read", "abc")


def test_blind_index_normalises_exact_values() -> None:
    assert vault.blind_index("email", " Jane.Doe@Example.org") == vault.blind_index(
        "email", "jane.doe@example.org"
    )
    assert vault.blind_index("handle", "@AcmeFan") == vault.blind_index("handle", "acmefan")
    assert vault.blind_index("email", "a@example.org") != vault.blind_index(
        "email", "b@example.org"
    )


def test_channel_credentials_roundtrip(channel: factories.Channel) -> None:
    vault.clear_key_cache()

    assert vault.decrypt_channel_credentials(channel) == {"access_token": "synthetic-token"}
    assert b"synthetic-token" not in bytes(channel.credentials_ciphertext)


def test_reveal_many_writes_one_event_and_survives_a_destroyed_key(
    channel: factories.Channel,
) -> None:
    from inbox.audit import Actor

    kept, shredded = factories.make_ticket(channel=channel), factories.make_ticket(channel=channel)
    messages = [_message(kept, "kept text"), _message(shredded, "shredded text")]
    vault.destroy_ticket_key(shredded)
    before = AuditEvent.objects.count()

    texts = vault.reveal_many(
        [(m.ticket, [vault.Sealed(m, "body", m.body_ciphertext)]) for m in messages],
        actor=Actor.system("test"),
        purpose="inbox_list",
    )

    assert texts == [["kept text"], [None]]
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("id")
    assert event.data["failures"] == 1
    assert event.data["objects"] == [f"ticket:{kept.pk}", f"ticket:{shredded.pk}"]
