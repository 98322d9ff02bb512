"""The audit log: every operator action, written in the same transaction as the action."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, select

from storage.tables.console import audit_log

PAGE = 100


def record(conn: Connection, operator: str, action: str, detail: str,
           now: dt.datetime) -> None:
    """`detail` must already be masked: callers pass masked phones and row ids, never numbers."""
    conn.execute(audit_log.insert().values(at=now, operator=operator[:60], action=action[:40],
                                           detail=detail[:500]))


def page(conn: Connection, before_id: int | None = None, limit: int = PAGE) -> list[dict]:
    """Newest first; `before_id` pages back through history without OFFSET scans."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    return [dict(row) for row in conn.execute(query).mappings()]
