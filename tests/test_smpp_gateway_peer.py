"""The whole gateway against someone else's SMSC: npm's `smpp` (tests/smpp_peer/peer.js).

node-smpp encodes the requests and decodes the permit replies, so the pipeline's view of
alphabets and receipts is checked by a second implementation, not only by our simulator.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from sms_gateway.gateway import Gateway
from sms_gateway.smpp.transport import SmppTransport
from storage.tables.ledger import permits
from storage.tables.messages import outbox
from tests.conftest import NEIGHBOUR, RESIDENT
from tests.test_smpp_gateway import count
from tests.test_smpp_peer import NodePeer, peer  # noqa: F401 (the fixture)
from tools.simsmsc.kit import local_settings
from tools.waiting import wait_for


@pytest.fixture
def gateway(config, engine, people, peer: NodePeer) -> Iterator[Gateway]:  # noqa: F811
    transport = SmppTransport(local_settings(peer.port))
    gateway = Gateway(config, engine, [transport])
    gateway.start()
    wait_for(lambda: transport.health().up)
    yield gateway
    gateway.stop()


def test_peer_requests_get_permits_and_receipts_are_kept(gateway, peer, engine):  # noqa: F811
    peer.command("deliver", source_addr=RESIDENT[1:], text="ВЫХОД магазин", data_coding=8)
    peer.command("deliver", source_addr=NEIGHBOUR[1:], text="EXIT {shop} €", data_coding=0)
    submits = {s["destination_addr"]: s for s in peer.wait_events("submit_sm", 2)}
    russian, latin = submits[RESIDENT[1:]], submits[NEIGHBOUR[1:]]
    assert russian["message"].startswith("ПРОПУСК ") and russian["data_coding"] == 8
    assert latin["message"].startswith("PERMIT ") and latin["data_coding"] == 0
    assert [e["command_status"] for e in peer.wait_events("deliver_sm_resp", 2)] == [0, 0]
    wait_for(lambda: count(engine, outbox, outbox.c.state == "sent") == 2)
    peer.command("receipt", source_addr=RESIDENT[1:], message_id=russian["message_id"], state=2)
    peer.command("receipt", source_addr=NEIGHBOUR[1:], message_id=latin["message_id"], state=5)
    wait_for(lambda: count(engine, outbox, outbox.c.state.in_(("delivered", "failed"))) == 2)
    with engine.connect() as conn:
        states = dict(conn.execute(select(outbox.c.recipient, outbox.c.state)).all())
    assert states == {RESIDENT: "delivered", NEIGHBOUR: "failed"}
    assert count(engine, permits) == 2
