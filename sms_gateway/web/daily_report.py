"""The daily report as a CSV download (the same as `permit-gateway report daily --csv`), with
district and reason names in the page's language. Viewers may read it as admins do."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, abort, render_template
from flask_babel import gettext

from permits import localtime
from sms_gateway import reports
from sms_gateway.web import filters, labels, params
from sms_gateway.web.auth import for_viewers
from sms_gateway.web.context import now, reading, services

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.route("")
@for_viewers
def page() -> str:
    return render_template("reports.html", today=services().rules.local_day(now()))


@bp.route("/daily.csv")
@for_viewers
def daily_csv() -> Response:
    day = _day()
    with reading() as conn:
        report = reports.daily(conn, day, services().zone)
    settings = services().rules.settings

    def reason(number: int) -> str:
        found = settings.reason(number)
        return found.name(filters.language()) if found else str(number)

    body = reports.as_csv(report, filters.district_name, reason)
    return Response(body, content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="permits-{day.isoformat()}.csv"'})


def _day() -> dt.date:
    typed = params.text("date", 10, required=False, form=False)
    if not typed:
        return services().rules.local_day(now())
    try:
        return localtime.typed_day(typed, services().zone)
    except ValueError:
        abort(400, description=gettext("The field “%(field)s” must be a date.",
                                       field=labels.label(labels.FIELDS, "date")))
