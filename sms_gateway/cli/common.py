"""What every command shares: the prepared engine, its error, the audit trail, local times."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import zoneinfo

from sqlalchemy import Connection, Engine

from permits import registry
from sms_gateway import audit, migrate
from sms_gateway.clock import utc_now
from sms_gateway.config import Config
from sms_gateway.pipeline.gate import bounded_int
from storage.db import make_engine


class CommandError(Exception):
    """A command that cannot do what was asked; its message is shown, exit code 1."""


def prepare(config: Config) -> Engine:
    """The engine, with the schema up to date and the configured districts present."""
    return prepare_reporting(config)[0]


def prepare_reporting(config: Config) -> tuple[Engine, migrate.Upgrade]:
    engine = make_engine(config.database_url)
    upgrade = migrate.upgrade(engine)
    with engine.begin() as conn:
        registry.sync_districts(conn, [(d.id, d.name, d.enabled) for d in config.districts],
                                utc_now())
    return engine, upgrade


def os_user() -> str:
    """Who ran the command, as the audit log names them: `cli:<login>`."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no login name: a container's bare uid
        name = f"uid{os.getuid()}"
    return f"cli:{name}"


def record(conn: Connection, action: str, **facts: audit.Fact) -> None:
    """A change made from the command line, in the audit log beside the console's (`facts`
    already masked)."""
    audit.record(conn, os_user(), action, utc_now(), **facts)


def whole_number(text: str) -> int:
    """An argparse type: a positive whole number, read like every number from outside."""
    value = bounded_int(text, 18)
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text!r}")
    return value


def local_time(moment: dt.datetime, config: Config) -> str:
    """`2026-11-25 13:05` in the service's time zone, as residents read it in their SMS."""
    return moment.astimezone(zone(config)).strftime("%Y-%m-%d %H:%M")


def zone(config: Config) -> zoneinfo.ZoneInfo:
    """`[service] timezone`: the one operators read and type local times in."""
    return zoneinfo.ZoneInfo(config.rules.timezone)
