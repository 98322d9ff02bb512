"""Rig for end-to-end modem tests: the real `Gateway` over real ptys to `SimModem`s.

Not a test module itself (it holds no tests); the name keeps it in the modem-gateway family.
Replies are read back from what the simulators were sent, reassembled from their parts.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, func, select

from sms_gateway.config import Config
from sms_gateway.gateway import Gateway
from sms_gateway.modem.settings import ModemPoolSettings
from sms_gateway.modem.transport import ModemTransport
from tests.modem_harness import fast_settings
from tools.sim_modem import SimModem
from tools.waiting import wait_for

POOL = "pool"  # the name `transports.build` gives the configured modems


@dataclasses.dataclass(frozen=True)
class Reply:
    """One SMS as the recipient's phone shows it: parts joined, and where it left from."""

    to: str
    text: str
    parts: int
    modem: int


def quick(config: Config) -> Config:
    """Retries and crash recovery in test time: failed sends are retried within a second."""
    pipeline = dataclasses.replace(config.pipeline, retry_base_seconds=0.2, claim_timeout_seconds=1)
    return dataclasses.replace(config, pipeline=pipeline)


def count(engine: Engine, table, *where) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table).where(*where)) or 0)


def replies_of(sims: list[SimModem]) -> list[Reply]:
    """Every complete reply the simulators carried, in the order each modem sent them."""
    found: list[Reply] = []
    for number, sim in enumerate(sims):
        waiting: dict[tuple[str, int, int], dict[int, str]] = {}
        for entry in sim.sent():
            to, text, concat = str(entry["to"]), str(entry["text"]), entry["concat"]
            if not concat:
                found.append(Reply(to, text, 1, number))
                continue
            reference, total, seq = concat  # type: ignore[misc]
            parts = waiting.setdefault((to, reference, total), {})
            parts[seq] = text
            if len(parts) == total:
                del waiting[(to, reference, total)]
                joined = "".join(parts[i] for i in sorted(parts))
                found.append(Reply(to, joined, total, number))
    return found


@dataclasses.dataclass
class Service:
    """Simulated modems, the pool over them and the gateway, as one thing to start and stop."""

    sims: list[SimModem]
    transport: ModemTransport
    gateway: Gateway

    @property
    def sim(self) -> SimModem:
        return self.sims[0]

    @property
    def engine(self) -> Engine:
        return self.gateway.engine

    def start(self) -> Service:
        self.gateway.start()
        wait_for(
            lambda: self.transport.health().details.get("healthy") == len(self.sims),
            what="every modem up",
        )
        return self

    def replies(self) -> list[Reply]:
        return replies_of(self.sims)

    def replies_to(self, number: str) -> list[Reply]:
        return [reply for reply in self.replies() if reply.to == number]

    def wait_replies(self, total: int, what: str = "replies") -> list[Reply]:
        wait_for(lambda: len(self.replies()) >= total, what=f"{total} {what}")
        return self.replies()

    def modem_status(self, name: str) -> dict[str, object]:
        return self.transport.health().details["modems"][name]  # type: ignore[index,return-value]


def pool_transport(devices: list[str], **changes: object) -> ModemTransport:
    modems = tuple(fast_settings(f"m{i}", device, **changes) for i, device in enumerate(devices))
    return ModemTransport(ModemPoolSettings(POOL, modems))


@contextlib.contextmanager
def service(
    tmp_path: Path,
    config: Config,
    engine: Engine,
    count: int = 1,
    *,
    start: bool = True,
    sims: list[SimModem] | None = None,
    **changes: object,
) -> Iterator[Service]:
    """A running gateway over `count` fresh simulators (or the `sims` given, left running)."""
    own = sims is None
    modems = (
        sims
        if sims is not None
        else [SimModem(tmp_path / f"modem{i}", seed=i).start() for i in range(count)]
    )
    transport = pool_transport([sim.device for sim in modems], **changes)
    built = Service(modems, transport, Gateway(quick(config), engine, [transport]))
    try:
        yield built.start() if start else built
    finally:
        built.gateway.stop()
        if own:
            for sim in modems:
                sim.stop()
