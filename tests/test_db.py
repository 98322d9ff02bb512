"""The SQLite writer queue: every way a transaction can end gives the write lock back."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from storage.db import checkpoint, make_engine, transaction


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    yield engine
    engine.dispose()


def write_from_another_thread(engine) -> bool:
    done = threading.Event()

    def write() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
        done.set()

    threading.Thread(target=write, daemon=True).start()
    return done.wait(10)


def test_commit_and_rollback_give_the_turn_back(engine):
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (0)"))
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (0)"))
        raise RuntimeError("rolled back")
    assert write_from_another_thread(engine)


def test_an_invalidated_connection_gives_the_turn_back(engine):
    conn = engine.connect()
    conn.begin()
    conn.execute(text("INSERT INTO t VALUES (0)"))
    conn.invalidate()
    conn.close()
    assert write_from_another_thread(engine)


def test_a_connection_dropped_mid_transaction_gives_the_turn_back(engine):
    conn = engine.connect()
    conn.begin()
    conn.execute(text("INSERT INTO t VALUES (0)"))
    conn.close()  # no commit, no rollback call: the pool resets it
    assert write_from_another_thread(engine)


def test_urgent_writers_go_before_the_queue(engine):
    order: list[str] = []
    holder = engine.connect()
    holder.begin()
    holder.execute(text("INSERT INTO t VALUES (0)"))

    def write(name: str, urgent: bool) -> None:
        with transaction(engine, urgent=urgent) as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            order.append(name)

    normal = threading.Thread(target=write, args=("normal", False))
    normal.start()
    threading.Event().wait(0.2)
    urgent = threading.Thread(target=write, args=("urgent", True))
    urgent.start()
    threading.Event().wait(0.2)
    holder.commit()
    holder.close()
    normal.join(10)
    urgent.join(10)
    assert order == ["urgent", "normal"]


def test_writers_get_the_turn_in_the_order_they_asked(engine):
    order: list[str] = []
    holder = engine.connect()
    holder.begin()
    holder.execute(text("INSERT INTO t VALUES (0)"))

    def write(name: str) -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            order.append(name)

    threads = [threading.Thread(target=write, args=(name,)) for name in ("a", "b", "c")]
    for thread in threads:
        thread.start()
        threading.Event().wait(0.1)
    holder.commit()
    holder.close()
    for thread in threads:
        thread.join(10)
    assert order == ["a", "b", "c"]


def test_a_writer_that_just_committed_cannot_jump_the_queue(engine):
    order: list[str] = []
    first = engine.connect()
    first.begin()

    def wait_then_write() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            order.append("waiter")

    waiter = threading.Thread(target=wait_then_write)
    waiter.start()
    threading.Event().wait(0.2)
    first.commit()
    first.begin()  # at once, while the waiter is only being woken
    first.execute(text("INSERT INTO t VALUES (2)"))
    order.append("again")
    first.commit()
    first.close()
    waiter.join(10)
    assert order == ["waiter", "again"]


def test_checkpoint_moves_committed_rows_into_the_database_file(engine, tmp_path):
    import shutil
    import sqlite3

    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (7)"))

    def rows_in_the_file_alone() -> list[tuple]:
        copy = tmp_path / "copy.db"
        shutil.copyfile(tmp_path / "w.db", copy)  # without its -wal: what is checkpointed
        with sqlite3.connect(copy) as db:
            try:
                return db.execute("SELECT n FROM t").fetchall()
            except sqlite3.OperationalError:  # not even the table is there yet
                return []

    assert rows_in_the_file_alone() == []
    checkpoint(engine)
    assert rows_in_the_file_alone() == [(7,)]


def test_commits_leave_the_wal_to_the_background_checkpoint_once_one_runs(engine):
    from storage.db import checkpoint_in_background

    def autocheckpoint() -> int:
        with engine.connect() as conn:
            return conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()

    assert autocheckpoint() == 1000  # SQLite's own default for a process without the thread
    checkpoint_in_background(engine)
    assert autocheckpoint() == 20_000
