"""The audit log: every operator action, written in the same transaction as the action.

An entry keeps its facts (ids, masked numbers, codes) as JSON, not as sentences, so the audit
page tells each operator what happened in their own language. Entries written before that
(plain text) are shown as they were written.
"""

from __future__ import annotations

import datetime as dt
import json

from flask_babel import gettext
from sqlalchemy import Connection, select

from sms_gateway.web import filters, labels
from sms_gateway.web.labels import N_
from sms_gateway.web.schema import audit_log

PAGE = 100
Fact = str | int | None

# action -> (what the operator did, the facts in words)
ACTIONS: dict[str, tuple[str, str]] = {
    "login": (N_("logged in"), N_("from %(address)s")),
    "login_failed": (N_("login refused"), N_("from %(address)s")),
    "logout": (N_("logged out"), ""),
    "resident_opened": (N_("opened a resident"), N_("resident #%(resident)s %(phone)s")),
    "resident_removed": (N_("removed a resident"),
                         N_("resident #%(resident)s %(phone)s, %(district)s")),
    "residents_imported": (N_("imported residents"),
                           N_("%(imported)s imported, %(rejected)s rejected from %(file)s")),
    "permit_requested": (N_("asked for a permit for a resident"),
                         N_("resident #%(resident)s %(phone)s, reason %(reason)s: %(outcome)s"
                            " %(code)s")),
    "permit_revoked": (N_("revoked a permit"), "%(code)s"),
    "officer_added": (N_("added an officer"), "%(phone)s %(name)s"),
    "officer_deactivated": (N_("deactivated an officer"), N_("officer #%(officer)s %(phone)s")),
    "district_on": (N_("switched a district on"), "%(district)s"),
    "district_off": (N_("switched a district off"), "%(district)s"),
}


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


def describe(action: str, detail: str) -> tuple[str, str]:
    """(what was done, the facts) in the page's language; facts that are codes (a district's
    id, a reason's number, an outcome) are shown by their names."""
    title, template = ACTIONS.get(action, (action, ""))
    found = facts(detail)
    if found is None:
        return gettext(title) if action in ACTIONS else title, detail
    values = {key: "" if value is None else str(value) for key, value in found.items()}
    if "outcome" in found:
        values["outcome"] = labels.label(labels.OUTCOMES, str(found["outcome"]))
    if "district" in found:
        values["district"] = filters.district_name(str(found["district"]))
    if isinstance(found.get("reason"), int):
        values["reason"] = filters.reason_name(found["reason"])
    if action not in ACTIONS:
        return action, ", ".join(f"{key} {value}" for key, value in sorted(values.items()))
    try:
        return gettext(title), (gettext(template) % values if template else "").strip()
    except KeyError:  # an entry written with fewer facts than its sentence names
        return gettext(title), ", ".join(values.values())
