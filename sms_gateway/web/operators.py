"""Operators of the web console: creating them, reading a new password, checking one."""

from __future__ import annotations

import datetime as dt
import getpass
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from storage.tables.console import operators

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,59}")
# Checked when the username is unknown, so a guesser cannot tell users apart by response time.
_DECOY_HASH = generate_password_hash("no such operator")


class OperatorError(ValueError):
    """An operator that cannot be added: bad username, weak password, name taken."""


@dataclass(frozen=True)
class Operator:
    id: int
    username: str
    language: str | None = None  # their own choice of the console's language, if they made one


def canonical_username(raw: str) -> str:
    """Usernames are case-insensitive: `Anna` and `anna` are one operator."""
    return raw.strip().lower()


def add_operator(conn: Connection, username: str, password: str, now: dt.datetime) -> Operator:
    """Create an active operator; raises OperatorError."""
    name = canonical_username(username)
    if not _USERNAME.fullmatch(name):
        raise OperatorError("a username is 1-60 of a-z, 0-9, '.', '_', '-', starting with a"
                            " letter or digit")
    check_password_strength(password)
    try:
        with conn.begin_nested():
            new_id = conn.execute(operators.insert().values(
                username=name, password_hash=generate_password_hash(password),
                created_at=now, active=True)).inserted_primary_key[0]
    except IntegrityError as exc:
        raise OperatorError(f"operator {name!r} already exists") from exc
    return Operator(new_id, name)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise OperatorError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise OperatorError(f"a password has at most {MAX_PASSWORD} characters")


def authenticate(conn: Connection, username: str, password: str) -> Operator | None:
    """The active operator with this password, or None (same work whether the name exists)."""
    row = conn.execute(select(operators.c.id, operators.c.username, operators.c.password_hash)
                       .where(operators.c.username == canonical_username(username),
                              operators.c.active)).first()
    ok = check_password_hash(row.password_hash if row else _DECOY_HASH, password[:MAX_PASSWORD])
    return Operator(row.id, row.username) if row and ok else None


def active_operator(conn: Connection, username: str) -> Operator | None:
    """Read on every request, so deactivating an operator ends their open sessions too."""
    row = conn.execute(select(operators.c.id, operators.c.username, operators.c.language)
                       .where(operators.c.username == username, operators.c.active)).first()
    return Operator(row.id, row.username, row.language) if row else None


def read_password(stream: TextIO, is_tty: bool,
                  prompt: Callable[[str], str] = getpass.getpass) -> str:
    """The new password: typed twice at a terminal, else the first line of `stream`, so
    `permit-gateway operators add anna < secret.txt` works from scripts."""
    if is_tty:
        password = prompt("Password: ")
        if prompt("Repeat the password: ") != password:
            raise OperatorError("the two passwords differ")
    else:
        password = stream.readline().rstrip("\r\n")
    check_password_strength(password)
    return password
