"""The regime per district: each district's state now and its next change, the changes waiting
to start (viewers see these too), and scheduling or cancelling one (administrators' actions,
each confirmed first and audited). Times are typed and shown in the service's time zone."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from permits import localtime, regime
from sms_gateway import audit
from sms_gateway.web import confirm, filters, labels, params
from sms_gateway.web.auth import for_viewers, operator_name
from sms_gateway.web.context import now, reading, services, writing

bp = Blueprint("regimes", __name__, url_prefix="/regimes")
_TYPED = "%Y-%m-%dT%H:%M"  # what a datetime-local field sends


def _page(status: int = 200, **view: object) -> tuple[str, int]:
    moment = now()
    with reading() as conn:
        overview = regime.overview(conn, moment)
        waiting = regime.upcoming(conn, moment)
    return render_template("regimes.html", overview=overview, waiting=waiting,
                           states=labels.REGIMES, whole=regime.WHOLE_REGION, **view), status


@bp.route("")
@for_viewers
def page() -> tuple[str, int]:
    return _page()


@bp.route("", methods=["POST"])
def schedule() -> Response | tuple[str, int] | str:
    district = params.text("district", 40)
    state = request.form.get("state", "")
    if state not in labels.REGIMES:
        params.invalid("state", ", ".join(labels.REGIMES))
    starts, ends = _moment("starts"), _moment("ends")
    if confirm.needed():
        return _ask(district, state, starts, ends)
    moment = now()
    try:
        with writing() as conn:
            change = regime.schedule(
                conn, None if district == regime.WHOLE_REGION else district,
                regime.Regime(state), by=f"web:{operator_name()}", now=moment,
                starts_at=starts, ends_at=ends)
            audit.record(conn, operator_name(), "regime_set", moment, change=change,
                         district=district, state=regime.spelled(regime.Regime(state)),
                         starts=request.form.get("starts") or None,
                         ends=request.form.get("ends") or None)
    except regime.RegimeError as exc:
        if exc.why == "district":
            abort(404)
        return _page(400, error=_explain(exc))
    return redirect(url_for("regimes.page"))


@bp.route("/<int:change_id>/cancel", methods=["GET", "POST"])
def cancel(change_id: int) -> Response | tuple[str, int] | str:
    moment = now()
    if confirm.needed():
        with reading() as conn:
            change = next((c for c in regime.upcoming(conn, moment) if c.id == change_id),
                          None) or abort(404)
        return confirm.ask(confirm.Question(
            title=gettext("Cancel a scheduled change"),
            question=gettext("Cancel this change of regime? It will not happen."),
            facts=_facts(change.district_id or regime.WHOLE_REGION, change.state,
                         change.starts_at, change.ends_at),
            action=url_for("regimes.cancel", change_id=change_id),
            button=gettext("Cancel the change"), back=url_for("regimes.page")))
    try:
        with writing() as conn:
            change = regime.cancel(conn, change_id, moment)
            audit.record(conn, operator_name(), "regime_cancelled", moment, change=change_id,
                         district=change.district_id or regime.WHOLE_REGION,
                         state=regime.spelled(change.state))
    except regime.RegimeError:
        return _page(409, error=gettext("That change has started or is gone: it can no longer"
                                        " be cancelled."))
    return redirect(url_for("regimes.page"))


def _ask(district: str, state: str, starts: dt.datetime | None,
         ends: dt.datetime | None) -> str:
    if district != regime.WHOLE_REGION:
        with reading() as conn:
            known = {d.id for d in regime.overview(conn, now())}
        if district not in known:
            abort(404)
    return confirm.ask(confirm.Question(
        title=gettext("Change the regime"),
        question=gettext("Make this change of regime? Residents' replies follow it from its"
                         " start; the audit log keeps who made it."),
        facts=_facts(district, regime.Regime(state), starts, ends),
        action=url_for("regimes.schedule"), button=gettext("Make the change"),
        back=url_for("regimes.page"),
        fields=tuple((name, request.form.get(name, ""))
                     for name in ("district", "state", "starts", "ends")),
        danger=state != regime.Regime.ON))


def _facts(district: str, state: regime.Regime, starts: dt.datetime | None,
           ends: dt.datetime | None) -> tuple[tuple[str, str], ...]:
    where = (gettext("every district") if district == regime.WHOLE_REGION
             else filters.district_name(district))
    return ((gettext("District"), where),
            (gettext("Regime"), labels.label(labels.REGIMES, state)),
            (gettext("From"), filters.local(starts) if starts else gettext("now")),
            (gettext("Until"), filters.local(ends) if ends else gettext("until changed")))


def _moment(name: str) -> dt.datetime | None:
    """A datetime-local field, in the service's time zone; empty: None."""
    typed = params.text(name, 20, required=False)
    if not typed:
        return None
    try:
        return localtime.moment(dt.datetime.strptime(typed, _TYPED), services().zone)
    except ValueError:  # OutOfRange too: a time with no UTC moment
        abort(400, description=gettext("The field “%(field)s” must be a date and a time.",
                                       field=labels.label(labels.FIELDS, name)))


def _explain(exc: regime.RegimeError) -> str:
    if exc.why == "past":
        return gettext("The start is in the past: leave it empty to make the change now.")
    return gettext("The end must come after the start.")
