"""`among`: `column IN (values)` whose text does not change with the number of values on
PostgreSQL (one array), on both databases the same rows."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import event, insert, select

from permits.ledger import read_snapshot
from storage.dialect import among
from storage.tables.ledger import districts, residents

NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)


def add_residents(conn, phones: list[str]) -> None:
    conn.execute(insert(districts), [{"id": "among", "name": "Тест", "enabled": True}])
    conn.execute(insert(residents), [
        {"phone": phone, "name": "Житель", "district_id": "among", "document": None,
         "self_registered": False, "created_at": NOW} for phone in phones])


def test_among_finds_what_in_finds(engine):
    phones = [f"+7927{n:07d}" for n in range(30)]
    with engine.begin() as conn:
        add_residents(conn, phones)
        asked = [*phones[::3], "+79990000000", "+79990000000"]
        ours = conn.scalars(select(residents.c.phone)
                            .where(among(conn.dialect, residents.c.phone, asked))).all()
        theirs = conn.scalars(select(residents.c.phone)
                              .where(residents.c.phone.in_(asked))).all()
        assert sorted(ours) == sorted(theirs) == phones[::3]
        assert conn.scalars(select(residents.c.id)
                            .where(among(conn.dialect, residents.c.phone, []))).all() == []


def test_a_value_longer_than_the_column_matches_nothing_it_could_be_cut_to(engine):
    """The array is not cast to the column's length: VARCHAR(20)[] would cut a longer value
    to the phone of someone else."""
    phone = "+79270000001"
    with engine.begin() as conn:
        add_residents(conn, [phone + "0" * (20 - len(phone))])
        longer = phone + "0" * 30
        assert conn.scalars(select(residents.c.phone)
                            .where(among(conn.dialect, residents.c.phone, [longer]))).all() == []


def test_a_batch_s_reads_are_the_same_statements_whatever_its_size_on_postgresql(engine):
    """With IN lists every batch size is a new statement for psycopg to convert and for the
    server to plan; with one array psycopg prepares each once."""
    phones = [f"+7927{n:07d}" for n in range(40)]
    with engine.begin() as conn:
        add_residents(conn, phones)
    texts: list[set[str]] = []

    def seen(_conn, _cursor, statement, *_):
        texts[-1].add(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        for size in (3, 17, 40):
            texts.append(set())
            with engine.begin() as conn:
                snap = read_snapshot(conn, phones[:size], today=NOW.date(), now=NOW,
                                     miss_since=NOW, running_since=NOW.date())
            assert len(snap.residents) == size
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    if engine.dialect.name == "postgresql":
        assert texts[0] == texts[1] == texts[2]
    else:
        assert texts[0] != texts[1]  # SQLite probes an index per listed value
