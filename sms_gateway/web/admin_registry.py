"""Officers (add, deactivate) and districts (switch on or off), through permits.registry;
deactivating and switching ask for a confirmation first."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from permits import phones, regime, registry
from sms_gateway import audit
from sms_gateway.web import confirm, filters, params, queries
from sms_gateway.web.auth import operator_name
from sms_gateway.web.context import now, reading, services, writing

bp = Blueprint("registry", __name__)


def _officers_page(status: int = 200, **view: object) -> tuple[str, int]:
    with reading() as conn:
        officers = queries.officers_list(conn)
    return render_template("officers.html", officers=officers, **view), status


@bp.route("/officers")
def officers() -> tuple[str, int]:
    return _officers_page()


@bp.route("/officers", methods=["POST"])
def add_officer() -> Response | tuple[str, int]:
    typed, name = params.text("phone", 40), params.text("name", 200)
    moment = now()
    try:
        with writing() as conn:
            number = registry.add_officer(conn, typed, name, services().config.rules.country,
                                          moment)
            audit.record(conn, operator_name(), "officer_added", moment,
                         phone=phones.mask(number), name=name)
    except phones.PhoneError:
        return _officers_page(400, error=gettext("That is not a phone number."))
    return redirect(url_for("registry.officers"))


@bp.route("/officers/<int:officer_id>/deactivate", methods=["GET", "POST"])
def deactivate_officer(officer_id: int) -> Response | str:
    moment = now()
    if confirm.needed():
        with reading() as conn:
            officer = queries.officer(conn, officer_id) or abort(404)
        return confirm.ask(confirm.Question(
            title=gettext("Deactivate an officer"),
            question=gettext("Deactivate this officer? Their permit checks will be refused"
                             " from now on."),
            facts=((gettext("Name"), officer["name"]),
                   (gettext("Phone"), phones.mask(officer["phone"]))),
            action=url_for("registry.deactivate_officer", officer_id=officer_id),
            button=gettext("Deactivate"), back=url_for("registry.officers")))
    with writing() as conn:
        number = queries.officer_phone(conn, officer_id) or abort(404)
        registry.deactivate_officer(conn, number, services().config.rules.country)
        audit.record(conn, operator_name(), "officer_deactivated", moment,
                     officer=officer_id, phone=phones.mask(number))
    return redirect(url_for("registry.officers"))


@bp.route("/districts")
def districts() -> str:
    with reading() as conn:
        rows = queries.districts_list(conn)
    return render_template("districts.html", districts=rows)


@bp.route("/districts/<district_id>", methods=["GET", "POST"])
def switch_district(district_id: str) -> Response | str:
    enabled = params.integer("enabled", 0, 1, form=request.method == "POST") == 1
    if confirm.needed():
        return _ask_switch(district_id, enabled)
    moment = now()
    with writing() as conn:
        try:
            regime.switch(conn, district_id, enabled, by=f"web:{operator_name()}", now=moment)
        except regime.RegimeError:
            abort(404)
        audit.record(conn, operator_name(), "district_on" if enabled else "district_off",
                     moment, district=district_id[:40])
    return redirect(url_for("registry.districts"))


def _ask_switch(district_id: str, enabled: bool) -> str:
    with reading() as conn:
        district = queries.district(conn, district_id[:40]) or abort(404)
    name = filters.district_name(district["id"], district["name"])
    if enabled:
        question = gettext("Switch the service on in %(district)s? Its residents can ask for"
                           " permits by SMS from now on.", district=name)
    else:
        question = gettext("Switch the service off in %(district)s? Its residents are refused"
                           " new permits until it is switched on again; permits already"
                           " issued stay valid.", district=name)
    return confirm.ask(confirm.Question(
        title=gettext("Switch on %(district)s", district=name) if enabled
        else gettext("Switch off %(district)s", district=name),
        question=question, facts=(),
        action=url_for("registry.switch_district", district_id=district["id"]),
        button=gettext("Switch on") if enabled else gettext("Switch off"),
        back=url_for("registry.districts"), fields=(("enabled", "1" if enabled else "0"),),
        danger=not enabled))
