"""Ledger administration shared by the CLI and the web pages."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from sqlalchemy import Connection, insert, select

from permits import codes, ledger, phones, registration_queue
from permits.service import Rules
from sms_gateway.pipeline.notify import OUTBOX, notify
from sms_gateway.pipeline.outbox import new_row
from storage.tables.ledger import PermitState, officers, permits, residents
from storage.tables.messages import outbox


@dataclass(frozen=True)
class PermitView:
    code: str
    phone: str
    name: str
    reason: int
    valid_from: str
    valid_until: str
    state: str
    issued_by: str

    def as_dict(self) -> dict:
        return asdict(self)


def state_now(state: str, valid_from: dt.datetime, valid_until: dt.datetime,
              now: dt.datetime) -> str:
    """The state an operator reads: issued permits are valid, not yet valid or expired."""
    if state != PermitState.ISSUED:
        return state
    if now < valid_from:
        return "not_yet_valid"
    return "valid" if now < valid_until else "expired"


def list_permits(conn: Connection, now: dt.datetime, phone: str | None = None,
                 country: str = "RU", *, limit: int | None = 1000,
                 since: dt.datetime | None = None) -> list[PermitView]:
    """Newest first; `limit` None for all of them, `since` for those issued from then on."""
    query = (select(permits.c.code, residents.c.phone, residents.c.name, permits.c.reason,
                    permits.c.valid_from, permits.c.valid_until, permits.c.state,
                    permits.c.issued_by)
             .join(residents, residents.c.id == permits.c.resident_id)
             .order_by(permits.c.id.desc()).limit(limit))
    if phone:
        query = query.where(residents.c.phone == phones.normalize(phone, country))
    if since is not None:
        query = query.where(permits.c.issued_at >= since)
    return [PermitView(codes.display(r.code), r.phone, r.name, r.reason,
                       r.valid_from.isoformat(), r.valid_until.isoformat(),
                       state_now(r.state, r.valid_from, r.valid_until, now), r.issued_by)
            for r in conn.execute(query)]


def revoke(conn: Connection, typed_code: str, now: dt.datetime) -> str:
    """Revoke a permit by code as typed; returns the canonical code. Raises ValueError."""
    code = codes.normalize(typed_code)
    if not ledger.revoke(conn, code, now):
        raise ValueError(f"no issued permit {codes.display(code)}")
    return code


def list_officers(conn: Connection) -> list[dict]:
    rows = conn.execute(select(officers.c.phone, officers.c.name, officers.c.active)
                        .order_by(officers.c.name))
    return [dict(r._mapping) for r in rows]


def decide_registration(conn: Connection, rules: Rules, registration_id: int, approve: bool,
                        now: dt.datetime) -> registration_queue.Decision:
    """An operator approves or rejects a registration by SMS; the resident is told by SMS on
    the channel their ДА came in on, queued in the same transaction."""
    decision = registration_queue.decide(conn, registration_id, approve, now,
                                         rules.local_day(now))
    texts = rules.texts(decision.english)
    text = (texts("reg_already" if decision.kept else "approved",
                  district=texts.district(decision.person.district_name))
            if decision.person else texts("rejected"))
    conn.execute(insert(outbox), [new_row(None, decision.channel, decision.phone, text, now)])
    notify(conn, OUTBOX)
    return decision
