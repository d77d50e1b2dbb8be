"""Channel services behind the admin pages: policy updates, step-up, connection check, preview."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from channels_bridge.simulator import RunningSimulator
from inbox import services
from inbox.exceptions import TermsNotReviewed
from inbox.models import (
    AuditEvent,
    Channel,
    ChannelPolicy,
    ChannelStatus,
    Platform,
    PolicyMode,
    Team,
)
from inbox.models.social import RETENTION_GRACE_DAYS
from inbox.policies import PolicyView
from inbox.services import channels as channel_services
from inbox.services.channels import PolicyChanges, StepUpRequired
from inbox.services.retention import effective_retention_days
from tests import factories

pytestmark = pytest.mark.django_db

EMAIL_TEXT = "where is my order? mail me at jana.beispiel@example.org"


def _changes(channel: Channel, **overrides: object) -> PolicyChanges:
    policy = ChannelPolicy.objects.get(channel=channel)
    values: dict[str, object] = {
        "mode": policy.mode,
        "trigger_labels": tuple(policy.trigger_labels),
        "min_score": policy.min_score,
        "hide_original": policy.hide_original,
        "send_private_link": policy.send_private_link,
        "reply_templates": dict(policy.reply_templates),
        "x_reply_style": policy.x_reply_style,
        "retention_days": policy.retention_days,
        "poll_interval_seconds": channel.poll_interval_seconds,
    }
    values.update(overrides)
    return PolicyChanges(**values)  # type: ignore[arg-type]  # test helper: keys match


def test_enable_channel_refuses_before_terms_review(team: Team) -> None:
    channel = factories.make_channel(team=team)

    with pytest.raises(TermsNotReviewed):
        services.enable_channel(channel=channel, enabled_by=None)

    assert Channel.objects.get(pk=channel.pk).status == ChannelStatus.DRAFT


def test_update_policy_changes_fields_and_audits_names_only(x_channel: Channel) -> None:
    admin = factories.UserFactory()
    template = "Schreiben Sie uns: {link} ({ref})"

    update = channel_services.update_policy(
        channel=x_channel,
        changes=_changes(
            x_channel, trigger_labels=("PHONE",), reply_templates={"link:de": template}
        ),
        changed_by=admin,
        stepped_up=False,
    )

    assert set(update.changed) == {"trigger_labels", "reply_templates"}
    assert ChannelPolicy.objects.get(channel=x_channel).trigger_labels == ["PHONE"]
    event = AuditEvent.objects.get(action="policy.update")
    assert event.data["fields"] == ["trigger_labels", "reply_templates"]
    assert "Schreiben" not in str(event.data)


def test_update_policy_without_changes_audits_nothing(x_channel: Channel) -> None:
    update = channel_services.update_policy(
        channel=x_channel,
        changes=_changes(x_channel),
        changed_by=factories.UserFactory(),
        stepped_up=False,
    )

    assert update.changed == ()
    assert not AuditEvent.objects.filter(action="policy.update").exists()


def test_update_policy_refuses_redirect_off_without_step_up(x_channel: Channel) -> None:
    with pytest.raises(StepUpRequired):
        channel_services.update_policy(
            channel=x_channel,
            changes=_changes(x_channel, mode=PolicyMode.OBSERVE),
            changed_by=factories.UserFactory(),
            stepped_up=False,
        )

    assert ChannelPolicy.objects.get(channel=x_channel).mode == PolicyMode.REDIRECT_ON_PII


def test_update_policy_schedules_shorter_retention_after_grace_period(
    x_channel: Channel,
) -> None:
    before = timezone.now()

    update = channel_services.update_policy(
        channel=x_channel,
        changes=_changes(x_channel, retention_days=14),
        changed_by=factories.UserFactory(),
        stepped_up=True,
    )

    policy = ChannelPolicy.objects.get(channel=x_channel)
    assert update.retention is not None
    assert policy.pending_retention_days == 14
    assert policy.pending_retention_effective_at is not None
    assert policy.pending_retention_effective_at >= before + timedelta(days=RETENTION_GRACE_DAYS)
    assert effective_retention_days(policy) == 90


def test_update_policy_keeping_a_scheduled_retention_is_not_destructive(
    x_channel: Channel,
) -> None:
    admin = factories.UserFactory()
    channel_services.update_policy(
        channel=x_channel,
        changes=_changes(x_channel, retention_days=14),
        changed_by=admin,
        stepped_up=True,
    )
    x_channel.refresh_from_db()
    effective_at = ChannelPolicy.objects.get(channel=x_channel).pending_retention_effective_at

    channel_services.update_policy(
        channel=x_channel,
        changes=_changes(x_channel, retention_days=14, min_score=0.8),
        changed_by=admin,
        stepped_up=False,
    )

    policy = ChannelPolicy.objects.get(channel=x_channel)
    assert policy.pending_retention_effective_at == effective_at
    assert policy.min_score == 0.8


def test_update_policy_rejects_invalid_template(x_channel: Channel) -> None:
    with pytest.raises(ValidationError):
        channel_services.update_policy(
            channel=x_channel,
            changes=_changes(x_channel, reply_templates={"link:en": "no link here {ref}"}),
            changed_by=factories.UserFactory(),
            stepped_up=False,
        )

    assert ChannelPolicy.objects.get(channel=x_channel).reply_templates == {}


def test_update_policy_rejects_poll_interval_below_minimum(x_channel: Channel) -> None:
    with pytest.raises(ValidationError):
        channel_services.update_policy(
            channel=x_channel,
            changes=_changes(x_channel, poll_interval_seconds=5),
            changed_by=factories.UserFactory(),
            stepped_up=False,
        )


def test_check_channel_connection_reports_account(x_channel: Channel) -> None:
    check = channel_services.check_channel_connection(
        channel=x_channel, checked_by=factories.UserFactory()
    )

    assert check.ok
    assert check.report is not None
    assert check.report.account_id == x_channel.external_account_id


def test_check_channel_connection_turns_expired_token_into_a_message(
    x_channel: Channel, simulator: RunningSimulator
) -> None:
    simulator.sim.expire_tokens("x")

    check = channel_services.check_channel_connection(
        channel=x_channel, checked_by=factories.UserFactory()
    )

    assert not check.ok
    assert check.error_code == "AuthExpired"
    assert AuditEvent.objects.get(action="channel.connection_checked").data == {
        "ok": False,
        "error": "AuthExpired",
    }


def test_preview_policy_facebook_comment_hides_and_costs_nothing(team: Team) -> None:
    channel = factories.make_channel(team=team, platform=Platform.FACEBOOK)

    preview = channel_services.preview_policy(
        channel=channel,
        policy=PolicyView(),
        templates={},
        support_cues=(),
        sample=EMAIL_TEXT,
        kind="comment",
    )

    assert [f.entity for f in preview.findings] == ["EMAIL"]
    assert preview.findings[0].value == "jana.beispiel@example.org"
    assert "jana" not in repr(preview.findings[0])
    assert preview.decision.redirect
    assert preview.decision.hide
    assert channel_services.PREVIEW_LINK in preview.reply_text
    assert preview.decision.estimated_cost_usd == 0.0


def test_preview_policy_observe_mode_posts_nothing(team: Team) -> None:
    channel = factories.make_channel(team=team, platform=Platform.X)

    preview = channel_services.preview_policy(
        channel=channel,
        policy=PolicyView(mode=PolicyMode.OBSERVE),
        templates={},
        support_cues=(),
        sample=EMAIL_TEXT,
        kind="mention",
    )

    assert not preview.decision.public_reply
    assert preview.reply_text == ""
    assert preview.decision.estimated_cost_usd == 0.0


def test_preview_policy_x_ask_dm_uses_the_cheaper_post(team: Team) -> None:
    channel = factories.make_channel(team=team, platform=Platform.X)

    preview = channel_services.preview_policy(
        channel=channel,
        policy=PolicyView(x_reply_style="ask_dm"),
        templates={"ask_dm:en": "Please send us a DM about {ref}."},
        support_cues=(),
        sample=EMAIL_TEXT,
        kind="mention",
    )

    assert preview.reply_text == "Please send us a DM about HV-PREVIEW."
    assert preview.reply_cost_usd == pytest.approx(0.015)
    assert not preview.decision.send_private
