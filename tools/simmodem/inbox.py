"""Incoming SMS arriving at the simulated modem: split into parts, stored, announced.

What happens follows AT+CNMI as a real modem does: mt=1 stores on the SIM and sends
`+CMTI`, mt=2 routes the PDU past the SIM as `+CMT`, mt=0 stores silently; a full storage
rejects the part and announces nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sms_encoding.segments import plan
from sms_gateway.modem import pdu
from sms_gateway.transport import Concat
from tools.simmodem.state import ModemState
from tools.simmodem.storage import StorageFull


@dataclass(frozen=True)
class Injected:
    """Where the parts went: SIM indexes in storage order, and how many were lost."""

    indexes: tuple[int, ...]
    rejected: int


def deliver_pdus(state: ModemState, sender: str, text: str) -> list[str]:
    """SMS-DELIVER PDUs for `text`, with a concatenation header when it needs several parts."""
    message = plan(text)
    total = len(message.parts)
    reference = state.next_concat_reference() if total > 1 else 0
    now = state.now()
    return [
        pdu.encode_deliver(
            sender,
            part,
            timestamp=now,
            concat=Concat(reference, total, seq) if total > 1 else None,
            dcs=message.dcs,
        )
        for seq, part in enumerate(message.parts, start=1)
    ]


def inject(
    state: ModemState,
    sender: str,
    text: str,
    *,
    shuffle: bool = False,
    rng: random.Random | None = None,
) -> Injected:
    """Put an incoming SMS on the modem; `shuffle` stores the parts out of order."""
    pdus = deliver_pdus(state, sender, text)
    if shuffle and len(pdus) > 1:
        shuffled = pdus[:]
        while shuffled == pdus:
            (rng or random.Random()).shuffle(shuffled)
        pdus = shuffled
    indexes, rejected = [], 0
    for hex_pdu in pdus:
        index = receive(state, hex_pdu)
        if index is None:
            rejected += 1
        elif index > 0:
            indexes.append(index)
    return Injected(tuple(indexes), rejected)


def receive(state: ModemState, hex_pdu: str) -> int | None:
    """One PDU arrives as it is (a test's garbage too): the storage index (0 when routed
    directly), or None when the storage was full."""
    mode = state.registers.cnmi[1] if len(state.registers.cnmi) > 1 else 0
    if mode == 2:
        state.notify(f"+CMT: ,{pdu.tpdu_length(hex_pdu)}", hex_pdu)
        return 0
    memory = state.registers.memories[2]
    try:
        index = state.storage(memory).put(hex_pdu)
    except StorageFull:
        with state.lock:
            state.rejected += 1
        return None
    if mode in (1, 3):
        state.notify(f'+CMTI: "{memory}",{index}')
    return index
