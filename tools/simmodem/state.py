"""Everything the simulated modem remembers: settings registers, SIM, identity and faults."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tools.simmodem.storage import Storage


@dataclass(frozen=True)
class Identity:
    """What identification commands answer (the values of the recorded test modem)."""

    manufacturer: str = "FakeGSM"
    model: str = "FM-1000"
    revision: str = "FM1000_V1.0"
    imei: str = "356938035643809"
    imsi: str = "250011234567890"
    operator: str = "MegaFon"
    smsc: str = "+79168999100"


@dataclass
class Faults:
    """Switches a test (or the control API) flips to make the modem misbehave."""

    send_error: int | None = None  # answer every send with +CMS ERROR <code>
    sim_busy: bool = False  # +CMS ERROR 314 / +CME ERROR 14 for SIM commands
    prompt_delay: float = 0.0  # seconds before the `> ` prompt
    send_delay: float = 0.0  # seconds a send takes (a real network: about 3)
    urc_inside_response: bool = False  # hold notifications and put them inside the next answer
    reference_answer: str | None = None  # written after `+CMGS: ` instead of the reference
    silent_until: float = 0.0  # monotonic time until which input is ignored

    def silent(self) -> bool:
        return time.monotonic() < self.silent_until


@dataclass
class Registers:
    """Settings that ATZ puts back to their defaults."""

    echo: bool = True
    cmee: int = 0
    pdu_mode: bool = True
    charset: str = "GSM"
    cnmi: tuple[int, ...] = (0, 0, 0, 0, 0)
    creg_mode: int = 0
    memories: tuple[str, str, str] = ("SM", "SM", "SM")


@dataclass
class ModemState:
    """The whole modem; `lock` guards what the AT thread and the control API both touch."""

    identity: Identity = field(default_factory=Identity)
    faults: Faults = field(default_factory=Faults)
    registers: Registers = field(default_factory=Registers)
    capacity: int = 30
    zone: dt.tzinfo = dt.timezone(dt.timedelta(hours=4))
    pin: str | None = None
    pin_ok: bool = True
    rssi: int = 20
    registration: int = 1
    storages: dict[str, Storage] = field(default_factory=dict)
    sent: list[dict[str, object]] = field(default_factory=list)
    rejected: int = 0  # incoming messages lost to a full storage
    notify: Callable[..., None] = lambda *lines: None  # set to the engine's notify
    lock: threading.RLock = field(default_factory=threading.RLock)
    _next_mr: int = 0
    _next_concat: int = 0

    def __post_init__(self) -> None:
        self.storages = {name: Storage(name, self.capacity) for name in ("SM", "ME")}
        self.pin_ok = self.pin is None

    def now(self) -> dt.datetime:
        """The network's clock as the SMSC stamps messages (Samara time by default)."""
        return dt.datetime.now(self.zone).replace(microsecond=0)

    def storage(self, name: str) -> Storage:
        """`MT` is SIM and phone together on real modems; here it simply means the SIM."""
        return self.storages["SM" if name == "MT" else name]

    def next_concat_reference(self) -> int:
        """Concatenation reference of the next long incoming SMS, 1..255 then wrapping."""
        with self.lock:
            self._next_concat = self._next_concat % 255 + 1
            return self._next_concat

    def next_reference(self) -> int:
        """TP-MR the modem assigns to each submitted message, 1..255 then wrapping."""
        with self.lock:
            self._next_mr = self._next_mr % 255 + 1
            return self._next_mr
