"""The data-protection officer's pages: staff only, step-up for export and erasure."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from django.contrib.auth.models import AbstractUser
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from channels_bridge.simulator import RunningSimulator
from inbox import audit, vault
from inbox.dpo import STEP_UP_KEY, STEP_UP_SECONDS
from inbox.models import AuditEvent, Channel, Platform, SubjectExport, Team, Ticket
from tests import factories
from tests.inbox.test_services_gdpr import post, ticket_of

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
SUBJECT = {"platform": "x", "author_id": "3001"}


@pytest.fixture
def x_channel(team: Team, simulator: RunningSimulator) -> Channel:
    return factories.simulated_channel(team=team, simulator=simulator, platform=Platform.X)


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
