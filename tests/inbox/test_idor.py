"""IDOR sweep (SECURITY-DESIGN.md §4): every URL taking an object id, as another team's agent.

The list of patterns comes from the URLconf itself, so a new pattern is swept the day it lands.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from inbox import services, vault
from inbox.models import (
    MessageKind,
    MessageSource,
    OutboxAction,
    OutboxState,
    PortalContact,
    Ticket,
)
from inbox.services.retry import retry_token
from inbox.services.threads import add_message, open_ticket
from tests import factories

pytestmark = pytest.mark.django_db

# Staff-only, guarded by is_staff and the second factor, not by team: not an agent surface.
EXCLUDED_NAMESPACES = {"admin"}
# Platform-facing: authenticated by the platform's signature, never by an agent's session.
EXCLUDED_PREFIXES = ("webhooks/",)
ID_CONVERTERS = {"uuid", "int"}


def _patterns(
    resolvers: list[URLPattern | URLResolver], prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, URLPattern]]:
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            if ns in EXCLUDED_NAMESPACES:
                continue
            yield from _patterns(entry.url_patterns, prefix + str(entry.pattern), ns)
        else:
            yield prefix + str(entry.pattern), entry


def object_id_routes() -> list[tuple[str, dict[str, str]]]:
    """(route, {kwarg: converter}) for every pattern with an id-like parameter."""
    found = []
    for route, pattern in _patterns(get_resolver().url_patterns):
        converters = getattr(pattern.pattern, "converters", {})
        ids = {
            name: type(conv).__name__.replace("Converter", "").lower()
            for name, conv in converters.items()
        }
        if any(c in ID_CONVERTERS for c in ids.values()) or any(n.endswith("_id") for n in ids):
            found.append((route, ids))
    return found


def test_sweep_covers_the_ticket_pages() -> None:
    routes = {route for route, _ in object_id_routes()}

    assert "tickets/<uuid:public_id>/" in routes
    assert "tickets/<uuid:public_id>/messages/<uuid:message_id>/reveal/" in routes
    assert "tickets/<uuid:public_id>/links/rotate/" in routes
    assert "tickets/<uuid:public_id>/access/end/" in routes
    assert "tickets/<uuid:public_id>/contacts/<uuid:contact_id>/" in routes
    assert "tickets/<uuid:public_id>/contacts/<uuid:contact_id>/reply/" in routes
    assert "tickets/<uuid:public_id>/contacts/<uuid:contact_id>/link/" in routes
    assert "tickets/<uuid:public_id>/contacts/<uuid:contact_id>/unlink/" in routes
    assert "tickets/<uuid:public_id>/actions/<uuid:action_id>/retry/" in routes


@pytest.fixture
def team_a_objects() -> dict[str, object]:
    team = factories.TeamFactory()
    owner = factories.agent_of(team)
    channel = factories.make_channel(team=team)
    ticket: Ticket = open_ticket(team=team, channel=channel, customer_handle="@owner")
    message = add_message(
        ticket=ticket, kind=MessageKind.INBOUND, source=MessageSource.SOCIAL, body="hello"
    )
    canned = services.create_canned_reply(team=team, agent=owner, title="T", body="B")
    contact = PortalContact(
        ticket=ticket,
        email_digest=vault.blind_index("email", "owner.contact@example.invalid"),
        verified_at=timezone.now(),
    )
    contact.email_ciphertext = vault.encrypt(
        ticket, contact, "email", "owner.contact@example.invalid"
    )
    contact.save()
    # A failed reply on a switched-on channel: a missing access check would queue it again.
    action = factories.ended_action(ticket)
    return {
        "ticket": ticket,
        "message": message,
        "canned": canned,
        "team": team,
        "channel": channel,
        "contact": contact,
        "action": action,
    }


def _value_for(route: str, name: str, converter: str, objs: dict[str, object]) -> str:
    head = route.split("/", 1)[0]
    if name == "message_id":
        return str(objs["message"].public_id)  # type: ignore[attr-defined]
    if name == "contact_id":
        return str(objs["contact"].public_id)  # type: ignore[attr-defined]
    if name == "action_id":
        return str(objs["action"].public_id)  # type: ignore[attr-defined]
    if name == "channel_ref" or head == "channels":
        return str(objs["channel"].public_id)  # type: ignore[attr-defined]
    if head == "canned":
        return str(objs["canned"].public_id)  # type: ignore[attr-defined]
    if head == "teams":
        return str(objs["team"].public_id)  # type: ignore[attr-defined]
    if converter == "int":
        return str(objs["ticket"].pk)  # type: ignore[attr-defined]
    if converter == "uuid":
        # Default for new patterns: the most sensitive object there is.
        return str(objs["ticket"].public_id)  # type: ignore[attr-defined]
    return uuid.uuid4().hex


def _fill(route: str, ids: dict[str, str], objs: dict[str, object]) -> str:
    url = "/" + route.lstrip("^").rstrip("$")
    for name, converter in ids.items():
        url = url.replace(f"<{converter}:{name}>", _value_for(route, name, converter, objs))
        url = url.replace(f"<{name}>", _value_for(route, name, converter, objs))
    return url


# Valid for every agent form, so a missing access check would act, not stop at validation.
FORM_DATA = {
    "body": "x",
    "status": "closed",
    "confirm": "on",
    "action": "send",
    "contact-body": "x",
    "reply-body": "x",
    "checked": "on",
}


def test_every_object_url_is_404_for_another_teams_agent(
    client: Client, team_a_objects: dict[str, object]
) -> None:
    intruder = factories.agent_of(factories.TeamFactory())
    client.force_login(intruder)
    client.raise_request_exception = False  # a crash is reported as 500 with its URL, not raised
    seen = retry_token(team_a_objects["action"])  # type: ignore[arg-type]
    results = {}

    for route, ids in object_id_routes():
        url = _fill(route, ids, team_a_objects)
        # Both methods: a page that shows a form on GET acts on POST.
        for method in ("GET", "POST"):
            if method == "GET":
                response = client.get(url)
            else:
                response = client.post(url, FORM_DATA | {"assignee": intruder.pk, "seen": seen})
            if response.status_code != 405:
                results[f"{method} {url}"] = response.status_code

    assert results
    assert {url: code for url, code in results.items() if code != 404} == {}
    assert OutboxAction.objects.get().state == OutboxState.FAILED
