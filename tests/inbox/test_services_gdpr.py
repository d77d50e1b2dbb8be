"""GDPR operations: retention, subject search and export, erasure, access report, RoPA, breach."""

from __future__ import annotations

import io
import itertools
import json
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from channels_bridge import signatures
from channels_bridge.items import Item, ItemAction, ItemKind
from channels_bridge.simulator import RunningSimulator
from config.asgi import application
from inbox import audit, consumers, events, services, tasks, vault
from inbox.exceptions import LegalHold, LinkExpired
from inbox.models import (
    AuditEvent,
    BlindIndex,
    Channel,
    ChannelPolicy,
    ChannelStatus,
    ContactMessage,
    InboundMessage,
    InboundStatus,
    Message,
    OutboxAction,
    Platform,
    PolicyMode,
    PortalContact,
    PortalSecret,
    SubjectExport,
    Team,
    Ticket,
    TicketKey,
    Tombstone,
)
from inbox.services import gdpr, pipeline, threads
from tests import factories

pytestmark = pytest.mark.django_db

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # after real now: audit times only grow
_item_ids = itertools.count(1)
CommitRunner = Callable[..., object]


@pytest.fixture
def frozen() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def post(
    channel: Channel,
    *,
    author: str,
    text: str,
    conversation: str = "conv-1",
    handle: str | None = None,
    name: str | None = None,
    process: bool = True,
) -> InboundMessage:
    """A platform item stored and processed as the pipeline would (no outbox calls run)."""
    external_id = f"9{next(_item_ids):08d}"
    item = Item(
        platform=channel.platform,
        kind=ItemKind.MENTION,
        external_id=external_id,
        author_id=author,
        author_handle=handle or f"user{author}",
        author_name=name or f"Synthetic Person {author}",
        text=text,
        created_at=timezone.now(),
        permalink=None,
        parent_id=None,
        conversation_id=conversation,
    )
    result = pipeline.ingest_items(channel=channel, items=[item])
    if process:
        for inbound_id in result.new_inbound_ids:
            pipeline.process_message(inbound_id=inbound_id)
    return InboundMessage.objects.get(channel=channel, platform_message_id=external_id)


def ticket_of(inbound: InboundMessage) -> Ticket:
    inbound.refresh_from_db()
    assert inbound.ticket is not None
    return inbound.ticket


def body_of(message: Message) -> str | None:
    return vault.decrypt(message.ticket, message, "body", message.body_ciphertext)


# --- retention -----------------------------------------------------------------------------


def test_channel_policy_defaults_are_protective(team: Team) -> None:
    channel = factories.make_channel(team=team)
    policy = ChannelPolicy.objects.get(channel=channel)

    assert channel.status == ChannelStatus.DRAFT
    assert policy.retention_days == 90
    assert policy.pending_retention_days is None
    assert policy.mode == PolicyMode.REDIRECT_ON_PII
    assert policy.hide_original is True
    assert policy.send_private_link is True
    assert Ticket().legal_hold is False


def test_purge_expired_shreds_ticket_after_policy_days(
    x_channel: Channel, frozen: time_machine.Coordinates
) -> None:
    ChannelPolicy.objects.filter(channel=x_channel).update(retention_days=30)
    inbound = post(x_channel, author="1001", text="write to ada.one@example.org about my order")
    ticket = ticket_of(inbound)
    message = Message.objects.get(ticket=ticket)

    frozen.move_to(T0 + timedelta(days=29, hours=23))
    early = gdpr.purge_expired()
    assert early.tickets == 0
    assert body_of(message) is not None

    frozen.move_to(T0 + timedelta(days=30, minutes=1))
    report = gdpr.purge_expired()

    assert report.tickets == 1
    assert not Ticket.objects.filter(pk=ticket.pk).exists()
    assert not TicketKey.objects.filter(ticket_id=ticket.pk).exists()
    assert not Message.objects.filter(pk=message.pk).exists()
    assert not BlindIndex.objects.filter(ticket_id=ticket.pk).exists()
    stone = Tombstone.objects.get(ticket_public_id=ticket.public_id)
    assert stone.reason == "retention"
    assert stone.reference == ticket.reference
    inbound.refresh_from_db()
    assert inbound.status == InboundStatus.ERASED
    assert inbound.author_external_id == ""
    assert audit.verify().ok


def test_purge_expired_clears_stray_inbound_items_after_retention(
    x_channel: Channel, frozen: time_machine.Coordinates
) -> None:
    stray = post(x_channel, author="1002", text="just saying hi", process=False)
    assert stray.text_ciphertext is not None

    frozen.move_to(T0 + timedelta(days=91))
    gdpr.purge_expired()

    stray.refresh_from_db()
    assert stray.status == InboundStatus.ERASED
    assert stray.text_ciphertext is None
    assert stray.author_handle_ciphertext is None


def test_purge_expired_skips_ticket_under_legal_hold(
    x_channel: Channel, frozen: time_machine.Coordinates
) -> None:
    ticket = ticket_of(post(x_channel, author="1003", text="mail me: held@example.org"))
    Ticket.objects.filter(pk=ticket.pk).update(legal_hold=True)

    frozen.move_to(T0 + timedelta(days=400))
    report = gdpr.purge_expired()

    assert report.tickets == 0
    assert report.held == 1
    message = Message.objects.get(ticket=ticket)
    assert body_of(message) == "mail me: held@example.org"


def test_erase_blocked_by_legal_hold(x_channel: Channel) -> None:
    ticket = ticket_of(post(x_channel, author="1004", text="mail me: held@example.org"))
    Ticket.objects.filter(pk=ticket.pk).update(legal_hold=True)
    ticket.refresh_from_db()

    with pytest.raises(LegalHold):
        gdpr.erase_ticket(ticket=ticket, actor=audit.Actor.system("test"))

    report = gdpr.erase_subject(
        subject=gdpr.Subject(platform="x", author_id="1004"), actor=audit.Actor.system("test")
    )
    assert report.tickets_held == (ticket.reference,)
    assert report.tickets_erased == ()
    assert TicketKey.objects.filter(ticket=ticket).exists()
    assert body_of(Message.objects.get(ticket=ticket)) == "mail me: held@example.org"


def test_retention_shortening_applies_after_grace_period(
    x_channel: Channel, frozen: time_machine.Coordinates
) -> None:
    ticket = ticket_of(post(x_channel, author="1005", text="call +49 151 23456789"))
    frozen.move_to(T0 + timedelta(days=20))
    actor = audit.Actor.system("test")

    change = gdpr.change_retention(channel=x_channel, days=10, actor=actor)

    assert change.retention_days == 90
    assert change.pending_days == 10
    assert change.effective_at == T0 + timedelta(days=27)
    assert gdpr.purge_expired().tickets == 0
    frozen.move_to(T0 + timedelta(days=26, hours=23))
    assert gdpr.purge_expired().tickets == 0
    assert Ticket.objects.filter(pk=ticket.pk).exists()

    frozen.move_to(T0 + timedelta(days=27, minutes=1))
    report = gdpr.purge_expired()

    assert report.policies_applied == 1
    assert report.tickets == 1
    policy = ChannelPolicy.objects.get(channel=x_channel)
    assert (policy.retention_days, policy.pending_retention_days) == (10, None)
    assert AuditEvent.objects.filter(action="policy.retention").count() == 1


def test_retention_lengthening_applies_at_once_and_cancels_pending(x_channel: Channel) -> None:
    actor = audit.Actor.system("test")
    gdpr.change_retention(channel=x_channel, days=10, actor=actor)

    change = gdpr.change_retention(channel=x_channel, days=180, actor=actor)

    assert (change.retention_days, change.pending_days, change.effective_at) == (180, None, None)


# --- subject search, export ----------------------------------------------------------------


@pytest.fixture
def shared_thread(x_channel: Channel, agent: factories.User) -> dict[str, object]:
    """Three subjects on one channel: A and B write in one platform thread, C elsewhere.

    B also has a message inside A's ticket (a shared thread), and A's ticket has an agent
    reply, a note and an unverified drop-box message.
    """
    a1 = post(x_channel, author="2001", text="A1 my order, mail a.subject@example.org")
    a_ticket = ticket_of(a1)
    post(x_channel, author="2001", text="A2 still waiting")
    reply = services.send_reply(ticket=a_ticket, agent=agent, body="R-A reply to A")
    note = services.add_note(ticket=a_ticket, agent=agent, body="N-A note about A")
    threads.add_message(ticket=a_ticket, kind="inbound", source="drop", body="D-X drop box text")
    b_ticket = ticket_of(post(x_channel, author="2002", text="B1 call me +49 151 11111111"))
    b_in_a = post(x_channel, author="2002", text="B2 inside A", process=False)
    threads.add_message(
        ticket=a_ticket, kind="inbound", source="social", body="B2 inside A", inbound_id=b_in_a.pk
    )
    InboundMessage.objects.filter(pk=b_in_a.pk).update(
        ticket=a_ticket, status=InboundStatus.PROCESSED, text_ciphertext=None
    )
    c_ticket = ticket_of(
        post(x_channel, author="2003", text="C1 c.subject@example.org", conversation="c")
    )
    return {"a": a_ticket, "b": b_ticket, "c": c_ticket, "reply": reply, "note": note}


def _export(subject: gdpr.Subject) -> dict[str, object]:
    issued = gdpr.export_subject(
        subject=subject, requested_by=None, actor=audit.Actor.system("test")
    )
    archive = gdpr.download_export(
        export_ref=str(issued.export.public_id), code=issued.code, actor=audit.Actor.system("t")
    )
    return gdpr.open_archive(archive)


def _texts(document: dict[str, object]) -> list[str]:
    conversations = document["conversations"]
    assert isinstance(conversations, list)
    return sorted(m["text"] for c in conversations for m in c["messages"])


def test_export_subject_contains_all_and_only_subject_messages(
    shared_thread: dict[str, object],
) -> None:
    doc_a = _export(gdpr.Subject(platform="x", author_id="2001"))
    doc_b = _export(gdpr.Subject(platform="x", author_id="2002"))
    doc_c = _export(gdpr.Subject(email="c.subject@example.org"))

    assert _texts(doc_a) == [
        "A1 my order, mail a.subject@example.org",
        "A2 still waiting",
        "N-A note about A",
        "R-A reply to A",
    ]
    assert _texts(doc_b) == ["B1 call me +49 151 11111111", "B2 inside A"]
    assert _texts(doc_c) == ["C1 c.subject@example.org"]
    assert doc_a["conversations"][0]["your_handle"] == "user2001"  # type: ignore[index]
    assert doc_a["conversations"][0]["withheld_unverified_messages"] == 1  # type: ignore[index]
    assert doc_a["processing"][0]["retention"]["days"] == 90  # type: ignore[index]
    assert {"purposes", "recipients", "source"} <= set(doc_a["processing"][0])  # type: ignore[index]


def _email_contact(ticket: Ticket, email: str) -> PortalContact:
    contact = PortalContact(ticket=ticket, email_digest=vault.blind_index("email", email))
    contact.email_ciphertext = vault.encrypt(ticket, contact, "email", email)
    contact.save()
    return contact


def _contact_writes_in_a(shared_thread: dict[str, object]) -> tuple[Ticket, PortalContact, Message]:
    """e.contact@example.org, an e-mail contact on A's ticket, writes "E1 contact writes"."""
    a_ticket = shared_thread["a"]
    assert isinstance(a_ticket, Ticket)
    contact = _email_contact(a_ticket, "e.contact@example.org")
    written = threads.add_message(
        ticket=a_ticket, kind="inbound", source="portal", body="E1 contact writes", verified=False
    )
    ContactMessage.objects.create(message=written, contact=contact)
    return a_ticket, contact, written


def test_export_and_erase_of_an_email_contact_in_another_persons_thread(
    shared_thread: dict[str, object], agent: factories.User
) -> None:
    a_ticket, contact, written = _contact_writes_in_a(shared_thread)
    addressed = services.send_reply(ticket=a_ticket, agent=agent, body="R-E reply to contact")
    ContactMessage.objects.create(message=addressed, contact=contact)

    doc_e = _export(gdpr.Subject(email="e.contact@example.org"))
    doc_a = _export(gdpr.Subject(platform="x", author_id="2001"))

    assert _texts(doc_e) == ["E1 contact writes", "R-E reply to contact"]
    assert doc_e["conversations"][0]["your_email_contacts"] == ["e.contact@example.org"]  # type: ignore[index]
    assert "E1 contact writes" not in _texts(doc_a)
    assert "R-E reply to contact" not in _texts(doc_a)

    gdpr.erase_subject(
        subject=gdpr.Subject(email="e.contact@example.org"), actor=audit.Actor.system("test")
    )

    assert not PortalContact.objects.filter(pk=contact.pk).exists()
    assert not Message.objects.filter(pk__in=[written.pk, addressed.pk]).exists()
    assert _texts(_export(gdpr.Subject(platform="x", author_id="2001"))) == _texts(doc_a)


def test_export_html_escapes_customer_text(x_channel: Channel) -> None:
    post(x_channel, author="2101", text="<script>alert(1)</script> esc@example.org")
    issued = gdpr.export_subject(
        subject=gdpr.Subject(platform="x", author_id="2101"),
        requested_by=None,
        actor=audit.Actor.system("test"),
    )
    archive = gdpr.download_export(
        export_ref=str(issued.export.public_id), code=issued.code, actor=audit.Actor.system("t")
    )

    html = zipfile.ZipFile(io.BytesIO(archive)).read("export.html").decode()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    ("language", "title"),
    [("de", "Ihre personenbezogenen Daten"), ("en", "Your personal data")],
)
def test_export_html_declares_the_language_it_is_written_in(
    x_channel: Channel, language: str, title: str
) -> None:
    post(x_channel, author="2102", text="Where is my parcel?")

    html = _export_html(gdpr.Subject(platform="x", author_id="2102"), language=language)

    assert f'<html lang="{language}">' in html
    assert f"<title>{title}</title>" in html


def _export_html(subject: gdpr.Subject, *, language: str | None = None) -> str:
    issued = gdpr.export_subject(
        subject=subject, requested_by=None, actor=audit.Actor.system("test"), language=language
    )
    archive = gdpr.download_export(
        export_ref=str(issued.export.public_id), code=issued.code, actor=audit.Actor.system("t")
    )
    return zipfile.ZipFile(io.BytesIO(archive)).read("export.html").decode()


@pytest.mark.parametrize("asked_in", ["en", "de"])
def test_export_is_written_in_the_language_of_their_latest_conversation(
    x_channel: Channel, asked_in: str
) -> None:
    """Whoever asks, the person gets it in their language; a language Haven does not speak
    falls back to the asker's."""
    german = ticket_of(post(x_channel, author="2103", text="Wo ist mein Paket? jo@example.org"))
    Ticket.objects.filter(pk=german.pk).update(language="de")
    french = ticket_of(post(x_channel, author="2104", text="Où est mon colis ? lu@example.org"))
    Ticket.objects.filter(pk=french.pk).update(language="fr")

    with translation.override(asked_in):
        html_german = _export_html(gdpr.Subject(platform="x", author_id="2103"))
        html_french = _export_html(gdpr.Subject(platform="x", author_id="2104"))

    assert '<html lang="de">' in html_german
    assert f'<html lang="{asked_in}">' in html_french


def test_search_by_email_and_phone_finds_subject_through_blind_index(
    shared_thread: dict[str, object],
) -> None:
    by_email = gdpr.find_subject(gdpr.Subject(email="A.Subject@Example.org"))
    by_phone = gdpr.find_subject(gdpr.Subject(phone="+49 (151) 1111 1111"))

    assert [t.pk for t in by_email.owned] == [shared_thread["a"].pk]  # type: ignore[attr-defined]
    assert [t.pk for t in by_phone.owned] == [shared_thread["b"].pk]  # type: ignore[attr-defined]
    assert not BlindIndex.objects.filter(digest__contains="example").exists()


def test_export_decryptions_are_audited(shared_thread: dict[str, object]) -> None:
    _export(gdpr.Subject(platform="x", author_id="2001"))

    reads = AuditEvent.objects.filter(action="decrypt", purpose="subject_export")
    assert {e.ticket_public_id for e in reads} == {shared_thread["a"].public_id}  # type: ignore[attr-defined]
    assert AuditEvent.objects.filter(action="subject.export").count() == 1


def test_export_archive_is_stored_encrypted(x_channel: Channel) -> None:
    post(x_channel, author="2201", text="secret words enc@example.org")

    issued = gdpr.export_subject(
        subject=gdpr.Subject(platform="x", author_id="2201"),
        requested_by=None,
        actor=audit.Actor.system("test"),
    )

    stored = bytes(SubjectExport.objects.get(pk=issued.export.pk).archive_ciphertext)
    assert b"secret words" not in stored
    assert b"export.json" not in stored
    assert issued.code not in PortalSecret.objects.get(pk=issued.export.secret_id).secret_hash


def test_export_link_single_use_and_expires(
    x_channel: Channel, frozen: time_machine.Coordinates
) -> None:
    post(x_channel, author="2301", text="single use sue@example.org")
    subject = gdpr.Subject(platform="x", author_id="2301")
    actor = audit.Actor.system("test")
    first = gdpr.export_subject(subject=subject, requested_by=None, actor=actor)
    ref = str(first.export.public_id)

    with pytest.raises(LinkExpired):
        gdpr.download_export(export_ref=ref, code=first.code + "x", actor=actor)
    assert gdpr.download_export(export_ref=ref, code=first.code, actor=actor)
    with pytest.raises(LinkExpired):
        gdpr.download_export(export_ref=ref, code=first.code, actor=actor)
    assert SubjectExport.objects.get(pk=first.export.pk).archive_ciphertext is None

    second = gdpr.export_subject(subject=subject, requested_by=None, actor=actor)
    frozen.move_to(T0 + gdpr.EXPORT_TTL + timedelta(seconds=1))
    with pytest.raises(LinkExpired):
        gdpr.download_export(export_ref=str(second.export.public_id), code=second.code, actor=actor)
    gdpr.purge_expired()
    assert not SubjectExport.objects.exists()


# --- erasure -------------------------------------------------------------------------------


def test_erase_subject_makes_all_fields_undecryptable(
    shared_thread: dict[str, object], simulator: RunningSimulator
) -> None:
    a_ticket = shared_thread["a"]
    assert isinstance(a_ticket, Ticket)
    a_ticket.refresh_from_db()
    sealed: list[tuple[object, str, bytes]] = [
        (a_ticket, "customer_handle", bytes(a_ticket.customer_handle_ciphertext)),
        (a_ticket, "customer_name", bytes(a_ticket.customer_name_ciphertext)),
        (a_ticket, "preview", bytes(a_ticket.preview_ciphertext)),
    ]
    sealed += [
        (m, "body", bytes(m.body_ciphertext)) for m in Message.objects.filter(ticket=a_ticket)
    ]
    sealed += [
        (a, "payload", bytes(a.payload_ciphertext))
        for a in OutboxAction.objects.filter(ticket=a_ticket, payload_ciphertext__isnull=False)
    ]
    c_message = Message.objects.get(ticket=shared_thread["c"])

    report = gdpr.erase_subject(
        subject=gdpr.Subject(platform="x", author_id="2001"), actor=audit.Actor.system("test")
    )

    assert report.tickets_erased == (a_ticket.reference,)
    vault.clear_key_cache()
    for obj, field, blob in sealed:
        with pytest.raises(vault.DecryptionError):
            vault.decrypt(a_ticket, obj, field, blob)  # type: ignore[arg-type]
    for model in (Message, OutboxAction, BlindIndex, PortalSecret, TicketKey):
        assert not model.objects.filter(ticket_id=a_ticket.pk).exists(), model
    assert not InboundMessage.objects.filter(
        author_external_id="2001", status__in=[InboundStatus.PROCESSED, InboundStatus.RECEIVED]
    ).exists()
    for row in InboundMessage.objects.filter(status=InboundStatus.ERASED):
        assert row.text_ciphertext is None
        assert row.author_handle_ciphertext is None
    assert Tombstone.objects.get(ticket_public_id=a_ticket.public_id).reason == "subject_request"
    # Other subjects are untouched and still decrypt; the audit chain still verifies.
    assert body_of(c_message) == "C1 c.subject@example.org"
    assert Ticket.objects.filter(pk=shared_thread["b"].pk).exists()  # type: ignore[attr-defined]
    assert audit.verify().ok


def test_erase_subject_removes_their_messages_from_a_shared_thread(
    shared_thread: dict[str, object],
) -> None:
    a_ticket = shared_thread["a"]

    report = gdpr.erase_subject(
        subject=gdpr.Subject(platform="x", author_id="2002"), actor=audit.Actor.system("test")
    )

    assert report.messages_erased_elsewhere == 1
    texts = sorted(body_of(m) or "" for m in Message.objects.filter(ticket=a_ticket))
    assert "B2 inside A" not in texts
    assert "A1 my order, mail a.subject@example.org" in texts
    assert not Ticket.objects.filter(pk=shared_thread["b"].pk).exists()  # type: ignore[attr-defined]


def test_erase_subject_closes_websockets(
    x_channel: Channel, django_capture_on_commit_callbacks: CommitRunner
) -> None:
    ticket = ticket_of(post(x_channel, author="2401", text="ws test ws@example.org"))
    layer = get_channel_layer()
    customer = async_to_sync(layer.new_channel)()
    agents = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(events.ticket_customer_group(ticket.public_id), customer)
    async_to_sync(layer.group_add)(events.ticket_agents_group(ticket.public_id), agents)

    with django_capture_on_commit_callbacks(execute=True):
        gdpr.erase_ticket(ticket=ticket, actor=audit.Actor.system("test"))

    revoked = {"type": "session.revoked", "ticket": str(ticket.public_id)}
    assert async_to_sync(layer.receive)(customer) == revoked
    assert async_to_sync(layer.receive)(agents) == {"type": "session.ended"}


def test_erase_ticket_deletes_exports_that_hold_it(x_channel: Channel) -> None:
    ticket = ticket_of(post(x_channel, author="2501", text="exp@example.org"))
    issued = gdpr.export_subject(
        subject=gdpr.Subject(platform="x", author_id="2501"),
        requested_by=None,
        actor=audit.Actor.system("test"),
    )

    gdpr.erase_ticket(ticket=ticket, actor=audit.Actor.system("test"))

    assert not SubjectExport.objects.filter(pk=issued.export.pk).exists()


def test_erase_subject_deletes_their_export_of_messages_in_another_ticket(
    shared_thread: dict[str, object],
) -> None:
    """An e-mail contact's export holds only what they wrote in A's ticket. Erasing them
    keeps A's ticket, so no shredding reaches that export: the erasure itself must."""
    a_ticket, _, _ = _contact_writes_in_a(shared_thread)
    actor = audit.Actor.system("test")
    subject = gdpr.Subject(email="e.contact@example.org")
    issued = gdpr.export_subject(subject=subject, requested_by=None, actor=actor)
    assert issued.export.ticket_public_ids == [str(a_ticket.public_id)]

    gdpr.erase_subject(subject=subject, actor=actor)

    assert Ticket.objects.filter(pk=a_ticket.pk).exists()
    assert not SubjectExport.objects.filter(pk=issued.export.pk).exists()


def test_replayed_item_after_erasure_is_a_duplicate_and_creates_nothing(x_channel: Channel) -> None:
    inbound = post(x_channel, author="2601", text="replay me rp@example.org")
    item = Item(
        platform="x",
        kind=ItemKind.MENTION,
        external_id=inbound.platform_message_id,
        author_id="2601",
        author_handle="user2601",
        author_name="Synthetic Person",
        text="replay me rp@example.org",
        created_at=timezone.now(),
        permalink=None,
        parent_id=None,
        conversation_id="conv-1",
    )
    gdpr.erase_subject(
        subject=gdpr.Subject(platform="x", author_id="2601"), actor=audit.Actor.system("test")
    )

    result = pipeline.ingest_items(channel=x_channel, items=[item])

    assert (result.stored, result.new_inbound_ids) == (0, ())
    inbound.refresh_from_db()
    assert inbound.status == InboundStatus.ERASED
    assert inbound.text_ciphertext is None
    assert not Ticket.objects.exists()


def test_replayed_edit_after_erasure_opens_nothing(x_channel: Channel) -> None:
    inbound = post(x_channel, author="2602", text="edit me ed@example.org")
    gdpr.erase_subject(
        subject=gdpr.Subject(platform="x", author_id="2602"), actor=audit.Actor.system("test")
    )
    edit = Item(
        platform="x",
        kind=ItemKind.MENTION,
        external_id=inbound.platform_message_id,
        author_id="2602",
        author_handle="user2602",
        author_name="Synthetic Person",
        text="edited: my mail is ed@example.org",
        created_at=timezone.now(),
        permalink=None,
        parent_id=None,
        conversation_id="conv-2",
        action=ItemAction.EDIT,
    )

    result = pipeline.ingest_items(channel=x_channel, items=[edit])

    assert (result.stored, result.new_inbound_ids) == (0, ())
    assert InboundMessage.objects.filter(channel=x_channel).count() == 1
    assert not Ticket.objects.exists()


# --- access report, breach, RoPA -----------------------------------------------------------


def test_access_report_lists_who_read_the_subject_and_why(
    shared_thread: dict[str, object], agent: factories.User
) -> None:
    a_ticket = shared_thread["a"]
    assert isinstance(a_ticket, Ticket)
    message = Message.objects.filter(ticket=a_ticket).first()
    assert message is not None
    vault.reveal(
        a_ticket,
        [vault.Sealed(message, "body", message.body_ciphertext)],
        actor=audit.Actor.user(agent.pk),
        purpose="ticket_view",
    )

    rows = gdpr.access_report(match=gdpr.find_subject(gdpr.Subject(platform="x", author_id="2001")))

    assert [(r.actor_name, r.purpose, r.ticket_reference) for r in rows] == [
        (agent.username, "ticket_view", a_ticket.reference)
    ]


def test_affected_subjects_query_returns_expected_set(
    shared_thread: dict[str, object], agent: factories.User, frozen: time_machine.Coordinates
) -> None:
    other = factories.agent_of(shared_thread["a"].team)  # type: ignore[attr-defined]

    def read(ticket: Ticket, user: factories.User) -> None:
        vault.reveal(ticket, [], actor=audit.Actor.user(user.pk), purpose="ticket_view")

    frozen.move_to(T0 + timedelta(hours=1))
    read(shared_thread["a"], agent)  # type: ignore[arg-type]
    read(shared_thread["b"], agent)  # type: ignore[arg-type]
    read(shared_thread["c"], other)  # type: ignore[arg-type]
    frozen.move_to(T0 + timedelta(hours=5))
    read(shared_thread["c"], agent)  # type: ignore[arg-type]

    impact = gdpr.affected_subjects(
        start=T0, end=T0 + timedelta(hours=2), actor=audit.Actor.user(agent.pk)
    )
    assert impact.subjects == {"x:2001", "x:2002"}
    later = gdpr.affected_subjects(
        start=T0 + timedelta(hours=3), end=T0 + timedelta(hours=6), actor=audit.Actor.user(agent.pk)
    )
    assert later.subjects == {"x:2003"}
    kid = vault.keyring().newest.kid
    since = T0 - timedelta(days=365)
    by_key = gdpr.affected_subjects(start=since, end=T0, kid=kid)
    assert by_key.subjects == {"x:2001", "x:2002", "x:2003"}
    assert gdpr.affected_subjects(start=since, end=T0, kid="nope").subjects == set()


def test_ropa_lists_every_channel_with_retention(team: Team) -> None:
    first = factories.make_channel(team=team, name="Acme on X")
    second = factories.make_channel(team=team, platform=Platform.FACEBOOK, name="Acme page")
    ChannelPolicy.objects.filter(channel=second).update(retention_days=30)
    gdpr.change_retention(channel=first, days=14, actor=audit.Actor.system("test"))
    out = io.StringIO()

    call_command("ropa", "--json", stdout=out)

    ropa = json.loads(out.getvalue())
    by_channel = {a["channel"]: a for a in ropa["activities"]}
    assert set(by_channel) == {first.public_id.hex, second.public_id.hex}
    assert by_channel[first.public_id.hex]["retention"]["days"] == 90
    assert by_channel[first.public_id.hex]["retention"]["pending_days"] == 14
    assert by_channel[second.public_id.hex]["retention"]["days"] == 30
    for activity in ropa["activities"]:
        assert activity["purposes"]
        assert activity["recipients"]
        assert activity["security_measures"]
        assert activity["data_categories"]
        assert activity["subject_categories"]


# --- commands ------------------------------------------------------------------------------


def test_erase_subject_command_needs_yes_then_erases(shared_thread: dict[str, object]) -> None:
    args = ["erase_subject", "--platform", "x", "--author-id", "2003"]
    with pytest.raises(CommandError, match="--yes"):
        call_command(*args, stdout=io.StringIO())
    assert Ticket.objects.filter(pk=shared_thread["c"].pk).exists()  # type: ignore[attr-defined]

    call_command(*args, "--yes", stdout=io.StringIO())

    assert not Ticket.objects.filter(pk=shared_thread["c"].pk).exists()  # type: ignore[attr-defined]


def test_export_subject_command_writes_archive(
    shared_thread: dict[str, object], tmp_path: object
) -> None:
    out = io.StringIO()

    call_command(
        "export_subject", "--email", "c.subject@example.org", "--out", str(tmp_path), stdout=out
    )

    (archive,) = list(tmp_path.glob("export-*.zip"))  # type: ignore[attr-defined]
    assert _texts(gdpr.open_archive(archive.read_bytes())) == ["C1 c.subject@example.org"]
    assert "c.subject" not in out.getvalue()


def test_export_subject_command_writes_it_in_the_language_asked_for(
    shared_thread: dict[str, object], tmp_path: object
) -> None:
    call_command(
        "export_subject",
        "--email",
        "c.subject@example.org",
        "--language",
        "de",
        "--out",
        str(tmp_path),
        stdout=io.StringIO(),
    )

    (archive,) = list(tmp_path.glob("export-*.zip"))  # type: ignore[attr-defined]
    html = zipfile.ZipFile(io.BytesIO(archive.read_bytes())).read("export.html").decode()
    assert '<html lang="de">' in html


def test_export_subject_command_prints_single_use_link(shared_thread: dict[str, object]) -> None:
    out = io.StringIO()

    call_command("export_subject", "--platform", "x", "--author-id", "2003", stdout=out)

    assert "/dpo/exports/" in out.getvalue()
    assert "code (shown once)" in out.getvalue()


def test_access_report_and_breach_report_commands(
    shared_thread: dict[str, object], agent: factories.User
) -> None:
    vault.reveal(shared_thread["c"], [], actor=audit.Actor.user(agent.pk), purpose="ticket_view")  # type: ignore[arg-type]
    report = io.StringIO()
    breach = io.StringIO()

    call_command("access_report", "--platform", "x", "--author-id", "2003", "--json", stdout=report)
    call_command(
        "breach_report",
        "--user",
        agent.username,
        "--since",
        "2000-01-01T00:00:00Z",
        "--json",
        stdout=breach,
    )

    assert [r["actor_name"] for r in json.loads(report.getvalue())] == [agent.username]
    assert json.loads(breach.getvalue())["subjects"] == ["x:2003"]


def test_purge_expired_command_and_task_run(x_channel: Channel) -> None:
    out = io.StringIO()
    call_command("purge_expired", stdout=out)
    tasks.purge_expired.apply()

    assert "purged tickets=0" in out.getvalue()


def _feed_body(channel: Channel, comment_id: str, text: str) -> bytes:
    when = int(timezone.now().timestamp())
    change = {
        "field": "feed",
        "value": {
            "item": "comment",
            "verb": "add",
            "comment_id": comment_id,
            "post_id": f"{channel.external_account_id}_555",
            "parent_id": f"{channel.external_account_id}_555",
            "from": {"id": "2400000000000001", "name": "Jana Beispiel"},
            "message": text,
            "created_time": when,
        },
    }
    entry = {"id": channel.external_account_id, "time": when, "changes": [change]}
    return json.dumps({"object": "page", "entry": [entry]}).encode()


def test_replayed_webhook_after_erasure_does_not_resurrect_content(
    client: Client,
    team: Team,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: CommitRunner,
) -> None:
    fb = factories.simulated_channel(team=team, simulator=simulator, platform=Platform.FACEBOOK)
    text = "mail me at replay.person@example.org"
    comment = simulator.sim.customer_facebook_comment(text, customer="lena")
    body = _feed_body(fb, comment["comment_id"], text)
    secret = simulator.credentials("facebook")["app_secret"]
    url = reverse("webhook", kwargs={"platform": fb.platform, "channel_ref": fb.public_id})

    def deliver() -> int:
        signature = signatures.facebook_signature(secret, body)
        response = client.post(
            url, data=body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature
        )
        return int(response.status_code)

    with django_capture_on_commit_callbacks(execute=True):
        assert deliver() == 200
    assert Ticket.objects.count() == 1
    gdpr.erase_subject(
        subject=gdpr.Subject(platform="facebook", author_id="2400000000000001"),
        actor=audit.Actor.system("test"),
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert [deliver() for _ in range(3)] == [200] * 3

    assert Ticket.objects.count() == 0
    assert Message.objects.count() == 0
    (row,) = InboundMessage.objects.all()
    assert row.status == InboundStatus.ERASED
    assert row.text_ciphertext is None
    assert row.author_external_id == ""


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_erase_ticket_closes_an_open_agent_ticket_socket() -> None:
    @sync_to_async
    def arrange() -> tuple[Ticket, str]:
        team = factories.TeamFactory()
        agent = factories.agent_of(team)
        channel = factories.make_channel(team=team)
        ticket = threads.open_ticket(team=team, channel=channel, customer_handle="someone")
        web = Client()
        web.force_login(agent)
        return ticket, web.cookies[settings.SESSION_COOKIE_NAME].value

    ticket, cookie = await arrange()
    headers = [
        (b"origin", b"http://localhost"),
        (b"host", b"localhost"),
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()),
    ]
    socket = WebsocketCommunicator(application, f"/ws/tickets/{ticket.public_id}/", headers=headers)
    connected, _ = await socket.connect()
    assert connected
    while not await socket.receive_nothing(0.2):
        await socket.receive_output(1)  # presence frames of the agent's own join

    await sync_to_async(gdpr.erase_ticket)(ticket=ticket, actor=audit.Actor.system("test"))

    closed = await socket.receive_output(2)
    assert closed == {"type": "websocket.close", "code": consumers.CLOSE_FORBIDDEN}
    await socket.disconnect()
