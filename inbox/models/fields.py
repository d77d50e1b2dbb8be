"""Model fields of our own."""

from __future__ import annotations

from typing import NoReturn

from django.db import models


class CiphertextField(models.BinaryField):
    """Bytes sealed by ``inbox.vault``: a ``bytea`` column, as ``BinaryField``.

    ``BinaryField.get_placeholder`` exists for MySQL, which needs a ``_binary`` prefix; on
    PostgreSQL and SQLite it returns a bare ``%s``. Its mere presence turns off Django's
    UNNEST form of ``bulk_create`` on PostgreSQL (one array per column instead of one
    placeholder per value) for the whole model, and every model holding ciphertext is bulk
    inserted in the pipeline's batches. Hiding the method changes no SQL on the databases
    Haven supports.
    """

    @property
    def get_placeholder(self) -> NoReturn:
        raise AttributeError("get_placeholder")
