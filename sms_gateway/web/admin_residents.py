"""Residents: the list (search, district filter, removed ones), one resident's page (the one
page with a full number), importing a CSV, removing one after a confirmation, and issuing a
permit on their behalf."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from permits import phones, registry
from sms_gateway import admin, audit
from sms_gateway.web import confirm, filters, params, queries, rejections, roster
from sms_gateway.web.auth import operator_name
from sms_gateway.web.context import now, reading, services, writing
from sms_gateway.web.issuing import IssueError, issue_for

bp = Blueprint("residents", __name__, url_prefix="/residents")
SHOWN_REJECTIONS = 200
SHOW = ("registry", "removed")


def _district_names() -> dict[str, tuple[str, ...]]:
    """Every configured district's names (both languages), for reading a typed district."""
    return {d.id: (d.name, d.name_en) for d in services().config.districts}


def _page(status: int = 200, **view: object) -> tuple[str, int]:
    wanted = roster.Wanted(params.text("q", 100, required=False, form=False),
                           params.text("district", 40, required=False, form=False),
                           params.integer("temporary", 0, 1, form=False, default=0) == 1)
    show = request.args.get("show", "registry")
    if show not in SHOW:
        params.invalid("show", ", ".join(SHOW))
    country, names = services().config.rules.country, _district_names()
    with reading() as conn:
        district_rows = queries.districts_list(conn)
        if show == "removed":
            before = params.integer("before", 1, 2**63 - 1, form=False, default=0) or None
            found = roster.removed(conn, wanted, country, names, before)
        else:
            after = params.integer("after", 1, 2**63 - 1, form=False, default=0) or None
            found = roster.residents_page(conn, wanted, country, names, after)
    return render_template("residents.html", wanted=wanted, show=show, found=found,
                           districts=district_rows, page_size=roster.PAGE,
                           today=services().rules.local_day(now()), **view), status


@bp.route("")
def search() -> tuple[str, int]:
    gone = params.integer("gone", 1, 2**63 - 1, form=False, default=0)
    return _page(gone=gone)


@bp.route("/<int:resident_id>")
def show(resident_id: int) -> str:
    moment = now()
    with writing() as conn:
        person = queries.resident(conn, resident_id) or abort(404)
        held = admin.list_permits(conn, moment, person["phone"],
                                  services().config.rules.country, limit=20)
        audit.record(conn, operator_name(), "resident_opened", moment, resident=resident_id,
                     phone=phones.mask(person["phone"]))
    return render_template("resident.html", person=person, permits=held,
                           reasons=services().rules.settings.reasons,
                           today=services().rules.local_day(moment))


@bp.route("/import", methods=["POST"])
def import_csv() -> tuple[str, int]:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _page(400, error=gettext("Choose a CSV file to import."))
    source = io.TextIOWrapper(upload.stream, encoding="utf-8-sig", newline="")
    moment = now()
    try:  # committed in chunks of its own, so the SMS path never waits for the whole file
        report = registry.import_residents(services().engine, source,
                                           services().config.rules.country, moment)
        with writing() as conn:
            audit.record(conn, operator_name(), "residents_imported", moment,
                         imported=report.imported, rejected=len(report.rejected),
                         file=upload.filename[:100])
    except UnicodeDecodeError:
        return _page(400, error=gettext("The file is not UTF-8 text."))
    except csv.Error:
        return _page(400, error=gettext("The file is not CSV the importer can read."))
    except registry.RegistryError as exc:
        return _page(400, error=gettext("The file cannot be imported: %(why)s",
                                        why=rejections.explain(str(exc))))
    shown = [(line, rejections.explain(why)) for line, why in report.rejected[:SHOWN_REJECTIONS]]
    return _page(report=report, shown=shown)


@bp.route("/<int:resident_id>/remove", methods=["GET", "POST"])
def remove(resident_id: int) -> Response | tuple[str, int] | str:
    if confirm.needed():
        return _ask_remove(resident_id)
    moment = now()
    try:
        with writing() as conn:
            person = queries.resident(conn, resident_id) or abort(404)
            queries.remove_resident(conn, resident_id)
            audit.record(conn, operator_name(), "resident_removed", moment,
                         resident=resident_id, phone=phones.mask(person["phone"]),
                         district=person["district_id"])
    except queries.HoldsPermits:
        return _page(409, error=gettext("Not removed: this resident holds permits in the"
                                        " ledger, which keeps whose each permit was."))
    return redirect(url_for("residents.search", gone=resident_id))


def _ask_remove(resident_id: int) -> str:
    with reading() as conn:
        person = queries.resident(conn, resident_id) or abort(404)
    return confirm.ask(confirm.Question(
        title=gettext("Remove a resident"),
        question=gettext("Remove this resident from the registry? They can no longer ask for"
                         " permits until they are imported again."),
        facts=((gettext("Name"), person["name"]), (gettext("Phone"), person["phone"]),
               (gettext("District"), filters.district_name(person["district_id"],
                                                           person["district_name"]))),
        action=url_for("residents.remove", resident_id=resident_id),
        button=gettext("Remove the resident"),
        back=url_for("residents.show", resident_id=resident_id)))


@bp.route("/<int:resident_id>/issue", methods=["POST"])
def issue(resident_id: int) -> tuple[str, int]:
    reason = params.integer("reason", 1, 99)
    moment = now()
    with writing() as conn:
        person = queries.resident(conn, resident_id) or abort(404)
        try:
            issued = issue_for(conn, services().rules, person["phone"], reason, operator_name(),
                               moment, filters.language())
        except IssueError:
            abort(400, description=gettext("There is no reason number %(number)s.",
                                           number=reason))
        audit.record(conn, operator_name(), "permit_requested", moment, resident=resident_id,
                     phone=phones.mask(person["phone"]), reason=reason, outcome=issued.kind,
                     code=issued.code)
    return render_template("issued.html", person=person, issued=issued,
                           reason=services().rules.settings.reason(reason)), 200
