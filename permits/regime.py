"""The regime per district, made now or scheduled: which state applies when, and applying it.

Every change is a row of `regime_changes` (a district, or the whole region; a state; from,
and optionally until). What applies to a district at a moment is the change in force then
that started last (the later row on a tie); when it ends, the one before it applies again.
A district's first state (from the configuration, or what it had before migration 0009) is
its first change, so there is always one to fall back to.

The state in force is also kept on `districts.regime`, where the rules read it with each
resident in the batch's one query: the hot path never resolves the schedule. The scheduler
calls `apply` on every node every few seconds; it locks the districts' rows in one order
before reading the changes, so nodes running it at once (and an operator's change made in
the meantime) agree, and only the node whose update changed a row reports it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, or_, select, update

from storage.tables.ledger import Regime, districts, regime_changes

# What an operator types and reads for each state (`registry-only` on the command line).
SPELLINGS = {"off": Regime.OFF, "on": Regime.ON, "registry-only": Regime.REGISTRY_ONLY}
WHOLE_REGION = "all"


class RegimeError(ValueError):
    """A change that cannot be made; `why` says which rule it breaks (for a page to word)."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message)
        self.why = why  # "past", "order", "district" or "not_waiting"


def spelled(state: Regime) -> str:
    return next(word for word, value in SPELLINGS.items() if value == state)


@dataclass(frozen=True)
class Change:
    id: int
    district_id: str | None  # None: the whole region
    state: Regime
    starts_at: dt.datetime
    ends_at: dt.datetime | None

    def covers(self, district_id: str) -> bool:
        return self.district_id is None or self.district_id == district_id

    def in_force(self, at: dt.datetime) -> bool:
        return self.starts_at <= at and (self.ends_at is None or at < self.ends_at)


def state_at(changes: Iterable[Change], district_id: str, at: dt.datetime) -> Regime | None:
    """The state of `district_id` at `at`; None when no change is in force (a district that
    has none keeps the state it has)."""
    in_force = [c for c in changes if c.covers(district_id) and c.in_force(at)]
    if not in_force:
        return None
    return Regime(max(in_force, key=lambda c: (c.starts_at, c.id)).state)


@dataclass(frozen=True)
class Next:
    at: dt.datetime
    state: Regime


def next_change(changes: Sequence[Change], district_id: str, now: dt.datetime) -> Next | None:
    """When the district's state will next differ from its state now, and to what."""
    current = state_at(changes, district_id, now)
    moments = sorted({moment for c in changes if c.covers(district_id)
                      for moment in (c.starts_at, c.ends_at) if moment and moment > now})
    for moment in moments:
        state = state_at(changes, district_id, moment)
        if state is not None and state != current:
            return Next(moment, state)
    return None


def changes_from(conn: Connection, now: dt.datetime) -> list[Change]:
    """Every change that is in force now or will be: the ones that ended matter no more."""
    rows = conn.execute(select(regime_changes.c.id, regime_changes.c.district_id,
                               regime_changes.c.state, regime_changes.c.starts_at,
                               regime_changes.c.ends_at)
                        .where(or_(regime_changes.c.ends_at.is_(None),
                                   regime_changes.c.ends_at > now))
                        .order_by(regime_changes.c.id))
    return [Change(i, d, Regime(s), start, end) for i, d, s, start, end in rows]


def due(conn: Connection, now: dt.datetime) -> bool:
    """Whether `apply` has anything to do, read without a lock (the scheduler asks every few
    seconds, and on SQLite a write transaction would queue behind the message path)."""
    changes = changes_from(conn, now)
    return any(state_at(changes, district_id, now) not in (None, state)
               for district_id, state in conn.execute(select(districts.c.id, districts.c.regime)))


def apply(conn: Connection, now: dt.datetime) -> list[tuple[str, Regime]]:
    """Bring every district's state up to date; returns (district, state) for the rows this
    call changed. The districts' rows are locked first (PostgreSQL; SQLite writers are one at
    a time anyway), in id order, then the changes read: a change committed before the lock
    was taken is seen, one committed after applies its own state once we are done."""
    locking = select(districts.c.id, districts.c.regime).order_by(districts.c.id)
    if conn.dialect.name == "postgresql":
        locking = locking.with_for_update()
    current = dict(conn.execute(locking).all())
    changes = changes_from(conn, now)
    applied = []
    for district_id, state in current.items():
        wanted = state_at(changes, district_id, now)
        if wanted is None or wanted == state:
            continue
        result = conn.execute(update(districts)
                              .where(districts.c.id == district_id, districts.c.regime != wanted)
                              .values(regime=wanted))
        if result.rowcount == 1:
            applied.append((district_id, wanted))
    return applied


def schedule(conn: Connection, district_id: str | None, state: Regime, *, by: str,
             now: dt.datetime, starts_at: dt.datetime | None = None,
             ends_at: dt.datetime | None = None) -> int:
    """Record a change (from now when `starts_at` is None) and, if it has started, apply it
    at once. `district_id` None: the whole region. Returns the change's id."""
    starts = starts_at or now
    if starts_at is not None and starts_at < now:
        raise RegimeError("the start is in the past: leave it out to make the change now",
                          "past")
    if ends_at is not None and ends_at <= starts:
        raise RegimeError("the end must come after the start", "order")
    if district_id is not None and conn.scalar(
            select(districts.c.id).where(districts.c.id == district_id)) is None:
        raise RegimeError(f"no district {district_id!r}", "district")
    change_id = conn.scalar(insert(regime_changes).returning(regime_changes.c.id), {
        "district_id": district_id, "state": state, "starts_at": starts, "ends_at": ends_at,
        "created_by": by[:60], "created_at": now})
    if starts <= now:
        apply(conn, now)
    return change_id


def switch(conn: Connection, district_id: str, enabled: bool, *, by: str,
           now: dt.datetime) -> None:
    """`districts enable|disable` and the console's switch, as they always meant: permits by
    SMS (on), or none by SMS (registry-only), from now on."""
    schedule(conn, district_id, Regime.ON if enabled else Regime.REGISTRY_ONLY, by=by, now=now)


def cancel(conn: Connection, change_id: int, now: dt.datetime) -> Change:
    """Withdraw a change that has not started yet; returns what it was."""
    change = next((c for c in changes_from(conn, now) if c.id == change_id), None)
    if change is None or change.starts_at <= now:
        raise RegimeError(f"no change #{change_id} waiting to start", "not_waiting")
    conn.execute(delete(regime_changes).where(regime_changes.c.id == change_id))
    return change


@dataclass(frozen=True)
class DistrictRegime:
    """A district's state now and its next change, as operators read them."""

    id: str
    name: str
    state: Regime
    next: Next | None


def overview(conn: Connection, now: dt.datetime) -> list[DistrictRegime]:
    changes = changes_from(conn, now)
    rows = conn.execute(select(districts.c.id, districts.c.name, districts.c.regime)
                        .order_by(districts.c.name))
    return [DistrictRegime(i, name, Regime(state), next_change(changes, i, now))
            for i, name, state in rows]


def upcoming(conn: Connection, now: dt.datetime) -> list[Change]:
    """Changes that have not started yet, soonest first (the ones that can be cancelled)."""
    return sorted((c for c in changes_from(conn, now) if c.starts_at > now),
                  key=lambda c: (c.starts_at, c.id))


def first_states(conn: Connection, states: Sequence[tuple[str, Regime]], by: str,
                 now: dt.datetime) -> None:
    """New districts' first states, as their first changes (see the module's docstring)."""
    if states:
        conn.execute(insert(regime_changes), [
            {"district_id": district_id, "state": state, "starts_at": now, "ends_at": None,
             "created_by": by, "created_at": now} for district_id, state in states])
