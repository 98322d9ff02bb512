"""The audit log page: who did what, newest first, paged by id, in the reader's language."""

from __future__ import annotations

from flask import Blueprint, render_template

from sms_gateway import audit
from sms_gateway.web import audit_words, params
from sms_gateway.web.context import reading

bp = Blueprint("audit", __name__)


@bp.route("/audit")
def page() -> str:
    before = params.integer("before", 1, 2**63 - 1, form=False, default=0) or None
    with reading() as conn:
        rows = audit.page(conn, before)
    older = rows[-1]["id"] if len(rows) == audit.PAGE else None
    shown = [row | dict(zip(("what", "facts"), audit_words.describe(row["action"], row["detail"]),
                            strict=True)) for row in rows]
    return render_template("audit.html", rows=shown, older=older)
