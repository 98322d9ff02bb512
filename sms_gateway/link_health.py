"""Link health: kept in memory as transports report it, snapshotted into the database."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterable

from sqlalchemy import Connection, select

from sms_gateway.transport import LinkHealth
from storage.dialect import upsert
from storage.tables.messages import link_health


class HealthBoard:
    """The latest word on each link, from the transports themselves."""

    def __init__(self) -> None:
        self._latest: dict[str, LinkHealth] = {}
        self._lock = threading.Lock()

    def report(self, health: LinkHealth) -> None:
        with self._lock:
            self._latest[health.channel] = health

    def snapshot(self) -> list[LinkHealth]:
        with self._lock:
            return list(self._latest.values())


def save(conn: Connection, reports: Iterable[LinkHealth], node: str, now: dt.datetime) -> None:
    rows = [{"channel": h.channel, "node": node, "kind": h.kind, "up": h.up,
             "details": json.dumps(h.details, default=str, ensure_ascii=False), "updated_at": now}
            for h in reports]
    if rows:
        upsert(conn, link_health, rows, ["channel", "node"], ["kind", "up", "details",
                                                              "updated_at"])


def load(conn: Connection) -> list[dict]:
    rows = conn.execute(select(link_health).order_by(link_health.c.channel)).mappings()
    return [dict(row) | {"details": json.loads(row["details"])} for row in rows]
