"""Celery application. Reliability settings follow SECURITY-DESIGN.md §7."""

from __future__ import annotations

import logging
import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("haven", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def use_django_logging(loglevel: int | str | None = None, **kwargs: object) -> None:
    """Workers and beat log through Django's ``LOGGING`` only (STYLE.md §6).

    Connected, this replaces Celery's own set-up, which would give the ``celery.task`` and
    multiprocessing loggers handlers of their own whose formatters print exception messages
    (SECURITY-DESIGN.md §8). ``--loglevel`` still sets the level, as Celery would.
    """
    from django.conf import settings
    from django.utils.log import configure_logging

    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)
