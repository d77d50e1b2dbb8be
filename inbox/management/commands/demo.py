"""``manage.py demo``: seed a demo organisation, print the sign-ins, and serve the app."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from inbox.models import Membership, Role, Team


class Command(BaseCommand):
    help = "Seed a demo organisation (team, admin, agent) and serve Haven with uvicorn."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="Seed and print, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        passwords = self._seed()
        self.stdout.write(self.style.SUCCESS("Haven demo is ready."))
        base = f"http://{options['host']}:{options['port']}"
        self.stdout.write(f"  Inbox:  {base}/")
        self.stdout.write(f"  Admin:  {base}/admin/")
        for username, password in passwords.items():
            self.stdout.write(f"  Sign in as {username!r} with password {password!r}")
        if options["no_serve"]:
            return
        import uvicorn

        uvicorn.run(
            "config.asgi:application",
            host=options["host"],
            port=options["port"],
            log_level="info",
            lifespan="off",
        )

    @transaction.atomic
    def _seed(self) -> dict[str, str]:
        if not settings.DEBUG:
            self.stderr.write("note: DJANGO_DEBUG is off; `make demo` turns it on.")
        user_model = get_user_model()
        team, _ = Team.objects.get_or_create(name="Support")
        passwords: dict[str, str] = {}
        for username, role in (("admin", Role.ADMIN), ("agent", Role.AGENT)):
            user, _ = user_model.objects.get_or_create(username=username)
            password = secrets.token_urlsafe(9)
            user.set_password(password)
            user.is_staff = role == Role.ADMIN
            user.is_superuser = role == Role.ADMIN
            user.save()
            Membership.objects.update_or_create(team=team, user=user, defaults={"role": role})
            passwords[username] = password
        return passwords
