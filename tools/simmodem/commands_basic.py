"""General AT commands of the simulated modem: V.250 basics, identity, SIM, network, charset.

Each handler takes the modem state and one parsed call and returns the information lines;
`HANDLERS` is the table the engine dispatches on.  Anything not in a table is answered with
ERROR, as real modems answer the vendor probes gammu sends (AT+MODE=2, AT$TSSPCSW=?, ...).
"""

from __future__ import annotations

import dataclasses

from tools.simmodem.engine import AtError, BodyRequest, Call, CmeError, Handler
from tools.simmodem.state import ModemState, Registers

CHARSETS = ("GSM", "IRA", "UCS2", "HEX", "8859-1")


def encode_string(state: ModemState, text: str) -> str:
    """A string parameter as the selected TE charset shows it (AT+CSCS)."""
    charset = state.registers.charset
    if charset == "UCS2":
        return text.encode("utf-16-be").hex().upper()
    if charset == "HEX":
        return text.encode("latin-1", "replace").hex().upper()
    return text


def decode_string(state: ModemState, text: str) -> str:
    charset = state.registers.charset
    try:
        if charset == "UCS2":
            return bytes.fromhex(text).decode("utf-16-be")
        if charset == "HEX":
            return bytes.fromhex(text).decode("latin-1")
    except ValueError as exc:
        raise AtError(text) from exc
    return text


def int_arg(call: Call, position: int, default: int | None = None) -> int:
    try:
        value = call.args[position]
    except IndexError:
        value = ""
    if value == "" and default is not None:
        return default
    if not value.isdigit():
        raise AtError(f"{call.name}: bad argument {value!r}")
    return int(value)


def require_sim(state: ModemState) -> None:
    """SIM-dependent commands fail while the SIM is busy or still locked by its PIN."""
    if state.faults.sim_busy:
        raise CmeError(14)
    if not state.pin_ok:
        raise CmeError(11)


def fixed(*lines: str) -> Handler:
    """A command that always answers the same lines (identity, probes we accept)."""

    def handler(state: ModemState, call: Call) -> list[str]:
        return list(lines)

    return handler


def identity(attribute: str, needs_sim: bool = False) -> Handler:
    def handler(state: ModemState, call: Call) -> list[str]:
        if needs_sim:
            require_sim(state)
        return [getattr(state.identity, attribute)]

    return handler


def _reset(state: ModemState, call: Call) -> list[str]:
    state.registers = Registers()
    return []


def _echo(state: ModemState, call: Call) -> list[str]:
    state.registers.echo = int_arg(call, 0, 0) == 1
    return []


def _cmee(state: ModemState, call: Call) -> list[str]:
    if call.form == "read":
        return [f"+CMEE: {state.registers.cmee}"]
    if call.form == "test":
        return ["+CMEE: (0-2)"]
    mode = int_arg(call, 0, 0)
    if mode > 2:
        raise AtError("CMEE")
    state.registers.cmee = mode
    return []


def _cpin(state: ModemState, call: Call) -> list[str]:
    if state.faults.sim_busy:
        raise CmeError(14)
    if call.form == "read":
        return ["+CPIN: READY" if state.pin_ok else "+CPIN: SIM PIN"]
    if call.form == "set":
        if not call.args or call.args[0] != state.pin:
            raise CmeError(16)
        state.pin_ok = True
    return []


def _cscs(state: ModemState, call: Call) -> list[str]:
    if call.form == "read":
        return [f'+CSCS: "{state.registers.charset}"']
    if call.form == "test":
        return ["+CSCS: (" + ",".join(f'"{c}"' for c in CHARSETS) + ")"]
    if call.form != "set" or not call.args or call.args[0].upper() not in CHARSETS:
        raise AtError("CSCS")
    state.registers.charset = call.args[0].upper()
    return []


def _csq(state: ModemState, call: Call) -> list[str]:
    return ["+CSQ: (0-31,99),(0-7,99)"] if call.form == "test" else [f"+CSQ: {state.rssi},99"]


def _creg(state: ModemState, call: Call) -> list[str]:
    if call.form == "set":
        state.registers.creg_mode = int_arg(call, 0, 0)
        return []
    if call.form == "test":
        return ["+CREG: (0-2)"]
    mode = state.registers.creg_mode
    location = ',"1A2B","3C4D"' if mode == 2 else ""
    return [f"+CREG: {mode},{state.registration}{location}"]


def _cops(state: ModemState, call: Call) -> list[str]:
    if call.form == "read":
        if state.registration not in (1, 5):
            return ["+COPS: 0"]
        return [f'+COPS: 0,0,"{state.identity.operator}"']
    if call.form == "test":
        name = state.identity.operator
        return [f'+COPS: (2,"{name}","{name}","25002"),,(0-4),(0-2)']
    return []


def _csca(state: ModemState, call: Call) -> list[str]:
    if call.form == "read":
        return [f'+CSCA: "{encode_string(state, state.identity.smsc)}",145']
    if call.form == "set" and call.args:
        number = decode_string(state, call.args[0])
        state.identity = dataclasses.replace(state.identity, smsc=number)
    return []


def _cfun(state: ModemState, call: Call) -> list[str]:
    return ["+CFUN: 1"] if call.form == "read" else []


def _clac(state: ModemState, call: Call) -> list[str]:
    return [name for name in sorted(HANDLERS) if name.startswith("+")]


def _accept(state: ModemState, call: Call) -> list[str] | BodyRequest:
    """Settings we take and ignore (AT+CLIP=1, AT+CSMP=..., AT+COPS=3,0)."""
    return []


HANDLERS: dict[str, Handler] = {
    "Z": _reset,
    "&F": _reset,
    "E": _echo,
    "V": _accept,
    "Q": _accept,
    "I": fixed("FakeGSM FM-1000", "Revision: FM1000_V1.0"),
    "+CMEE": _cmee,
    "+CPIN": _cpin,
    "+CSCS": _cscs,
    "+CSQ": _csq,
    "+CREG": _creg,
    "+COPS": _cops,
    "+CSCA": _csca,
    "+CFUN": _cfun,
    "+CLAC": _clac,
    "+CGMI": identity("manufacturer"),
    "+GMI": identity("manufacturer"),
    "+CGMM": identity("model"),
    "+GMM": identity("model"),
    "+CGMR": identity("revision"),
    "+GMR": identity("revision"),
    "+CGSN": identity("imei"),
    "+GSN": identity("imei"),
    "+CIMI": identity("imsi", needs_sim=True),
    "+CLIP": _accept,
    "+CRC": _accept,
    "+CVHU": _accept,
    "+CSMP": _accept,
    "+CSDH": _accept,
    "+CSMS": fixed("+CSMS: 1,1,1"),
}
