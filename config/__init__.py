"""Haven's wiring: settings, URLs, ASGI and Celery. No domain logic lives here."""

from config.celery import app as celery_app

__all__ = ["celery_app"]
