"""App configuration: checks the vault's keys at start-up so a bad key fails fast, and
registers the system checks."""

from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Haven inbox"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from inbox import checks, vault  # noqa: F401 - importing checks registers them

        # Parsing the keyring here makes a malformed HAVEN_MASTER_KEYS stop the process at
        # start-up rather than halfway through a request.
        vault.keyring()
