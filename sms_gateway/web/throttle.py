"""Slowing down password guessing without ever locking an operator out for good.

A login try is counted on two keys: its username, whatever the address it comes from (so
guesses spread over many addresses, as through a proxy, are slowed as one), and its address,
whatever the usernames (so one machine trying many names is slowed too). After a few free
failures each further try on a key waits twice as long as the last, up to MAX_WAIT: the
exponent is clamped before anything is computed, so no count of failures can overflow or
raise, and the wait due is never longer than the cap, even with a node's clock ahead.

A browser where the operator logged in before carries a remembered-device cookie
(`web.devices`); its tries are counted on that device alone, so guesses from elsewhere at an
operator's name, however many, never slow that operator's own browser (OWASP's "device
cookies"). Kept in the database so all nodes agree; a refused try is answered at once (no
sleeping request threads for an attacker to pile up).

A try is counted before its password is checked, under a lock on its counters, and given back
when the password was right: tries sent side by side cannot all read "no wait" first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select, update

from storage.dialect import insert_for
from storage.tables.console import login_failures

FREE_TRIES = 3
ADDRESS_FREE_TRIES = 20  # failures from one address, whatever the names, before it waits
MAX_WAIT = dt.timedelta(minutes=15)
_MAX_DOUBLINGS = 10  # 2**10 s is past MAX_WAIT: more failures cannot make the wait longer
ANY = "*"  # the key's other half when it counts every username, or every address
_DEVICE = "device:"


@dataclass(frozen=True)
class Counter:
    """One throttle key: a username from anywhere, an address for every username, or a
    username on one remembered device."""

    username: str
    address: str
    free_tries: int = FREE_TRIES

    @property
    def key(self) -> tuple[str, str]:
        return self.username[:60], (self.address or "?")[:64]

    def wait(self, failures: int, last_at: dt.datetime, now: dt.datetime) -> dt.timedelta:
        """What is still due after `failures` counted failures, the last at `last_at`."""
        if failures < self.free_tries:
            return dt.timedelta(0)
        doublings = min(failures - self.free_tries, _MAX_DOUBLINGS)
        due = min(dt.timedelta(seconds=2 ** doublings), MAX_WAIT)
        return min(max(last_at + due - now, dt.timedelta(0)), MAX_WAIT)

    @property
    def most_failures(self) -> int:
        """Counting further adds no wait; the stored count stops here (no column overflow)."""
        return self.free_tries + _MAX_DOUBLINGS + 1


@dataclass(frozen=True)
class Attempt:
    """The counters one login try is counted on: `own` starts again after the right password,
    `shared` (with other operators) are given the try back."""

    own: Counter
    shared: tuple[Counter, ...] = ()

    @property
    def counters(self) -> tuple[Counter, ...]:
        return (self.own, *self.shared)


def attempt(username: str, address: str, device: str | None = None) -> Attempt:
    if device:
        return Attempt(Counter(username, _DEVICE + device))
    return Attempt(Counter(username, ANY), (Counter(ANY, address, ADDRESS_FREE_TRIES),))


@dataclass(frozen=True)
class Taken:
    """A try as counted: the wait still due (then nothing was counted), else each counter's
    count and last failure from before it, so a right password can give the try back whole."""

    wait: dt.timedelta
    at: dt.datetime
    before: tuple[tuple[int, dt.datetime], ...] = ()


def take_try(conn: Connection, tried: Attempt, now: dt.datetime) -> Taken:
    """The wait still due on any of the attempt's counters (then nothing is counted), or none:
    this try is counted as a failure on each of them until `succeeded` gives it back."""
    for counter in tried.counters:  # make sure each row exists, so it can be locked
        name, addr = counter.key
        conn.execute(insert_for(conn.dialect, login_failures).values(
            username=name, address=addr, failures=0, last_at=now).on_conflict_do_nothing())
    before = tuple(_locked(conn, counter) for counter in tried.counters)
    wait = max(counter.wait(failures, last_at, now)
               for counter, (failures, last_at) in zip(tried.counters, before, strict=True))
    if wait > dt.timedelta(0):
        return Taken(wait, now)
    for counter, (failures, _) in zip(tried.counters, before, strict=True):
        conn.execute(update(login_failures).where(*_matching(counter)).values(
            failures=min(failures + 1, counter.most_failures), last_at=now))
    return Taken(dt.timedelta(0), now, before)


def succeeded(conn: Connection, tried: Attempt, taken: Taken) -> None:
    """The password was right: the own count starts again, and the shared counters are as they
    were before this try (their last failure too: a right password from an address that was
    under attack must not start a new wait for the next operator there). Where another try
    was counted meanwhile, only this one's count is given back."""
    conn.execute(delete(login_failures).where(*_matching(tried.own)))
    for counter, (failures, last_at) in zip(tried.shared, taken.before[1:], strict=True):
        restored = conn.execute(update(login_failures).where(
            *_matching(counter), login_failures.c.last_at == taken.at).values(
            failures=failures, last_at=last_at)).rowcount
        if not restored:
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
