"""The `permit-gateway` command line, run as a user runs it: real processes, real databases."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import subprocess
import sys
import zoneinfo
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, text, update

from permits.ledger import hour_of
from storage.db import make_engine
from storage.tables.console import audit_log
from storage.tables.ledger import permits, reply_counts
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


def test_import_reports_oversized_and_unstorable_rows_and_keeps_the_good_ones(gateway, tmp_path):
    csv = tmp_path / "hostile.csv"
    csv.write_text(
        "phone,name,district,document\n"
        "+79270000001,Good One,kinel,\n"
        f'+79270000002,"{"x" * 140_000}",kinel,\n'  # over csv's 128 KB field limit
        "+79270000003,Nul\0Name,kinel,\n"
        f"+79270000004,Long Document,kinel,{'9' * 41}\n"
        f"+79270000005,{'y' * 201},kinel,\n"
        f"{'7' * 5000},Huge Phone,kinel,\n"
        "+79270000006,Good Two,kinel,\n",
        encoding="utf-8",
    )
    result = gateway("residents", "import", str(csv))
    assert "imported 2 residents, rejected 5 rows" in result.stdout, result.stderr
    assert "line 3: longer than 4096 characters" in result.stderr
    assert "line 4: name holds U+0000" in result.stderr
    assert "line 5: document is 41 characters long, at most 40 fit" in result.stderr
    assert "line 6: name is 201 characters long, at most 200 fit" in result.stderr
    assert "line 7: longer than 4096 characters" in result.stderr


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


@pytest.mark.parametrize("command", [["db", "upgrade"], ["web"]])
def test_a_folder_the_service_cannot_create_is_named_with_where_relative_paths_point(
        tmp_path, command):
    """Under the systemd unit a relative path lands in read-only /etc: say so in one line."""
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "sqlite:///ledger/permits.db"\n'
                      '[service]\ndata_dir = "state/data"\n[web]\nport = 0\n')
    (tmp_path / "state").write_text("a file where a folder should be\n")
    if command == ["web"]:
        (tmp_path / "ledger").mkdir()
    else:
        (tmp_path / "ledger").write_text("a file where a folder should be\n")
    result = subprocess.run([sys.executable, "-m", "sms_gateway.cli", "--config", str(config),
                             *command], capture_output=True, text=True, cwd=ROOT, timeout=60,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"cannot use {tmp_path}/" in result.stderr
    assert f"are relative to {tmp_path}" in result.stderr


def test_an_officer_needs_a_name(gateway):
    result = gateway("officers", "add", "+79370000099", "--name", "  ", check=False)
    assert result.returncode == 1 and "needs a name" in result.stderr


def test_help_lists_every_command_with_a_line_each(gateway):
    shown = gateway("--help").stdout
    for command in ("db upgrade", "residents import", "officers add", "officers list",
                    "officers remove", "districts enable", "districts disable", "permits list",
                    "permits revoke", "simulate", "run", "web", "operators add",
                    "operators list", "operators passwd", "operators role", "operators remove"):
        line = next((row for row in shown.splitlines()
                     if row.strip().startswith(command + " ")), "")
        assert len(line.split(maxsplit=len(command.split()))) > len(command.split()), command


def test_db_upgrade_says_what_it_did(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "new.db"}"\n')

    def upgrade() -> str:
        return subprocess.run([sys.executable, "-m", "sms_gateway.cli", "--config", str(config),
                               "db", "upgrade"], capture_output=True, text=True, cwd=ROOT,
                              check=True).stdout

    assert upgrade().startswith("database created (revision ")
    assert upgrade().startswith("database is up to date (revision ")


def test_changes_made_from_the_command_line_are_in_the_audit_log(gateway, tmp_path):
    csv = tmp_path / "residents.csv"
    csv.write_text(RESIDENTS, encoding="utf-8")
    gateway("residents", "import", str(csv))
    gateway("officers", "add", "+79370000099", "--name", "Сержант")
    gateway("officers", "remove", "+79370000099")
    gateway("districts", "enable", "samara")
    code = gateway("simulate", "--from", "+79270000001", "ВЫХОД 1").stdout.split()[1]
    gateway("permits", "revoke", code)
    engine = make_engine(gateway.url)
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.operator, audit_log.c.action,
                                   audit_log.c.detail).order_by(audit_log.c.id)).all()
    engine.dispose()
    assert [r.action for r in rows] == ["residents_imported", "officer_added",
                                        "officer_deactivated", "district_on", "permit_revoked"]
    assert all(r.operator == f"cli:{getpass.getuser()}" for r in rows)
    assert json.loads(rows[-1].detail) == {"code": code}
    assert json.loads(rows[1].detail)["phone"] == "+7937***0099"
    assert "79370000099" not in " ".join(r.detail for r in rows)


def test_permits_list_shows_local_times_under_a_header_and_json_keeps_utc(gateway, tmp_path):
    csv = tmp_path / "residents.csv"
    csv.write_text(RESIDENTS, encoding="utf-8")
    gateway("residents", "import", str(csv))
    gateway("simulate", "--from", "+79270000001", "ВЫХОД 1")
    [permit] = json.loads(gateway("permits", "list", "--json").stdout)
    start = dt.datetime.fromisoformat(permit["valid_from"])
    assert start.utcoffset() == dt.timedelta(0)
    header, row = gateway("permits", "list").stdout.splitlines()
    assert header.split("\t")[:5] == ["code", "phone", "reason", "from", "until"]
    local = start.astimezone(zoneinfo.ZoneInfo("Europe/Samara")).strftime("%Y-%m-%d %H:%M")
    assert row.split("\t")[3] == local


def test_permits_list_says_when_it_cut_the_list(gateway, tmp_path):
    csv = tmp_path / "residents.csv"
    csv.write_text(RESIDENTS, encoding="utf-8")
    gateway("residents", "import", str(csv))
    for sender in ("+79270000001", "89270000002"):
        gateway("simulate", "--from", sender, "ВЫХОД 1")
    cut = gateway("permits", "list", "--limit", "1")
    assert len(cut.stdout.splitlines()) == 2 and "--all" in cut.stderr
    whole = gateway("permits", "list", "--all")
    assert len(whole.stdout.splitlines()) == 3 and whole.stderr == ""
    today = dt.datetime.now(zoneinfo.ZoneInfo("Europe/Samara")).date()
    later = gateway("permits", "list", "--since", str(today + dt.timedelta(days=1)))
    assert len(later.stdout.splitlines()) == 1
    assert gateway("permits", "list", "--since", "yesterday", check=False).returncode == 1


def test_simulate_says_on_stderr_why_nothing_was_sent(gateway, tmp_path):
    quiet = gateway("simulate", "--from", "MEGAFON", "Ваш баланс 100 руб")
    assert quiet.stdout == "" and "alphanumeric" in quiet.stderr
    csv = tmp_path / "residents.csv"
    csv.write_text(RESIDENTS, encoding="utf-8")
    gateway("residents", "import", str(csv))
    engine = make_engine(gateway.url)
    with engine.begin() as conn:  # the hour's replies are spent
        conn.execute(reply_counts.insert().values(
            phone="+79270000001", hour=hour_of(dt.datetime.now(dt.UTC)), count=100))
    engine.dispose()
    capped = gateway("simulate", "--from", "+79270000001", "СТАТУС")
    assert capped.stdout == "" and "reply cap" in capped.stderr


def test_quarantine_list_release_and_delete_are_audited(gateway):
    from sms_gateway.pipeline.inbox import Inbox
    from sms_gateway.transport import Concat, InboundPart, Unreadable
    from tests.test_inbox_gate import allow_poison, forbid_poison

    gateway("db", "upgrade")
    engine = make_engine(gateway.url)
    forbid_poison(engine)
    now = dt.datetime.now(dt.UTC)
    Inbox(engine).store([InboundPart("smpp:mts", "+79270000001", "POISON", now),
                         InboundPart("smpp:mts", "+79270000002", "x", now,
                                     concat=Concat(2**40, 2, 1))])
    Inbox(engine).set_aside([Unreadable("modem:pool", b"\x00", "bad PDU", now)])
    header, *lines = gateway("quarantine", "list").stdout.splitlines()
    assert header.split("\t")[:2] == ["id", "quarantined"]
    listed = [line.split("\t") for line in lines]
    assert [(who, kind) for _, _, _, who, kind, _ in listed] == [
        ("-", "unreadable"), ("+7927***0001", "message"), ("+7927***0002", "message")]
    unreadable, poison, wide = (int(line[0]) for line in listed)
    assert listed[1][5].startswith("the database refused it: ")
    assert listed[2][5] == "reference of 41 bits is out of range -2147483648..2147483647"
    assert "still refused" in gateway("quarantine", "release", str(poison), check=False).stderr
    allow_poison(engine)
    assert f"entry #{poison} released" in gateway("quarantine", "release", str(poison)).stdout
    assert f"#{unreadable} deleted" in gateway("quarantine", "delete", str(unreadable)).stdout
    assert gateway("quarantine", "delete", str(unreadable), check=False).returncode == 1
    assert [int(line.split("\t")[0]) for line in
            gateway("quarantine", "list").stdout.splitlines()[1:]] == [wide]
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT operator, action, detail FROM audit_log ORDER BY id"))
        operator = f"cli:{getpass.getuser()}"
        assert [tuple(r) for r in rows] == [
            (operator, "quarantine_released", json.dumps({"entry": poison})),
            (operator, "quarantine_deleted", json.dumps({"entry": unreadable}))]
    engine.dispose()
