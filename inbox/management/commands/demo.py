"""``manage.py demo``: seed a demo organisation, run the platform simulator with live customer
traffic, poll it in the background, and serve Haven. One process, no services needed."""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections, transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from channels_bridge.simulator import RunningSimulator, start_simulator
from inbox import services
from inbox.models import Channel, ChannelPolicy, ChannelStatus, Membership, Role, Team
from inbox.services import pipeline

logger = logging.getLogger(__name__)

TICK_SECONDS = 3.0
DEMO_POLL_INTERVAL = 15


class Command(BaseCommand):
    help = (
        "Seed a demo organisation, start the platform simulator with simulated customers on "
        "Facebook and X, poll it in the background, and serve Haven with uvicorn."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--simulator-port", type=int, default=8765)
        parser.add_argument(
            "--traffic-per-minute", type=float, default=8.0, help="Simulated customer messages."
        )
        parser.add_argument("--no-serve", action="store_true", help="Seed and print, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            self.stderr.write("note: DJANGO_DEBUG is off; `make demo` turns it on.")
        admin, passwords = self._seed_people()
        simulator = None
        if not options["no_serve"]:
            simulator = start_simulator(
                options["simulator_port"],
                seed=int(time.time()),
                traffic_per_minute=options["traffic_per_minute"],
            )
            # The database outlives the simulator: new ids must not collide with last run's.
            simulator.sim.skip_ids(int(time.time() * 1000) % 10**12)
            self._connect_channels(simulator, admin)
        base = f"http://{options['host']}:{options['port']}"
        if "HAVEN_BASE_URL" not in os.environ:
            # Redirect links must point at the address this demo serves on.
            settings.HAVEN_BASE_URL = base
        self.stdout.write(self.style.SUCCESS("Haven demo is ready."))
        self.stdout.write(f"  Inbox:      {base}/")
        self.stdout.write(f"  Admin:      {base}/admin/")
        for username, password in passwords.items():
            self.stdout.write(f"  Sign in as {username!r} with password {password!r}")
        codes = _backup_codes(admin)
        self.stdout.write(
            "  The admin needs a second factor: use one of these single-use backup codes, "
            f"or enrol an authenticator app after signing in: {' '.join(codes)}"
        )
        if simulator is None:
            return
        self.stdout.write(
            f"  Simulator:  {simulator.base_url}/_sim/state (simulated Facebook Page and X "
            f"account; about {options['traffic_per_minute']:g} customer messages a minute)"
        )
        self.stdout.write("  New conversations appear in the inbox within a minute.")
        stop = threading.Event()
        ticker = threading.Thread(
            target=_tick_forever, args=(stop,), name="demo-ticker", daemon=True
        )
        ticker.start()
        import uvicorn

        try:
            uvicorn.run(
                "config.asgi:application",
                host=options["host"],
                port=options["port"],
                log_level="info",
                lifespan="off",
            )
        finally:
            stop.set()
            simulator.stop()

    @transaction.atomic
    def _seed_people(self) -> tuple[AbstractUser, dict[str, str]]:
        user_model = get_user_model()
        team, _ = Team.objects.get_or_create(name="Support")
        passwords: dict[str, str] = {}
        users: dict[str, AbstractUser] = {}
        for username, role in (("admin", Role.ADMIN), ("agent", Role.AGENT)):
            user, _ = user_model.objects.get_or_create(username=username)
            password = secrets.token_urlsafe(9)
            user.set_password(password)
            user.is_staff = role == Role.ADMIN
            user.is_superuser = role == Role.ADMIN
            user.email = f"{username}@demo.invalid"
            user.save()
            Membership.objects.update_or_create(team=team, user=user, defaults={"role": role})
            passwords[username] = password
            users[username] = user
        return users["admin"], passwords

    def _connect_channels(self, simulator: RunningSimulator, admin: AbstractUser) -> None:
        team = Team.objects.get(name="Support")
        for platform, name in (("facebook", "Haven Demo Shop (Facebook)"), ("x", "@HavenDemoShop")):
            credentials = simulator.credentials(platform)  # type: ignore[arg-type]
            account = credentials["page_id"] if platform == "facebook" else credentials["user_id"]
            channel = Channel.objects.filter(platform=platform, external_account_id=account).first()
            if channel is None:
                channel = services.create_channel(
                    team=team,
                    platform=platform,
                    name=name,
                    external_account_id=account,
                    credentials=credentials,
                    created_by=admin,
                    api_base_url=simulator.base_url,
                )
                services.record_terms_review(
                    channel=channel,
                    reviewer=admin,
                    notes="Demo: simulated platform, no real terms apply.",
                )
                ChannelPolicy.objects.filter(channel=channel).update(x_reply_style="link")
            else:
                services.set_channel_credentials(
                    channel=channel, credentials=credentials, changed_by=admin
                )
            # The simulator starts empty each run: start reading it from the beginning.
            Channel.objects.filter(pk=channel.pk).update(
                api_base_url=simulator.base_url,
                poll_cursor="",
                poll_interval_seconds=DEMO_POLL_INTERVAL,
                rate_limited_until=None,
            )
            channel.refresh_from_db()
            if channel.status != ChannelStatus.ACTIVE:
                services.enable_channel(channel=channel, enabled_by=admin)


def _backup_codes(user: AbstractUser, count: int = 5) -> list[str]:
    """Fresh single-use backup codes for the demo admin (staff must pass a second factor)."""
    device, _ = StaticDevice.objects.get_or_create(user=user, name="demo backup codes")
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(count)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def _tick_forever(stop: threading.Event) -> None:
    """Poll due channels and sweep, in-process (the demo has no broker and no beat)."""
    while not stop.wait(TICK_SECONDS):
        try:
            pipeline.run_inline(older_than=timedelta(seconds=20))
        except Exception:  # keep the demo alive; logger.exception records the error
            logger.exception("demo tick failed")
        finally:
            close_old_connections()
