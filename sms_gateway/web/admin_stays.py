"""A temporary resident's last day, set or cleared on their page (an administrator's action,
audited). After it their number is treated as unknown; clearing it makes them permanent."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, redirect, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from permits import phones, registry
from sms_gateway import audit
from sms_gateway.web import labels, params, queries
from sms_gateway.web.auth import operator_name
from sms_gateway.web.context import now, writing

bp = Blueprint("stays", __name__, url_prefix="/residents")


@bp.route("/<int:resident_id>/until", methods=["POST"])
def set_until(resident_id: int) -> Response:
    until = _date(params.text("until", 10, required=False))
    moment = now()
    with writing() as conn:
        person = queries.resident(conn, resident_id) or abort(404)
        registry.set_until(conn, resident_id, until)
        audit.record(conn, operator_name(), "resident_until_set", moment, resident=resident_id,
                     phone=phones.mask(person["phone"]),
                     until=until.isoformat() if until else None)
    return redirect(url_for("residents.show", resident_id=resident_id))


def _date(typed: str) -> dt.date | None:
    if not typed:
        return None
    try:
        return dt.date.fromisoformat(typed)
    except ValueError:
        abort(400, description=gettext("The field “%(field)s” must be a date.",
                                       field=labels.label(labels.FIELDS, "until")))
