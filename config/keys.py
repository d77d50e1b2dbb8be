"""Write a development key file with generated secrets: ``python -m config.keys [PATH]``.

Only for development and the demo: production sets these variables in its environment (or a
secrets manager). Existing values are kept, so running this twice changes nothing.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from pathlib import Path

DEFAULT_PATH = Path(__file__).resolve().parent.parent / ".haven-keys.env"


def generated_values() -> dict[str, str]:
    return {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "HAVEN_MASTER_KEYS": "k1:" + base64.b64encode(os.urandom(32)).decode(),
        "HAVEN_PEPPER": secrets.token_urlsafe(32),
    }


def ensure_keyfile(path: Path = DEFAULT_PATH) -> list[str]:
    """Add any missing generated secret to ``path``; return the names that were added."""
    existing: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            name, sep, value = line.partition("=")
            if sep and not name.startswith("#"):
                existing[name.strip()] = value.strip()
    added = [name for name in generated_values() if not existing.get(name)]
    if not added:
        return []
    fresh = generated_values()
    existing.update({name: fresh[name] for name in added})
    body = "# Generated development secrets. Never commit this file.\n" + "".join(
        f"{name}={value}\n" for name, value in existing.items()
    )
    path.write_text(body, encoding="utf-8")
    path.chmod(0o600)
    return added


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH
    added = ensure_keyfile(path)
    message = f"wrote {', '.join(added)} to {path}" if added else f"{path} is complete"
    sys.stdout.write(message + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
