"""The SMPP link under a slow or failing database: commits happen off the reader thread.

A commit that waits (SQLite's writer lock held by the dispatcher) must not stop the link from
reading submit_sm_resp, and no deliver_sm is acknowledged before its commit returned, nor on
a connection other than the one it came in on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import pytest

from sms_gateway.smpp.constants import Status
from sms_gateway.smpp.transport import SmppTransport
from sms_gateway.transport import InboundPart, OutboundMessage
from tools.simsmsc.kit import RecordingSink, local_settings
from tools.simsmsc.simulator import SimSmsc
from tools.waiting import wait_for

PHONE = "+79161234567"


class GatedSink(RecordingSink):
    """A sink whose commits wait until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.waiting = threading.Event()

    def store(self, parts: Sequence[InboundPart]) -> None:
        self.waiting.set()
        assert self.gate.wait(10), "the test never opened the gate"
        super().store(parts)


@pytest.fixture
def smsc() -> Iterator[SimSmsc]:
    with SimSmsc() as sim:
        yield sim


@pytest.fixture
def gated(smsc: SimSmsc) -> Iterator[tuple[SmppTransport, GatedSink]]:
    transport, sink = SmppTransport(local_settings(smsc.port)), GatedSink()
    transport.start(sink)
    wait_for(lambda: transport.health().up)
    yield transport, sink
    sink.gate.set()
    transport.stop()


def test_a_commit_that_waits_does_not_hold_up_replies(smsc, gated):
    transport, sink = gated
    smsc.inject(PHONE, "ВЫХОД 1", encoding="ucs2")
    assert sink.waiting.wait(5)
    [result] = transport.send([OutboundMessage(1, PHONE, "ПРОПУСК выдан")])
    assert result.ok and smsc.deliver_answers == []
    sink.gate.set()
    smsc.wait(lambda: smsc.deliver_answers)
    assert [status for _, status in smsc.deliver_answers] == [Status.OK]
    assert [part.text for part in sink.parts] == ["ВЫХОД 1"]


def test_what_arrives_during_a_commit_is_stored_together_in_the_next(smsc, gated):
    _, sink = gated
    smsc.inject(PHONE, "first")
    assert sink.waiting.wait(5)
    for n in range(5):
        smsc.inject(PHONE, f"then {n}")
    wait_for(lambda: transport_backlog(gated) == 5)
    sink.gate.set()
    smsc.wait(lambda: len(smsc.deliver_answers) == 6)
    assert sink.store_calls == [1, 5]


def test_answers_for_a_connection_that_died_are_not_sent_on_the_next(smsc, gated):
    transport, sink = gated
    smsc.inject(PHONE, "EXIT 1")
    assert sink.waiting.wait(5)
    smsc.drop()
    wait_for(lambda: len(smsc.binds) == 2 and transport.health().up)
    sink.gate.set()
    wait_for(lambda: len(sink.parts) == 2)
    [second] = smsc.inject(PHONE, "EXIT 2")
    smsc.wait(lambda: second in [sequence for sequence, _ in smsc.deliver_answers])
    # The first message's answer belonged to the dead link and is never sent: the SMSC
    # delivered it again after the rebind (storing it twice is harmless by design), and
    # that delivery and the second message are answered on the new link, once each.
    assert smsc.deliver_answers == [(1, Status.OK), (second, Status.OK)]
    assert [part.text for part in sink.parts] == ["EXIT 1", "EXIT 1", "EXIT 2"]


def transport_backlog(link: tuple[SmppTransport, GatedSink]) -> int:
    transport, _ = link
    return transport._links[0]._committer.backlog
