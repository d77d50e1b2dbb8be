"""Customer pages (SECURITY-DESIGN.md §1): the public drop box, the secret interstitials and
exchanges, and the secure thread of one ticket.

Access is resolved only through ``inbox.portal_selectors``; every write is one service call.
Domain errors become a page in one place (``_portal_errors``); every failed link, whatever
the reason, renders the same 404.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inbox import portal_selectors
from inbox.exceptions import HavenError, LinkExpired, TicketNotFound, XSignInFailed
from inbox.middleware import CSP
from inbox.models import SecretKind
from inbox.services import portal as portal_services

logger = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., HttpResponse])


class MessageForm(forms.Form):
    body = forms.CharField(
        label=_("Your message"),
        max_length=portal_services.MAX_BODY_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    key = forms.CharField(max_length=60, required=False, widget=forms.HiddenInput)


class DropForm(MessageForm):
    email = forms.EmailField(
        label=_("Your e-mail address (optional)"),
        required=False,
        max_length=254,
        widget=forms.EmailInput(
            attrs={"autocomplete": "email", "aria-describedby": "id_email-hint"}
        ),
        help_text=_(
            "We send you a link to confirm it. With it you can read our answers to this "
            "message. Leave it empty if you only want to write."
        ),
    )


def _ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _link_invalid(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/link_invalid.html", status=404)


def _portal_errors(view: View) -> View:
    """Turn domain errors into the customer's pages: one 404 for every dead link or session."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except (LinkExpired, TicketNotFound) as exc:
            logger.info("portal link refused code=%s", exc.code)
            return _link_invalid(request)
        except HavenError as exc:
            logger.info("portal request refused code=%s", exc.code)
            return render(request, "portal/error.html", {"error": exc}, status=exc.status)

    return wrapper  # type: ignore[return-value]  # wraps keeps the view's signature


def _fresh_key() -> str:
    return portal_services.new_idempotency_key()


# --- the public drop box --------------------------------------------------------------------


@sensitive_post_parameters("body", "email")
@require_http_methods(["GET", "POST"])
@_portal_errors
def drop_box(request: HttpRequest, drop_ref: str) -> HttpResponse:
    """Why the conversation moved, and a form to write. Never shows anything of the thread."""
    portal_services.check_rate(scope="drop", ip=_ip(request))
    ticket = portal_selectors.drop_box_ticket(drop_ref=drop_ref)
    portal_services.check_ticket_rate(scope="drop", ticket_id=ticket.pk)
    x_origin = portal_services.x_sign_in_origin(ticket=ticket)
    form = DropForm(request.POST or None, initial={"key": _fresh_key()})
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["email"]:
            portal_services.check_rate(scope="mail", ip=_ip(request))
            portal_services.check_ticket_rate(scope="mail", ticket_id=ticket.pk)
        portal_services.add_drop_message(
            ticket=ticket,
            body=form.cleaned_data["body"],
            idempotency_key=form.cleaned_data["key"],
            email=form.cleaned_data["email"] or "",
            language=get_language() or "",
        )
        return render(
            request,
            "portal/drop_sent.html",
            {"email_given": bool(form.cleaned_data["email"]), "reference": ticket.reference},
        )
    response = render(
        request,
        "portal/drop.html",
        {
            "form": form,
            "drop_ref": drop_ref,
            "x_sign_in": x_origin is not None,
            "reference": ticket.reference,
            "organisation": settings.HAVEN_ORGANISATION_NAME,
            "privacy_url": settings.HAVEN_PRIVACY_NOTICE_URL,
            "retention_days": portal_selectors.retention_days(ticket),
        },
        status=400 if request.method == "POST" else 200,
    )
    if x_origin is not None:
        # The sign-in form's POST is answered with a redirect to X: form-action must allow it.
        response["Content-Security-Policy"] = CSP.replace(
            "form-action 'self'", f"form-action 'self' {x_origin}"
        )
    return response


# --- Sign in with X (SECURITY-DESIGN.md §1, row 3) ------------------------------------------


@require_POST
@_portal_errors
def x_sign_in(request: HttpRequest, drop_ref: str) -> HttpResponse:
    """The drop-box page's "Sign in with X" button: off to X's authorize page (303)."""
    portal_services.check_rate(scope="x_sign_in", ip=_ip(request))
    ticket = portal_selectors.drop_box_ticket(drop_ref=drop_ref)
    portal_services.check_ticket_rate(scope="x_sign_in", ticket_id=ticket.pk)
    try:
        url = portal_services.start_x_sign_in(session=request.session, ticket=ticket)
    except XSignInFailed as exc:
        logger.info("x sign-in not offered code=%s", exc.code)
        return _redirect_303(reverse("portal:x_failed"))
    return _redirect_303(url)


@require_GET
@_portal_errors
def x_sign_in_callback(request: HttpRequest) -> HttpResponse:
    """X sends the browser back here. Success: 303 to the thread; any failure: 303 to one
    page, so the code never stays in the address bar or the history."""
    portal_services.check_rate(scope="exchange", ip=_ip(request))
    try:
        ticket = portal_services.finish_x_sign_in(
            session=request.session,
            state=str(request.GET.get("state", ""))[:200],
            code=str(request.GET.get("code", ""))[:1000],
            error=str(request.GET.get("error", ""))[:100],
        )
    except XSignInFailed as exc:
        logger.info("x sign-in refused code=%s", exc.code)
        return _redirect_303(reverse("portal:x_failed"))
    return _redirect_303(reverse("portal:thread", kwargs={"public_id": ticket.public_id}))


@require_GET
def x_sign_in_failed(request: HttpRequest) -> HttpResponse:
    """The one page for every failed X sign-in, whatever the cause."""
    return render(request, "portal/x_sign_in_failed.html", status=404)


# --- secret links: neutral interstitials, exchange by POST ---------------------------------


def _interstitial(request: HttpRequest, *, action: str, secret: str = "") -> HttpResponse:
    portal_services.check_rate(scope="read", ip=_ip(request))
    return render(request, "portal/interstitial.html", {"action": action, "secret": secret})


@require_GET
@_portal_errors
def read_interstitial(request: HttpRequest) -> HttpResponse:
    """``/r/#t=<secret>``: no ticket data. The script moves the fragment into the form."""
    return _interstitial(request, action=reverse("portal:read"))


@require_GET
@_portal_errors
def read_fallback(request: HttpRequest, secret: str) -> HttpResponse:
    """``/r/<secret>`` for browsers without JavaScript: a button that POSTs, nothing used."""
    return _interstitial(request, action=reverse("portal:read"), secret=secret)


@require_GET
@_portal_errors
def magic_interstitial(request: HttpRequest) -> HttpResponse:
    return _interstitial(request, action=reverse("portal:magic"))


@require_GET
@_portal_errors
def magic_fallback(request: HttpRequest, secret: str) -> HttpResponse:
    return _interstitial(request, action=reverse("portal:magic"), secret=secret)


def _exchange(request: HttpRequest, *, kind: str) -> HttpResponse:
    secret = str(request.POST.get("t", ""))[:200]
    portal_services.check_rate(scope="exchange", ip=_ip(request))
    ticket_id = portal_selectors.ticket_id_for_secret(kind=kind, secret=secret)
    portal_services.check_ticket_rate(scope="exchange", ticket_id=ticket_id)
    if kind == SecretKind.MAGIC:
        ticket = portal_services.exchange_magic_link(session=request.session, secret=secret)
    else:
        ticket = portal_services.exchange_read_secret(session=request.session, secret=secret)
    # 303: the browser follows with a GET to a URL that carries no secret.
    return _redirect_303(reverse("portal:thread", kwargs={"public_id": ticket.public_id}))


def _redirect_303(url: str) -> HttpResponse:
    return HttpResponseRedirect(url, status=303)


@sensitive_post_parameters("t")
@require_http_methods(["GET", "POST"])
@_portal_errors
def read(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _exchange(request, kind=SecretKind.READ)
    return read_interstitial(request)


@sensitive_post_parameters("t")
@require_http_methods(["GET", "POST"])
@_portal_errors
def magic(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _exchange(request, kind=SecretKind.MAGIC)
    return magic_interstitial(request)


@require_POST
@_portal_errors
def new_link(request: HttpRequest) -> HttpResponse:
    """Ask for a new link after a dead one. The same answer whatever the link was."""
    portal_services.check_rate(scope="new_link", ip=_ip(request))
    portal_services.request_new_link(session=request.session)
    return render(request, "portal/new_link_requested.html")


# --- the secure thread ----------------------------------------------------------------------


@sensitive_post_parameters("body")
@require_http_methods(["GET", "POST"])
@_portal_errors
def thread(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Read and write one ticket with a portal session. Works without JavaScript."""
    access = portal_selectors.access_from_session(request.session, ticket_ref=public_id)
    form = MessageForm(request.POST or None, initial={"key": _fresh_key()})
    if request.method == "POST":
        portal_services.check_rate(scope="thread", ip=_ip(request))
        portal_services.check_ticket_rate(scope="thread", ticket_id=access.ticket.pk)
        if form.is_valid():
            portal_services.add_customer_message(
                access=access,
                body=form.cleaned_data["body"],
                idempotency_key=form.cleaned_data["key"],
            )
            return _redirect_303(
                reverse("portal:thread", kwargs={"public_id": public_id}) + "#compose"
            )
    messages = portal_selectors.portal_thread(access=access)
    return render(
        request,
        "portal/thread.html",
        {
            "ticket": access.ticket,
            "messages": messages,
            "form": form,
            "as_contact": access.contact is not None,
            "organisation": settings.HAVEN_ORGANISATION_NAME,
            "privacy_url": settings.HAVEN_PRIVACY_NOTICE_URL,
            "last_id": str(messages[-1].public_id) if messages else "",
        },
        status=400 if request.method == "POST" else 200,
    )


@require_GET
def thread_messages(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The messages after ``?after=<message id>`` as JSON, for live updates (text only)."""
    try:
        access = portal_selectors.access_from_session(request.session, ticket_ref=public_id)
    except TicketNotFound:
        return JsonResponse({"type": "error", "code": "session_ended"}, status=404)
    after: uuid.UUID | None
    try:
        after = uuid.UUID(request.GET.get("after", ""))
    except ValueError:
        after = None
    messages = portal_selectors.portal_thread(access=access, after=after)
    return JsonResponse({"messages": [m.as_json() for m in messages]})


@require_POST
def leave(request: HttpRequest) -> HttpResponse:
    """End this portal session on this device."""
    portal_services.end_session(session=request.session)
    return render(request, "portal/left.html")
