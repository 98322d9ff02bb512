"""A gateway process SIGKILLed in the middle of its work, then started again.

SMPP: the SMSC keeps every deliver_sm until it is answered ESME_ROK, as real ones do, so what
the dead process never acknowledged comes again after the restart. Modem: many SMS wait on the
SIM at start-up and the process dies while storing and deleting them; the restarted process
reads what is left, and the dedup keys keep each SMS to one inbox row.

Short forms run by default; the full forms (5,000 SMPP requests, a 240-slot SIM) run with
`-m slow` or `FAULTS_FULL=1`.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults_support import (
    FORMS,
    KeepingSmsc,
    Ledger,
    Node,
    add_residents,
    check_smpp_flood,
    flood,
    form,
    node_config,
    phones,
    wait_for,
)
from tools.sim_modem import SimModem

SMPP_REQUESTS = {"short": 1500, "full": 5000}
SIM_MESSAGES = {"short": 60, "full": 240}
# When to kill: the share of the flood acknowledged, or of the SIM drained, at each kill.
SMPP_KILLS = {"short": (0.4,), "full": (0.2, 0.5, 0.8)}
SIM_KILLS = {"short": (0.5,), "full": (0.25, 0.5, 0.75)}


@pytest.fixture(params=FORMS)
def size(request: pytest.FixtureRequest) -> str:
    return form(request)


def test_sigkill_mid_smpp_flood_loses_nothing_and_issues_nothing_twice(
        size: str, database_url: str, engine, tmp_path: Path) -> None:
    numbers = phones(SMPP_REQUESTS[size])
    add_residents(engine, numbers)
    with KeepingSmsc() as smsc:
        config = node_config(tmp_path / "node.toml", database_url, smpp_port=smsc.port)
        log = tmp_path / "node.log"
        flooding = None
        killed_at = []
        for share in SMPP_KILLS[size]:
            node = Node(config, "kinel-1", log)
            try:
                wait_for(lambda: smsc.bound_count() >= 1, what="the node bound")
                # Long enough to outlast the restarts, so each kill lands in the flood.
                seconds = 3.0 * len(SMPP_KILLS[size]) + 1.0
                flooding = flooding or flood(smsc, numbers, seconds, chunk=100)
                wait_for(lambda share=share: smsc.acknowledged() >= len(numbers) * share,
                         what=f"{share:.0%} of the flood acknowledged")
            finally:
                node.kill()
            killed_at.append(smsc.acknowledged())
        assert killed_at[0] < len(numbers), "the first kill came after the whole flood"
        last = Node(config, "kinel-1", log)  # the restart that finishes the work
        try:
            assert flooding is not None
            flooding.join(120)
            wait_for(smsc.all_acknowledged, timeout=300, what="every request acknowledged")
            wait_for(lambda: set(smsc.replied_phones()) >= set(numbers), timeout=300,
                     what="every resident answered")
            wait_for(lambda: Ledger.read(engine).settled, timeout=120, what="ledger settled")
        finally:
            last.stop()
    check_smpp_flood(engine, smsc, numbers)
    assert "Traceback" not in log.read_text(encoding="utf-8")


def _slow_deletes(sim: SimModem, seconds: float) -> None:
    """AT+CMGD takes `seconds` (a real SIM takes tens of milliseconds per delete), so the
    kill can land between the commit and the last delete."""
    storage = sim.state.storage("SM")
    delete = storage.delete

    def slow(index: int, flag: int = 0) -> None:
        time.sleep(seconds)
        delete(index, flag)

    storage.delete = slow  # type: ignore[method-assign]


def test_sigkill_while_draining_the_sim_handles_every_sms_exactly_once(
        size: str, database_url: str, engine, tmp_path: Path) -> None:
    count = SIM_MESSAGES[size]
    numbers = phones(count, prefix="+7928")
    add_residents(engine, numbers)
    with SimModem(tmp_path / "modem0", capacity=count, seed=5) as sim:
        for n, number in enumerate(numbers):
            assert sim.inject(number, "ВЫХОД магазин" if n % 2 else "EXIT shop").rejected == 0
        _slow_deletes(sim, 0.02)
        config = node_config(tmp_path / "node.toml", database_url, modems=[sim.device])
        log = tmp_path / "node.log"
        for share in SIM_KILLS[size]:
            node = Node(config, "kinel-1", log)
            try:
                wait_for(lambda share=share: len(sim.sim_messages()) <= count * (1 - share),
                         what=f"{share:.0%} of the SIM stored and deleted")
            finally:
                node.kill()
            left = len(sim.sim_messages())
            assert 0 < left < count, "the kill must land while the SIM is being drained"
            stored = sum(Ledger.read(engine).inbox_rows.values())
            assert stored == count, "the sweep commits everything it read before deleting"
        last = Node(config, "kinel-1", log)
        try:
            wait_for(lambda: not sim.sim_messages(), what="SIM emptied after the restart")
            wait_for(lambda: {str(e["to"]) for e in sim.sent()} >= set(numbers), timeout=300,
                     what="every sender answered")
            wait_for(lambda: Ledger.read(engine).settled, what="ledger settled")
        finally:
            last.stop()
    ledger = Ledger.read(engine)
    assert {p: n for p, n in ledger.inbox_rows.items() if n != 1} == {}
    assert set(ledger.inbox_rows) == set(numbers)
    assert all(len(ledger.permits.get(p, [])) == 1 for p in numbers)
    for entry in sim.sent():
        [code] = ledger.permits[str(entry["to"])]
        assert f"{code[:4]}-{code[4:]}" in str(entry["text"])
