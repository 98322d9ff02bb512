"""A third-party modem client, Debian's gammu, against the simulated modem."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.sim_modem import SimModem

GAMMU = shutil.which("gammu")
pytestmark = pytest.mark.skipif(
    GAMMU is None, reason="gammu is not installed (Debian package `gammu`)"
)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimModem]:
    with SimModem(tmp_path / "modem") as modem:
        yield modem


def gammu(sim: SimModem, tmp_path: Path, *args: str) -> str:
    config = tmp_path / "gammurc"
    config.write_text(f"[gammu]\ndevice = {sim.device}\nconnection = at\n")
    done = subprocess.run(
        [str(GAMMU), "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_gammu_identify(sim: SimModem, tmp_path: Path) -> None:
    out = gammu(sim, tmp_path, "identify")
    assert "FakeGSM" in out and "356938035643809" in out and "250011234567890" in out


def test_gammu_getallsms_keeps_cyrillic(sim: SimModem, tmp_path: Path) -> None:
    sim.inject("+79270000001", "ВЫХОД магазин")
    sim.inject("+79270000002", "EXIT shop")
    out = gammu(sim, tmp_path, "getallsms")
    assert "ВЫХОД магазин" in out and "EXIT shop" in out and "+79270000001" in out


def test_gammu_sendsms_shows_up_in_sent(sim: SimModem, tmp_path: Path) -> None:
    gammu(sim, tmp_path, "sendsms", "TEXT", "+79270000000", "-text", "hi")
    assert [(e["to"], e["text"]) for e in sim.sent()] == [("+79270000000", "hi")]
