"""Officers (add, deactivate) and districts (switch on or off), through permits.registry."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from werkzeug.wrappers import Response

from permits import phones, registry
from sms_gateway import audit
from sms_gateway.web import params, queries
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
            audit.record(conn, operator_name(), "officer_added",
                         f"{phones.mask(number)} {name}", moment)
    except phones.PhoneError:
        return _officers_page(400, error="That is not a phone number.")
    return redirect(url_for("registry.officers"))


@bp.route("/officers/<int:officer_id>/deactivate", methods=["POST"])
def deactivate_officer(officer_id: int) -> Response:
    moment = now()
    with writing() as conn:
        number = queries.officer_phone(conn, officer_id) or abort(404)
        registry.deactivate_officer(conn, number, services().config.rules.country)
        audit.record(conn, operator_name(), "officer_deactivated",
                     f"officer #{officer_id} {phones.mask(number)}", moment)
    return redirect(url_for("registry.officers"))


@bp.route("/districts")
def districts() -> str:
    with reading() as conn:
        rows = queries.districts_list(conn)
    return render_template("districts.html", districts=rows)


@bp.route("/districts/<district_id>", methods=["POST"])
def switch_district(district_id: str) -> Response:
    enabled = params.integer("enabled", 0, 1) == 1
    moment = now()
    with writing() as conn:
        try:
            registry.set_district(conn, district_id, enabled)
        except registry.RegistryError:
            abort(404)
        audit.record(conn, operator_name(), "district_on" if enabled else "district_off",
                     district_id[:40], moment)
    return redirect(url_for("registry.districts"))
