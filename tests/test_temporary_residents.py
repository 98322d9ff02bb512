"""Temporary residents: a registry entry with a last day (CSV column `until`, or the console);
after it the number is unknown, and retention removes the entry in time. Through the rules,
`simulate`, a real SMPP link and the console, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

from sqlalchemy import select

from permits import registry
from sms_gateway.pipeline import purge
from storage.tables.ledger import residents
from tests.conftest import RESIDENT
from tests.smpp_support import smpp_node, texts_to
from tests.web_support import audit_rows

pytest_plugins = ["tests.cli_support", "tests.web_support"]
GUEST = "+79270000021"


def import_csv(engine, clock, text: str) -> registry.ImportReport:
    with engine.begin() as conn:
        return registry.import_residents(conn, io.StringIO(text), "RU", clock())


def until_of(engine, phone: str) -> dt.date | None:
    with engine.connect() as conn:
        return conn.scalar(select(residents.c.until).where(residents.c.phone == phone))


def test_a_temporary_resident_is_known_up_to_their_last_day_included(send, engine, clock,
                                                                     rules):
    today = rules.local_day(clock())
    import_csv(engine, clock, f"phone,name,district,until\n{GUEST},Гостева Ольга,kinel,"
                              f"{today}\n")
    assert send(GUEST, "ВЫХОД 1").kind == "issued"
    clock.set_local("Europe/Samara", 2026, 11, 25, 23, 59)
    assert send(GUEST, "СТАТУС").replies[0].text.startswith("Активного пропуска нет")
    clock.set_local("Europe/Samara", 2026, 11, 26, 0, 0)
    assert send(GUEST, "ВЫХОД 1").kind == "not_resident"
    assert send(RESIDENT, "ВЫХОД 1").kind == "issued"  # a permanent resident, unaffected


def test_a_bad_last_day_is_rejected_by_line_and_the_rest_imported(engine, clock):
    report = import_csv(engine, clock, "phone,name,district,until\n"
                                       "+79270000021,A,kinel,31.12.2026\n"
                                       "+79270000022,B,kinel,2026-13-01\n"
                                       "+79270000023,C,kinel,2026-12-31\n"
                                       "+79270000024,D,kinel,\n")
    assert report.imported == 2
    assert report.rejected == [
        (2, "until must be a date such as 2026-12-31, not '31.12.2026'"),
        (3, "until must be a date such as 2026-12-31, not '2026-13-01'")]
    assert until_of(engine, "+79270000023") == dt.date(2026, 12, 31)
    assert until_of(engine, "+79270000024") is None


def test_a_file_without_the_column_keeps_last_days_and_an_empty_cell_clears_one(engine, clock):
    import_csv(engine, clock, f"phone,name,district,until\n{GUEST},Гостева,kinel,2026-12-31\n")
    import_csv(engine, clock, f"phone,name,district\n{GUEST},Гостева Ольга,kinel\n")
    assert until_of(engine, GUEST) == dt.date(2026, 12, 31)
    import_csv(engine, clock, f"phone,name,district,until\n{GUEST},Гостева Ольга,kinel,\n")
    assert until_of(engine, GUEST) is None


def test_retention_removes_an_ended_stay_once_its_permits_are_gone(send, engine, clock, rules):
    today = rules.local_day(clock())
    import_csv(engine, clock, f"phone,name,district,until\n{GUEST},Гостева,kinel,{today}\n"
                              f"+79270000022,Проезжий,kinel,{today - dt.timedelta(days=1)}\n")
    send(GUEST, "ВЫХОД 1")
    with engine.begin() as conn:  # as СТОП does to a resident who holds permits
        guest = conn.scalar(select(residents.c.id).where(residents.c.phone == GUEST))
        registry.set_until(conn, guest, today - dt.timedelta(days=1))
    clock.advance(days=30)
    removed = purge.purge(engine, rules, retain_days=30, now=clock())
    assert (removed["permits"], removed["residents"]) == (0, 1)  # today's permit is kept
    assert until_of(engine, "+79270000022") is None and until_of(engine, GUEST) is not None
    clock.advance(days=1)
    removed = purge.purge(engine, rules, retain_days=30, now=clock())
    assert (removed["permits"], removed["residents"]) == (1, 1)
    with engine.connect() as conn:
        assert conn.scalar(select(residents.c.id).where(residents.c.phone == GUEST)) is None


def test_operators_see_and_set_a_last_day(console, engine, clock, people):
    import_csv(engine, clock, f"phone,name,district,until\n{GUEST},Гостева Ольга,kinel,"
                              "2026-11-24\n")
    listed = console.get("/residents?temporary=1").text
    assert "Гостева Ольга" in listed and "Иванов" not in listed
    assert "November 24, 2026" in listed and "(ended)" in listed
    with engine.connect() as conn:
        guest = conn.scalar(select(residents.c.id).where(residents.c.phone == GUEST))
    page = console.get(f"/residents/{guest}").text
    assert "ended: the number is treated as unknown" in page
    assert console.post(f"/residents/{guest}/until", {"until": "2026-12-31"}).status_code == 302
    assert until_of(engine, GUEST) == dt.date(2026, 12, 31)
    assert "(ended)" not in console.get("/residents?temporary=1").text
    assert console.post(f"/residents/{guest}/until", {"until": ""}).status_code == 302
    assert until_of(engine, GUEST) is None
    assert "Гостева" not in console.get("/residents?temporary=1").text
    assert console.post(f"/residents/{guest}/until", {"until": "soon"}).status_code == 400
    assert [row["facts"]["until"] for row in audit_rows(engine, "resident_until_set")] == [
        "2026-12-31", None]


def test_a_temporary_resident_through_simulate(gateway, tmp_path):
    today = dt.datetime.now(ZoneInfo("Europe/Samara")).date()
    csv = tmp_path / "residents.csv"
    csv.write_text("phone,name,district,until\n"
                   f"{GUEST},Гостева Ольга,kinel,{today + dt.timedelta(days=1)}\n"
                   f"+79270000022,Уехавший,kinel,{today - dt.timedelta(days=1)}\n",
                   encoding="utf-8")
    assert "imported 2 residents" in gateway("residents", "import", str(csv)).stdout
    assert gateway("simulate", "--from", GUEST, "ВЫХОД 1").stdout.startswith("ПРОПУСК ")
    assert gateway("simulate", "--from", "+79270000022", "ВЫХОД 1").stdout.startswith(
        "Ваш номер не найден в реестре")


def test_a_temporary_resident_over_smpp(config, engine, people, clock):
    today = dt.datetime.now(ZoneInfo("Europe/Samara")).date()
    import_csv(engine, clock, "phone,name,district,until\n"
                              f"{GUEST},Гостева Ольга,kinel,{today + dt.timedelta(days=1)}\n"
                              f"+79270000022,Уехавший,kinel,{today - dt.timedelta(days=1)}\n")
    with smpp_node(config, engine) as smsc:
        smsc.inject(GUEST, "ВЫХОД 1", encoding="ucs2")
        smsc.inject("+79270000022", "ВЫХОД 1", encoding="ucs2")
        smsc.wait(lambda: texts_to(smsc, GUEST) and texts_to(smsc, "+79270000022"))
    assert texts_to(smsc, GUEST)[0].startswith("ПРОПУСК ")
    assert texts_to(smsc, "+79270000022")[0].startswith("Ваш номер не найден в реестре")


def test_an_ended_stay_dials_the_ussd_menu_as_a_stranger(engine, clock, rules, people):
    from permits.ussd_menu import UssdMenu

    today = rules.local_day(clock())
    import_csv(engine, clock, "phone,name,district,until\n"
                              f"{GUEST},Гостева,kinel,{today}\n"
                              f"+79270000022,Уехавший,kinel,{today - dt.timedelta(days=1)}\n")
    menu = UssdMenu(rules, "*377#")
    with engine.begin() as conn:
        staying = menu.respond(conn, GUEST, [], "ussd", clock())
        ended = menu.respond(conn, "+79270000022", [], "ussd", clock())
    assert staying.text.startswith("Активного пропуска нет")
    assert ended.text.startswith("Пропуск: SMS ВЫХОД")
