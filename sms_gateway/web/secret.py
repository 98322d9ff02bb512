"""The key that signs session cookies: from the config, else made once and kept on disk so
restarts (and every node sharing the data folder) keep operators logged in."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sms_gateway.config import Config

FILE_NAME = "web_secret"


def session_secret(config: Config) -> str:
    if config.web.secret_key:
        return config.web.secret_key
    path = Path(config.data_dir) / FILE_NAME
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return _read(path)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_urlsafe(48) + "\n")
    return _read(path)


def _read(path: Path) -> str:
    value = path.read_text(encoding="ascii").strip()
    if len(value) < 32:
        raise ValueError(f"{path} holds no usable secret; delete it to make a new one")
    return value
