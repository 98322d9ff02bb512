"""Registry imports: bad rows reported by line, good ones kept, large files in chunks."""

from __future__ import annotations

import io

from sqlalchemy import event, func, select

from permits import registry
from storage.tables.ledger import residents


def csv_of(count: int, start: int = 0) -> str:
    return "phone,name,district\n" + "".join(
        f"+7927{n:07d},Житель {n},kinel\n" for n in range(start, start + count))


def test_an_import_on_an_engine_commits_chunk_by_chunk(engine, clock, monkeypatch):
    monkeypatch.setattr(registry, "CHUNK", 100)
    commits = []
    event.listen(engine, "commit", lambda conn: commits.append(1))
    report = registry.import_residents(engine, io.StringIO(csv_of(250)), "RU", clock())
    assert (report.imported, report.rejected) == (250, [])
    assert len(commits) == 4  # the districts read, then 100 + 100 + 50 rows
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(residents)) == 250


def test_a_nul_or_an_oversized_field_costs_its_own_line_only(engine, clock):
    text = (csv_of(3) + "+79270000100,Bad\0Name,kinel\n"
            + f'+79270000101,"{"z" * 200_000}",kinel\n' + csv_of(2, 200).split("\n", 1)[1])
    report = registry.import_residents(engine, io.StringIO(text), "RU", clock())
    assert report.imported == 5
    assert report.rejected == [(5, "name holds U+0000"), (6, "longer than 4096 characters")]
