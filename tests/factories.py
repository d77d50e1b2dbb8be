"""Factories for tests. Synthetic data only (see shared/pii/)."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.utils import timezone

from channels_bridge.simulator import RunningSimulator
from inbox import services, vault
from inbox.models import Channel, ChannelPolicy, Membership, Platform, Role, Team, Ticket

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
