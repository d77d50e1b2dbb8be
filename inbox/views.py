"""Agent pages: validate, call one selector or service, render."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from inbox import selectors
from inbox.exceptions import TicketNotFound

PAGE_SIZE = 50


@login_required
@require_GET
def inbox_list(request: HttpRequest) -> HttpResponse:
    tickets = list(selectors.tickets_for_agent(agent=request.user)[:PAGE_SIZE])
    return render(request, "inbox/list.html", {"tickets": tickets})


@login_required
@require_GET
def ticket_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    try:
        ticket = selectors.get_ticket_for_agent(agent=request.user, ticket_ref=public_id)
    except TicketNotFound as exc:
        raise Http404(str(exc.message)) from exc
    return render(request, "inbox/ticket.html", {"ticket": ticket})
