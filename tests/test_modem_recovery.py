"""The modem going away and coming back: vanished ports, silent modems, SIM PINs, health."""

from __future__ import annotations

import termios
import time
from pathlib import Path

import pytest

from sms_gateway.modem.at_port import ATPort
from sms_gateway.modem.errors import PortLost
from sms_gateway.modem.settings import ModemPoolSettings
from sms_gateway.modem.transport import ModemTransport
from sms_gateway.transport import OutboundMessage
from tests.modem_harness import CollectingSink, Rig, fast_settings, rig
from tools.sim_modem import SimModem
from tools.waiting import wait_for

SENDER = "+79270000001"


def modem_state(r: Rig, name: str = "m0") -> str:
    return str(r.transport.health().details["modems"][name]["state"])  # type: ignore[index]


def test_port_vanishing_and_coming_back(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.sim.vanish(0.5)
        wait_for(lambda: modem_state(r) == "down", what="modem seen down")
        assert not r.transport.health().up
        r.sim.inject(SENDER, "ВЫХОД после")  # arrives while the port is gone
        wait_for(lambda: modem_state(r) == "up", what="modem back up")
        wait_for(lambda: r.sink.texts() == ["ВЫХОД после"], what="stored after reconnect")
        [result] = r.transport.send([OutboundMessage(1, SENDER, "hi")])
        assert result.ok


def test_modem_that_stops_answering_is_reopened(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.sim.silence(1.0)
        wait_for(lambda: modem_state(r) == "down", what="timeout noticed")
        wait_for(lambda: modem_state(r) == "up", what="answering again")
        r.sim.inject(SENDER, "EXIT again")
        wait_for(lambda: r.sink.texts() == ["EXIT again"], what="stored")


def test_sends_during_an_outage_fail_temporarily_and_go_elsewhere(tmp_path: Path) -> None:
    with rig(tmp_path, count=2) as r:
        r.sims[0].vanish(30)
        wait_for(lambda: modem_state(r, "m0") == "down", what="m0 down")
        results = r.transport.send([OutboundMessage(i, SENDER, "hi") for i in range(3)])
        assert all(result.ok for result in results)
        assert len(r.sims[1].sent()) == 3


def test_health_shows_signal_registration_and_last_seen(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.sim.set_network(rssi=7)
        wait_for(lambda: r.transport.health().details["modems"]["m0"]["signal_rssi"] == 7)  # type: ignore[index]
        health = r.transport.health()
        details = health.details["modems"]["m0"]  # type: ignore[index]
    assert health.channel == "modem:test" and health.kind == "modem" and health.up
    assert details["registration"] == "home" and details["signal_dbm"] == -99
    assert details["last_seen"] and details["model"] == "FakeGSM FM-1000"
    assert r.sink.healths, "the sink hears about link health"


def test_unregistered_modem_is_not_used_for_sending(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.sim.set_network(registration=2)  # searching
        wait_for(lambda: not r.transport.health().up, what="pool down")
        [result] = r.transport.send([OutboundMessage(1, SENDER, "hi")])
    assert not result.ok and not result.permanent and result.deferred


def test_a_pool_without_a_modem_up_is_not_ready_and_its_sends_are_no_attempt(
        tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        assert r.transport.ready()
        r.sim.vanish(1.0)
        wait_for(lambda: not r.transport.ready(), what="pool not ready")
        [result] = r.transport.send([OutboundMessage(1, SENDER, "waits")])
        assert not result.ok and result.deferred  # waiting for a modem is not an attempt
        wait_for(r.transport.ready, what="the modem back")
        assert r.transport.send([OutboundMessage(2, SENDER, "now")])[0].ok


def test_sim_pin_is_entered(tmp_path: Path) -> None:
    with SimModem(tmp_path / "modem", pin="1234") as sim:
        settings = ModemPoolSettings("pin", (fast_settings("m0", sim.device, pin="1234"),))
        transport = ModemTransport(settings)
        transport.start(CollectingSink())
        try:
            wait_for(lambda: transport.health().up, what="unlocked and up")
        finally:
            transport.stop()


def test_wrong_pin_is_not_retried(tmp_path: Path) -> None:
    with SimModem(tmp_path / "modem", pin="1234") as sim:
        settings = ModemPoolSettings("pin", (fast_settings("m0", sim.device, pin="0000"),))
        transport = ModemTransport(settings)
        transport.start(CollectingSink())
        try:
            wait_for(
                lambda: transport.health().details["modems"]["m0"]["state"] == "failed",  # type: ignore[index]
                what="PIN failure reported",
            )
            assert not sim.state.pin_ok
        finally:
            transport.stop()


class _VanishingDevice:
    """A serial device that took the write, then went away before draining it: the kernel
    answers tcdrain with EIO, which pyserial lets through as termios.error."""

    in_waiting = 0

    def read(self, size: int) -> bytes:
        time.sleep(0.01)
        return b""

    def write(self, data: bytes) -> int:
        return len(data)

    def flush(self) -> None:
        raise termios.error(5, "Input/output error")

    def close(self) -> None:
        pass


def test_a_device_gone_while_draining_a_write_is_a_lost_port() -> None:
    port = ATPort("/dev/gone", 115200, lambda _event: None, lambda _url, _baud: _VanishingDevice())
    try:
        with pytest.raises(PortLost):
            port.command("AT", timeout=1.0)
        assert port.lost
    finally:
        port.close()
