"""Channel admin pages: connect a social account, review its terms, edit its policy, preview.

Admins are staff (every team) or members with the admin role (their teams). Whether a user may
see a channel is decided only by ``channels_for_admin``/``get_channel_for_admin``; missing and
forbidden are both 404. Destructive policy changes need a step-up (SECURITY-DESIGN.md §4).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inbox import audit
from inbox.dpo import STEP_UP_KEY, step_up_fresh
from inbox.exceptions import HavenError, TermsNotReviewed
from inbox.forms_channels import ConnectForm, CredentialsForm, PolicyForm, TermsReviewForm
from inbox.models import Channel, ChannelStatus, Membership, Platform, Role, Team
from inbox.services import channels as channel_services
from inbox.services import envelopes as envelope_services
from inbox.services.retention import effective_retention_days

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]
CREDENTIAL_FIELDS = (
    "page_access_token",
    "app_secret",
    "consumer_key",
    "consumer_secret",
    "access_token",
    "access_token_secret",
    "oauth2_client_secret",
    "password",
)


# --- access (selector-style: the only place that decides who may manage which channel) ------


def admin_teams(*, user: Any) -> QuerySet[Team]:
    """The teams whose channels ``user`` may manage: all for staff, else where they are admin."""
    if not (user.is_authenticated and user.is_active):
        return Team.objects.none()
    if user.is_staff:
        return Team.objects.all()
    return Team.objects.filter(
        pk__in=Membership.objects.filter(user_id=user.pk, role=Role.ADMIN).values("team_id")
    )


def channels_for_admin(*, user: Any) -> QuerySet[Channel]:
    return (
        Channel.objects.filter(team__in=admin_teams(user=user))
        .select_related("team", "policy", "terms_reviewed_by")
        .order_by("team__name", "name")
    )


def get_channel_for_admin(*, user: Any, channel_ref: uuid.UUID) -> Channel:
    """The channel, or Http404 when it is missing or not this admin's (the same answer)."""
    channel = channels_for_admin(user=user).filter(public_id=channel_ref).first()
    if channel is None:
        raise Http404("channel not found")
    return channel


def admin_required(view: View) -> View:
    """Anonymous: the login page. Signed in but admin of no team: 404."""

    @login_required
    @never_cache
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not admin_teams(user=request.user).exists():
            raise Http404
        try:
            return view(request, *args, **kwargs)
        except HavenError as exc:
            logger.info("channel admin refused code=%s", exc.code)
            return render(request, "channels/error.html", {"error": exc}, status=exc.status)

    return wrapped


def _admin(request: HttpRequest) -> AbstractBaseUser:
    """The signed-in admin (``admin_required`` ran first)."""
    user = request.user
    if not isinstance(user, AbstractBaseUser):
        raise Http404
    return user


def _allow_api_base_url() -> bool:
    # A custom API host sends the channel's credentials there: development and demo only.
    return bool(settings.DEBUG)


def _is_fetch(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def _check_step_up(request: HttpRequest, password: str) -> bool:
    """True when the password was entered in the last five minutes, or is right now."""
    if step_up_fresh(request):
        return True
    user = request.user
    if not password or not user.check_password(password):
        if password:
            audit.record(actor=audit.Actor.user(user.pk), action="auth.step_up_failed")
        return False
    request.session[STEP_UP_KEY] = time.time()
    audit.record(actor=audit.Actor.user(user.pk), action="auth.step_up")
    return True


def webhook_url(channel: Channel) -> str:
    path = reverse("webhook", args=[channel.platform, channel.public_id])
    return f"{settings.HAVEN_BASE_URL}{path}"


def _health(channel: Channel) -> dict[str, Any]:
    now = timezone.now()
    return {
        "rate_limited": bool(channel.rate_limited_until and channel.rate_limited_until > now),
        "needs_reauth": channel.status == ChannelStatus.NEEDS_REAUTH,
    }


def _detail_context(channel: Channel, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "channel": channel,
        "health": _health(channel),
        "webhook_url": webhook_url(channel),
        "terms_form": TermsReviewForm(),
        "is_x": channel.platform == Platform.X,
        "retention_in_force": effective_retention_days(channel.policy),
        "quarantined": envelope_services.quarantined_count(channel=channel),
    }
    context.update(extra)
    return context


# --- pages -------------------------------------------------------------------------------


@require_GET
@admin_required
def channel_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "channels/list.html",
        {"channels": channels_for_admin(user=request.user), "platforms": Platform.choices},
    )


@sensitive_post_parameters(*CREDENTIAL_FIELDS)
@require_http_methods(["GET", "POST"])
@admin_required
def connect(request: HttpRequest, platform: str) -> HttpResponse:
    if platform not in Platform.values:
        raise Http404
    teams = list(admin_teams(user=request.user))
    form = ConnectForm(
        request.POST or None,
        platform=platform,
        teams=teams,
        allow_api_base_url=_allow_api_base_url(),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            channel = channel_services.create_channel(
                team=data["team"],
                platform=platform,
                name=data["name"],
                external_account_id=data["external_account_id"],
                credentials=form.credentials(account_id=data["external_account_id"]),
                created_by=_admin(request),
                api_base_url=data.get("api_base_url") or "",
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            return HttpResponseRedirect(reverse("channel_admin:detail", args=[channel.public_id]))
    return render(
        request,
        "channels/connect.html",
        {"form": form, "platform": platform, "platform_name": Platform(platform).label},
        status=400 if form.errors else 200,
    )


@require_GET
@admin_required
def detail(request: HttpRequest, channel_ref: uuid.UUID) -> HttpResponse:
    channel = get_channel_for_admin(user=request.user, channel_ref=channel_ref)
    return render(request, "channels/detail.html", _detail_context(channel))


@require_POST
@admin_required
def test_connection(request: HttpRequest, channel_ref: uuid.UUID) -> HttpResponse:
    channel = get_channel_for_admin(user=request.user, channel_ref=channel_ref)
    check = channel_services.check_channel_connection(channel=channel, checked_by=_admin(request))
    return render(request, "channels/detail.html", _detail_context(channel, check=check))


@require_POST
@admin_required
def review_terms(request: HttpRequest, channel_ref: uuid.UUID) -> HttpResponse:
    channel = get_channel_for_admin(user=request.user, channel_ref=channel_ref)
    form = TermsReviewForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "channels/detail.html",
            _detail_context(channel, terms_form=form),
            status=400,
        )
    channel_services.record_terms_review(
        channel=channel, reviewer=_admin(request), notes=form.cleaned_data["notes"]
    )
    return HttpResponseRedirect(reverse("channel_admin:detail", args=[channel.public_id]))


@require_POST
@admin_required
def enable(request: HttpRequest, channel_ref: uuid.UUID) -> HttpResponse:
    channel = get_channel_for_admin(user=request.user, channel_ref=channel_ref)
    try:
        channel_services.enable_channel(channel=channel, enabled_by=_admin(request))
    except TermsNotReviewed as exc:
        # Refused on the page that holds the terms form, so the way forward is right there.
        return render(
            request,
            "channels/detail.html",
            _detail_context(channel, enable_error=exc.message),
            status=exc.status,
        )
    return HttpResponseRedirect(reverse("channel_admin:detail", args=[channel.public_id]))


@require_POST
@admin_required
def pause(request: HttpRequest, channel_ref: uuid.UUID) -> HttpResponse:
    channel = get_channel_for_admin(user=request.user, channel_ref=channel_ref)
    channel_services.pause_channel(channel=channel, paused_by=_admin(request))
    return HttpResponseRedirect(reverse("channel_admin:detail", args=[channel.public_id]))


@require_POST
@admin_required
def reprocess(request: HttpRequest, channel_ref: uuid.UUID) -> HttpResponse:
    """Parse the channel's quarantined webhook bodies again (after a parser fix); audited."""
    channel = get_channel_for_admin(user=request.user, channel_ref=channel_ref)
    report = envelope_services.reprocess_envelopes(
        actor=audit.Actor.user(request.user.pk), channel=channel
    )
    return render(request, "channels/detail.html", _detail_context(channel, reprocessed=report))


@sensitive_post_parameters(*CREDENTIAL_FIELDS)
@require_http_methods(["GET", "POST"])
@admin_required
def credentials(request: HttpRequest, channel_ref: uuid.UUID) -> HttpResponse:
    channel = get_channel_for_admin(user=request.user, channel_ref=channel_ref)
    form = CredentialsForm(request.POST or None, platform=channel.platform)
    if request.method == "POST" and form.is_valid():
        channel_services.set_channel_credentials(
            channel=channel,
            credentials=form.credentials(account_id=channel.external_account_id),
            changed_by=_admin(request),
        )
        return HttpResponseRedirect(reverse("channel_admin:detail", args=[channel.public_id]))
    return render(
        request,
        "channels/credentials.html",
        {"form": form, "channel": channel, "health": _health(channel)},
        status=400 if form.errors else 200,
    )


def _policy_page(
    request: HttpRequest,
    channel: Channel,
    form: PolicyForm,
    *,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    context = {
        "channel": channel,
        "form": form,
        "is_x": channel.platform == Platform.X,
        "retention_in_force": effective_retention_days(channel.policy),
        "step_up_fresh": step_up_fresh(request),
        **extra,
    }
    return render(request, "channels/policy.html", context, status=status)


@sensitive_post_parameters("password", "sample")
@require_http_methods(["GET", "POST"])
@admin_required
def policy(request: HttpRequest, channel_ref: uuid.UUID) -> HttpResponse:
    channel = get_channel_for_admin(user=request.user, channel_ref=channel_ref)
    if request.method == "GET":
        initial = PolicyForm.initial_for(
            channel.policy, poll_interval_seconds=channel.poll_interval_seconds
        )
        return _policy_page(
            request, channel, PolicyForm(initial=initial, platform=channel.platform)
        )
    form = PolicyForm(request.POST, platform=channel.platform)
    if not form.is_valid():
        return _policy_page(request, channel, form, status=400)
    changes = form.changes(current_x_reply_style=channel.policy.x_reply_style)
    destructive = channel_services.destructive_changes(channel=channel, changes=changes)
    stepped_up = bool(destructive) and _check_step_up(
        request, form.cleaned_data.get("password") or ""
    )
    if destructive and not stepped_up:
        form.add_error(
            "password",
            channel_services.StepUpRequired.message,
        )
        return _policy_page(request, channel, form, status=403, destructive=destructive)
    try:
        update = channel_services.update_policy(
            channel=channel, changes=changes, changed_by=_admin(request), stepped_up=stepped_up
        )
    except ValidationError as exc:
        for message in exc.messages:
            form.add_error(None, message)
        return _policy_page(request, channel, form, status=400)
    channel.refresh_from_db()
    channel.policy.refresh_from_db()
    initial = PolicyForm.initial_for(
        channel.policy, poll_interval_seconds=channel.poll_interval_seconds
    )
    return _policy_page(
        request,
        channel,
        PolicyForm(initial=initial, platform=channel.platform),
        saved=update,
    )


@sensitive_post_parameters("password", "sample")
@require_POST
@admin_required
def preview(request: HttpRequest, channel_ref: uuid.UUID) -> HttpResponse:
    """Scan a pasted sample under the submitted (unsaved) policy. Stores and logs nothing."""
    channel = get_channel_for_admin(user=request.user, channel_ref=channel_ref)
    form = PolicyForm(request.POST, platform=channel.platform)
    if not form.is_valid() or not form.cleaned_data.get("sample"):
        if not form.errors:
            form.add_error("sample", "Paste a sample message to preview.")
        if _is_fetch(request):
            errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
            return JsonResponse({"type": "error", "errors": errors}, status=400)
        return _policy_page(request, channel, form, status=400)
    current_style = channel.policy.x_reply_style
    result = channel_services.preview_policy(
        channel=channel,
        policy=form.policy_view(current_x_reply_style=current_style),
        templates=form.templates(),
        support_cues=tuple(channel.policy.support_cues or ()),
        sample=form.cleaned_data["sample"],
        kind=form.cleaned_data["sample_kind"],
    )
    if _is_fetch(request):
        return JsonResponse(
            {
                "type": "preview",
                "findings": [asdict(f) for f in result.findings],
                "decision": result.decision.as_json(),
                "language": result.language,
                "reply_text": result.reply_text,
                "cost": f"{result.decision.estimated_cost_usd:.3f}",
                "reply_cost": f"{result.reply_cost_usd:.3f}",
                "private_cost": f"{result.private_cost_usd:.3f}",
                "template_problems": list(result.template_problems),
            }
        )
    return _policy_page(request, channel, form, preview=result)
