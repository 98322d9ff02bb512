"""A modem's state as the status page shows it, kept in one immutable snapshot."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import asdict, dataclass

REGISTRATION = {
    0: "not registered",
    1: "home",
    2: "searching",
    3: "denied",
    4: "unknown",
    5: "roaming",
}


class LinkState(enum.Enum):
    STARTING = "starting"
    UP = "up"
    DOWN = "down"  # port gone or modem silent: reopening with backoff
    FAILED = "failed"  # needs a person (SIM PIN refused)
    STOPPED = "stopped"


@dataclass(frozen=True)
class ModemStatus:
    name: str
    state: LinkState = LinkState.STARTING
    rested_until: dt.datetime | None = None
    signal_rssi: int | None = None
    registration: int | None = None
    network: str = ""  # the operator's name from AT+COPS?
    last_seen: dt.datetime | None = None
    sim_used: int | None = None
    sim_total: int | None = None
    model: str = ""
    error: str | None = None
    sent: int = 0
    failed: int = 0
    received: int = 0

    def healthy(self, now: dt.datetime) -> bool:
        """Up, registered (or not yet known) and not resting after failed sends."""
        resting = self.rested_until is not None and now < self.rested_until
        registered = self.registration in (None, 1, 5)
        return self.state is LinkState.UP and registered and not resting

    def details(self, now: dt.datetime) -> dict[str, object]:
        values = asdict(self)
        values["state"] = self.state.value
        values["healthy"] = self.healthy(now)
        values["signal_dbm"] = rssi_dbm(self.signal_rssi)
        values["registration"] = REGISTRATION.get(self.registration if self.registration else 0)
        if self.registration is None:
            values["registration"] = None
        for key in ("rested_until", "last_seen"):
            moment = values[key]
            values[key] = moment.isoformat() if isinstance(moment, dt.datetime) else None
        values["sim_full"] = self.sim_used is not None and self.sim_used == self.sim_total
        return values


def rssi_dbm(rssi: int | None) -> int | None:
    """27.007 +CSQ: 0 is -113 dBm or less, each step 2 dB, 31 is -51 dBm or more, 99 unknown."""
    if rssi is None or not 0 <= rssi <= 31:
        return None
    return -113 + 2 * rssi
