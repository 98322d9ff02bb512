"""The quarantine: what the inbox set aside (rule 8), to release into the inbox or delete.

Releasing runs a message through the gate into the inbox again (after a fix, or once the
operator has judged it harmless); deleting erases its text and bytes. Both are audited.
"""

from __future__ import annotations

import json
import re

from flask import Blueprint, redirect, render_template, url_for
from werkzeug.wrappers import Response

from permits.phones import mask
from sms_gateway import audit
from sms_gateway.pipeline import quarantine
from sms_gateway.pipeline.inbox import Inbox
from sms_gateway.web import params
from sms_gateway.web.auth import operator_name
from sms_gateway.web.context import now, reading, services, writing

bp = Blueprint("quarantine", __name__, url_prefix="/quarantine")
_SHOWN_CHARS = 400
_SHOWN_BYTES = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


def _page(status: int = 200, **view: object) -> tuple[str, int]:
    before = params.integer("before", 1, params.MAX_ROW_ID, form=False, default=0) or None
    with reading() as conn:
        entries = quarantine.entries(conn, before_id=before)
    older = entries[-1].id if len(entries) == quarantine.PAGE else None
    return render_template("quarantine.html", entries=[_shown(e) for e in entries],
                           older=older, **view), status


@bp.route("")
def page() -> tuple[str, int]:
    return _page()


@bp.route("/<int:entry_id>/release", methods=["POST"])
def release(entry_id: int) -> Response | tuple[str, int]:
    inbox = Inbox(services().engine, clock=services().clock)
    try:
        inbox.release(entry_id, also=lambda conn: audit.record(
            conn, operator_name(), "quarantine_released", now(), entry=entry_id))
    except quarantine.QuarantineError as exc:
        return _page(409, error=str(exc))
    return redirect(url_for("quarantine.page"))


@bp.route("/<int:entry_id>/delete", methods=["POST"])
def delete(entry_id: int) -> Response | tuple[str, int]:
    try:
        with writing() as conn:
            quarantine.resolve(conn, entry_id, quarantine.State.DELETED, now())
            audit.record(conn, operator_name(), "quarantine_deleted", now(), entry=entry_id)
    except quarantine.QuarantineError as exc:
        return _page(409, error=str(exc))
    return redirect(url_for("quarantine.page"))


def _shown(entry: quarantine.Entry) -> dict:
    """An entry for the page: the sender masked, the content readable but escaped."""
    content = json.loads(entry.content or "{}")
    content.pop("sender", None)
    readable = _SURROGATE.sub(lambda m: f"\\u{ord(m[0]):04x}",
                              json.dumps(content, ensure_ascii=False))
    return {"id": entry.id, "at": entry.quarantined_at, "channel": entry.channel,
            "sender": mask(entry.sender) if entry.sender else "", "kind": entry.kind,
            "reason": entry.reason, "content": readable[:_SHOWN_CHARS],
            "raw": entry.raw[:_SHOWN_BYTES].hex(" "), "raw_length": len(entry.raw),
            "releasable": entry.kind == quarantine.Kind.MESSAGE}
