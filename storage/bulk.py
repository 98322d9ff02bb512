"""Statements run once per message, for many rows at a time, through the driver's executemany.

SQLAlchemy Core prepares every row of an executemany in Python (a dict of all parameters,
then each one's type conversion) and compiles an INSERT ... ON CONFLICT afresh on every call
(it cannot cache those). For the handful of statements that run for every message that was
the largest share of the dispatcher's time after SQLite itself. A `Bulk` statement is
compiled once per dialect; each row becomes one tuple, converted only where its column's type
needs it (time stamps). Errors are still SQLAlchemy's, with parameters hidden.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Executable

Converter = Callable[[object], object]


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]  # the statement's parameters, in the driver's order
    values: Callable[[Mapping[str, object]], tuple]  # one row's values, in that order
    converters: tuple[tuple[int, Converter], ...]  # (position, conversion) where one is needed
    positional: bool


class Bulk:
    """One INSERT, UPDATE or upsert, built per dialect by `build`, run for many rows.

    As with SQLAlchemy's own executemany, the first row's keys name the parameters: a
    `bindparam`'s name, or for an INSERT the columns written; every row has the same keys.
    Literal values in the statement (`state == "sending"`) are constants. Nothing is
    guessed: a statement that would need a column default, or rows with a key the statement
    does not take, is refused when first compiled, rather than writing NULL."""

    def __init__(self, build: Callable[[Dialect], Executable]) -> None:
        self._build = build
        self._plans: dict[tuple[str, str, tuple[str, ...]], _Plan] = {}
        self._lock = threading.Lock()

    def run(self, conn: Connection, rows: Sequence[Mapping[str, object]]) -> None:
        if not rows:
            return
        plan = self._plan(conn.dialect, tuple(rows[0]))
        params = [plan.values(row) for row in rows]
        if plan.converters:
            params = [_converted(values, plan.converters) for values in params]
        if not plan.positional:
            params = [dict(zip(plan.names, values, strict=True)) for values in params]
        conn.exec_driver_sql(plan.sql, params)

    def _plan(self, dialect: Dialect, keys: tuple[str, ...]) -> _Plan:
        key = (dialect.name, dialect.driver, keys)  # drivers differ in parameter style
        plan = self._plans.get(key)
        if plan is None:
            with self._lock:
                plan = self._plans.setdefault(key, _compile(self._build(dialect), dialect, keys))
        return plan


def _compile(statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Plan:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=True)
    names = tuple(compiled.positiontup or compiled.bind_names.values())
    missing = [c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch)
               if c.key not in keys]
    missing += [name for name in names if name not in keys and compiled.binds[name].required]
    if missing:
        raise ValueError(f"rows must give {', '.join(missing)} (no defaults here)")
    unused = [key for key in keys if key not in names]
    if unused:  # a misspelt key would otherwise leave its column NULL
        raise ValueError(f"the statement takes no {', '.join(unused)}")
    constants = {name: compiled.binds[name].value for name in names if name not in keys}
    converters = []
    for position, name in enumerate(names):
        converter = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if converter is not None:
            converters.append((position, converter))
    return _Plan(compiled.string, names, _row_values(names, constants), tuple(converters),
                 positional=compiled.positiontup is not None)


def _row_values(names: tuple[str, ...],
                constants: dict[str, object]) -> Callable[[Mapping[str, object]], tuple]:
    if not constants:
        get = itemgetter(*names)
        return (lambda row: (get(row),)) if len(names) == 1 else get
    sources = [(name in constants, constants.get(name), name) for name in names]
    return lambda row: tuple([value if constant else row[name]
                              for constant, value, name in sources])


def _converted(values: tuple, converters: tuple[tuple[int, Converter], ...]) -> tuple:
    values = list(values)
    for position, converter in converters:
        values[position] = converter(values[position])
    return tuple(values)
