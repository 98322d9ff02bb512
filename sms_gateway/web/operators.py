"""Operators of the web console: creating them with a role, changing their password or role,
removing them, reading a new password, checking one.

Changing a password and removing an operator end every session they hold, on every node: the
sessions are rows in the shared database (`web.sessions`), read on every request.
"""

from __future__ import annotations

import datetime as dt
import getpass
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TextIO

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from storage.tables.console import console_sessions, operators

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,59}")
# Checked when the username is unknown, so a guesser cannot tell users apart by response time.
_DECOY_HASH = generate_password_hash("no such operator")


class Role(StrEnum):
    """What an operator may do in the console (docs/deployment.md, "Roles").

    A viewer sees the status page, looks permits up and prints them; an admin also manages
    residents, officers, districts and the quarantine, revokes permits, asks for one on a
    resident's behalf and reads the audit log. Pages are for admins unless marked for viewers
    (`web.auth.for_viewers`), so a new page is never open to viewers by mistake.
    """

    VIEWER = "viewer"
    ADMIN = "admin"


class OperatorError(ValueError):
    """An operator that cannot be added or changed: bad username, weak password, name taken,
    no such operator."""


@dataclass(frozen=True)
class Operator:
    id: int
    username: str
    role: Role = Role.ADMIN
    language: str | None = None  # their own choice of the console's language, if they made one


def canonical_username(raw: str) -> str:
    """Usernames are case-insensitive: `Anna` and `anna` are one operator."""
    return raw.strip().lower()


def add_operator(conn: Connection, username: str, password: str, now: dt.datetime,
                 role: Role = Role.ADMIN) -> Operator:
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
                created_at=now, active=True, role=Role(role))).inserted_primary_key[0]
    except IntegrityError as exc:
        raise OperatorError(f"operator {name!r} already exists") from exc
    return Operator(new_id, name, Role(role))


def set_password(conn: Connection, username: str, password: str) -> Operator:
    """A new password; every session of the operator ends (a stolen cookie with it)."""
    check_password_strength(password)
    found = _existing(conn, username)
    conn.execute(update(operators).where(operators.c.id == found.id)
                 .values(password_hash=generate_password_hash(password)))
    end_sessions(conn, found.id)
    return found


def set_role(conn: Connection, username: str, role: Role) -> Operator:
    """Takes effect on the operator's next request: the role is read with the session."""
    found = _existing(conn, username)
    conn.execute(update(operators).where(operators.c.id == found.id).values(role=Role(role)))
    return Operator(found.id, found.username, Role(role), found.language)


def remove_operator(conn: Connection, username: str) -> Operator:
    """The operator is gone and their sessions with them; the audit log keeps their name."""
    found = _existing(conn, username)
    end_sessions(conn, found.id)
    conn.execute(delete(operators).where(operators.c.id == found.id))
    return found


def end_sessions(conn: Connection, operator_id: int) -> int:
    """End every open session of one operator; how many there were."""
    return conn.execute(delete(console_sessions).where(
        console_sessions.c.operator_id == operator_id)).rowcount


def all_operators(conn: Connection) -> list[Operator]:
    rows = conn.execute(select(operators.c.id, operators.c.username, operators.c.role,
                               operators.c.language).order_by(operators.c.username))
    return [_operator(row) for row in rows]


def _existing(conn: Connection, username: str) -> Operator:
    name = canonical_username(username)
    row = conn.execute(select(operators.c.id, operators.c.username, operators.c.role,
                              operators.c.language).where(operators.c.username == name)).first()
    if row is None:
        raise OperatorError(f"there is no operator {name!r}")
    return _operator(row)


def _operator(row: object) -> Operator:
    return Operator(row.id, row.username, Role(row.role), row.language)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise OperatorError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise OperatorError(f"a password has at most {MAX_PASSWORD} characters")


def authenticate(conn: Connection, username: str, password: str) -> Operator | None:
    """The active operator with this password, or None (same work whether the name exists)."""
    row = conn.execute(select(operators.c.id, operators.c.username, operators.c.role,
                              operators.c.language, operators.c.password_hash)
                       .where(operators.c.username == canonical_username(username),
                              operators.c.active)).first()
    ok = check_password_hash(row.password_hash if row else _DECOY_HASH, password[:MAX_PASSWORD])
    return _operator(row) if row and ok else None


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
