"""SMS commands of the simulated modem (3GPP TS 27.005): storage, listing, reading, sending.

PDU mode is the real thing; text mode covers what simple clients use.  Sends are decoded
with the project's PDU codec and recorded in `state.sent` for the control API's `/sent`.
"""

from __future__ import annotations

import logging
import time

from sms_encoding.errors import CodecError
from sms_gateway.modem import pdu
from tools.simmodem.commands_basic import decode_string, encode_string, int_arg
from tools.simmodem.engine import AtError, BodyRequest, Call, CmsError, Handler
from tools.simmodem.state import ModemState
from tools.simmodem.storage import STAT_NAMES, BadIndex, Slot, Storage

log = logging.getLogger(__name__)
MEMORIES = ("SM", "ME", "MT")


def require_sms(state: ModemState) -> None:
    if state.faults.sim_busy:
        raise CmsError(314)
    if not state.pin_ok:
        raise CmsError(311)


def _cmgf(state: ModemState, call: Call) -> list[str]:
    if call.form == "read":
        return [f"+CMGF: {0 if state.registers.pdu_mode else 1}"]
    if call.form == "test":
        return ["+CMGF: (0,1)"]
    mode = int_arg(call, 0, 0)
    if mode > 1:
        raise AtError("CMGF")
    state.registers.pdu_mode = mode == 0
    return []


def _cpms(state: ModemState, call: Call) -> list[str]:
    require_sms(state)
    regs = state.registers
    if call.form == "test":
        choice = "(" + ",".join(f'"{m}"' for m in MEMORIES) + ")"
        return [f"+CPMS: {choice},{choice},{choice}"]
    if call.form == "read":
        return ["+CPMS: " + ",".join(f'"{m}",{_usage(state.storage(m))}' for m in regs.memories)]
    chosen = [m.upper() for m in call.args if m]
    if not chosen or len(chosen) > 3 or any(m not in MEMORIES for m in chosen):
        raise CmsError(302)
    regs.memories = tuple(chosen + list(regs.memories[len(chosen) :]))  # type: ignore[assignment]
    return ["+CPMS: " + ",".join(_usage(state.storage(m)) for m in regs.memories)]


def _usage(storage: Storage) -> str:
    return f"{storage.used},{storage.capacity}"


def _cnmi(state: ModemState, call: Call) -> list[str]:
    if call.form == "read":
        return ["+CNMI: " + ",".join(map(str, state.registers.cnmi))]
    if call.form == "test":
        return ["+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)"]
    values = [int_arg(call, i, 0) for i in range(len(call.args))]
    state.registers.cnmi = tuple(values + [0] * (5 - len(values)))
    return []


def _read_storage(state: ModemState) -> Storage:
    require_sms(state)
    return state.storage(state.registers.memories[0])


def _cmgl(state: ModemState, call: Call) -> list[str]:
    storage = _read_storage(state)
    if call.form == "test":
        return ["+CMGL: (0-4)"] if state.registers.pdu_mode else ['+CMGL: ("ALL")']
    stat = _stat_arg(state, call)
    lines: list[str] = []
    for index, slot in storage.listing(stat):
        lines += _show(state, f"+CMGL: {index},", slot)
    return lines


def _stat_arg(state: ModemState, call: Call) -> int:
    if state.registers.pdu_mode:
        return int_arg(call, 0, 0)
    wanted = (call.args[0] if call.args else "REC UNREAD").upper()
    for stat, name in STAT_NAMES.items():
        if name == wanted:
            return stat
    raise CmsError(302)


def _cmgr(state: ModemState, call: Call) -> list[str]:
    storage = _read_storage(state)
    try:
        slot = storage.read(int_arg(call, 0))
    except BadIndex:
        raise CmsError(321) from None
    return [] if slot is None else _show(state, "+CMGR: ", slot)


def _length(hex_pdu: str) -> int:
    """The TPDU length a modem prints; for a garbled PDU (a test's), its octets."""
    try:
        return pdu.tpdu_length(hex_pdu)
    except CodecError:
        return len(hex_pdu) // 2


def _show(state: ModemState, head: str, slot: Slot) -> list[str]:
    """A stored message as +CMGL/+CMGR print it: header line, then PDU or text."""
    if state.registers.pdu_mode:
        return [f"{head}{slot.stat},,{_length(slot.pdu)}", slot.pdu]
    message = pdu.decode_deliver(slot.pdu)
    sender = encode_string(state, message.sender)
    stamp = message.timestamp.strftime("%y/%m/%d,%H:%M:%S")
    quarters = int((message.timestamp.utcoffset() or 0).total_seconds() // 900)
    stat = STAT_NAMES[slot.stat]
    text = encode_string(state, message.text)
    return [f'{head}"{stat}","{sender}",,"{stamp}{quarters:+03d}"', text]


def _cmgd(state: ModemState, call: Call) -> list[str]:
    storage = _read_storage(state)
    if call.form == "test":
        return [f"+CMGD: (1-{storage.capacity}),(0-4)"]
    try:
        storage.delete(int_arg(call, 0, 0), int_arg(call, 1, 0))
    except BadIndex:
        raise CmsError(321) from None
    return []


def _cmgs(state: ModemState, call: Call) -> list[str] | BodyRequest:
    require_sms(state)
    if call.form == "test":
        return []
    if state.registers.pdu_mode:
        length = int_arg(call, 0)
        return BodyRequest(lambda body: _submit_pdu(state, length, body))
    if not call.args:
        raise CmsError(302)
    to = decode_string(state, call.args[0])
    return BodyRequest(lambda body: _submit_text(state, to, decode_string(state, body)))


def _submit_pdu(state: ModemState, length: int, body: str) -> list[str]:
    _network_delay(state)
    try:
        if pdu.tpdu_length(body) != length:
            raise CodecError(f"AT+CMGS={length} but the TPDU has {pdu.tpdu_length(body)} octets")
        submit = pdu.decode_submit(body)
    except (CodecError, ValueError) as exc:
        log.warning("rejected PDU %s: %s", body, exc)
        raise CmsError(304) from None
    concat = submit.concat and [submit.concat.reference, submit.concat.total, submit.concat.seq]
    reference = _record(state, submit.to, submit.text, concat)
    if submit.status_report_requested and state.registers.cnmi[3] == 1:
        now = state.now()
        report = pdu.encode_status_report(reference, submit.to, submitted=now, discharged=now)
        state.notify(f"+CDS: {pdu.tpdu_length(report)}", report)
    return [f"+CMGS: {_reference_answer(state, reference)}"]


def _submit_text(state: ModemState, to: str, text: str) -> list[str]:
    _network_delay(state)
    return [f"+CMGS: {_reference_answer(state, _record(state, to, text, None))}"]


def _reference_answer(state: ModemState, reference: int) -> str:
    answer = state.faults.reference_answer
    return str(reference) if answer is None else answer


def _network_delay(state: ModemState) -> None:
    time.sleep(state.faults.send_delay)
    if state.faults.send_error is not None:
        raise CmsError(state.faults.send_error)


def _record(state: ModemState, to: str, text: str, concat: list[int] | None) -> int:
    reference = state.next_reference()
    with state.lock:
        state.sent.append({"to": to, "text": text, "concat": concat, "reference": reference})
    return reference


def _accept(state: ModemState, call: Call) -> list[str]:
    return []


HANDLERS: dict[str, Handler] = {
    "+CMGF": _cmgf,
    "+CPMS": _cpms,
    "+CNMI": _cnmi,
    "+CMGL": _cmgl,
    "+CMGR": _cmgr,
    "+CMGD": _cmgd,
    "+CMGS": _cmgs,
    "+CNMA": _accept,
}
