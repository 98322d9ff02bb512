"""Residents: find one by phone, open it (the one page with a full number), import a CSV,
remove one, and issue a permit on their behalf."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from permits import phones, registry
from sms_gateway import admin, audit
from sms_gateway.web import params, queries
from sms_gateway.web.auth import operator_name
from sms_gateway.web.context import now, reading, services, writing
from sms_gateway.web.issuing import IssueError, issue_for

bp = Blueprint("residents", __name__, url_prefix="/residents")
SHOWN_REJECTIONS = 200


def _page(status: int = 200, **view: object) -> tuple[str, int]:
    return render_template("residents.html", **view), status


@bp.route("")
def search() -> Response | tuple[str, int]:
    typed = params.text("phone", 40, required=False, form=False)
    if not typed:
        return _page(removed=params.integer("removed", 0, 2**31, form=False, default=0))
    try:
        phone = phones.normalize(typed, services().config.rules.country)
    except phones.PhoneError:
        return _page(400, error="That is not a phone number.", phone=typed)
    with reading() as conn:
        found = queries.resident_id_by_phone(conn, phone)
    if found is None:
        return _page(404, error=f"No resident with the number {phones.mask(phone)}.",
                     phone=typed)
    return redirect(url_for("residents.show", resident_id=found))


@bp.route("/<int:resident_id>")
def show(resident_id: int) -> str:
    moment = now()
    with writing() as conn:
        person = queries.resident(conn, resident_id) or abort(404)
        held = admin.list_permits(conn, moment, person["phone"],
                                  services().config.rules.country, limit=20)
        audit.record(conn, operator_name(), "resident_opened",
                     f"resident #{resident_id} {phones.mask(person['phone'])}", moment)
    return render_template("resident.html", person=person, permits=held,
                           reasons=services().rules.settings.reasons)


@bp.route("/import", methods=["POST"])
def import_csv() -> tuple[str, int]:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _page(400, error="Choose a CSV file to import.")
    source = io.TextIOWrapper(upload.stream, encoding="utf-8-sig", newline="")
    moment = now()
    try:  # committed in chunks of its own, so the SMS path never waits for the whole file
        report = registry.import_residents(services().engine, source,
                                           services().config.rules.country, moment)
        with writing() as conn:
            audit.record(conn, operator_name(), "residents_imported",
                         f"{report.imported} imported, {len(report.rejected)} rejected"
                         f" from {upload.filename[:100]!r}", moment)
    except UnicodeDecodeError:
        return _page(400, error="The file is not UTF-8 text.")
    except csv.Error as exc:
        return _page(400, error=f"The file is not CSV the importer can read: {exc}")
    except registry.RegistryError as exc:
        return _page(400, error=str(exc))
    return _page(report=report, shown=report.rejected[:SHOWN_REJECTIONS])


@bp.route("/<int:resident_id>/remove", methods=["POST"])
def remove(resident_id: int) -> Response | tuple[str, int]:
    moment = now()
    try:
        with writing() as conn:
            person = queries.resident(conn, resident_id) or abort(404)
            queries.remove_resident(conn, resident_id)
            audit.record(conn, operator_name(), "resident_removed",
                         f"resident #{resident_id} {phones.mask(person['phone'])}", moment)
    except registry.RegistryError as exc:
        return _page(409, error=str(exc))
    return redirect(url_for("residents.search", removed=resident_id))


@bp.route("/<int:resident_id>/issue", methods=["POST"])
def issue(resident_id: int) -> tuple[str, int]:
    reason = params.integer("reason", 1, 99)
    moment = now()
    with writing() as conn:
        person = queries.resident(conn, resident_id) or abort(404)
        try:
            issued = issue_for(conn, services().rules, person["phone"], reason, operator_name(),
                               moment)
        except IssueError as exc:
            abort(400, description=str(exc))
        audit.record(conn, operator_name(), "permit_requested",
                     f"resident #{resident_id} {phones.mask(person['phone'])} reason {reason}:"
                     f" {issued.kind} {issued.code or ''}".rstrip(), moment)
    return render_template("issued.html", person=person, issued=issued), 200
