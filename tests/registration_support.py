"""Registration by SMS driven through the rules, for the feature's tests and the attacker's
(imported by them as a plugin; this module has no tests of its own)."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from permits.messages import Inbound
from permits.service import Rules


def count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table).where(*where))


@pytest.fixture
def rules_for(config):
    """Rules with `registration = "sms"` and the settings given."""
    def build(**settings) -> Rules:
        return Rules(dataclasses.replace(config.rules, **({"registration": "sms"} | settings)))
    return build


@pytest.fixture
def ask(engine, clock, people):
    """One message from `sender` handled by `rules` in its own transaction: its Outcome."""
    def ask(rules: Rules, sender: str, text: str):
        with engine.begin() as conn:
            [outcome] = rules.handle(conn, [Inbound(sender, text, "smpp:mts", clock())],
                                     clock())
        return outcome
    return ask
