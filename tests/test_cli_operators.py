"""`permit-gateway operators ...` run as an administrator runs it: roles, a new password and
removal, each audited; a new password and removal end the operator's console sessions."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from sms_gateway.web import sessions
from storage.db import make_engine
from storage.tables.console import audit_log, console_sessions, operators
from tests.conftest import ROOT

PASSWORD = "correct horse battery"
LIFETIME = sessions.Lifetime(dt.timedelta(minutes=30), dt.timedelta(hours=12))


@pytest.fixture
def cli(tmp_path, database_url):
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n', encoding="utf-8")

    def run(*args: str, typed: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sms_gateway.cli", "--config", str(config),
                               "operators", *args], input=typed, capture_output=True, text=True,
                              cwd=ROOT, timeout=120)

    return run


def _open_session(engine, username: str) -> None:
    with engine.begin() as conn:
        found = conn.scalar(select(operators.c.id).where(operators.c.username == username))
        sessions.start(conn, found, dt.datetime.now(dt.UTC), LIFETIME)


def _sessions(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(console_sessions))


def test_operators_get_a_role_a_new_password_and_are_removed_each_audited(cli, database_url):
    engine = make_engine(database_url)
    assert "operator anna added (admin)" in cli("add", "Anna", typed=PASSWORD + "\n").stdout
    assert "(viewer)" in cli("add", "vera", "--role", "viewer", typed=PASSWORD + "\n").stdout
    assert cli("list").stdout.splitlines() == ["username\trole", "anna\tadmin", "vera\tviewer"]

    _open_session(engine, "vera")
    _open_session(engine, "anna")
    changed = cli("passwd", "vera", typed="a brand new password\n")
    assert changed.returncode == 0 and "sessions have ended" in changed.stdout
    assert _sessions(engine) == 1  # anna's is still open
    assert "vera is now admin" in cli("role", "vera", "admin").stdout
    _open_session(engine, "vera")
    assert cli("remove", "vera").returncode == 0
    assert _sessions(engine) == 1
    assert cli("list").stdout.splitlines() == ["username\trole", "anna\tadmin"]

    with engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.operator, audit_log.c.action)
                            .order_by(audit_log.c.id)).all()
    assert [action for _, action in rows] == [
        "operator_added", "operator_added", "operator_password_changed",
        "operator_role_changed", "operator_removed"]
    assert all(who.startswith("cli:") for who, _ in rows)
    engine.dispose()


def test_operator_commands_say_what_is_wrong(cli):
    missing = cli("passwd", "nobody", typed=PASSWORD + "\n")
    assert missing.returncode == 1 and "there is no operator 'nobody'" in missing.stderr
    assert cli("remove", "nobody").returncode == 1
    weak = cli("add", "vera", typed="short\n")
    assert weak.returncode == 1 and "at least 10 characters" in weak.stderr
    unknown = cli("add", "vera", "--role", "boss", typed=PASSWORD + "\n")
    assert unknown.returncode == 2 and "invalid choice: 'boss'" in unknown.stderr
