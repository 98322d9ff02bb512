"""The daily report per district and reason: issued, refused by cause, exempt, checks by
outcome; the same for a day whose rows the retention purge has folded into daily counts.
From the rules, `simulate` and the command line, and the console's CSV, on SQLite and
PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

from permits import codes
from sms_gateway import reports
from sms_gateway.pipeline import purge
from tests.conftest import NEIGHBOUR, OFFICER, RESIDENT, SAMARA_RESIDENT, STRANGER

pytest_plugins = ["tests.cli_support", "tests.web_support"]
ZONE = ZoneInfo("Europe/Samara")
CODE = re.compile(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}")


def a_day_of_traffic(send) -> None:
    first = CODE.search(send(RESIDENT, "ВЫХОД 1").replies[0].text).group()
    send(RESIDENT, "ВЫХОД 1")  # already held
    send(NEIGHBOUR, "ВЫХОД 2")
    send(NEIGHBOUR, "ВЫХОД работа")  # exempt
    send(SAMARA_RESIDENT, "ВЫХОД 1")  # registry only
    send(STRANGER, "ВЫХОД 1")  # not on the registry
    send(OFFICER, f"ПРОВЕРКА {first}")
    send(OFFICER, f"ПРОВЕРКА {codes.display(codes.generate())}")  # unknown
    send(OFFICER, f"ПРОВЕРКА {first[:-1]}{'2' if first[-1] != '2' else '3'}")  # typo


EXPECTED = {
    ("kinel", 1): {"issued": 1, "repeated": 1, "checks_valid": 1},
    ("kinel", 2): {"issued": 1},
    ("kinel", 7): {"exempt": 1},
    ("samara", 1): {"refused_registry_only": 1},
    (None, 1): {"refused_not_resident": 1},
    (None, None): {"checks_unknown": 1, "checks_typo": 1},
}


def shown(report: reports.DailyReport) -> dict:
    return {(row.district_id, row.reason): {k: v for k, v in row.counts.items() if v}
            for row in report.rows}


def test_a_day_is_reported_per_district_and_reason_before_and_after_retention(
        send, engine, clock, rules):
    a_day_of_traffic(send)
    day = rules.local_day(clock())
    with engine.connect() as conn:
        assert shown(reports.daily(conn, day, ZONE)) == EXPECTED
    clock.advance(days=40)
    removed = purge.purge(engine, rules, retain_days=30, now=clock())
    assert removed["outcomes"] and removed["checks"] == 3
    with engine.connect() as conn:
        assert shown(reports.daily(conn, day, ZONE)) == EXPECTED
        assert reports.daily(conn, day + dt.timedelta(days=1), ZONE).rows == ()


def test_the_report_from_the_command_line_after_simulated_traffic(gateway, tmp_path):
    residents = tmp_path / "residents.csv"
    residents.write_text(f"phone,name,district\n{RESIDENT},Иванов Иван Иванович,kinel\n"
                         f"{SAMARA_RESIDENT},Сидорова Анна,samara\n", encoding="utf-8")
    gateway("residents", "import", str(residents))
    gateway("officers", "add", OFFICER, "--name", "Сержант Петров")
    code = CODE.search(gateway("simulate", "--from", RESIDENT, "ВЫХОД 1").stdout).group()
    gateway("simulate", "--from", RESIDENT, "ВЫХОД мусор")
    gateway("simulate", "--from", SAMARA_RESIDENT, "ВЫХОД 2")
    gateway("simulate", "--from", OFFICER, f"код {code}")
    text = gateway("report", "daily").stdout
    today = dt.datetime.now(ZONE).date()
    assert text.splitlines() == [
        f"daily report for {today} (local day, Europe/Samara)",
        "Кинель, 1 магазин: issued 1, checks: valid 1",
        "Кинель, 10 вынос мусора: no permit needed (exempt) 1",
        "Самара, 2 аптека: refused: not issued by SMS there 1",
        "total: issued 1, no permit needed (exempt) 1, refused: not issued by SMS there 1,"
        " checks: valid 1"]
    rows = list(csv.DictReader(io.StringIO(gateway("report", "daily", "--date", str(today),
                                                   "--csv").stdout)))
    assert [(r["district_id"], r["reason"], r["issued"], r["checks_valid"]) for r in rows] == [
        ("kinel", "1", "1", "1"), ("kinel", "10", "0", "0"), ("samara", "2", "0", "0")]
    assert rows[0]["district"] == "Кинель" and rows[0]["reason_name"] == "магазин"
    empty = gateway("report", "daily", "--date", "2020-01-01").stdout
    assert empty.splitlines()[-1] == "total: nothing"
    assert gateway("report", "daily", "--date", "yesterday", check=False).returncode == 1


def test_the_console_offers_the_report_as_csv(console, send, clock, rules):
    a_day_of_traffic(send)
    assert "Download CSV" in console.get("/reports").text
    day = rules.local_day(clock())
    response = console.get(f"/reports/daily.csv?date={day}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="permits-{day}.csv"')
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows[0]["district"] == "Кинель" and rows[0]["reason_name"] == "shop"  # English page
    assert {(r["district_id"], r["reason"]) for r in rows} == {
        (d or "", str(r or "")) for d, r in EXPECTED}
    assert console.get("/reports/daily.csv?date=soon").status_code == 400
    today = console.get("/reports/daily.csv").text
    assert today == response.text
