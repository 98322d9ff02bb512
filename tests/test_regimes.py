"""The regime per district: off (no permit needed), on, registry-only; made now or scheduled,
per district or region-wide, applied by the scheduler on every node (a fake clock), and the
replies that say what applies. SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from permits import regime
from permits.messages import Inbound
from permits.regime import Change, RegimeError, next_change, state_at
from permits.service import Rules
from sms_gateway import reports
from sms_gateway.gateway import Gateway
from sms_gateway.loopback import LoopbackTransport
from storage.db import make_engine
from storage.tables.console import audit_log
from storage.tables.ledger import Regime, districts, permits
from tests.conftest import OFFICER, RESIDENT, SAMARA_RESIDENT, STRANGER
from tests.smpp_support import smpp_node, texts_to
from tools.waiting import wait_for

pytest_plugins = ["tests.cli_support"]  # `gateway`: the command line on a test database

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def hours(n: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=n)


# -- which state applies when (pure) -----------------------------------------------------------


def test_the_change_that_started_last_wins_and_an_ended_one_gives_the_state_back():
    changes = [Change(1, "kinel", Regime.ON, hours(-100), None),
               Change(2, None, Regime.OFF, hours(1), hours(5)),  # the whole region, a while
               Change(3, "kinel", Regime.REGISTRY_ONLY, hours(2), hours(3))]
    assert state_at(changes, "kinel", T0) == Regime.ON
    assert state_at(changes, "kinel", hours(1)) == Regime.OFF
    assert state_at(changes, "samara", hours(1)) == Regime.OFF
    assert state_at(changes, "kinel", hours(2.5)) == Regime.REGISTRY_ONLY
    assert state_at(changes, "kinel", hours(3)) == Regime.OFF  # back to the region's change
    assert state_at(changes, "kinel", hours(5)) == Regime.ON  # and then to the district's own
    assert state_at(changes, "samara", hours(5)) is None  # no change of its own: kept as it is
    assert next_change(changes, "kinel", T0) == regime.Next(hours(1), Regime.OFF)
    assert next_change(changes, "kinel", hours(3)) == regime.Next(hours(5), Regime.ON)
    assert next_change(changes, "kinel", hours(6)) is None


# -- what residents are told -------------------------------------------------------------------


def set_regime(engine, district, state, clock, **times):
    with engine.begin() as conn:
        return regime.schedule(conn, district, state, by="test", now=clock(), **times)


def test_where_there_is_no_regime_nobody_needs_a_permit_and_officers_still_check(
        send, engine, clock):
    issued = send(RESIDENT, "ВЫХОД магазин")
    code = issued.replies[0].text.split()[1]
    set_regime(engine, "kinel", Regime.OFF, clock)
    for text in ("ВЫХОД магазин", "ВЫХОД", "можно выйти в аптеку?"):
        outcome = send(RESIDENT, text)
        assert outcome.kind == "no_regime", text
        assert outcome.replies[0].text == "Пропуск не нужен: в районе Кинель режим сейчас не" \
                                          " введён."
    assert send(RESIDENT, "EXIT shop").replies[0].text == (
        "No permit is needed: there is no regime in Kinel at present.")
    check = send(OFFICER, f"ПРОВЕРКА {code}")
    assert check.kind == "verified" and check.replies[0].text.startswith("ДЕЙСТВУЕТ")
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(permits)) == 1


def test_registry_only_says_where_to_get_a_permit(engine, config, clock, people):
    def ask(rules: Rules, sender: str, text: str = "ВЫХОД 1"):
        with engine.begin() as conn:
            return rules.handle(conn, [Inbound(sender, text, "t", clock())], clock())[0]

    plain = Rules(config.rules)
    outcome = ask(plain, SAMARA_RESIDENT)
    assert outcome.kind == "registry_only"
    assert outcome.replies[0].text == ("Пропуск по SMS здесь не выдают. Обратитесь в"
                                       " администрацию района.")
    office = Rules(dataclasses.replace(config.rules, registry_office="тел. 8 846 212-34-56"))
    assert ask(office, SAMARA_RESIDENT, "ВЫХОД 2").replies[0].text == (
        "Пропуск по SMS здесь не выдают. Где получить: тел. 8 846 212-34-56")
    assert ask(office, SAMARA_RESIDENT, "EXIT 2").replies[0].text == (
        "No SMS permits here yet. Get one from: тел. 8 846 212-34-56")
    assert ask(office, SAMARA_RESIDENT, "ВЫХОД работа").kind == "exempt"  # true anywhere


def test_a_registry_office_too_long_for_the_reply_is_refused_at_start():
    from sms_gateway.config import ConfigError, from_dict
    from tests.conftest import ROOT

    with pytest.raises(ConfigError, match="registry_office"):
        from_dict({"permits": {"registry_office": "администрация района, улица Мира, дом 1"}},
                  ROOT)


def test_when_no_district_has_a_regime_strangers_need_no_permit_either(send, engine, clock):
    assert send(STRANGER, "ВЫХОД 1").kind == "not_resident"
    set_regime(engine, None, Regime.OFF, clock)
    outcome = send(STRANGER, "ВЫХОД 1")
    assert outcome.kind == "no_regime" and "не введён" in outcome.replies[0].text


# -- changes made now, scheduled, cancelled ----------------------------------------------------


def regimes(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(districts.c.id, districts.c.regime)).all())


def test_a_change_made_now_applies_at_once_and_a_scheduled_one_waits(engine, clock):
    set_regime(engine, None, Regime.OFF, clock)
    assert regimes(engine) == {"kinel": "off", "samara": "off"}
    change = set_regime(engine, "samara", Regime.ON, clock,
                        starts_at=clock() + dt.timedelta(hours=1))
    assert regimes(engine) == {"kinel": "off", "samara": "off"}
    with engine.connect() as conn:
        [samara] = [d for d in regime.overview(conn, clock()) if d.id == "samara"]
        assert samara.next == regime.Next(clock() + dt.timedelta(hours=1), Regime.ON)
        assert [c.id for c in regime.upcoming(conn, clock())] == [change]
    with engine.begin() as conn:
        regime.cancel(conn, change, clock())
        assert regime.upcoming(conn, clock()) == []
    with pytest.raises(RegimeError), engine.begin() as conn:
        regime.cancel(conn, change, clock())


@pytest.mark.parametrize("times, why", [
    ({"starts_at": T0 - dt.timedelta(minutes=1)}, "past"),
    ({"starts_at": T0 + dt.timedelta(hours=2), "ends_at": T0 + dt.timedelta(hours=1)}, "order"),
])
def test_a_start_in_the_past_or_an_end_before_the_start_is_refused(engine, clock, times, why):
    with pytest.raises(RegimeError) as refused, engine.begin() as conn:
        regime.schedule(conn, "kinel", Regime.OFF, by="test", now=clock(), **times)
    assert refused.value.why == why


def test_the_scheduler_applies_a_change_on_time_and_undoes_it_when_it_ends(
        config, engine, people, clock):
    loopback = LoopbackTransport("regime")
    gateway = Gateway(config, engine, [loopback], clock=clock, node="a")
    loopback.start(gateway.sink)
    assert (gateway.maintenance.apply_regimes, 5) in gateway.maintenance.jobs()
    set_regime(engine, "kinel", Regime.OFF, clock, starts_at=clock() + dt.timedelta(hours=1),
               ends_at=clock() + dt.timedelta(hours=2))
    gateway.maintenance.apply_regimes()
    assert regimes(engine)["kinel"] == "on"
    clock.advance(minutes=59, seconds=59)
    gateway.maintenance.apply_regimes()
    assert regimes(engine)["kinel"] == "on"
    clock.advance(seconds=1)
    gateway.maintenance.apply_regimes()
    assert regimes(engine)["kinel"] == "off"
    loopback.inject(RESIDENT, "ВЫХОД 1")
    gateway.dispatcher.run_once()
    gateway.senders[0].run_once()
    assert loopback.sent[-1].text.startswith("Пропуск не нужен")
    clock.advance(hours=1)
    gateway.maintenance.apply_regimes()
    assert regimes(engine)["kinel"] == "on"
    with engine.connect() as conn:
        applied = conn.execute(select(audit_log.c.operator, audit_log.c.detail)
                               .where(audit_log.c.action == "regime_applied")
                               .order_by(audit_log.c.id)).all()
    assert [(who, detail) for who, detail in applied] == [
        ("scheduler:a", '{"district": "kinel", "state": "off"}'),
        ("scheduler:a", '{"district": "kinel", "state": "on"}')]


def test_the_running_scheduler_applies_a_due_change(config, engine, people, clock):
    gateway = Gateway(config, engine, [], clock=clock)
    set_regime(engine, "samara", Regime.OFF, clock, starts_at=clock() + dt.timedelta(days=1))
    gateway.start()
    try:
        clock.advance(days=1)
        wait_for(lambda: regimes(engine)["samara"] == "off", timeout=60,
                 what="the scheduler's regime job")
    finally:
        gateway.stop()


def test_two_nodes_apply_a_change_once_and_agree_on_it(config, engine, people, clock):
    nodes = [Gateway(config, engine, [LoopbackTransport(f"node-{name}")], clock=clock,
                     node=name) for name in ("a", "b")]
    for gateway in nodes:
        gateway.transports[0].start(gateway.sink)
    for step in range(1, 6):  # kinel and samara swap states every hour, five times
        set_regime(engine, "kinel", Regime.OFF if step % 2 else Regime.ON, clock,
                   starts_at=clock() + dt.timedelta(hours=step))
        set_regime(engine, "samara", Regime.ON if step % 2 else Regime.OFF, clock,
                   starts_at=clock() + dt.timedelta(hours=step))
    def apply(gateway: Gateway, start: threading.Barrier) -> None:
        start.wait()
        gateway.maintenance.apply_regimes()

    for _ in range(5):
        clock.advance(hours=1)
        start = threading.Barrier(len(nodes))
        threads = [threading.Thread(target=apply, args=(g, start)) for g in nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert regimes(engine) == {"kinel": "off", "samara": "on"}
    with engine.connect() as conn:
        applied = conn.scalar(select(func.count()).select_from(audit_log)
                              .where(audit_log.c.action == "regime_applied"))
    assert applied == 10  # each district changed five times, each change recorded once
    for gateway, sender in zip(nodes, (RESIDENT, SAMARA_RESIDENT), strict=True):
        gateway.transports[0].inject(sender, "ВЫХОД 1")  # each node answers one of them
        gateway.dispatcher.run_once()
    with engine.connect() as conn:
        from storage.tables.messages import inbox

        decided = dict(conn.execute(select(inbox.c.sender, inbox.c.outcome)).all())
    assert decided == {RESIDENT: "no_regime", SAMARA_RESIDENT: "issued"}


def test_a_scheduled_switch_over_smpp_and_the_day_it_makes(config, engine, people, clock):
    """A real link, the running scheduler on a fake clock: the same request before and after
    the district's regime goes off, and the day's report of both."""
    clock.now = dt.datetime.now(dt.UTC)  # the link stamps what it receives by the wall clock
    set_regime(engine, "kinel", Regime.OFF, clock, starts_at=clock() + dt.timedelta(hours=1))
    with smpp_node(config, engine, clock) as smsc:
        smsc.inject(RESIDENT, "ВЫХОД 1", encoding="ucs2")
        smsc.wait(lambda: texts_to(smsc, RESIDENT))
        clock.advance(hours=1)
        wait_for(lambda: regimes(engine)["kinel"] == "off", timeout=60,
                 what="the scheduler's regime job")
        smsc.inject(RESIDENT, "ВЫХОД 2", encoding="ucs2")
        smsc.wait(lambda: len(texts_to(smsc, RESIDENT)) == 2)
    first, second = texts_to(smsc, RESIDENT)
    assert first.startswith("ПРОПУСК ")
    assert second == "Пропуск не нужен: в районе Кинель режим сейчас не введён."
    rules, zone = Rules(config.rules), ZoneInfo(config.rules.timezone)
    days = {rules.local_day(clock() - dt.timedelta(hours=1)), rules.local_day(clock())}
    with engine.connect() as conn:  # one local day, or two if the hour crossed midnight
        rows = [row for day in days for row in reports.daily(conn, day, zone).rows]
    assert {(row.district_id, row.reason): +row.counts for row in rows} == {
        ("kinel", 1): {"issued": 1}, ("kinel", 2): {"no_regime": 1}}


# -- from the command line, through simulate ---------------------------------------------------

RESIDENTS_CSV = ("phone,name,district\n+79270000001,Иванов Иван Иванович,kinel\n"
                 "+79270000003,Сидорова Анна,samara\n")


def test_regime_set_show_and_cancel_from_the_command_line(gateway, tmp_path):
    csv = tmp_path / "residents.csv"
    csv.write_text(RESIDENTS_CSV, encoding="utf-8")
    gateway("residents", "import", str(csv))
    assert gateway("regime", "set", "kinel", "off").stdout.startswith("change #")
    assert gateway("simulate", "--from", RESIDENT, "ВЫХОД 1").stdout.startswith(
        "Пропуск не нужен: в районе Кинель")
    zone = ZoneInfo("Europe/Samara")
    start = (dt.datetime.now(zone) + dt.timedelta(days=2)).replace(second=0, microsecond=0)
    end = start + dt.timedelta(hours=3)
    made = gateway("regime", "set", "all", "registry-only", "--from", f"{start:%Y-%m-%d %H:%M}",
                   "--until", f"{end:%Y-%m-%d %H:%M}").stdout
    change = made.split()[1].strip("#:")
    shown = gateway("regime", "show").stdout
    assert f"Кинель\tkinel\toff\t{start:%Y-%m-%d %H:%M} registry-only" in shown
    assert "Самара\tsamara\tregistry-only\t-" in shown  # registry-only all along
    assert (f"{change}\tall\tregistry-only\t{start:%Y-%m-%d %H:%M}\t{end:%Y-%m-%d %H:%M}"
            in shown)
    gateway("regime", "cancel", change)
    assert "waiting to start" not in gateway("regime", "show").stdout
    past = gateway("regime", "set", "kinel", "on", "--from", "2020-01-01 00:00", check=False)
    assert past.returncode == 1 and "in the past" in past.stderr
    assert gateway("regime", "set", "mars", "on", check=False).returncode == 1
    assert gateway("regime", "set", "kinel", "on", "--from", "tomorrow",
                   check=False).returncode == 1
    gateway("districts", "enable", "samara")
    assert gateway("simulate", "--from", SAMARA_RESIDENT, "ВЫХОД 1").stdout.startswith("ПРОПУСК")
    gateway("districts", "disable", "samara")
    assert "здесь не выдают" in gateway("simulate", "--from", SAMARA_RESIDENT, "ВЫХОД 2").stdout
    engine = make_engine(gateway.url)
    with engine.connect() as conn:
        actions = list(conn.scalars(select(audit_log.c.action).order_by(audit_log.c.id)))
    engine.dispose()
    assert actions[1:] == ["regime_set", "regime_set", "regime_cancelled", "district_on",
                           "district_off"]
