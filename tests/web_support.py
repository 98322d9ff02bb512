"""Fixtures and helpers shared by the web console's tests (imported by tests/test_web_*.py;
this module has no tests of its own)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re

import pytest
from flask.testing import FlaskClient

from sms_gateway import link_health
from sms_gateway.pipeline import outbox
from sms_gateway.pipeline.dispatcher import Dispatcher
from sms_gateway.pipeline.inbox import Inbox
from sms_gateway.transport import InboundPart, LinkHealth, SendResult
from sms_gateway.web.app import create_app
from sms_gateway.web.operators import add_operator
from storage.tables.console import audit_log

PASSWORD = "correct horse battery"
CHANNEL = "modem:sim0"


@pytest.fixture
def console_language() -> str:
    """The console's default language in these tests (the service's stays Russian); the
    tests of the Russian console override it."""
    return "en"


# The console's tests move the clock by hours and days between requests of one login; the
# sessions' own lifetimes are tested with the real defaults (tests/test_web_sessions.py).
LONG_SESSIONS = {"session_idle_minutes": 60 * 24 * 30, "session_max_hours": 24 * 30}


@pytest.fixture
def web_config(config, tmp_path, console_language):
    """The test config with its data folder (where the session secret goes) in tmp_path."""
    return dataclasses.replace(config, data_dir=tmp_path / "data", web=dataclasses.replace(
        config.web, language=console_language, **LONG_SESSIONS))


@pytest.fixture
def operator(engine, clock) -> str:
    with engine.begin() as conn:
        add_operator(conn, "anna", PASSWORD, clock())
    return "anna"


def make_app(web_config, engine, clock, *, ussd: dict | None = None, **web):
    """The console with `[web]` keys changed (`trusted_proxy="127.0.0.1"`, ...), and `[ussd]`
    keys."""
    config = dataclasses.replace(web_config, web=dataclasses.replace(web_config.web, **web),
                                 ussd=dataclasses.replace(web_config.ussd, **(ussd or {})))
    app = create_app(config, engine, clock=clock)
    app.testing = True
    return app


@pytest.fixture
def app(web_config, engine, clock):
    return make_app(web_config, engine, clock)


class Console:
    """A test client that fills in the form's CSRF token as a browser would."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def token(self) -> str:
        self.client.get("/login")  # makes sure the session has a token
        with self.client.session_transaction() as session:
            return session["csrf_token"]

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict | None = None, **kwargs):
        return self.client.post(path, data={"csrf_token": self.token(), **(data or {})},
                                **kwargs)

    def login(self, username: str = "anna", password: str = PASSWORD):
        return self.post("/login", {"username": username, "password": password})


@pytest.fixture
def anonymous(app) -> Console:
    return Console(app.test_client())


@pytest.fixture
def console(app, operator) -> Console:
    """Logged in as `anna`."""
    console = Console(app.test_client())
    assert console.login().status_code == 302
    return console


def audit_rows(engine, action: str | None = None) -> list[dict]:
    """Entries oldest first, each with its facts (`detail` as written: JSON)."""
    query = audit_log.select().order_by(audit_log.c.id)
    if action:
        query = query.where(audit_log.c.action == action)
    with engine.connect() as conn:
        return [dict(r) | {"facts": json.loads(r["detail"])}
                for r in conn.execute(query).mappings()]


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def run_pipeline(engine, rules, clock, messages: list[tuple[str, str]],
                 channel: str = CHANNEL) -> None:
    """Messages through the real inbox and dispatcher, as a transport would hand them over."""
    Inbox(engine, clock=clock).store([InboundPart(channel, sender, text, clock())
                                      for sender, text in messages])
    dispatcher = Dispatcher(engine, rules, clock=clock)
    while dispatcher.run_once().messages:  # officers' messages come in batches of their own
        pass


def send_replies(engine, clock, *, fail: int = 0, channel: str = CHANNEL) -> None:
    """Claim every due reply and report it sent (the first `fail` of them failed for good)."""
    with engine.begin() as conn:
        claimed = outbox.claim(conn, [channel], 1000, clock(), "node-a")
        results = [SendResult(m.id, ok=False, error="+CMS ERROR: 500", permanent=True)
                   if i < fail else SendResult(m.id, ok=True, transport_message_id=f"m{m.id}")
                   for i, m in enumerate(claimed)]
        outbox.record_results(conn, results, clock(), outbox.RetryPolicy())


def report_link(engine, now: dt.datetime, up: bool = True, channel: str = CHANNEL,
                kind: str = "modem", details: dict | None = None,
                down_since: dt.datetime | None = None) -> None:
    with engine.begin() as conn:
        link_health.save(conn, [LinkHealth(channel, kind, up, details or {})], "node-a", now,
                         {channel: down_since} if down_since else None)
