"""A printable permit for a resident without a phone that shows texts: the code, its window,
the holder's name as registered (it is their own paper; an officer compares it with an ID) and
masked number, how an officer checks it, and a QR code that holds the permit code only.

The QR is a regular QR code (not Micro QR, which most phone cameras and zbar cannot read) at
error correction M or higher, drawn as an SVG that scales with its viewBox. The sheet is laid
out for A6 (a card) or A4 by CSS named pages. It is printed in the service's language, the
language of the people who read it, unless the operator asks for the other one."""

from __future__ import annotations

import io

import segno
from flask import Blueprint, abort, render_template, request
from flask_babel import force_locale
from markupsafe import Markup

from permits import codes, ledger
from sms_gateway import admin
from sms_gateway.config import LANGUAGES
from sms_gateway.web import params, queries
from sms_gateway.web.auth import for_viewers
from sms_gateway.web.context import now, reading, services

bp = Blueprint("printing", __name__)
PAPERS = ("a6", "a4")
QUIET_ZONE = 4  # modules of white around the code, as ISO/IEC 18004 asks for readers


def qr_svg(code: str) -> Markup:
    """Inline SVG; `code` is a canonical permit code (our alphabet only, so nothing to escape)."""
    out = io.BytesIO()
    symbol = segno.make(codes.display(code), error="m", micro=False)  # may boost to Q or H
    symbol.save(out, kind="svg", scale=1, border=QUIET_ZONE, xmldecl=False, svgns=True,
                nl=False, omitsize=True, svgclass="qr-code", lineclass=None,
                title=codes.display(code))
    return Markup(out.getvalue().decode("ascii"))


@bp.route("/permits/<code>/print")
@for_viewers
def permit(code: str) -> str:
    try:
        canonical = codes.normalize(code[:20])
    except ValueError:
        abort(404)
    paper = request.args.get("paper", PAPERS[0])
    if paper not in PAPERS:
        params.invalid("paper", ", ".join(PAPERS))
    language = request.args.get("language", services().config.rules.language)
    if language not in LANGUAGES:
        params.invalid("language", ", ".join(LANGUAGES))
    with reading() as conn:
        found = ledger.find_by_codes(conn, [canonical]).get(canonical) or abort(404)
        holder = queries.resident(conn, found.permit.resident_id) or abort(404)
    held = found.permit
    svc = services()
    with force_locale(language):
        return render_template(
            "print.html", code=codes.display(canonical), qr=qr_svg(canonical), permit=held,
            state=admin.state_now(held.state, held.valid_from, held.valid_until, now()),
            holder=holder,
            sms_number=svc.config.sms_number,
            dial=_dial(svc.config.ussd.service_code, canonical),
            paper=paper, papers=PAPERS, language=language)


def _dial(service_code: str, code: str) -> str:
    """`*377*57673392#`: the service code with the permit's keypad digits, dialled at once."""
    return f"{service_code.removesuffix('#')}*{codes.keypad(code)}#"
