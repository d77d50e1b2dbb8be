"""Factories for tests. Synthetic data only (see shared/pii/)."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.utils import timezone

from channels_bridge.simulator import RunningSimulator
from inbox import services, vault
from inbox.models import (
    Channel,
    ChannelPolicy,
    ChannelStatus,
    InboundMessage,
    Membership,
    OutboxAction,
    OutboxKind,
    OutboxState,
    Platform,
    Role,
    Team,
    Ticket,
)

User = AbstractUser
__all__ = ["Channel", "Team", "Ticket", "User"]


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"agent{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def _save(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save()


def agent_of(team: Team, *, role: str = Role.AGENT, **kwargs: object) -> AbstractUser:
    user = UserFactory(**kwargs)
    Membership.objects.create(team=team, user=user, role=role)
    return user


_account = iter(range(10_000_000, 99_999_999))


def make_channel(*, team: Team, platform: str = Platform.X, **kwargs: str) -> Channel:
    return services.create_channel(
        team=team,
        platform=platform,
        name=kwargs.pop("name", "Acme Support"),
        external_account_id=kwargs.pop("external_account_id", str(next(_account))),
        credentials=kwargs.pop("credentials", {"access_token": "synthetic-token"}),
        **kwargs,  # type: ignore[arg-type]
    )


def simulated_channel(
    *, team: Team, simulator: RunningSimulator, platform: str = Platform.X, **policy: object
) -> Channel:
    """An active channel on the simulator's default account, terms reviewed, policy overrides."""
    credentials = simulator.credentials(platform)  # type: ignore[arg-type]
    account = credentials["user_id"] if platform == Platform.X else credentials["page_id"]
    channel = services.create_channel(
        team=team,
        platform=platform,
        name=f"Acme on {platform}",
        external_account_id=account,
        credentials=credentials,
        api_base_url=simulator.base_url,
    )
    reviewer = UserFactory()
    services.record_terms_review(channel=channel, reviewer=reviewer, notes="Synthetic review.")
    services.enable_channel(channel=channel, enabled_by=reviewer)
    if policy:
        ChannelPolicy.objects.filter(channel=channel).update(**policy)
    channel.refresh_from_db()
    return channel


def make_ticket(*, channel: Channel, **kwargs: object) -> Ticket:
    ticket = Ticket.objects.create(
        team=channel.team, channel=channel, last_activity_at=timezone.now(), **kwargs
    )
    vault.create_key(ticket)
    return ticket


def ended_action(
    ticket: Ticket, *, kind: str = OutboxKind.PUBLIC_REPLY, state: str = OutboxState.FAILED
) -> OutboxAction:
    """A platform action of the ticket that ended ``failed`` (or ``unknown``), with its item and
    its text, on a channel switched on: what an agent can retry."""
    assert ticket.channel_id is not None
    Channel.objects.filter(pk=ticket.channel_id).update(status=ChannelStatus.ACTIVE)
    target = f"555-{kind}"
    inbound = InboundMessage.objects.create(
        channel_id=ticket.channel_id,
        platform_message_id=target,
        kind="mention",
        author_external_id="1001",
        platform_created_at=timezone.now(),
        status="processed",
        ticket=ticket,
    )
    action = OutboxAction(
        ticket=ticket,
        channel_id=ticket.channel_id,
        inbound=inbound,
        kind=kind,
        target_external_id=target,
        state=state,
        claimed_at=timezone.now(),
        last_error_message="The platform refused the reply (code 187).",
    )
    action.payload_ciphertext = vault.encrypt(ticket, action, "payload", ticket.reference)
    action.save()
    return action
