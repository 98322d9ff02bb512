"""Statements run once per message, for many rows at a time, through the driver's executemany.

SQLAlchemy Core prepares every row of an executemany in Python (a dict of all parameters,
then each one's type conversion) and compiles an INSERT ... ON CONFLICT afresh on every call
(it cannot cache those). For the handful of statements that run for every message that was
the largest share of the dispatcher's time after SQLite itself. A `Bulk` statement is
compiled once per dialect; each row becomes one tuple, converted only where its column's type
needs it (time stamps). Errors are still SQLAlchemy's, with parameters hidden.

On PostgreSQL even the driver's executemany costs: psycopg sends a Bind and an Execute per row
and handles each in Python (a third of the dispatcher's time in the SMPP flood, 1.1 s per
10,000 requests), and the server executes the statement once per row. There the rows travel
as one array per parameter (binary, about 9 us a row of the outbox against 20 us) in one
statement that reads them through `unnest` (`INSERT ...
SELECT ... FROM unnest(...)`, `UPDATE ... FROM unnest(...)`): one execution, one plan that
psycopg prepares once, whatever the number of rows. A statement this cannot rewrite safely
still runs through executemany.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter

from sqlalchemy import Connection
from sqlalchemy.engine import Compiled, Dialect
from sqlalchemy.exc import CompileError
from sqlalchemy.sql import Executable

Converter = Callable[[object], object]


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]  # the statement's parameters, in the driver's order
    values: Callable[[Mapping[str, object]], tuple]  # one row's values, in that order
    converters: tuple[tuple[int, Converter], ...]  # (position, conversion) where one is needed
    positional: bool
    arrays: dict[str, object] | None = None  # PostgreSQL: the constants; rows go as arrays


class Bulk:
    """One INSERT, UPDATE or upsert, built per dialect by `build`, run for many rows.

    As with SQLAlchemy's own executemany, the first row's keys name the parameters: a
    `bindparam`'s name, or for an INSERT the columns written; every row has the same keys.
    Literal values in the statement (`state == "sending"`) are constants. Nothing is
    guessed: a statement that would need a column default, or rows with a key the statement
    does not take, is refused when first compiled, rather than writing NULL. The rows of one
    UPDATE name different rows, and those of an upsert different keys (on PostgreSQL they are
    one statement, which updates a row once)."""

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
        if plan.arrays is not None:
            columns = zip(*params, strict=True) if len(plan.names) > 1 else ([p] for p in params)
            conn.exec_driver_sql(plan.sql, dict(zip(plan.names, map(list, columns), strict=True))
                                 | plan.arrays)
            return
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
    plan = _Plan(compiled.string, names, _row_values(names, constants), tuple(converters),
                 positional=compiled.positiontup is not None)
    if dialect.name == "postgresql" and not plan.positional:
        return _as_arrays(plan, compiled, dialect, constants) or plan
    return plan


_PARAMETER = re.compile(r"%\((\w+)\)s")
_LENGTH = re.compile(r"\(\d+(, *\d+)?\)")


def _as_arrays(plan: _Plan, compiled: Compiled, dialect: Dialect,
               constants: dict[str, object]) -> _Plan | None:
    """The statement reading its rows from `unnest`, one array per row parameter (see the
    module's doc); None where that is not plainly the same statement."""
    sql = plan.sql
    varying = tuple(dict.fromkeys(name for name in plan.names if name not in constants))
    conflict = sql.find(" ON CONFLICT ")
    if not varying or "RETURNING" in sql or (conflict >= 0 and _PARAMETER.search(sql, conflict)):
        return None
    try:
        # without a length: a cast to VARCHAR(10) would cut a longer value, where the
        # column refuses it (and the inbox quarantines the message)
        types = [_LENGTH.sub("", dialect.type_compiler_instance.process(compiled.binds[name].type))
                 for name in varying]
    except CompileError:  # a type with no name of its own on the server
        return None
    # in binary: psycopg's text dump of a list costs more than executemany itself
    arrays = ", ".join(f"%({name})b::{type_}[]"
                       for name, type_ in zip(varying, types, strict=True))
    source = f"unnest({arrays}) AS v({', '.join(map(_quoted, varying))})"
    reads = _PARAMETER.sub(lambda m: f"v.{_quoted(m[1])}" if m[1] in varying else m[0], sql)
    if reads.startswith("INSERT ") and " VALUES (" in reads:
        start = reads.index(" VALUES (") + len(" VALUES (")
        end = _closing(reads, start)
        rewritten = (f"{reads[:start - len(' VALUES (')]} SELECT {reads[start:end]}"
                     f" FROM {source}{reads[end + 1:]}")
    elif reads.startswith("UPDATE ") and reads.count(" WHERE ") == 1:
        where = reads.index(" WHERE ")
        rewritten = f"{reads[:where]} FROM {source}{reads[where:]}"
    else:
        return None
    by_name = {plan.names[position]: convert for position, convert in plan.converters}
    converters = tuple((varying.index(name), convert) for name, convert in by_name.items()
                       if name in varying)
    scalars = {name: by_name[name](value) if name in by_name else value
               for name, value in constants.items()}
    get = itemgetter(*varying)
    return _Plan(rewritten, varying, (lambda row: (get(row),)) if len(varying) == 1 else get,
                 converters, positional=False, arrays=scalars)


def _quoted(name: str) -> str:
    return f'"{name}"'


def _closing(sql: str, start: int) -> int:
    """The index of the parenthesis that closes the one opened just before `start`."""
    depth = 1
    for index in range(start, len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[index], 0)
        if depth == 0:
            return index
    raise ValueError(f"unbalanced statement: {sql}")


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
