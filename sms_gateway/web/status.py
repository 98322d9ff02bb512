"""The status page: what an operator on duty needs to see at a glance, refreshed every 15 s."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, render_template

from sms_gateway.pipeline import quarantine
from sms_gateway.web import chart, figures
from sms_gateway.web.auth import for_viewers
from sms_gateway.web.context import reading, services

bp = Blueprint("status", __name__)
CHART_MINUTES = 180
REFRESH_SECONDS = 15


@bp.route("/")
@for_viewers
def page() -> str:
    svc = services()
    now = svc.clock()
    today = svc.rules.local_day(now)
    with reading() as conn:
        received, sent = figures.per_minute(conn, now - dt.timedelta(minutes=CHART_MINUTES))
        view = {
            "links": figures.links(conn, now),
            "throughput": figures.throughput(conn, now),
            "waiting": figures.replies_waiting(conn),
            "depths": figures.queue_depths(conn),
            "oldest": figures.oldest_waiting(conn, now),
            "replies": figures.replies(conn, svc.day_start(now)),
            "outcomes": figures.day_outcomes(conn, today),
            "checks": figures.verification_outcomes(conn, svc.day_start(now)),
            "errors": figures.recent_errors(conn),
            "nodes": figures.nodes(conn, now),
            "quarantined": sum(count for _, count in quarantine.held_by_channel(conn)),
        }
    view["chart"] = chart.throughput(received, sent, now, CHART_MINUTES, svc.zone)
    return render_template("status.html", today=today, refresh=REFRESH_SECONDS,
                           hours=CHART_MINUTES // 60,
                           window=int(figures.THROUGHPUT_WINDOW.total_seconds() // 60), **view)
