"""Worker tasks keep their database connection as CONN_MAX_AGE says, not one per task."""

from __future__ import annotations

import time

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from config.celery import app, close_old_connections
from inbox import tasks

pytestmark = pytest.mark.django_db(transaction=True)


def test_celery_fixup_leaves_connections_open_around_a_task() -> None:
    task = tasks.sweep
    connection.ensure_connection()
    kept = connection.connection

    fixup = DjangoWorkerFixup(app)
    fixup.on_task_prerun(sender=task)
    fixup.on_task_postrun(sender=task)

    assert connection.connection is kept


def test_a_young_connection_is_kept_and_an_old_one_closed() -> None:
    task = tasks.sweep
    connection.ensure_connection()
    kept = connection.connection
    connection.close_at = time.monotonic() + 60  # as CONN_MAX_AGE = 60 sets it

    close_old_connections(sender=task)
    assert connection.connection is kept

    connection.close_at = time.monotonic() - 1  # past CONN_MAX_AGE (0 closes at once)
    close_old_connections(sender=task)
    assert connection.connection is None


def test_an_eager_task_never_closes_its_callers_connection() -> None:
    task = tasks.sweep
    connection.ensure_connection()
    kept = connection.connection
    connection.close_at = time.monotonic() - 1

    task.push_request(is_eager=True)
    try:
        close_old_connections(sender=task)
    finally:
        task.pop_request()

    assert connection.connection is kept
