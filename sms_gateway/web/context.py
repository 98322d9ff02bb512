"""What every view needs (config, engine, rules, clock), kept on the app instead of globals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlalchemy import Connection, Engine

from permits import localtime
from permits.service import Rules
from sms_gateway.clock import Clock
from sms_gateway.config import Config
from storage.db import READ_ONLY

_KEY = "permit_gateway"


@dataclass(frozen=True)
class Services:
    config: Config
    engine: Engine
    rules: Rules
    clock: Clock

    @property
    def zone(self) -> ZoneInfo:
        return self.rules.zone

    def day_start(self, now: dt.datetime) -> dt.datetime:
        """Local midnight of `now`'s day, in UTC: where "today" begins for every figure."""
        return localtime.midnight(self.rules.local_day(now), self.zone)


def install(app: Flask, services: Services) -> None:
    app.extensions[_KEY] = services


def services(app: Flask | None = None) -> Services:
    return (app or current_app).extensions[_KEY]


def now() -> dt.datetime:
    return services().clock()


@contextmanager
def reading() -> Iterator[Connection]:
    """One consistent read that never takes SQLite's write lock (BEGIN, not BEGIN IMMEDIATE)."""
    with services().engine.connect().execution_options(**READ_ONLY) as conn, conn.begin():
        yield conn


@contextmanager
def writing() -> Iterator[Connection]:
    with services().engine.begin() as conn:
        yield conn
