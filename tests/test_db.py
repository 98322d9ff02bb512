"""The SQLite writer queue: every way a transaction can end gives the write lock back."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from sms_gateway.db import make_engine, transaction


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
