"""`Bulk` writes exactly what SQLAlchemy's own executemany writes, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import bindparam, event, func, insert, select, update
from sqlalchemy.exc import DBAPIError

from storage.bulk import Bulk
from storage.dialect import insert_for
from storage.tables.messages import outbox

UTC_TIMES = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1),
                         timezones=st.just(dt.UTC))
TEXTS = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                max_size=200)


def outbox_row(n: int, text: str, at: dt.datetime, expires: dt.datetime | None) -> dict:
    return {"inbox_id": n, "channel": "loopback:t", "recipient": f"+7927{n:07d}", "text": text,
            "priority": n % 2, "state": "pending", "attempts": 0, "maybe_sent": bool(n % 3),
            "next_attempt_at": at, "created_at": at, "updated_at": at, "expires_at": expires,
            "permit_id": None, "ussd_op": None, "ussd_session": None}


def stored(conn) -> list[tuple]:
    columns = [c for c in outbox.c if c.name != "id"]
    return [tuple(row) for row in conn.execute(select(*columns).order_by(outbox.c.inbox_id))]


QUEUE = Bulk(lambda _dialect: insert(outbox))


# Each example cleans up after itself, so sharing the engine between examples is safe.
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(TEXTS, UTC_TIMES, st.none() | UTC_TIMES), min_size=1,
                     max_size=20))
def test_an_insert_stores_what_sqlalchemy_stores(engine, rows):
    values = [outbox_row(n, *row) for n, row in enumerate(rows)]
    with engine.begin() as conn:
        QUEUE.run(conn, values)
        ours = stored(conn)
        conn.execute(outbox.delete())
        conn.execute(insert(outbox), values)
        theirs = stored(conn)
        conn.execute(outbox.delete())
    assert ours == theirs


def test_an_update_uses_row_values_and_the_statement_s_literals(engine):
    now = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    mark_sent = Bulk(lambda _dialect: update(outbox).where(
        outbox.c.id == bindparam("row_id"), outbox.c.state == "sending").values(
        state="sent", transport_message_id=bindparam("mid"), updated_at=bindparam("at")))
    with engine.begin() as conn:
        QUEUE.run(conn, [outbox_row(n, "x", now, None) for n in range(3)])
        ids = conn.scalars(select(outbox.c.id).order_by(outbox.c.id)).all()
        conn.execute(update(outbox).where(outbox.c.id != ids[2]).values(state="sending"))
        later = now + dt.timedelta(minutes=5)
        mark_sent.run(conn, [{"row_id": i, "mid": f"m{i}", "at": later} for i in ids])
        result = conn.execute(select(outbox.c.state, outbox.c.transport_message_id,
                                     outbox.c.updated_at).order_by(outbox.c.id)).all()
    assert [tuple(r) for r in result] == [("sent", f"m{ids[0]}", later),
                                          ("sent", f"m{ids[1]}", later),
                                          ("pending", None, now)]  # not `sending`: untouched


def test_on_conflict_do_nothing_keeps_the_first(engine):
    now = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    keep_first = Bulk(lambda dialect: insert_for(dialect, outbox).on_conflict_do_nothing())
    first, again = outbox_row(1, "first", now, None), outbox_row(1, "again", now, None)
    with engine.begin() as conn:
        keep_first.run(conn, [first | {"id": 7}])
        keep_first.run(conn, [again | {"id": 7}, outbox_row(2, "new", now, None) | {"id": 8}])
        assert conn.execute(select(outbox.c.id, outbox.c.text).order_by(outbox.c.id)).all() \
            == [(7, "first"), (8, "new")]


def test_a_row_missing_a_value_is_refused_not_written_as_null(engine):
    row = outbox_row(1, "x", dt.datetime(2026, 11, 25, tzinfo=dt.UTC), None)
    del row["state"]  # a column with a default: Bulk does not fill defaults in
    with engine.begin() as conn, pytest.raises(ValueError, match="state"):
        Bulk(lambda _dialect: insert(outbox)).run(conn, [row])
    forgetful = Bulk(lambda _dialect: update(outbox).where(outbox.c.id == bindparam("row_id"))
                     .values(text=bindparam("text")))
    with engine.begin() as conn, pytest.raises(ValueError, match="text"):
        forgetful.run(conn, [{"row_id": 1}])


def test_a_key_the_statement_does_not_take_is_refused(engine):
    row = outbox_row(1, "x", dt.datetime(2026, 11, 25, tzinfo=dt.UTC), None) | {"txet": "y"}
    with engine.begin() as conn, pytest.raises(ValueError, match="txet"):
        Bulk(lambda _dialect: insert(outbox)).run(conn, [row])


def test_many_rows_are_one_execution_on_postgresql(engine):
    """psycopg's executemany sends and handles every row apart (a Bind and an Execute each)
    and the server runs the statement once per row; the rows go as arrays instead."""
    now = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    executions: list[bool] = []

    def seen(_conn, _cursor, statement, _parameters, _context, executemany):
        if statement.startswith("INSERT INTO outbox"):
            executions.append(executemany)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        with engine.begin() as conn:
            QUEUE.run(conn, [outbox_row(n, "x", now, None) for n in range(50)])
            assert conn.scalar(select(func.count()).select_from(outbox)) == 50
            conn.execute(outbox.delete())
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    if engine.dialect.name == "postgresql":
        assert executions == [False]  # one statement for the 50 rows
    else:
        assert executions == [True]  # sqlite3's executemany: one prepared statement, in C


def test_a_value_longer_than_its_column_is_refused_as_by_sqlalchemy(engine):
    """The arrays are cast without a length: a cast to VARCHAR(10) would cut the value where
    the column refuses it (and the inbox quarantines the message for it)."""
    row = outbox_row(1, "x", dt.datetime(2026, 11, 25, tzinfo=dt.UTC), None)
    long = row | {"recipient": "+7" + "9" * 40}

    def outcome(write) -> str:
        try:
            with engine.begin() as conn:
                write(conn)
                stored_recipients = conn.scalars(select(outbox.c.recipient)).all()
                conn.execute(outbox.delete())
                return f"stored {stored_recipients}"
        except DBAPIError as error:
            return f"refused ({type(error.orig).__name__})"

    ours = outcome(lambda conn: QUEUE.run(conn, [row, long]))
    theirs = outcome(lambda conn: conn.execute(insert(outbox), [row, long]))
    assert ours == theirs
    if engine.dialect.name == "postgresql":
        assert ours.startswith("refused")
