"""The data-protection officer's pages: subject search, export, access report, erasure, RoPA.

Staff only (others get 404, anonymous users the login page). Subject identifiers travel in POST
bodies, never in URLs, so access logs never see them. Export and erasure need a step-up: the
password re-entered within the last five minutes (SECURITY-DESIGN.md §4). Every operation is a
call to ``inbox.services.gdpr`` (or ``reply_deletion``, ``audit``); these views only validate,
call and render.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inbox import audit
from inbox.exceptions import LinkExpired
from inbox.services import gdpr, reply_deletion

logger = logging.getLogger(__name__)

STEP_UP_KEY = "haven_step_up_at"
STEP_UP_SECONDS = 5 * 60

View = Callable[..., HttpResponse]


def staff_required(view: View) -> View:
    """Anonymous: the login page. Signed in but not staff: 404, so the pages don't exist."""

    @login_required
    @never_cache
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (user.is_active and user.is_staff):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


# --- forms ---------------------------------------------------------------------------------


class SubjectForm(forms.Form):
    platform = forms.ChoiceField(
        label=_("Platform"),
        required=False,
        choices=[("", _("any")), ("facebook", "Facebook"), ("x", "X")],
    )
    author_id = forms.CharField(label=_("Platform author id"), required=False, max_length=128)
    handle = forms.CharField(label=_("Handle"), required=False, max_length=128)
    email = forms.EmailField(label=_("E-mail"), required=False)
    phone = forms.CharField(label=_("Phone (with country code)"), required=False, max_length=40)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not any(data.get(f) for f in ("author_id", "handle", "email", "phone")):
            raise forms.ValidationError(_("Give at least one identifier of the person."))
        if data.get("author_id") and not data.get("platform"):
            raise forms.ValidationError(_("An author id needs its platform."))
        return data

    def subject(self) -> gdpr.Subject:
        d = self.cleaned_data
        return gdpr.Subject(
            platform=d.get("platform") or "",
            author_id=(d.get("author_id") or "").strip(),
            handle=(d.get("handle") or "").strip(),
            email=(d.get("email") or "").strip(),
            phone=(d.get("phone") or "").strip(),
        )


class StepUpForm(SubjectForm):
    password = forms.CharField(
        label=_("Your password"), required=False, widget=forms.PasswordInput(render_value=False)
    )


class ExportForm(StepUpForm):
    language = forms.ChoiceField(
        label=_("Language of the export"), required=False, choices=settings.LANGUAGES
    )


# Platforms whose public replies the erase page offers to delete, with their display names.
REPLY_PLATFORMS = [("facebook", "Facebook"), ("x", "X")]


class EraseForm(StepUpForm):
    confirm = forms.BooleanField(label=_("I understand this cannot be undone."), required=False)
    delete_replies = forms.MultipleChoiceField(
        label=_("Also delete Haven's public replies on"),
        required=False,
        choices=REPLY_PLATFORMS,
    )


class DownloadForm(forms.Form):
    code = forms.CharField(label=_("Download code"), max_length=100)


class BreachForm(forms.Form):
    username = forms.CharField(label=_("Account (username)"), required=False, max_length=150)
    kid = forms.CharField(label=_("Master key id"), required=False, max_length=32)
    since = forms.DateTimeField(label=_("From (UTC)"))
    until = forms.DateTimeField(label=_("Until (UTC)"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("username") and not data.get("kid"):
            raise forms.ValidationError(_("Give an account or a master key id."))
        return data


# --- step-up -------------------------------------------------------------------------------


def step_up_fresh(request: HttpRequest) -> bool:
    started = request.session.get(STEP_UP_KEY)
    return started is not None and time.time() - float(started) <= STEP_UP_SECONDS


def _step_up(request: HttpRequest, password: str) -> bool:
    """True when the password was re-entered in the last five minutes (or is entered now)."""
    if step_up_fresh(request):
        return True
    user = request.user
    if not password or not user.check_password(password):
        audit.record(actor=audit.Actor.user(user.pk), action="auth.step_up_failed")
        return False
    request.session[STEP_UP_KEY] = time.time()
    audit.record(actor=audit.Actor.user(user.pk), action="auth.step_up")
    return True


def _actor(request: HttpRequest) -> audit.Actor:
    return audit.Actor.user(request.user.pk)


# --- pages ---------------------------------------------------------------------------------


def _home(request: HttpRequest, result: audit.VerifyResult, *, status: int = 200) -> HttpResponse:
    return render(
        request,
        "dpo/home.html",
        {
            "form": SubjectForm(),
            "audit": result,
            "step_up": step_up_fresh(request),
            "deletions": reply_deletion.open_counts(),
        },
        status=status,
    )


@require_GET
@staff_required
def home(request: HttpRequest) -> HttpResponse:
    # Only the events since the last check: walking the whole chain on every visit grows with
    # the log. The button below (``verify_audit``) walks all of it.
    return _home(request, audit.verify_recent())


@require_POST
@staff_required
def verify_audit(request: HttpRequest) -> HttpResponse:
    """Walk the whole audit chain now (as ``manage.py verify_audit_log`` does). Audited."""
    result = audit.verify_full()
    audit.record(
        actor=_actor(request),
        action="audit.verify",
        data={"checked": result.checked, "ok": result.ok},
    )
    return _home(request, result)


@sensitive_post_parameters()
@require_POST
@staff_required
def search(request: HttpRequest) -> HttpResponse:
    form = SubjectForm(request.POST)
    if not form.is_valid():
        return render(request, "dpo/home.html", {"form": form, "audit": None}, status=400)
    match = gdpr.find_subject(form.subject())
    audit.record(
        actor=_actor(request),
        action="subject.search",
        data={"tickets": [str(i) for i in match.ticket_public_ids]},
    )
    return render(
        request,
        "dpo/results.html",
        {
            "form": form,
            "match": match,
            "step_up": step_up_fresh(request),
            "languages": settings.LANGUAGES,
            "export_language": gdpr.export_language(match, fallback=get_language()),
        },
    )


@sensitive_post_parameters()
@require_POST
@staff_required
def access_report(request: HttpRequest) -> HttpResponse:
    form = SubjectForm(request.POST)
    if not form.is_valid():
        return render(request, "dpo/home.html", {"form": form, "audit": None}, status=400)
    match = gdpr.find_subject(form.subject())
    rows = gdpr.access_report(match=match)
    return render(request, "dpo/access_report.html", {"rows": rows, "match": match})


@sensitive_post_parameters()
@require_POST
@staff_required
def export(request: HttpRequest) -> HttpResponse:
    form = ExportForm(request.POST)
    if not form.is_valid():
        return render(request, "dpo/home.html", {"form": form, "audit": None}, status=400)
    if not _step_up(request, form.cleaned_data.get("password") or ""):
        return render(
            request,
            "dpo/step_up.html",
            {"form": form, "action": "dpo:export", "wrong": bool(form.cleaned_data["password"])},
            status=403,
        )
    issued = gdpr.export_subject(
        subject=form.subject(),
        requested_by=request.user,  # type: ignore[arg-type]  # staff_required: a real user
        actor=_actor(request),
        language=form.cleaned_data["language"] or None,
    )
    return render(request, "dpo/export_ready.html", {"issued": issued})


@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
@staff_required
def export_download(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    if request.method == "GET":
        return render(
            request, "dpo/export_download.html", {"form": DownloadForm(), "public_id": public_id}
        )
    form = DownloadForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "dpo/export_download.html",
            {"form": form, "public_id": public_id},
            status=400,
        )
    try:
        archive = gdpr.download_export(
            export_ref=str(public_id), code=form.cleaned_data["code"], actor=_actor(request)
        )
    except LinkExpired as exc:
        return render(request, "dpo/error.html", {"error": exc}, status=exc.status)
    response = HttpResponse(archive, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="export-{public_id}.zip"'
    response["Cache-Control"] = "no-store"
    return response


@sensitive_post_parameters()
@require_POST
@staff_required
def erase(request: HttpRequest) -> HttpResponse:
    form = EraseForm(request.POST)
    if not form.is_valid():
        return render(request, "dpo/home.html", {"form": form, "audit": None}, status=400)
    subject = form.subject()
    match = gdpr.find_subject(subject)
    replies = reply_deletion.count_subject_replies(match=match, subject=subject)
    chosen = [p for p in form.cleaned_data.get("delete_replies") or [] if p in replies]
    context: dict[str, Any] = {
        "form": form,
        "match": match,
        "step_up": step_up_fresh(request),
        "replies": [
            {"platform": p, "label": label, "count": replies[p], "chosen": p in chosen}
            for p, label in REPLY_PLATFORMS
            if p in replies
        ],
    }
    if not form.cleaned_data.get("confirm"):
        return render(request, "dpo/erase_confirm.html", context)
    if not _step_up(request, form.cleaned_data.get("password") or ""):
        context["wrong"] = True
        return render(request, "dpo/erase_confirm.html", context, status=403)
    report = gdpr.erase_subject(subject=subject, actor=_actor(request), delete_replies_on=chosen)
    deletions = (
        reply_deletion.list_deletions(erasure_id=report.erasure_id)
        if report.reply_deletions and report.erasure_id
        else []
    )
    return render(request, "dpo/erase_done.html", {"report": report, "deletions": deletions})


@require_GET
@staff_required
def reply_deletions(request: HttpRequest, erasure_id: uuid.UUID | None = None) -> HttpResponse:
    """What became of the public replies erasures asked to delete (one erasure, or all)."""
    rows = reply_deletion.list_deletions(erasure_id=erasure_id)
    if erasure_id is not None and not rows:
        raise Http404
    return render(request, "dpo/reply_deletions.html", {"rows": rows, "erasure_id": erasure_id})


@require_GET
@staff_required
def ropa(request: HttpRequest) -> HttpResponse:
    data = gdpr.build_ropa()
    if request.GET.get("format") == "json":
        response = JsonResponse(data, json_dumps_params={"indent": 2, "ensure_ascii": False})
        response["Content-Disposition"] = 'attachment; filename="ropa.json"'
        return response
    return render(request, "dpo/ropa.html", {"ropa": data})


@require_http_methods(["GET", "POST"])
@staff_required
def breach(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "dpo/breach.html", {"form": BreachForm()})
    form = BreachForm(request.POST)
    if not form.is_valid():
        return render(request, "dpo/breach.html", {"form": form}, status=400)
    data = form.cleaned_data
    actor = None
    if data.get("username"):
        user = get_user_model().objects.filter(username=data["username"]).first()
        if user is None:
            form.add_error("username", _("No account has that username."))
            return render(request, "dpo/breach.html", {"form": form}, status=400)
        actor = audit.Actor.user(user.pk)
    impact = gdpr.affected_subjects(
        start=data["since"],
        end=data.get("until") or timezone.now(),
        actor=actor,
        kid=data.get("kid") or None,
    )
    audit.record(
        actor=_actor(request),
        action="breach.query",
        data={"tickets": len(impact.tickets), "kid": data.get("kid") or ""},
    )
    return render(request, "dpo/breach.html", {"form": form, "impact": impact})
