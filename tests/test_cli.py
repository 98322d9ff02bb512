"""The `permit-gateway` command line, run as a user runs it: real processes, real databases."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import update

from storage.db import make_engine
from storage.tables.ledger import permits
from tests.conftest import ROOT

RESIDENTS = (
    "phone,name,district,document\n"
    "+79270000001,Иванов Иван Иванович,kinel,3601 123456\n"
    "89270000002,Petrov Petr,kinel,\n"
    "not-a-phone,Broken Row,kinel,\n"
    "+79270000003,Сидорова Анна,nowhere,\n"
    "+79270000004,,kinel,\n"
    "+79270000001,Иванов Дубль,kinel,\n"
)


@pytest.fixture
def gateway(tmp_path, database_url):
    """Runs `permit-gateway --config <a config on this test's database>`."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{database_url}"\n'
        "[permits]\nreplies_per_hour = 100\n"
        '[[districts]]\nid = "kinel"\nname = "Кинель"\nenabled = true\n'
        '[[districts]]\nid = "samara"\nname = "Самара"\nenabled = false\n',
        encoding="utf-8",
    )

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "sms_gateway.cli", "--config", str(config), *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        if check:
            assert result.returncode == 0, result.stderr
        return result

    run.config, run.url = config, database_url  # type: ignore[attr-defined]
    return run


def test_import_reports_bad_rows_by_line_and_keeps_good_ones(gateway, tmp_path):
    csv = tmp_path / "residents.csv"
    csv.write_text(RESIDENTS, encoding="utf-8")
    result = gateway("residents", "import", str(csv))
    assert "imported 2 residents, rejected 4 rows" in result.stdout
    assert "line 4: not a phone number" in result.stderr
    assert "line 5: unknown district 'nowhere'" in result.stderr
    assert "line 6: name is empty" in result.stderr
    assert "line 7: phone +7927***0001 repeated" in result.stderr


def test_import_of_a_file_without_the_header_fails_clearly(gateway, tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("a,b\n1,2\n")
    result = gateway("residents", "import", str(csv), check=False)
    assert result.returncode == 1 and "missing: phone, name, district" in result.stderr
    missing = gateway("residents", "import", str(tmp_path / "none.csv"), check=False)
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def test_a_broken_config_stops_with_exit_code_2(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[permits]\nper_day = -1\n")
    result = subprocess.run(
        [sys.executable, "-m", "sms_gateway.cli", "--config", str(config), "db", "upgrade"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 2 and "[permits] per_day" in result.stderr


def test_simulate_officers_districts_permits_end_to_end(gateway, tmp_path):
    csv = tmp_path / "residents.csv"
    csv.write_text(RESIDENTS + "+79270000005,Сидорова Анна,samara,\n", encoding="utf-8")
    gateway("residents", "import", str(csv))
    issued = gateway("simulate", "--from", "+79270000001", "ВЫХОД магазин").stdout
    assert issued.startswith("ПРОПУСК ")
    listed = json.loads(gateway("permits", "list", "--json").stdout)
    assert {"code", "phone", "reason", "valid_from", "valid_until", "state"} <= set(listed[0])
    code = listed[0]["code"]
    assert listed[0]["state"] == "valid" and listed[0]["phone"] == "+79270000001"

    assert (
        "только сотрудникам"
        in gateway("simulate", "--from", "+79370000099", f"проверка {code}").stdout
    )
    gateway("officers", "add", "+79370000099", "--name", "Сержант Петров")
    assert "+79370000099\tСержант Петров\tactive" in gateway("officers", "list").stdout
    assert gateway("simulate", "--from", "+79370000099", code).stdout.startswith("ДЕЙСТВУЕТ")

    gateway("permits", "revoke", code.lower())
    assert gateway("simulate", "--from", "89370000099", code).stdout.startswith("ОТОЗВАН")
    assert (
        json.loads(gateway("permits", "list", "--json", "--phone", "89270000001").stdout)[0][
            "state"
        ]
        == "revoked"
    )
    gateway("officers", "remove", "+79370000099")
    assert "только сотрудникам" in gateway("simulate", "--from", "+79370000099",
                                           f"ПРОВЕРКА {code}").stdout
    assert gateway("simulate", "--from", "+79370000099", code).stdout.startswith("Не понял")

    assert "пока не" in gateway("simulate", "--from", "+79270000005", "ВЫХОД 1").stdout
    gateway("districts", "enable", "samara")
    assert gateway("simulate", "--from", "+79270000005", "ВЫХОД 1").stdout.startswith("ПРОПУСК")
    assert gateway("districts", "enable", "mars", check=False).returncode == 1


def test_simulate_prints_each_reply_on_its_own_line_and_nothing_for_operators(gateway):
    assert gateway("simulate", "--from", "MTS", "Баланс 100 руб").stdout == ""
    help_text = gateway("simulate", "--from", "+79270000001", "help").stdout
    assert help_text.count("\n") == 1 and "1 shop" in help_text


def _race(gateway, sender: str, count: int) -> list[str]:
    """`count` processes asking at once, each text written differently ("выхОд 1", ...):
    identical texts waiting together would be answered once, and each is to race here."""
    texts = ["".join(c.upper() if n >> i & 1 else c for i, c in enumerate("выход")) + " 1"
             for n in range(count)]
    with ThreadPoolExecutor(count) as pool:
        runs = list(pool.map(lambda text: gateway("simulate", "--from", sender, text), texts))
    return [r.stdout.strip() for r in runs]


def test_sixteen_processes_asking_at_once_get_one_permit(gateway, tmp_path):
    csv = tmp_path / "residents.csv"
    csv.write_text(RESIDENTS, encoding="utf-8")
    gateway("residents", "import", str(csv))
    replies = _race(gateway, "+79270000001", 16)
    # "ПРОПУСК K7MQ-3DXA 14:05-15:05, ..." or "Пропуск K7MQ-3DXA уже действует ..."
    codes = {line.split()[1] for line in replies}
    assert len(codes) == 1, replies
    assert len(json.loads(gateway("permits", "list", "--json").stdout)) == 1


def test_the_daily_quota_holds_under_sixteen_concurrent_processes(gateway, tmp_path):
    csv = tmp_path / "residents.csv"
    csv.write_text(RESIDENTS, encoding="utf-8")
    gateway("residents", "import", str(csv))
    gateway("simulate", "--from", "+79270000001", "ВЫХОД 1")
    engine = make_engine(gateway.url)
    with engine.begin() as conn:  # the first permit is over: one slot is left today
        conn.execute(
            update(permits).values(
                valid_from=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=90),
                valid_until=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30),
            )
        )
    engine.dispose()
    replies = _race(gateway, "+79270000001", 16)
    issued = [r for r in replies if r.startswith("ПРОПУСК")]
    assert len(json.loads(gateway("permits", "list", "--json").stdout)) == 2
    assert len(issued) == 1 and all(r.startswith(("ПРОПУСК", "Пропуск")) for r in replies)


def test_one_hundred_thousand_residents_import(gateway, tmp_path):
    csv = tmp_path / "big.csv"
    rows = "".join(f"+7927{n:07d},Житель {n},kinel\n" for n in range(100_000))
    csv.write_text("phone,name,district\n" + rows, encoding="utf-8")
    started = dt.datetime.now()
    result = gateway("residents", "import", str(csv))
    seconds = (dt.datetime.now() - started).total_seconds()
    print(f"100,000 residents imported in {seconds:.1f} s")
    assert "imported 100000 residents, rejected 0 rows" in result.stdout


def test_an_unusable_database_is_a_clear_error_not_a_traceback(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "postgresql://nobody@127.0.0.1:1/none"\n')
    result = subprocess.run([sys.executable, "-m", "sms_gateway.cli", "--config", str(config),
                             "permits", "list"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1 and "cannot be used" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_officer_needs_a_name(gateway):
    result = gateway("officers", "add", "+79370000099", "--name", "  ", check=False)
    assert result.returncode == 1 and "needs a name" in result.stderr
