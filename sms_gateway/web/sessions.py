"""Console sessions kept in the database, so that ending one holds at once on every node.

The browser's signed cookie carries a random token; the row is keyed by its SHA-256. Every
request reads the row with its operator (one indexed join): logging out deletes the row, a new
password or removing the operator deletes all of theirs (`web.operators.end_sessions`), and a
session unused for `[web] session_idle_minutes` or older than `[web] session_max_hours` is
over. "Last seen" is written at most once a minute per session (a tenth of the idle time if
that is shorter), so browsing the console does not take SQLite's write lock on every click.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, delete, or_, select, update

from sms_gateway.config import WebSettings
from sms_gateway.web.operators import Operator, Role
from storage.tables.console import console_sessions, operators

_TOUCH_AT_MOST = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Lifetime:
    idle: dt.timedelta
    most: dt.timedelta

    @classmethod
    def of(cls, web: WebSettings) -> Lifetime:
        return cls(dt.timedelta(minutes=web.session_idle_minutes),
                   dt.timedelta(hours=web.session_max_hours))

    @property
    def touch_after(self) -> dt.timedelta:
        return min(_TOUCH_AT_MOST, self.idle / 10)


@dataclass(frozen=True)
class Open:
    """A session that is still open: whose it is, and whether its "last seen" is due."""

    operator: Operator
    touch: bool


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(conn: Connection, operator_id: int, now: dt.datetime, lifetime: Lifetime) -> str:
    """A new session's token (for the cookie); sessions that are over are swept here."""
    conn.execute(delete(console_sessions).where(or_(
        console_sessions.c.seen_at < now - lifetime.idle,
        console_sessions.c.created_at < now - lifetime.most)))
    token = secrets.token_urlsafe(32)
    conn.execute(console_sessions.insert().values(id=_key(token), operator_id=operator_id,
                                                  created_at=now, seen_at=now))
    return token


def find(conn: Connection, token: str, now: dt.datetime, lifetime: Lifetime) -> Open | None:
    """The session's operator if the session is open and the operator still active."""
    row = conn.execute(
        select(operators.c.id, operators.c.username, operators.c.role, operators.c.language,
               console_sessions.c.created_at, console_sessions.c.seen_at)
        .join(operators, operators.c.id == console_sessions.c.operator_id)
        .where(console_sessions.c.id == _key(token), operators.c.active)).first()
    if row is None or now - row.seen_at >= lifetime.idle or now - row.created_at >= lifetime.most:
        return None
    operator = Operator(row.id, row.username, Role(row.role), row.language)
    return Open(operator, touch=now - row.seen_at >= lifetime.touch_after)


def touch(conn: Connection, token: str, now: dt.datetime) -> None:
    conn.execute(update(console_sessions).where(console_sessions.c.id == _key(token))
                 .values(seen_at=now))


def end(conn: Connection, token: str) -> None:
    conn.execute(delete(console_sessions).where(console_sessions.c.id == _key(token)))
