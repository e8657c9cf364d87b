"""The instance's secret key, and the signed tokens made with it.

Beside the state database. Sessions, CSRF tokens, feed URLs and unsubscribe
links are signed with one key, generated once and kept in the instance
directory (``secret_key``, readable by its owner only), so the web server,
``newsdesk alerts run`` and the scheduler all agree on what they signed.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from search.errors import NotFound
from search.settings import Settings

KEY_FILE = "secret_key"


def secret_key(settings: Settings) -> str:
    """The key, created on first use (atomically: two processes agree on one key)."""
    path = settings.index / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _create(path, secrets.token_hex(32))
    return path.read_text(encoding="ascii").strip()


def _create(path: Path, key: str) -> None:
    temporary = path.with_name(f".{KEY_FILE}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(key + "\n")
    try:
        os.link(temporary, path)  # fails if another process made the key first: theirs wins
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def sign(settings: Settings, purpose: str, value: Any) -> str:
    """A URL-safe token carrying ``value``, valid only for ``purpose``."""
    return URLSafeSerializer(secret_key(settings), salt=purpose).dumps(value)


def unsign(settings: Settings, purpose: str, token: str) -> Any:
    """The value of a token made by ``sign``; ``NotFound`` for anything else."""
    try:
        return URLSafeSerializer(secret_key(settings), salt=purpose).loads(token)
    except BadSignature as e:
        raise NotFound("no such feed or link", hint="the address may have been revoked or mistyped") from e
