"""Registrations by SMS waiting for an operator (`[permits] registration_approval`): approve
(the entry is stored) or reject (nothing is kept); either way the resident gets an SMS.
Administrators' actions, each confirmed first and audited."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from permits import phones, registration_queue
from sms_gateway import admin, audit
from sms_gateway.web import confirm, filters
from sms_gateway.web.auth import operator_name
from sms_gateway.web.context import now, reading, services, writing

bp = Blueprint("registrations", __name__, url_prefix="/registrations")


def _page(status: int = 200, **view: object) -> tuple[str, int]:
    with reading() as conn:
        rows = registration_queue.waiting(conn)
        total = registration_queue.waiting_count(conn) if rows else 0
    return render_template("registrations.html", rows=rows, total=total,
                           approval=services().rules.settings.registration_approval,
                           **view), status


@bp.route("")
def page() -> tuple[str, int]:
    return _page()


@bp.route("/<int:registration_id>/approve", methods=["GET", "POST"])
def approve(registration_id: int) -> Response | tuple[str, int] | str:
    return _decide(registration_id, approve=True)


@bp.route("/<int:registration_id>/reject", methods=["GET", "POST"])
def reject(registration_id: int) -> Response | tuple[str, int] | str:
    return _decide(registration_id, approve=False)


def _decide(registration_id: int, approve: bool) -> Response | tuple[str, int] | str:
    if confirm.needed():
        return _ask(registration_id, approve)
    moment = now()
    try:
        with writing() as conn:
            decision = admin.decide_registration(conn, services().rules, registration_id,
                                                 approve, moment)
            audit.record(conn, operator_name(),
                         "registration_approved" if approve else "registration_rejected",
                         moment, registration=registration_id,
                         phone=phones.mask(decision.phone),
                         resident=decision.person.id if decision.person else None)
    except registration_queue.RegistrationError:
        return _page(409, error=gettext("That registration has been decided already."))
    if decision.kept:
        return _page(notice=gettext(
            "%(phone)s was on the registry already (%(district)s): the entry was kept as it"
            " is, and the resident was told so by SMS.", phone=phones.mask(decision.phone),
            district=filters.district_name(decision.person.district_id,
                                           decision.person.district_name)))
    return redirect(url_for("registrations.page"))


def _ask(registration_id: int, approve: bool) -> str:
    with reading() as conn:
        pending = registration_queue.waiting_one(conn, registration_id) or abort(404)
    return confirm.ask(confirm.Question(
        title=gettext("Approve a registration") if approve
        else gettext("Reject a registration"),
        question=gettext("Add this resident to the registry? They are told by SMS and can ask"
                         " for permits at once.") if approve
        else gettext("Reject this registration? Its details are deleted and the resident is"
                     " told by SMS."),
        facts=((gettext("Name"), pending.name), (gettext("Phone"), phones.mask(pending.phone)),
               (gettext("District"), filters.district_name(pending.district_id)),
               (gettext("Asked"), filters.local(pending.asked_at))),
        action=url_for("registrations.approve" if approve else "registrations.reject",
                       registration_id=registration_id),
        button=gettext("Approve") if approve else gettext("Reject"),
        back=url_for("registrations.page"), danger=not approve))
