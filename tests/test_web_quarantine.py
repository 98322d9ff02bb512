"""The quarantine on the console: seen on the status page and in /metrics, released, deleted."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from sms_gateway.pipeline.inbox import Inbox
from sms_gateway.transport import Concat, InboundPart, Unreadable
from storage.tables.messages import inbox, quarantine
from tests.conftest import NEIGHBOUR, RESIDENT
from tests.test_inbox_gate import allow_poison, forbid_poison
from tests.test_web_status import _metrics
from tests.web_support import audit_rows

pytest_plugins = ["tests.web_support"]  # the console fixtures

CHANNEL = "smpp:mts"


def hold_two(engine, clock) -> tuple[int, int]:
    """A message out of its column's range, and a PDU nothing decodes; their entry ids."""
    inbox_ = Inbox(engine, clock=clock)
    inbox_.store([InboundPart(CHANNEL, RESIDENT, "ВЫХОД\0 1", clock(),
                              concat=Concat(2**31, 2, 1))])
    inbox_.set_aside([Unreadable("modem:pool", b"\x07\x91\xff\x00", "bad PDU", clock(),
                                 sender=NEIGHBOUR)])
    with engine.connect() as conn:
        return tuple(conn.scalars(select(quarantine.c.id).order_by(quarantine.c.id)))


def test_quarantined_items_show_on_the_status_page_and_in_metrics(console, anonymous, engine,
                                                                   clock):
    hold_two(engine, clock)
    assert re.search(r"quarantine</a></td><td>held</td><td class=\"num\">2<", console.get("/").text)
    m = _metrics(anonymous.get("/metrics").text)
    assert m[("permit_gateway_quarantined_messages", (("channel", CHANNEL),))] == 1
    assert m[("permit_gateway_quarantined_messages", (("channel", "modem:pool"),))] == 1


def test_the_quarantine_page_shows_why_escaped_and_masked(console, engine, clock):
    hold_two(engine, clock)
    html = console.get("/quarantine").text
    assert "reference of 32 bits is out of range" in html and "bad PDU" in html
    assert "ВЫХОД\\u0000 1" in html and "07 91 ff 00" in html
    assert "+7927***0001" in html and RESIDENT not in html and NEIGHBOUR not in html


def held_ids(engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.scalars(select(quarantine.c.id).where(quarantine.c.state == "held")))


def test_a_released_message_reaches_the_inbox_and_the_audit_log(console, engine, clock):
    forbid_poison(engine)
    Inbox(engine, clock=clock).store([InboundPart(CHANNEL, RESIDENT, "POISON", clock())])
    [entry] = held_ids(engine)
    refused = console.post(f"/quarantine/{entry}/release")
    assert refused.status_code == 409 and "still refused" in refused.text
    allow_poison(engine)  # the cause is fixed: the operator releases it
    assert console.post(f"/quarantine/{entry}/release").status_code == 302
    with engine.connect() as conn:
        assert conn.scalars(select(inbox.c.text)).all() == ["POISON"]
    assert held_ids(engine) == []
    [row] = audit_rows(engine, "quarantine_released")
    assert (row["operator"], json.loads(row["detail"])) == ("anna", {"entry": entry})


def test_only_messages_are_released_and_a_deleted_entry_is_erased(console, engine, clock):
    _, unreadable = hold_two(engine, clock)
    assert console.post(f"/quarantine/{unreadable}/release").status_code == 409
    assert console.post(f"/quarantine/{unreadable}/delete").status_code == 302
    assert console.post(f"/quarantine/{unreadable}/delete").status_code == 409
    with engine.connect() as conn:
        row = conn.execute(select(quarantine).where(quarantine.c.id == unreadable)).one()
    assert (row.state, row.raw, row.content) == ("deleted", None, "")
    assert [json.loads(r["detail"]) for r in audit_rows(engine, "quarantine_deleted")] == [
        {"entry": unreadable}]
