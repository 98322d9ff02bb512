"""Permits: look one up by code or by the holder's phone (viewers too), and revoke it (after a
confirmation; admins only)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, url_for
from flask_babel import gettext
from sqlalchemy import Connection
from werkzeug.wrappers import Response

from permits import codes, ledger, phones
from sms_gateway import admin, audit
from sms_gateway.web import confirm, filters, labels, params
from sms_gateway.web.auth import for_viewers, operator_name
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
            raise SearchError(gettext("Type a permit code (e.g. K7MQ-3DXA) or a phone"
                                      " number.")) from exc


def _by_code(conn: Connection, typed: str, country: str,
             moment: dt.datetime) -> list[admin.PermitView]:
    try:
        code = codes.normalize(typed)
    except codes.CodeChecksumError as exc:
        raise SearchError(gettext("That code has a typo: its check character does not"
                                  " match.")) from exc
    found = ledger.find_by_codes(conn, [code]).get(code)
    if found is None:
        return []
    shown = codes.display(code)
    return [v for v in admin.list_permits(conn, moment, found.phone, country) if v.code == shown]


@bp.route("")
@for_viewers
def lookup() -> tuple[str, int]:
    typed = params.text("q", 40, required=False, form=False)
    try:
        found = find(typed)
    except SearchError as exc:
        return render_template("permits.html", q=typed, permits=[], error=str(exc)), 400
    return render_template("permits.html", q=typed, permits=found), 200


def _one(code: str) -> admin.PermitView | None:
    try:
        return next(iter(find(codes.display(codes.normalize(code[:20])))), None)
    except (ValueError, SearchError):
        return None


@bp.route("/<code>/revoke", methods=["GET", "POST"])
def revoke(code: str) -> Response | tuple[str, int] | str:
    if confirm.needed():
        return _ask_revoke(code)
    moment = now()
    try:
        with writing() as conn:
            canonical = admin.revoke(conn, code[:20], moment)
            audit.record(conn, operator_name(), "permit_revoked", moment,
                         code=codes.display(canonical))
    except (codes.CodeFormatError, codes.CodeChecksumError):
        return render_template("permits.html", q="", permits=[],
                               error=gettext("Not revoked: that is not a permit code.")), 400
    except ValueError:  # no issued permit with that code
        return render_template("permits.html", q=code[:20], permits=[],
                               error=gettext("Not revoked: no valid permit has this code.")), 409
    return redirect(url_for("permits.lookup", q=codes.display(canonical)))


def _ask_revoke(code: str) -> tuple[str, int] | str:
    permit = _one(code)
    if permit is None or permit.state not in ("valid", "not_yet_valid"):
        return render_template("permits.html", q=code[:20], permits=[permit] if permit else [],
                               error=gettext("Not revoked: no valid permit has this code.")), 409
    return confirm.ask(confirm.Question(
        title=gettext("Revoke permit %(code)s", code=permit.code),
        question=gettext("Revoke this permit? It stops being valid at once and still counts"
                         " toward the holder's daily limit."),
        facts=((gettext("Code"), permit.code), (gettext("Holder"), phones.mask(permit.phone)),
               (gettext("Reason"), filters.reason_name(permit.reason)),
               (gettext("Valid"), f"{filters.local(permit.valid_from)} –"
                                  f" {filters.local(permit.valid_until, 'time')}"),
               (gettext("State"), labels.label(labels.PERMIT_STATES, permit.state))),
        action=url_for("permits.revoke", code=permit.code),
        button=gettext("Revoke the permit"),
        back=url_for("permits.lookup", q=permit.code)))
