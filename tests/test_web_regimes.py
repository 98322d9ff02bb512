"""The console's regime page (state, next change, scheduling and cancelling with a question
first), its registrations queue, and what a viewer may see of them (the regime and the report,
never a change)."""

from __future__ import annotations

import dataclasses
import io
import re

import pytest
from sqlalchemy import func, select

from permits import registration_queue, registry
from permits.messages import Inbound
from permits.registration_queue import waiting
from permits.service import Rules
from storage.tables.ledger import RegistrationState, districts, regime_changes
from storage.tables.messages import outbox
from tests.web_support import audit_rows

pytest_plugins = ["tests.web_support"]
YES = {"confirmed": "yes"}


def regimes(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(districts.c.id, districts.c.regime)).all())


def test_a_change_is_scheduled_after_a_question_and_shown_with_its_time(console, engine):
    page = console.get("/regimes").text
    assert "on: permits by SMS" in page and "registry only: permits elsewhere" in page
    form = {"district": "kinel", "state": "off", "starts": "2026-11-26T08:00",
            "ends": "2026-11-27T08:00"}
    question = console.post("/regimes", form)
    assert question.status_code == 200
    assert "Make this change of regime?" in question.text
    assert "off: no permit needed" in question.text and 'name="starts"' in question.text
    assert regimes(engine)["kinel"] == "on"
    assert console.post("/regimes", form | YES).status_code == 302
    shown = console.get("/regimes").text
    assert re.search(r'data-district="kinel">.*?on: permits by SMS.*?'
                     r"11/26/26, 8:00\s?AM: off: no permit needed", shown, re.S)
    status = console.get("/").text
    assert 'id="regime"' in status and "11/26/26, 8:00" in status
    [entry] = audit_rows(engine, "regime_set")
    assert entry["facts"] | {"change": None} == {
        "change": None, "district": "kinel", "state": "off", "starts": "2026-11-26T08:00",
        "ends": "2026-11-27T08:00"}
    assert "changed the regime" in console.get("/audit").text


def test_a_change_for_every_district_made_now_applies_at_once(console, engine):
    assert console.post("/regimes", {"district": "all", "state": "off", **YES}).status_code \
        == 302
    assert regimes(engine) == {"kinel": "off", "samara": "off"}


def test_a_scheduled_change_is_cancelled_after_a_question(console, engine):
    console.post("/regimes", {"district": "samara", "state": "on",
                              "starts": "2026-12-01T00:00", **YES})
    with engine.connect() as conn:
        change = conn.scalar(select(regime_changes.c.id).where(
            regime_changes.c.created_by == "web:anna"))
    assert "Cancel this change of regime?" in console.get(f"/regimes/{change}/cancel").text
    assert console.post(f"/regimes/{change}/cancel", YES).status_code == 302
    assert "None." in console.get("/regimes").text
    assert console.get(f"/regimes/{change}/cancel").status_code == 404
    assert console.post(f"/regimes/{change}/cancel", YES).status_code == 409
    assert [r["facts"]["change"] for r in audit_rows(engine, "regime_cancelled")] == [change]


@pytest.mark.parametrize("form, status", [
    ({"district": "kinel", "state": "closed"}, 400),
    ({"district": "kinel", "state": "off", "starts": "soon"}, 400),
    ({"district": "kinel", "state": "off", "starts": "2026-11-01T00:00"}, 400),
    ({"district": "kinel", "state": "off", "starts": "2026-12-02T00:00",
      "ends": "2026-12-01T00:00"}, 400),
    ({"district": "atlantis", "state": "off"}, 404),
])
def test_a_change_that_cannot_be_made_is_refused(console, engine, form, status):
    assert console.post("/regimes", form | YES).status_code == status
    assert regimes(engine) == {"kinel": "on", "samara": "registry_only"}


def test_a_rejected_registration_is_deleted_and_the_resident_told(console, engine, config,
                                                                  clock, people):
    rules = Rules(dataclasses.replace(config.rules, registration="sms"))
    for text in ("РЕГ Смирнова Кинель", "ДА"):
        with engine.begin() as conn:
            rules.handle(conn, [Inbound("+79270001111", text, "modem:pool", clock())], clock())
    with engine.connect() as conn:
        [row] = waiting(conn)
    assert "Reject this registration?" in console.get(f"/registrations/{row['id']}/reject").text
    assert console.post(f"/registrations/{row['id']}/reject", YES).status_code == 302
    assert "No registration is waiting." in console.get("/registrations").text
    assert console.post(f"/registrations/{row['id']}/reject", YES).status_code == 409
    with engine.connect() as conn:
        told = conn.execute(select(outbox.c.recipient, outbox.c.channel, outbox.c.text)
                            .where(outbox.c.inbox_id.is_(None))).all()
    assert [tuple(t) for t in told] == [("+79270001111", "modem:pool", "Заявку на регистрацию"
                                         " отклонили. Вопросы — в администрацию района.")]
    [entry] = audit_rows(engine, "registration_rejected")
    assert entry["facts"]["phone"] == "+7927***1111"


def _queue_registrations(engine, config, clock, phones: list[str]) -> list[dict]:
    """Strangers who sent РЕГ and ДА, waiting for an operator's approval."""
    rules = Rules(dataclasses.replace(config.rules, registration="sms"))
    for phone in phones:
        for text in ("РЕГ Смирнова Кинель", "ДА"):
            with engine.begin() as conn:
                rules.handle(conn, [Inbound(phone, text, "modem:pool", clock())], clock())
    with engine.connect() as conn:
        return waiting(conn)


def test_approving_a_number_the_registry_has_meanwhile_tells_the_operator_it_was_kept(
        console, engine, config, clock, people):
    [row] = _queue_registrations(engine, config, clock, ["+79270001111"])
    with engine.begin() as conn:  # the administration imports the number meanwhile
        registry.import_residents(conn, io.StringIO(
            "phone,name,district\n+79270001111,Смирнова Ольга Петровна,samara\n"), "RU", clock())
    page = console.post(f"/registrations/{row['id']}/approve", YES)
    assert page.status_code == 200
    assert ("+7927***1111 was on the registry already (Самара): the entry was kept as it is,"
            " and the resident was told so by SMS.") in page.text


def test_the_registrations_page_says_when_it_shows_only_the_oldest(console, engine, clock,
                                                                    people):
    with engine.begin() as conn:  # a queue longer than the page, as after a busy weekend
        registration_queue.save(conn, {f"+7927100{n:04d}": registration_queue.Pending(
            f"+7927100{n:04d}", "Смирнова", "kinel", RegistrationState.APPROVAL, "ru",
            "modem:pool", 1, clock(), None) for n in range(205)})
    page = console.get("/registrations").text
    assert page.count("data-registration=") == 200
    assert "The oldest 200 of 205 waiting" in page


def test_a_viewer_sees_the_regime_and_the_report_but_changes_nothing(viewer, engine):
    form = {"district": "kinel", "state": "off", "starts": "2026-12-01T00:00", **YES}
    assert viewer.post("/regimes", form).status_code == 403
    page = viewer.get("/regimes")
    assert page.status_code == 200 and 'data-district="kinel"' in page.text
    assert 'id="schedule"' not in page.text and "/cancel" not in page.text
    links = viewer.get("/").text
    assert 'href="/regimes"' in links and 'href="/reports"' in links
    assert 'href="/registrations"' not in links
    report = viewer.get("/reports/daily.csv", query_string={"date": "2026-11-25"})
    assert report.status_code == 200 and report.content_type.startswith("text/csv")
    assert viewer.get("/registrations").status_code == 403
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(regime_changes)) == 2  # the first


@pytest.mark.parametrize("console_language", ["ru"])
def test_the_regime_pages_speak_russian(console):
    form = {"district": "all", "state": "registry_only", "starts": "2026-12-01T00:00"}
    question = console.post("/regimes", form).text
    assert "Изменить режим?" in question and "все районы" in question
    assert "только реестр: пропуска не по SMS" in question
    page = console.get("/regimes").text
    assert "Запланированные изменения" in page and "включён: пропуска по SMS" in page
    assert "Скачать CSV" in console.get("/reports").text
    assert "Заявок нет." in console.get("/registrations").text
