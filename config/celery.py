"""Celery application. Reliability settings follow SECURITY-DESIGN.md §7."""

from __future__ import annotations

import logging
import os

from celery import Celery, Task
from celery.signals import setup_logging, task_postrun, task_prerun

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


@task_prerun.connect
@task_postrun.connect
def close_old_connections(sender: Task | None = None, **kwargs: object) -> None:
    """Give each task a usable database connection, kept between tasks as ``CONN_MAX_AGE`` says.

    Celery's Django fixup would close every connection around every task, so each task paid
    for a new PostgreSQL backend; ``CELERY_DB_REUSE_MAX`` turns that off, and this does what
    Django does around each request instead: close connections older than ``CONN_MAX_AGE``
    (so ``0`` still closes after every task) or broken, and health-check a kept one before its
    first use. Eager tasks run inside their caller's request or transaction: never touched.
    """
    if sender is None or getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections as close

    close()
