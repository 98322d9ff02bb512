"""docs/modems.md says what the gateway logs when a modem is not right, and shows the kit's
two-modem configuration: each quoted log line is produced here by the real driver in that
situation, and the configuration is the kit's own."""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sms_gateway.modem.settings import ModemPoolSettings, ModemSettings
from sms_gateway.modem.transport import ModemTransport
from tests.deploy_support import KIT
from tests.install_support import ROOT
from tests.modem_harness import CollectingSink
from tools.sim_modem import SimModem
from tools.waiting import wait_for

GUIDE = ROOT / "docs" / "modems.md"
NAME = "kinel-1"
MISSING_PORT = "/dev/modem-kinel-1"  # the kit's name: no such device on a test machine


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"^```{kind}\n(.*?)^```$", GUIDE.read_text(encoding="utf-8"),
                      flags=re.S | re.M)


def documented_lines() -> list[str]:
    return [line for block in _blocks("log") for line in block.splitlines() if line]


@contextmanager
def running(settings: ModemSettings) -> Iterator[None]:
    transport = ModemTransport(ModemPoolSettings("pool", (settings,)))
    transport.start(CollectingSink())
    try:
        yield
    finally:
        transport.stop()


@contextmanager
def silent_port() -> Iterator[str]:
    """A serial device nobody answers on: the wrong port of a stick, a module without power."""
    controller, device = os.openpty()
    try:
        yield os.ttyname(device)
    finally:
        os.close(controller)
        os.close(device)


def situations(tmp_path: Path):
    """(what, a context manager running the driver in that situation) pairs."""
    yield "no device", running(ModemSettings(NAME, MISSING_PORT))
    with silent_port() as device:
        yield "nothing answers", running(ModemSettings(NAME, device, command_timeout=0.5))
    for pin in (None, "0000"):
        with SimModem(tmp_path / "modem", pin="1234") as sim:
            yield f"SIM PIN {pin}", running(ModemSettings(NAME, sim.device, pin=pin))


def test_every_log_line_the_guide_quotes_is_what_the_driver_logs(tmp_path, caplog):
    documented = documented_lines()
    assert len(documented) == 4
    caplog.set_level(logging.INFO, logger="sms_gateway.modem")
    logged: set[str] = set()
    for what, situation in situations(tmp_path):
        caplog.clear()
        with situation:
            wait_for(lambda: any(r.levelno >= logging.WARNING for r in caplog.records),
                       timeout=30, what=what)
        logged |= {f"{r.levelname} {r.name}: {r.getMessage()}" for r in caplog.records
                   if r.levelno >= logging.WARNING}
    missing = [line for line in documented if line not in logged]
    assert not missing, f"not logged like that: {missing}\nlogged: {sorted(logged)}"


def test_a_refused_pin_is_never_shown_or_logged(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with SimModem(tmp_path / "modem", pin="1234") as sim:
        transport = ModemTransport(ModemPoolSettings("pool", (
            ModemSettings(NAME, sim.device, pin="4321"),)))
        transport.start(CollectingSink())
        try:
            wait_for(lambda: transport.health().details["modems"][NAME]["state"] == "failed",
                       what="PIN refused")
            shown = str(transport.health().details)
        finally:
            transport.stop()
    assert "4321" not in shown and "4321" not in caplog.text
    assert "SIM refused the PIN" in shown


def test_the_two_modem_example_is_the_kits_configuration():
    [example] = _blocks("toml")
    kit = tomllib.loads((KIT / "config.toml").read_text(encoding="utf-8"))
    assert tomllib.loads(example)["modems"] == kit["modems"]
    assert len(kit["modems"]) == 2


@pytest.mark.parametrize("line", documented_lines())
def test_the_quoted_lines_name_the_kits_modem(line):
    assert f"modem {NAME}:" in line
