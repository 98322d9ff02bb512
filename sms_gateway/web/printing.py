"""A printable permit for a resident without a phone that shows texts: the code, its window and
a QR code that holds the permit code only (no name, no number), for an officer to scan."""

from __future__ import annotations

import io

import segno
from flask import Blueprint, abort, render_template
from markupsafe import Markup

from permits import codes, ledger
from sms_gateway import admin
from sms_gateway.web.context import now, reading, services

bp = Blueprint("printing", __name__)


def qr_svg(code: str) -> Markup:
    """Inline SVG; `code` is a canonical permit code (our alphabet only, so nothing to escape)."""
    out = io.BytesIO()
    segno.make(codes.display(code), error="m").save(
        out, kind="svg", scale=6, border=2, xmldecl=False, svgns=True, nl=False,
        title="QR code of the permit code")
    return Markup(out.getvalue().decode("ascii"))


@bp.route("/permits/<code>/print")
def permit(code: str) -> str:
    try:
        canonical = codes.normalize(code[:20])
    except ValueError:
        abort(404)
    with reading() as conn:
        found = ledger.find_by_codes(conn, [canonical]).get(canonical) or abort(404)
    held = found.permit
    reason = services().rules.settings.reason(held.reason)
    state = admin.state_now(held.state, held.valid_from, held.valid_until, now())
    return render_template("print.html", code=codes.display(canonical), qr=qr_svg(canonical),
                           permit=held, state=state, district=found.district_name,
                           phone=found.phone,
                           reason=reason.name(services().rules.settings.language) if reason
                           else str(held.reason))
