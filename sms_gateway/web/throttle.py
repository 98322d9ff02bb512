"""Slowing down password guessing: after a few failures per (username, address), each further
try must wait twice as long as the last, up to a cap. Kept in the database so all nodes agree;
a refused try is answered at once (no sleeping request threads for an attacker to pile up).

A try is counted before its password is checked, under a lock on its counters, and given back
when the password was right: tries sent side by side cannot all read "no wait" first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select, update

from storage.dialect import insert_for
from storage.tables.console import login_failures

FREE_TRIES = 3
MAX_WAIT = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Counter:
    """One throttle key: a username tried from an address (or every username, for `ANY`)."""

    username: str
    address: str
    free_tries: int = FREE_TRIES

    @property
    def key(self) -> tuple[str, str]:
        return self.username[:60], (self.address or "?")[:64]


def take_try(conn: Connection, counters: Sequence[Counter], now: dt.datetime) -> dt.timedelta:
    """The wait still due on any of `counters` (then nothing is counted), or zero: this try is
    counted as a failure on each of them until `succeeded` gives it back."""
    for counter in counters:  # make sure each row exists, so it can be locked
        name, addr = counter.key
        conn.execute(insert_for(conn.dialect, login_failures).values(
            username=name, address=addr, failures=0, last_at=now).on_conflict_do_nothing())
    wait = dt.timedelta(0)
    for counter in counters:
        failures, last_at = _locked(conn, counter)
        if failures >= counter.free_tries:
            due = min(dt.timedelta(seconds=2 ** (failures - counter.free_tries)), MAX_WAIT)
            wait = max(wait, last_at + due - now)
    if wait > dt.timedelta(0):
        return wait
    for counter in counters:
        conn.execute(update(login_failures).where(*_matching(counter)).values(
            failures=login_failures.c.failures + 1, last_at=now))
    return dt.timedelta(0)


def succeeded(conn: Connection, own: Counter, shared: Sequence[Counter] = ()) -> None:
    """The password was right: the username's own count starts again, and the try is given
    back on the counters it shares with others (the address's)."""
    conn.execute(delete(login_failures).where(*_matching(own)))
    for counter in shared:
        conn.execute(update(login_failures).where(
            *_matching(counter), login_failures.c.failures > 0).values(
            failures=login_failures.c.failures - 1))


def _locked(conn: Connection, counter: Counter) -> tuple[int, dt.datetime]:
    query = select(login_failures.c.failures, login_failures.c.last_at).where(*_matching(counter))
    if conn.dialect.name == "postgresql":  # on SQLite the write transaction is the lock
        query = query.with_for_update()
    return tuple(conn.execute(query).one())


def _matching(counter: Counter) -> tuple:
    name, addr = counter.key
    return login_failures.c.username == name, login_failures.c.address == addr
