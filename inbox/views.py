"""Agent pages: validate, call one selector or service, render or redirect.

HavenError becomes a page in one place (``_error_page``); TicketNotFound is always a 404, for
missing and forbidden alike.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dates import MONTHS_3
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp import match_token, user_has_device

from inbox import events, portal_selectors, selectors, services, sessions
from inbox.exceptions import HavenError, TicketNotFound
from inbox.forms import (
    END_ACCESS_SEND,
    AssignForm,
    CannedReplyForm,
    ConfirmForm,
    EndAccessForm,
    InboxFilterForm,
    MessageForm,
    OtpTokenForm,
    OtpVerifyForm,
    RetryActionForm,
    StatusForm,
)
from inbox.models import TicketStatus
from inbox.services.agent import InvalidAssignee

logger = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., HttpResponse])


def _is_fetch(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def _error_page(request: HttpRequest, exc: HavenError) -> HttpResponse:
    return render(request, "inbox/error.html", {"error": exc}, status=exc.status)


def _haven_errors(view: View) -> View:
    """Turn domain errors into a page: 404 for not-found, the error's own status otherwise."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except TicketNotFound as exc:
            raise Http404(str(exc.message)) from exc
        except HavenError as exc:
            logger.info("request refused code=%s", exc.code)
            return _error_page(request, exc)

    return wrapper  # type: ignore[return-value]  # wraps keeps the view's signature


def _agent(request: HttpRequest) -> AbstractBaseUser:
    """The signed-in user; every caller sits behind ``login_required``."""
    user = request.user
    if isinstance(user, AnonymousUser):
        raise PermissionDenied("view reached without a signed-in user")
    return user


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


# --- sign-in -------------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    """Django's login (it rotates the session key), plus the start of the absolute timeout."""

    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        self.request.session[sessions.AUTH_AT_KEY] = time.time()
        sessions.forget_mfa_state(self.request)
        return response


class LogoutView(auth_views.LogoutView):
    """Log out and close every live socket of this agent."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            events.send_now(events.agent_user_group(int(request.user.pk)), events.session_ended())
        return super().post(request, *args, **kwargs)


@login_required
@require_http_methods(["GET", "POST"])
@_haven_errors
def otp_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: show the provisioning URI, then confirm with a code."""
    if user_has_device(request.user, confirmed=True):
        return render(request, "inbox/otp_setup.html", {"enrolled": True})
    device = services.start_totp_enrolment(user=_agent(request))
    form = OtpTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = services.confirm_totp_enrolment(
            user=_agent(request),
            token=form.cleaned_data["token"],
        )
        otp_login(request, device)
        request.session[sessions.MFA_STATE_KEY] = sessions.MFA_ENROLLED
        return HttpResponseRedirect(_safe_next(request, reverse("inbox:list")))
    return render(
        request,
        "inbox/otp_setup.html",
        {
            "form": form,
            "config_url": device.config_url,
            "secret": _base32(device.bin_key),
            "next": _safe_next(request, ""),
            "required": sessions.mfa_state(request) == sessions.MFA_REQUIRED,
        },
    )


def _base32(key: bytes) -> str:
    """The key as authenticator apps expect it typed: base32 in groups of four."""
    raw = base64.b32encode(key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


@login_required
@require_http_methods(["GET", "POST"])
def otp_verify(request: HttpRequest) -> HttpResponse:
    """The second step of sign-in for anyone with an authenticator or backup codes."""
    form = OtpVerifyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["token"])
        if device is not None:
            otp_login(request, device)
            return HttpResponseRedirect(_safe_next(request, reverse("inbox:list")))
        form.add_error("token", OtpVerifyForm.base_fields["token"].error_messages["invalid"])
    return render(request, "inbox/otp_verify.html", {"form": form, "next": _safe_next(request, "")})


# --- the inbox -----------------------------------------------------------------------------


def _filters(request: HttpRequest) -> tuple[InboxFilterForm, selectors.InboxFilters, str]:
    data = request.GET.copy()
    if "status" not in data:
        data["status"] = TicketStatus.OPEN
    form = InboxFilterForm(data)
    if not form.is_valid():
        form = InboxFilterForm({"status": TicketStatus.OPEN})
        form.is_valid()
    cleaned = form.cleaned_data
    filters = selectors.InboxFilters(
        status=cleaned.get("status") or "",
        channel=cleaned.get("channel"),
        assigned=cleaned.get("assigned") or "",
        query=cleaned.get("q") or "",
    )
    return form, filters, cleaned.get("after") or ""


@dataclasses.dataclass(frozen=True, slots=True)
class ListRow:
    """One inbox row with its link and times already worked out.

    A ``reverse`` and two ``date`` filters per row cost more than the rest of the row's
    template, so they are done here once per page.
    """

    row: selectors.InboxRow
    url: str
    time_iso: str  # what ``|date:"c"`` prints
    time_label: str  # what ``|date:"M j, H:i"`` prints


def list_rows(rows: Sequence[selectors.InboxRow]) -> list[ListRow]:
    """The rows as the list template prints them (local time, the active language)."""
    if not rows:
        return []
    placeholder = uuid.UUID(int=0)
    url = reverse("inbox:ticket", kwargs={"public_id": placeholder})
    url_start, _, url_end = url.partition(str(placeholder))
    months: dict[int, str] = {}
    out: list[ListRow] = []
    for row in rows:
        local = timezone.localtime(row.ticket.last_activity_at)
        month = months.get(local.month)
        if month is None:
            month = months[local.month] = MONTHS_3[local.month].title()
        out.append(
            ListRow(
                row=row,
                url=f"{url_start}{row.ticket.public_id}{url_end}",
                time_iso=local.isoformat(),
                time_label=f"{month} {local.day}, {local:%H:%M}",
            )
        )
    return out


def _inbox_context(request: HttpRequest) -> dict[str, Any]:
    form, filters, cursor = _filters(request)
    page = selectors.inbox_page(agent=request.user, filters=filters, cursor=cursor)
    query = request.GET.copy()
    query.pop("after", None)
    first_query = query.urlencode()
    next_query = None
    if page.next_cursor:
        query["after"] = page.next_cursor
        next_query = query.urlencode()
    return {
        "form": form,
        "page": page,
        "rows": list_rows(page.rows),
        "filters": filters,
        "next_query": next_query,
        "first_query": first_query,
        "first_page": not cursor,
    }


@login_required
@require_GET
def inbox_list(request: HttpRequest) -> HttpResponse:
    return render(request, "inbox/list.html", _inbox_context(request))


@login_required
@require_GET
def inbox_rows(request: HttpRequest) -> HttpResponse:
    """The list fragment the page refetches on every live event and while polling."""
    return render(request, "inbox/_rows.html", _inbox_context(request))


# --- one ticket ----------------------------------------------------------------------------


# Outcomes a POST redirects with (``?done=<code>``); the templates word them. Codes only, so
# nothing personal or secret ever reaches a URL.
DONE_CODES = frozenset(
    {
        "access_ended",
        "link_queued",
        "contact_replied",
        "contact_linked",
        "contact_unlinked",
        "action_retried",
    }
)


def _done(request: HttpRequest) -> str:
    code = request.GET.get("done", "")
    return code if code in DONE_CODES else ""


def _ticket_context(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    page = selectors.ticket_page(agent=request.user, ticket_ref=public_id)
    if page.ticket.unread_for_agents:
        services.mark_read(ticket=page.ticket, agent=_agent(request))
    return {
        "tp": page,
        "ticket": page.ticket,
        "action_rows": services.action_rows(ticket=page.ticket, actions=page.actions),
        "done": _done(request),
        "statuses": TicketStatus.choices,
        "reply_form": MessageForm(prefix="reply"),
        "note_form": MessageForm(prefix="note"),
        "canned_data": [
            {"id": str(c.public_id), "title": c.title, "body": c.body} for c in page.canned
        ],
    }


@login_required
@require_GET
@_haven_errors
def ticket_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    return render(request, "inbox/ticket.html", _ticket_context(request, public_id))


@login_required
@require_GET
@_haven_errors
def ticket_live(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The parts of the ticket page that change: refetched on live events and while polling."""
    return render(request, "inbox/_ticket_live.html", _ticket_context(request, public_id))


def _back_to_ticket(public_id: uuid.UUID, *, done: str = "") -> HttpResponse:
    url = reverse("inbox:ticket", kwargs={"public_id": public_id})
    return HttpResponseRedirect(f"{url}?done={done}" if done else url, status=303)


def _invalid(request: HttpRequest, form: Form) -> HttpResponse:
    return render(request, "inbox/error.html", {"form_errors": form.errors}, status=400)


def _post_message(
    request: HttpRequest, public_id: uuid.UUID, *, prefix: str, write: Callable[..., object]
) -> HttpResponse:
    ticket = selectors.get_ticket_for_agent(agent=request.user, ticket_ref=public_id)
    form = MessageForm(request.POST, prefix=prefix)
    if not form.is_valid():
        return _invalid(request, form)
    write(
        ticket=ticket,
        agent=_agent(request),
        body=form.cleaned_data["body"],
        idempotency_key=form.cleaned_data["idempotency_key"] or None,
    )
    return _back_to_ticket(public_id)


@login_required
@require_POST
@_haven_errors
def ticket_reply(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """A reply to the customer's secure thread (never to the social platform)."""
    return _post_message(request, public_id, prefix="reply", write=services.send_reply)


@login_required
@require_POST
@_haven_errors
def ticket_note(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """An internal note: agents only."""
    return _post_message(request, public_id, prefix="note", write=services.add_note)


@login_required
@require_POST
@_haven_errors
def ticket_assign(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    ticket = selectors.get_ticket_for_agent(agent=request.user, ticket_ref=public_id)
    form = AssignForm(request.POST)
    if not form.is_valid():
        return _invalid(request, form)
    assignee = None
    if form.cleaned_data["assignee"]:
        assignee = selectors.team_member_for_ticket(
            ticket=ticket, user_id=form.cleaned_data["assignee"]
        )
        if assignee is None:
            raise InvalidAssignee("assignee not in team")
    services.assign_ticket(ticket=ticket, agent=_agent(request), assignee=assignee)
    return _back_to_ticket(public_id)


@login_required
@require_POST
@_haven_errors
def ticket_status(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    ticket = selectors.get_ticket_for_agent(agent=request.user, ticket_ref=public_id)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _invalid(request, form)
    services.set_status(ticket=ticket, agent=_agent(request), status=form.cleaned_data["status"])
    return _back_to_ticket(public_id)


@login_required
@require_POST
@_haven_errors
def message_reveal(
    request: HttpRequest, public_id: uuid.UUID, message_id: uuid.UUID
) -> HttpResponse:
    """Show a social message's personal data to this agent; audited. POST: it writes a record."""
    item = selectors.reveal_message(
        agent=request.user, ticket_ref=public_id, message_ref=message_id
    )
    if _is_fetch(request):
        return render(request, "inbox/_message.html", {"item": item, "ticket_ref": public_id})
    context = _ticket_context(request, public_id)
    tp: selectors.TicketPage = context["tp"]
    thread = [
        dataclasses.replace(item, via_contact=t.via_contact, contact=t.contact)
        if t.message.pk == item.message.pk
        else t
        for t in tp.thread
    ]
    context["tp"] = dataclasses.replace(tp, thread=thread)
    return render(request, "inbox/ticket.html", context)


# --- the customer's links and e-mail contacts ----------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
@_haven_errors
def ticket_rotate_link(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Replace the public drop-box link: a confirmation (GET), then the new link (POST).

    The new link is in this one response only (never stored, cached or put in a redirect),
    for the agent to pass on privately. Haven posts it nowhere by itself.
    """
    ticket = selectors.get_ticket_for_agent(agent=request.user, ticket_ref=public_id)
    if request.method == "GET":
        return render(request, "inbox/rotate_link.html", {"ticket": ticket, "form": ConfirmForm()})
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        return _invalid(request, form)
    link = services.rotate_drop_ref(ticket=ticket, agent=_agent(request))
    with translation.override(ticket.language or settings.LANGUAGE_CODE):
        text = gettext("You can also write to us through this link: %(link)s") % {"link": link}
    return render(
        request,
        "inbox/link_rotated.html",
        {"ticket": ticket, "link": link, "reply_text": text},
    )


@login_required
@require_http_methods(["GET", "POST"])
@_haven_errors
def ticket_end_access(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """End the customer's portal access; where the platform allows, send a new private link.

    GET shows what will happen, and why no new link can be sent when that is so.
    """
    ticket = selectors.get_ticket_for_agent(agent=request.user, ticket_ref=public_id)
    if request.method == "GET":
        return render(
            request,
            "inbox/end_access.html",
            {
                "ticket": ticket,
                "route": services.private_link_route(ticket=ticket),
                "access": selectors.portal_access_summary(ticket=ticket),
                "x_sign_in": portal_selectors.x_sign_in_config(ticket) is not None,
                "form": EndAccessForm(),
            },
        )
    form = EndAccessForm(request.POST)
    if not form.is_valid():
        return _invalid(request, form)
    send = form.cleaned_data["action"] == END_ACCESS_SEND
    services.end_portal_access(ticket=ticket, agent=_agent(request), send_new_link=send)
    return _back_to_ticket(public_id, done="link_queued" if send else "access_ended")


@login_required
@require_POST
@_haven_errors
def action_retry(request: HttpRequest, public_id: uuid.UUID, action_id: uuid.UUID) -> HttpResponse:
    """Retry a platform action that failed, or whose outcome is unknown once the agent checked."""
    ticket = selectors.get_ticket_for_agent(agent=request.user, ticket_ref=public_id)
    form = RetryActionForm(request.POST)
    if not form.is_valid():
        return _invalid(request, form)
    services.retry_action(
        ticket=ticket,
        agent=_agent(request),
        action_ref=action_id,
        seen=form.cleaned_data["seen"],
        checked=form.cleaned_data["checked"],
    )
    return _back_to_ticket(public_id, done="action_retried")


def _back_to_contact(public_id: uuid.UUID, contact_id: uuid.UUID, *, done: str) -> HttpResponse:
    url = reverse("inbox:contact", kwargs={"public_id": public_id, "contact_id": contact_id})
    return HttpResponseRedirect(f"{url}?done={done}", status=303)


@login_required
@require_GET
@_haven_errors
def ticket_contact(
    request: HttpRequest, public_id: uuid.UUID, contact_id: uuid.UUID
) -> HttpResponse:
    """One e-mail contact: its address, its own conversation, reply and link-to-author forms."""
    page = selectors.contact_page(agent=request.user, ticket_ref=public_id, contact_ref=contact_id)
    return render(
        request,
        "inbox/contact.html",
        {
            "cp": page,
            "ticket": page.ticket,
            "reply_form": MessageForm(prefix="contact"),
            "link_form": ConfirmForm(),
            "done": _done(request),
        },
    )


@login_required
@require_POST
@sensitive_post_parameters("contact-body")
@_haven_errors
def ticket_contact_reply(
    request: HttpRequest, public_id: uuid.UUID, contact_id: uuid.UUID
) -> HttpResponse:
    """A reply only this e-mail contact reads (never the social author)."""
    ticket, contact = selectors.get_contact_for_agent(
        agent=request.user, ticket_ref=public_id, contact_ref=contact_id
    )
    form = MessageForm(request.POST, prefix="contact")
    if not form.is_valid():
        return _invalid(request, form)
    services.reply_to_contact(
        ticket=ticket,
        agent=_agent(request),
        contact=contact,
        body=form.cleaned_data["body"],
        idempotency_key=form.cleaned_data["idempotency_key"] or None,
    )
    return _back_to_contact(public_id, contact_id, done="contact_replied")


@login_required
@require_POST
@_haven_errors
def ticket_contact_link(
    request: HttpRequest, public_id: uuid.UUID, contact_id: uuid.UUID
) -> HttpResponse:
    """Link an e-mail contact to the social author (audited): it then reads the whole thread."""
    ticket, contact = selectors.get_contact_for_agent(
        agent=request.user, ticket_ref=public_id, contact_ref=contact_id
    )
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        return _invalid(request, form)
    services.link_contact_to_author(ticket=ticket, agent=_agent(request), contact=contact)
    return _back_to_contact(public_id, contact_id, done="contact_linked")


@login_required
@require_POST
@_haven_errors
def ticket_contact_unlink(
    request: HttpRequest, public_id: uuid.UUID, contact_id: uuid.UUID
) -> HttpResponse:
    """Undo a link (audited): the contact reads only its own messages again."""
    ticket, contact = selectors.get_contact_for_agent(
        agent=request.user, ticket_ref=public_id, contact_ref=contact_id
    )
    services.unlink_contact_from_author(ticket=ticket, agent=_agent(request), contact=contact)
    return _back_to_contact(public_id, contact_id, done="contact_unlinked")


# --- canned replies ------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@_haven_errors
def canned_list(request: HttpRequest) -> HttpResponse:
    form = CannedReplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = selectors.get_team_for_agent(agent=request.user, team_ref=form.cleaned_data["team"])
        services.create_canned_reply(
            team=team,
            agent=_agent(request),
            title=form.cleaned_data["title"],
            body=form.cleaned_data["body"],
        )
        return HttpResponseRedirect(reverse("inbox:canned"), status=303)
    return render(
        request,
        "inbox/canned.html",
        {
            "form": form,
            "canned": selectors.canned_for_agent(agent=request.user),
            "teams": list(selectors.teams_for(request.user)),
        },
        status=400 if form.is_bound else 200,
    )


@login_required
@require_POST
@_haven_errors
def canned_delete(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    canned = selectors.get_canned_for_agent(agent=request.user, canned_ref=public_id)
    services.delete_canned_reply(canned=canned, agent=_agent(request))
    return HttpResponseRedirect(reverse("inbox:canned"), status=303)
