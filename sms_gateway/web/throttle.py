"""Slowing down password guessing: after a few failures per (username, address), each further
try must wait twice as long as the last, up to a cap. Kept in the database so all nodes agree;
a refused try is answered at once (no sleeping request threads for an attacker to pile up)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, delete, select

from permits.ledger import insert_for
from sms_gateway.web.schema import login_failures

FREE_TRIES = 3
MAX_WAIT = dt.timedelta(minutes=15)


def _key(username: str, address: str) -> tuple[str, str]:
    return username[:60], (address or "?")[:64]


def wait_left(conn: Connection, username: str, address: str, now: dt.datetime,
              free_tries: int = FREE_TRIES) -> dt.timedelta:
    """How long this (username, address) must still wait before its next try (zero: go on)."""
    name, addr = _key(username, address)
    row = conn.execute(select(login_failures.c.failures, login_failures.c.last_at).where(
        login_failures.c.username == name, login_failures.c.address == addr)).first()
    if row is None or row.failures < free_tries:
        return dt.timedelta(0)
    wait = min(dt.timedelta(seconds=2 ** (row.failures - free_tries)), MAX_WAIT)
    return max(row.last_at + wait - now, dt.timedelta(0))


def failed(conn: Connection, username: str, address: str, now: dt.datetime) -> None:
    name, addr = _key(username, address)
    stmt = insert_for(conn.dialect, login_failures)
    conn.execute(stmt.values(username=name, address=addr, failures=1, last_at=now)
                 .on_conflict_do_update(
                     index_elements=[login_failures.c.username, login_failures.c.address],
                     set_={"failures": login_failures.c.failures + 1, "last_at": now}))


def succeeded(conn: Connection, username: str, address: str) -> None:
    name, addr = _key(username, address)
    conn.execute(delete(login_failures).where(login_failures.c.username == name,
                                              login_failures.c.address == addr))
