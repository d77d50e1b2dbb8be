"""The one reader of environment variables for settings. Knows nothing of Django."""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping
from pathlib import Path


class ImproperlyConfiguredEnv(RuntimeError):
    """An environment variable is present but unusable, or a required one is missing."""


class Env:
    """Typed access to environment variables, with a local key file as a development fallback.

    The key file (``.haven-keys.env``, written by ``make demo``) holds ``NAME=value`` lines for
    generated secrets; real environment variables always win over it.
    """

    def __init__(self, environ: Mapping[str, str] | None = None, *, keyfile: Path | None = None):
        self._environ: dict[str, str] = {}
        if keyfile is not None and keyfile.is_file():
            self._environ.update(_read_keyfile(keyfile))
        self._environ.update(os.environ if environ is None else environ)
        self.read: set[builtins.str] = set()

    def str(self, name: builtins.str, default: builtins.str = "") -> builtins.str:
        self.read.add(name)
        return self._environ.get(name, default)

    def bool(self, name: builtins.str, default: builtins.bool = False) -> builtins.bool:
        raw = self.str(name, "").strip().lower()
        if not raw:
            return default
        if raw in {"1", "true", "yes", "on"}:
            return True
        if raw in {"0", "false", "no", "off"}:
            return False
        raise ImproperlyConfiguredEnv(f"{name} must be a boolean (true/false), not {raw!r}")

    def int(self, name: builtins.str, default: builtins.int) -> builtins.int:
        raw = self.str(name, "").strip()
        if not raw:
            return default
        try:
            return int(raw)
        except ValueError as exc:
            raise ImproperlyConfiguredEnv(f"{name} must be an integer") from exc

    def list(
        self, name: builtins.str, default: builtins.list[builtins.str] | None = None
    ) -> builtins.list[builtins.str]:
        raw = self.str(name, "")
        if not raw.strip():
            return list(default or [])
        return [part.strip() for part in raw.split(",") if part.strip()]


def _read_keyfile(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip()
    return values
