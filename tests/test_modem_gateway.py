"""End to end over GSM modems: the real Gateway and ModemTransport, real ptys, `SimModem`s.

Every test runs on SQLite and on PostgreSQL.  Replies are read back from what the simulated
modems were asked to send; waits end as soon as their condition holds, nothing is timed.
"""

from __future__ import annotations

import io
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from permits import registry
from storage.tables.ledger import permits, verifications
from storage.tables.messages import inbox, outbox, quarantine
from tests.conftest import NEIGHBOUR, OFFICER, RESIDENT, ROOT, STRANGER
from tests.modem_gateway_rig import count, service
from tools.sim_modem import SimModem
from tools.waiting import wait_for

# 168 characters of Cyrillic: UCS2, three parts of at most 67.
LONG_REQUEST = (
    "ВЫХОД магазин. Здравствуйте, прошу пропуск в продуктовый магазин у дома, "
    "нужно купить хлеб, молоко и лекарства для мамы, вернусь через сорок минут. Спасибо!"
)


def codes(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.scalars(select(permits.c.code)))


def code_in(reply_text: str) -> str:
    """`ПРОПУСК K7MQ-3DXA 13:00-14:00, ...` -> `K7MQ3DXA`, as the ledger stores it."""
    return reply_text.split()[1].replace("-", "")


def add_residents(engine, clock, numbers: list[str]) -> None:
    csv = "phone,name,district\n" + "".join(f"{n},R {i},kinel\n" for i, n in enumerate(numbers))
    with engine.begin() as conn:
        registry.import_residents(conn, io.StringIO(csv), "RU", clock())


def test_cyrillic_and_latin_requests_are_answered_with_permits(
    tmp_path: Path, config, engine, people
) -> None:
    with service(tmp_path, config, engine) as s:
        s.sim.inject(RESIDENT, "ВЫХОД магазин")
        s.sim.inject(NEIGHBOUR, "EXIT shop")
        s.wait_replies(2)
        [russian], [english] = s.replies_to(RESIDENT), s.replies_to(NEIGHBOUR)
        wait_for(lambda: not s.sim.sim_messages(), what="SIM emptied after the commits")
    assert russian.text.startswith("ПРОПУСК ") and "магазин" in russian.text
    assert english.text.startswith("PERMIT ") and "shop" in english.text
    assert {code_in(russian.text), code_in(english.text)} == codes(engine)
    assert count(engine, inbox, inbox.c.state == "done", inbox.c.outcome == "issued") == 2


def test_three_part_request_out_of_order_gives_exactly_one_permit(
    tmp_path: Path, config, engine, people
) -> None:
    assert len(LONG_REQUEST) > 134
    with service(tmp_path, config, engine) as s:
        injected = s.sim.inject(RESIDENT, LONG_REQUEST, shuffle=True)
        [reply] = s.wait_replies(1)
        wait_for(lambda: not s.sim.sim_messages(), what="all three parts deleted")
    assert len(injected.indexes) == 3
    assert reply.to == RESIDENT and reply.text.startswith("ПРОПУСК ")
    assert codes(engine) == {code_in(reply.text)}
    with engine.connect() as conn:
        assert conn.scalars(select(inbox.c.text)).all() == [LONG_REQUEST]


def test_reply_needing_two_parts_arrives_as_two_parts_and_is_delivered(
    tmp_path: Path, config, engine, people
) -> None:
    with service(tmp_path, config, engine) as s:
        s.sim.inject(NEIGHBOUR, "HELP")
        [reply] = s.wait_replies(1)
        parts = s.sim.sent()
        # A status report comes for each part; the row is delivered once both are.
        wait_for(
            lambda: count(engine, outbox, outbox.c.state == "delivered") == 1,
            what="both parts' receipts applied",
        )
    assert reply.parts == 2 and [p["concat"][1:] for p in parts] == [[2, 1], [2, 2]]  # type: ignore[index]
    with engine.connect() as conn:
        row = conn.execute(select(outbox.c.text, outbox.c.delivery_state)).one()
    assert reply.text == row.text and row.delivery_state == "DELIVRD"


def test_sms_waiting_on_the_sim_before_start_up_are_all_handled(
    tmp_path: Path, config, engine, people
) -> None:
    with service(tmp_path, config, engine, start=False) as s:
        s.sim.inject(RESIDENT, "ВЫХОД 1")
        s.sim.inject(NEIGHBOUR, "EXIT 1")
        s.sim.inject(STRANGER, "ВЫХОД 1")
        s.start()
        s.wait_replies(3)
        wait_for(lambda: not s.sim.sim_messages(), what="SIM emptied")
    assert {r.to for r in s.replies()} == {RESIDENT, NEIGHBOUR, STRANGER}
    assert len(codes(engine)) == 2  # the stranger is told they are not in the registry
    assert count(engine, inbox, inbox.c.state == "done") == 3


def test_a_crash_between_commit_and_delete_loses_nothing_and_issues_nothing_twice(
    tmp_path: Path, database_url, config, engine, people
) -> None:
    with SimModem(tmp_path / "modem0", seed=3) as sim:
        sim.inject(RESIDENT, "ВЫХОД магазин")
        sim.inject(NEIGHBOUR, LONG_REQUEST, shuffle=True)
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.modem_gateway_child", database_url, sim.device],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().split() == ["stored", "4"]
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        assert len(sim.sim_messages()) == 4, "committed, never deleted"
        assert count(engine, inbox) == 2
        with service(tmp_path, config, engine, sims=[sim]) as s:  # the restart
            s.wait_replies(2)
            wait_for(lambda: not sim.sim_messages(), what="SIM emptied after the restart")
            wait_for(
                lambda: count(engine, outbox, outbox.c.state.in_(("sent", "delivered"))) == 2,
                what="both replies recorded",
            )
    assert count(engine, inbox) == 2 and count(engine, permits) == 2
    assert sorted(r.to for r in s.replies()) == sorted([RESIDENT, NEIGHBOUR])


def test_the_port_vanishing_and_coming_back_mid_flow(
    tmp_path: Path, config, engine, people
) -> None:
    with service(tmp_path, config, engine) as s:
        s.sim.inject(RESIDENT, "ВЫХОД магазин")
        wait_for(lambda: count(engine, inbox) == 1, what="first request stored")
        s.sim.vanish(1.0)  # its reply is on its way out or waiting: either way it must come
        s.sim.inject(NEIGHBOUR, "EXIT shop")  # lands on the SIM while the port is gone
        wait_for(
            lambda: {r.to for r in s.replies()} == {RESIDENT, NEIGHBOUR},
            what="both answered after the port came back",
        )
        wait_for(lambda: not s.sim.sim_messages(), what="SIM emptied")
    assert count(engine, permits) == 2 and count(engine, inbox) == 2
    assert {code_in(r.text) for r in s.replies()} == codes(engine)  # a resend repeats a code


def test_a_full_sim_is_drained(tmp_path: Path, config, engine, people, clock) -> None:
    numbers = [f"+7927100{n:04d}" for n in range(30)]
    add_residents(engine, clock, numbers)
    with service(tmp_path, config, engine, start=False) as s:
        for number in numbers:
            s.sim.inject(number, "ВЫХОД 1")
        assert s.sim.inject(RESIDENT, "ВЫХОД 1").rejected == 1  # the SIM is full
        s.start()
        s.wait_replies(30)
        wait_for(lambda: not s.sim.sim_messages(), what="SIM drained")
        s.sim.inject(RESIDENT, "ВЫХОД 1")  # room again
        s.wait_replies(31)
    assert {r.to for r in s.replies()} == {*numbers, RESIDENT}
    assert count(engine, permits) == 31


def test_cms_error_on_send_is_retried_on_the_other_modem(
    tmp_path: Path, config, engine, people
) -> None:
    with service(tmp_path, config, engine, count=2) as s:
        s.sims[0].faults.send_error = 500
        for number, text in ((RESIDENT, "ВЫХОД 1"), (NEIGHBOUR, "EXIT 1"), (STRANGER, "help")):
            s.sims[0].inject(number, text)
        s.wait_replies(3)
        failed = s.modem_status("m0")["failed"]
    assert s.sims[0].sent() == [] and {r.modem for r in s.replies()} == {1}
    assert failed and int(failed) >= 1  # m0 was tried, failed, and the pool moved the message
    with engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.state, outbox.c.attempts, outbox.c.transport_message_id)
        ).all()
    assert all(r.attempts == 1 and str(r.transport_message_id).startswith("m1:") for r in rows)


def test_an_officers_check_is_answered(tmp_path: Path, config, engine, people) -> None:
    with service(tmp_path, config, engine) as s:
        s.sim.inject(RESIDENT, "ВЫХОД аптека")
        [permit] = s.wait_replies(1)
        code = permit.text.split()[1]
        s.sim.inject(OFFICER, f"ПРОВЕРКА {code.lower()}")
        s.wait_replies(2)
        [answer] = s.replies_to(OFFICER)
    assert "ДЕЙСТВУЕТ" in answer.text
    with engine.connect() as conn:
        assert conn.scalars(select(verifications.c.outcome)).all() == ["valid"]


def test_a_nul_or_an_undecodable_pdu_on_the_sim_stops_no_other_sms(
    tmp_path: Path, config, engine, people
) -> None:
    sim = SimModem(tmp_path / "modem0", seed=0).start()
    try:  # all arrive while the gateway is down: the first sweep reads them together
        sim.inject(RESIDENT, "ВЫ\0ХОД магазин")
        sim.inject(NEIGHBOUR, "СТАТУС")
        sim.inject_pdu("0791974152000000040B91")  # cut off in the sender's address
        with service(tmp_path, config, engine, sims=[sim]) as s:
            s.wait_replies(2)
            wait_for(lambda: not s.sim.sim_messages(), what="SIM emptied after the commit")
    finally:
        sim.stop()
    [issued], [status] = s.replies_to(RESIDENT), s.replies_to(NEIGHBOUR)
    assert issued.text.startswith("ПРОПУСК ") and status.text.startswith("Активного пропуска нет")
    with engine.connect() as conn:
        assert conn.execute(select(quarantine.c.kind, quarantine.c.channel)).all() == [
            ("unreadable", "modem:pool")]
