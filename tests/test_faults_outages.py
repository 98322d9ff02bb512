"""Outages of the SMSC under load: replies wait for their link, none is failed or lost.

* The SMSC goes away for half an hour, time compressed: the node's retry policy is scaled
  down (`retry_base_seconds` 5 s becomes 5 s / COMPRESSION), so the outage stands for thirty
  minutes at the default policy, long past the old 21 minutes after which every queued reply
  was failed with "link down".
* The link flaps every second during a flood, with the production retry policy: everyone is
  answered soon after the flood, no send is counted against a link that was down, and the
  redelivered requests and repeated replies are counted.
* The SMSC drops the link just as our deliver_sm_resp arrives and delivers those messages again
  after the rebind, as SMSCs do: one answer per request.

The gateway runs as `permit-gateway run` in a child process, as in production. Short forms run
by default; the full forms with `-m slow` or `FAULTS_FULL=1`.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults_support import (
    FORMS,
    TEXTS,
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

# requests, outage in seconds, time compression (both stand for 30 minutes)
OUTAGES = {"short": (300, 7.2, 250), "full": (3000, 18.0, 100)}
# requests, the flood's length in seconds, seconds between two drops
FLAPS = {"short": (3000, 4.0, 1.0), "full": (8000, 30.0, 1.0)}
# rounds of requests, each cut off by a drop as it is acknowledged; requests per round
REDELIVERIES = {"short": (4, 40), "full": (20, 200)}
# "Soon after the flood": the last reply leaves within this much of the flood's end. A reply
# charged an attempt for a drop waited 5, 10, 20 ... s more; this allows for a loaded machine.
DRAIN_SECONDS = 30.0


@pytest.fixture(params=FORMS)
def size(request: pytest.FixtureRequest) -> str:
    return form(request)


def drain(smsc: KeepingSmsc, engine, numbers: list[str], since: float) -> float:
    """Seconds from `since` until every one of `numbers` had an answer; then the ledger
    settles (nothing left to decide or send)."""
    wait_for(lambda: set(smsc.replied_phones()) >= set(numbers), timeout=300,
             what="every resident answered")
    seconds = time.monotonic() - since
    wait_for(lambda: Ledger.read(engine).settled, what="ledger settled")
    return seconds


def test_an_smsc_gone_for_half_an_hour_loses_no_reply_and_fails_none(
        size: str, database_url: str, engine, tmp_path: Path) -> None:
    count, away, compression = OUTAGES[size]
    numbers = phones(count)
    add_residents(engine, numbers)
    policy = {"retry_base_seconds": 5.0 / compression, "retry_max_seconds": 60.0 / compression}
    # The operator's contract caps the rate, so the replies are still queued when it goes.
    cap = {"max_per_second": max(10, count // 4)}
    with KeepingSmsc() as smsc:
        node = Node(node_config(tmp_path / "node.toml", database_url, smpp_port=smsc.port,
                                pipeline=policy, smpp=cap), "kinel-1", tmp_path / "node.log")
        try:
            wait_for(lambda: smsc.bound_count() >= 1, what="the node bound")
            flood(smsc, numbers).join()
            wait_for(smsc.all_acknowledged, what="every request stored")
            smsc.go_away()
            sent_before = len(smsc.submits)
            time.sleep(away)  # the outage itself: time has to pass
            smsc.come_back()
            drained = drain(smsc, engine, numbers, since=time.monotonic())
        finally:
            node.stop()
    ledger = check_smpp_flood(engine, smsc, numbers)
    print(f"\n{size}: {count} requests, SMSC away {away} s (30 min at 1/{compression}); "
          f"{sent_before} answered before, the rest drained {drained:.1f} s after its return; "
          f"replies {dict(ledger.outbox_states)}, sends answered per reply "
          f"{dict(ledger.attempts)}")
    assert sent_before < count, "the outage caught replies in the queue"


def test_a_link_flapping_every_second_during_a_flood_answers_everyone_soon_after(
        size: str, database_url: str, engine, tmp_path: Path) -> None:
    count, seconds, every = FLAPS[size]
    numbers = phones(count)
    add_residents(engine, numbers)
    production = {"retry_base_seconds": 5.0, "retry_max_seconds": 60.0}
    drops = 0
    with KeepingSmsc() as smsc:
        node = Node(node_config(tmp_path / "node.toml", database_url, smpp_port=smsc.port,
                                pipeline=production), "kinel-1", tmp_path / "node.log")
        try:
            wait_for(lambda: smsc.bound_count() >= 1, what="the node bound")
            flooding = flood(smsc, numbers, seconds)
            flooding.join(every)
            while flooding.is_alive():  # a drop every `every` seconds while phones send
                smsc.drop()
                drops += 1
                flooding.join(every)
            drained = drain(smsc, engine, numbers, since=time.monotonic())
        finally:
            node.stop()
    ledger = check_smpp_flood(engine, smsc, numbers)
    repeats = sum(n - 1 for n in smsc.replied_phones().values())
    print(f"\n{size}: {count} requests over {seconds} s, {drops} drops; last answer "
          f"{drained:.1f} s after the flood; {ledger.outcomes['duplicate']} requests delivered "
          f"again answered once, {repeats} replies sent twice (on the wire at a drop)")
    assert set(ledger.attempts) == {1}, f"a send counted against a link that was down: " \
                                        f"{dict(ledger.attempts)}"
    assert drained < DRAIN_SECONDS


def test_an_smsc_delivering_again_what_a_drop_left_unacknowledged_gets_one_answer_each(
        size: str, database_url: str, engine, tmp_path: Path) -> None:
    rounds, per_round = REDELIVERIES[size]
    numbers = phones(rounds * per_round)
    add_residents(engine, numbers)
    with KeepingSmsc() as smsc:
        node = Node(node_config(tmp_path / "node.toml", database_url, smpp_port=smsc.port),
                    "kinel-1", tmp_path / "node.log")
        try:
            wait_for(lambda: smsc.bound_count() >= 1, what="the node bound")
            for start in range(0, len(numbers), per_round):
                batch = numbers[start:start + per_round]
                smsc.faults.drop_on_answer = 1  # our first acknowledgement is lost in a drop
                for n, phone in enumerate(batch):
                    smsc.send_mo(phone, *TEXTS[n % len(TEXTS)])
                wait_for(smsc.all_acknowledged, what="the round stored")
                drain(smsc, engine, batch, since=time.monotonic())
        finally:
            node.stop()
    ledger = check_smpp_flood(engine, smsc, numbers)
    again = sum(r.unanswered for r in smsc.requests)
    print(f"\n{size}: {len(numbers)} requests in {rounds} rounds, {again} delivered again "
          f"after a drop, {ledger.outcomes['duplicate']} of them stored twice and answered once")
    twice = {phone: n for phone, n in smsc.replied_phones().items() if n != 1}
    assert not twice, f"answered more than once: {dict(list(twice.items())[:5])}"
    assert ledger.outcomes["duplicate"] >= rounds  # the acknowledgement lost each round
