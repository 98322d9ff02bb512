"""Permits: look one up by code or by the holder's phone, and revoke it."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, url_for
from sqlalchemy import Connection
from werkzeug.wrappers import Response

from permits import codes, ledger, phones
from sms_gateway import admin, audit
from sms_gateway.web import params
from sms_gateway.web.auth import operator_name
from sms_gateway.web.context import now, reading, services, writing

bp = Blueprint("permits", __name__, url_prefix="/permits")
LATEST = 50


class SearchError(ValueError):
    """What was typed is neither a permit code nor a phone number."""


def find(typed: str) -> list[admin.PermitView]:
    """Permits matching a code (with its check character) or a holder's phone; newest first."""
    country, moment = services().config.rules.country, now()
    with reading() as conn:
        if not typed:
            return admin.list_permits(conn, moment, limit=LATEST)
        if codes.looks_like_code(typed):
            return _by_code(conn, typed, country, moment)
        try:
            return admin.list_permits(conn, moment, phones.normalize(typed, country), country,
                                      limit=LATEST)
        except phones.PhoneError as exc:
            raise SearchError("Type a permit code (e.g. K7MQ-3DXA) or a phone number.") from exc


def _by_code(conn: Connection, typed: str, country: str,
             moment: dt.datetime) -> list[admin.PermitView]:
    try:
        code = codes.normalize(typed)
    except codes.CodeChecksumError as exc:
        raise SearchError("That code has a typo: its check character does not match.") from exc
    found = ledger.find_by_codes(conn, [code]).get(code)
    if found is None:
        return []
    shown = codes.display(code)
    return [v for v in admin.list_permits(conn, moment, found.phone, country) if v.code == shown]


@bp.route("")
def lookup() -> tuple[str, int]:
    typed = params.text("q", 40, required=False, form=False)
    try:
        found = find(typed)
    except SearchError as exc:
        return render_template("permits.html", q=typed, permits=[], error=str(exc)), 400
    return render_template("permits.html", q=typed, permits=found), 200


@bp.route("/<code>/revoke", methods=["POST"])
def revoke(code: str) -> Response | tuple[str, int]:
    moment = now()
    try:
        with writing() as conn:
            canonical = admin.revoke(conn, code[:20], moment)
            audit.record(conn, operator_name(), "permit_revoked", codes.display(canonical),
                         moment)
    except (codes.CodeFormatError, codes.CodeChecksumError):
        return render_template("permits.html", q="", permits=[],
                               error="Not revoked: that is not a permit code."), 400
    except ValueError as exc:  # no issued permit with that code
        return render_template("permits.html", q=code[:20], permits=[],
                               error=f"Not revoked: {exc}."), 409
    return redirect(url_for("permits.lookup", q=codes.display(canonical)))
