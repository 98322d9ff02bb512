"""The audit log: every change an operator makes, from the console or the command line,
written in the same transaction as the change.

An entry keeps its facts (ids, masked numbers, codes) as JSON, not as sentences, so the
console's audit page tells each operator what happened in their own language
(`web.audit_words`). Entries written before that (plain text) are shown as they were written.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Connection, select

from storage.tables.console import audit_log

PAGE = 100
Fact = str | int | None


def record(conn: Connection, operator: str, action: str, now: dt.datetime,
           **facts: Fact) -> None:
    """`facts` must already be masked: callers pass masked phones and row ids, never numbers."""
    detail = json.dumps(facts, ensure_ascii=False, sort_keys=True)
    if len(detail) > 500:
        raise ValueError(f"audit facts of {action!r} are longer than the column")
    conn.execute(audit_log.insert().values(at=now, operator=operator[:60], action=action[:40],
                                           detail=detail))


def facts(detail: str) -> dict[str, Fact] | None:
    """The facts of an entry, or None for one written as plain text."""
    try:
        found = json.loads(detail)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def page(conn: Connection, before_id: int | None = None, limit: int = PAGE,
         action: str | None = None) -> list[dict]:
    """Newest first; `before_id` pages back through history without OFFSET scans."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    return [dict(row) for row in conn.execute(query).mappings()]
