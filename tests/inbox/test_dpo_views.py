"""The data-protection officer's pages: staff only, step-up for export and erasure."""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from channels_bridge.simulator import RunningSimulator
from inbox import audit, vault
from inbox.dpo import STEP_UP_KEY, STEP_UP_SECONDS
from inbox.models import (
    AuditEvent,
    Channel,
    OutboxAction,
    OutboxKind,
    ReplyDeletion,
    SubjectExport,
    Team,
    Ticket,
)
from inbox.services import pipeline
from tests import factories
from tests.inbox.test_services_gdpr import post, ticket_of

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
SUBJECT = {"platform": "x", "author_id": "3001"}


@pytest.fixture
def subject_ticket(x_channel: Channel) -> Ticket:
    return ticket_of(post(x_channel, author="3001", text="dpo view dv@example.org"))


@pytest.fixture
def dpo(client: Client) -> AbstractUser:
    """A staff user signed in with a verified second factor, as the middleware demands."""
    user = factories.UserFactory(is_staff=True)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return user


def _set_step_up(client: Client, seconds_ago: float) -> None:
    session = client.session
    session[STEP_UP_KEY] = time.time() - seconds_ago
    session.save()


PAGES = [
    ("get", "dpo:home", {}),
    ("post", "dpo:search", {}),
    ("post", "dpo:access_report", {}),
    ("post", "dpo:export", {}),
    ("post", "dpo:erase", {}),
    ("get", "dpo:ropa", {}),
    ("get", "dpo:breach", {}),
    ("get", "dpo:reply_deletions", {}),
    ("get", "dpo:reply_deletions_of", {"erasure_id": "6f1c0b6e-0000-4000-8000-000000000001"}),
    ("post", "dpo:verify_audit", {}),
]


@pytest.mark.parametrize(("method", "name", "kwargs"), PAGES)
def test_dpo_pages_send_anonymous_users_to_login(
    client: Client, method: str, name: str, kwargs: dict[str, str]
) -> None:
    response = getattr(client, method)(reverse(name, kwargs=kwargs), SUBJECT)

    assert response.status_code == 302
    assert response.headers["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("method", "name", "kwargs"), PAGES)
def test_dpo_pages_are_404_for_non_staff(
    client: Client, team: Team, method: str, name: str, kwargs: dict[str, str]
) -> None:
    client.force_login(factories.agent_of(team))

    response = getattr(client, method)(reverse(name, kwargs=kwargs), SUBJECT)

    assert response.status_code == 404


def test_dpo_home_shows_audit_status(client: Client, dpo: AbstractUser) -> None:
    audit.record(actor=audit.Actor.system("test"), action="test.event")

    html = client.get(reverse("dpo:home")).content.decode()

    assert "Audit log intact" in html


def test_dpo_search_lists_tickets_without_personal_data(
    client: Client, dpo: AbstractUser, subject_ticket: Ticket
) -> None:
    response = client.post(reverse("dpo:search"), SUBJECT)

    html = response.content.decode()
    assert response.status_code == 200
    assert subject_ticket.reference in html
    assert "dv@example.org" not in html
    assert response.headers["Cache-Control"].startswith("max-age=0")


def test_dpo_search_shows_dates_to_the_minute_with_the_exact_time_in_markup(
    client: Client, dpo: AbstractUser, subject_ticket: Ticket
) -> None:
    html = " ".join(client.post(reverse("dpo:search"), SUBJECT).content.decode().split())

    opened = subject_ticket.created_at
    shown = opened.strftime("%Y-%m-%d %H:%M")
    assert f'<time datetime="{opened.isoformat()}">{shown}</time>' in html


def test_dpo_erase_requires_step_up(
    client: Client, dpo: AbstractUser, subject_ticket: Ticket
) -> None:
    url = reverse("dpo:erase")

    confirm_page = client.post(url, SUBJECT)
    no_password = client.post(url, {**SUBJECT, "confirm": "on"})
    wrong_password = client.post(url, {**SUBJECT, "confirm": "on", "password": "nope"})

    assert confirm_page.status_code == 200
    assert subject_ticket.reference in confirm_page.content.decode()
    assert no_password.status_code == 403
    assert wrong_password.status_code == 403
    assert Ticket.objects.filter(pk=subject_ticket.pk).exists()
    assert AuditEvent.objects.filter(action="auth.step_up_failed").count() == 2

    done = client.post(url, {**SUBJECT, "confirm": "on", "password": PASSWORD})

    assert done.status_code == 200
    assert not Ticket.objects.filter(pk=subject_ticket.pk).exists()
    assert AuditEvent.objects.filter(action="subject.erase", actor_id=str(dpo.pk)).exists()


def test_dpo_erase_step_up_lasts_five_minutes(
    client: Client, dpo: AbstractUser, subject_ticket: Ticket
) -> None:
    _set_step_up(client, STEP_UP_SECONDS + 5)
    stale = client.post(reverse("dpo:erase"), {**SUBJECT, "confirm": "on"})
    assert stale.status_code == 403

    _set_step_up(client, STEP_UP_SECONDS - 30)
    fresh = client.post(reverse("dpo:erase"), {**SUBJECT, "confirm": "on"})

    assert fresh.status_code == 200
    assert not Ticket.objects.filter(pk=subject_ticket.pk).exists()


def test_dpo_export_requires_step_up_then_downloads_once(
    client: Client, dpo: AbstractUser, subject_ticket: Ticket
) -> None:
    refused = client.post(reverse("dpo:export"), SUBJECT)
    assert refused.status_code == 403
    assert not SubjectExport.objects.exists()

    ready = client.post(reverse("dpo:export"), {**SUBJECT, "password": PASSWORD})
    assert ready.status_code == 200
    export = SubjectExport.objects.get()
    code = ready.context["issued"].code
    url = reverse("dpo:export_download", kwargs={"public_id": export.public_id})

    first = client.post(url, {"code": code})
    second = client.post(url, {"code": code})

    assert first.status_code == 200
    assert first.headers["Content-Disposition"].startswith("attachment;")
    names = zipfile.ZipFile(io.BytesIO(first.content)).namelist()
    assert sorted(names) == ["export.html", "export.json"]
    assert second.status_code == 404


def _export_html(client: Client, data: dict[str, str]) -> str:
    ready = client.post(reverse("dpo:export"), {**SUBJECT, "password": PASSWORD, **data})
    assert ready.status_code == 200
    url = reverse(
        "dpo:export_download", kwargs={"public_id": SubjectExport.objects.get().public_id}
    )
    archive = client.post(url, {"code": ready.context["issued"].code}).content
    return zipfile.ZipFile(io.BytesIO(archive)).read("export.html").decode()


def test_dpo_export_is_written_in_the_language_chosen_for_the_person(
    client: Client, dpo: AbstractUser, subject_ticket: Ticket
) -> None:
    html = _export_html(client, {"language": "de"})

    assert '<html lang="de">' in html
    assert "Ihre personenbezogenen Daten" in html
    event = AuditEvent.objects.get(action="subject.export")
    assert event.data["language"] == "de"


def test_dpo_search_offers_the_export_in_the_language_of_their_conversation(
    client: Client, dpo: AbstractUser, subject_ticket: Ticket
) -> None:
    Ticket.objects.filter(pk=subject_ticket.pk).update(language="de")

    html = client.post(reverse("dpo:search"), SUBJECT).content.decode()

    assert '<option value="de" selected>' in html
    assert html.count(" selected>") == 1


def test_dpo_export_keeps_the_language_through_the_password_prompt(
    client: Client, dpo: AbstractUser, subject_ticket: Ticket
) -> None:
    prompt = client.post(reverse("dpo:export"), {**SUBJECT, "language": "de"})

    assert prompt.status_code == 403
    html = " ".join(prompt.content.decode().split())
    assert '<input type="hidden" name="language" value="de">' in html


def test_dpo_access_report_shows_readers(
    client: Client, dpo: AbstractUser, subject_ticket: Ticket, agent: AbstractUser
) -> None:
    vault.reveal(subject_ticket, [], actor=audit.Actor.user(agent.pk), purpose="ticket_view")

    html = client.post(reverse("dpo:access_report"), SUBJECT).content.decode()

    assert agent.username in html
    assert "ticket_view" in html


def test_dpo_ropa_page_and_json(client: Client, dpo: AbstractUser, x_channel: Channel) -> None:
    html = client.get(reverse("dpo:ropa")).content.decode()
    data = client.get(reverse("dpo:ropa"), {"format": "json"}).json()

    assert x_channel.name in html
    assert [a["channel"] for a in data["activities"]] == [x_channel.public_id.hex]


def test_dpo_breach_query_lists_affected_tickets(
    client: Client, dpo: AbstractUser, subject_ticket: Ticket, agent: AbstractUser
) -> None:
    vault.reveal(subject_ticket, [], actor=audit.Actor.user(agent.pk), purpose="ticket_view")

    response = client.post(
        reverse("dpo:breach"), {"username": agent.username, "since": "2000-01-01 00:00"}
    )

    assert response.status_code == 200
    assert subject_ticket.reference in response.content.decode()
    assert "x:3001" in response.content.decode()


# --- erasure: Haven's public replies -------------------------------------------------------


@pytest.fixture
def answered_ticket(
    x_channel: Channel,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> Ticket:
    """A mention Haven answered publicly on X (the simulator), through the real pipeline."""
    simulator.sim.customer_x_mention("call me on +49 151 23456789 please", customer="tom")
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.poll_channel(channel_id=x_channel.pk)
    ticket = Ticket.objects.get()
    assert OutboxAction.objects.get(ticket=ticket, kind=OutboxKind.PUBLIC_REPLY).external_result_id
    return ticket


def _subject_of(ticket: Ticket) -> dict[str, str]:
    return {"platform": "x", "author_id": ticket.author_external_id}


def test_dpo_erase_confirm_offers_reply_deletion_with_counts_per_platform(
    client: Client, dpo: AbstractUser, answered_ticket: Ticket
) -> None:
    html = client.post(reverse("dpo:erase"), _subject_of(answered_ticket)).content.decode()

    assert 'name="delete_replies"' in html
    assert 'value="x"' in html
    assert "Also delete Haven's public reply on X (1)" in html
    assert 'value="facebook"' not in html  # no reply there


def test_dpo_erase_confirm_offers_nothing_without_public_replies(
    client: Client, dpo: AbstractUser, subject_ticket: Ticket
) -> None:
    html = client.post(reverse("dpo:erase"), SUBJECT).content.decode()

    assert 'name="delete_replies"' not in html


def test_dpo_erase_with_reply_deletion_shows_request_then_outcome(
    client: Client,
    dpo: AbstractUser,
    answered_ticket: Ticket,
    simulator: RunningSimulator,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    form = {
        **_subject_of(answered_ticket),
        "confirm": "on",
        "password": PASSWORD,
        "delete_replies": "x",
    }

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(reverse("dpo:erase"), form)

    deletion = ReplyDeletion.objects.get()
    assert done.status_code == 200
    assert "Haven's public replies" in done.content.decode()
    assert answered_ticket.reference in done.content.decode()
    later = client.get(
        reverse("dpo:reply_deletions_of", kwargs={"erasure_id": deletion.erasure_id})
    )
    assert later.status_code == 200
    assert "Deleted" in later.content.decode()
    assert answered_ticket.reference in later.content.decode()
    assert [r["deleted"] for r in simulator.sim.snapshot()["x"]["replies"]] == [True]
    assert AuditEvent.objects.filter(action="reply.delete_requested", actor_id=str(dpo.pk)).exists()


def test_dpo_erase_wrong_password_keeps_the_reply_choice_and_deletes_nothing(
    client: Client, dpo: AbstractUser, answered_ticket: Ticket
) -> None:
    form = {
        **_subject_of(answered_ticket),
        "confirm": "on",
        "password": "no",
        "delete_replies": "x",
    }

    response = client.post(reverse("dpo:erase"), form)

    assert response.status_code == 403
    assert "checked" in response.content.decode()
    assert not ReplyDeletion.objects.exists()
    assert Ticket.objects.filter(pk=answered_ticket.pk).exists()


def test_dpo_erase_ignores_reply_deletion_on_a_platform_without_replies(
    client: Client, dpo: AbstractUser, answered_ticket: Ticket
) -> None:
    form = {
        **_subject_of(answered_ticket),
        "confirm": "on",
        "password": PASSWORD,
        "delete_replies": "facebook",
    }

    client.post(reverse("dpo:erase"), form)

    assert not ReplyDeletion.objects.exists()
    assert not Ticket.objects.filter(pk=answered_ticket.pk).exists()


def test_dpo_reply_deletions_of_unknown_erasure_is_404(client: Client, dpo: AbstractUser) -> None:
    url = reverse("dpo:reply_deletions_of", kwargs={"erasure_id": uuid.uuid4()})

    assert client.get(url).status_code == 404
    assert client.get(reverse("dpo:reply_deletions")).status_code == 200


# --- the audit status line -----------------------------------------------------------------


def test_dpo_home_checks_only_new_audit_events(client: Client, dpo: AbstractUser) -> None:
    for n in range(3):
        audit.record(actor=audit.Actor.system("test"), action="test.event", data={"n": n})
    first = client.get(reverse("dpo:home")).context["audit"]
    audit.record(actor=audit.Actor.system("test"), action="test.event", data={"n": 3})

    second = client.get(reverse("dpo:home"))

    assert (first.full, first.walked) == (True, first.checked)
    assert (second.context["audit"].full, second.context["audit"].walked) == (False, 1)
    assert "1 new since the last check" in second.content.decode()


def test_dpo_home_reports_a_changed_new_audit_event(client: Client, dpo: AbstractUser) -> None:
    audit.record(actor=audit.Actor.system("test"), action="test.event")
    client.get(reverse("dpo:home"))
    event = audit.record(actor=audit.Actor.system("test"), action="test.event")
    AuditEvent.objects.filter(pk=event.pk).update(action="tampered")

    html = client.get(reverse("dpo:home")).content.decode()

    assert f"Audit log broken at event {event.pk}" in html


def test_dpo_verify_everything_button_finds_old_edits_and_is_audited(
    client: Client, dpo: AbstractUser
) -> None:
    old = audit.record(actor=audit.Actor.system("test"), action="test.event")
    audit.record(actor=audit.Actor.system("test"), action="test.event")
    client.get(reverse("dpo:home"))
    AuditEvent.objects.filter(pk=old.pk).update(action="tampered")

    quick = client.get(reverse("dpo:home")).content.decode()
    full = client.post(reverse("dpo:verify_audit")).content.decode()
    later = client.get(reverse("dpo:home")).content.decode()

    assert "Audit log intact" in quick
    assert f"Audit log broken at event {old.pk}" in full
    assert f"Audit log broken at event {old.pk}" in later
    assert AuditEvent.objects.filter(action="audit.verify", actor_id=str(dpo.pk)).exists()
