"""The README's first command, `scripts/demo.sh`, as a person runs it: in a terminal, an SMS
sent to the simulated modem, Ctrl-C, and again."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import socket
import time
import urllib.parse
import urllib.request
from pathlib import Path

from sqlalchemy import func
from sqlalchemy import select as sql_select

from storage.db import make_engine
from storage.tables.console import audit_log
from tests.conftest import ROOT
from tools.waiting import wait_for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Terminal:
    """`scripts/demo.sh` on a pseudo-terminal: what it prints, and Ctrl-C typed into it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the script, as from a shell prompt
            os.chdir(ROOT)
            os.execvpe("bash", ["bash", "scripts/demo.sh"], env)
        self.output = b""

    def read_until(self, pattern: bytes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while pattern not in self.output:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} in:\n{self.output.decode(errors='replace')}")
            ready, _, _ = select.select([self.fd], [], [], 0.5)
            if ready:
                try:
                    self.output += os.read(self.fd, 65536)
                except OSError:  # the script ended
                    return

    def interrupt(self, timeout: float = 30) -> int:
        """Ctrl-C, as typed; the script's exit code."""
        os.write(self.fd, b"\x03")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.1)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError("the demo did not stop on Ctrl-C")


def _post(url: str, body: dict) -> None:
    request = urllib.request.Request(url, json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(request, timeout=10).read()


def _sent(url: str) -> list[dict]:
    return json.loads(urllib.request.urlopen(url, timeout=10).read())


def test_the_demo_answers_an_sms_stops_cleanly_on_ctrl_c_and_starts_again_as_it_was(tmp_path):
    config = tmp_path / "config.toml"
    port, control = _free_port(), f"127.0.0.1:{_free_port()}"
    config.write_text(re.sub(r"(?m)^port = 8080$", f"port = {port}",
                             (ROOT / "config.toml").read_text(encoding="utf-8")),
                      encoding="utf-8")
    env = {**os.environ, "PERMIT_GATEWAY_CONFIG": str(config), "DEMO_MODEM_CONTROL": control}
    env.pop("PERMIT_GATEWAY_DATABASE_URL", None)

    first = Terminal(env)
    first.read_until(b"modem sim0 up", timeout=240)
    _post(f"http://{control}/inject", {"sender": "+79270000001", "text": "ВЫХОД магазин"})
    sent = wait_for(lambda: _sent(f"http://{control}/sent"), timeout=60, what="the reply")
    assert "ПРОПУСК" in json.dumps(sent, ensure_ascii=False)
    # The demo's config lets a USSD connector on this machine ask without a token.
    first.read_until(b"web console on", timeout=60)
    ussd = urllib.request.urlopen(f"http://127.0.0.1:{port}/ussd", data=urllib.parse.urlencode(
        {"sessionId": "1", "phoneNumber": "+79370000099", "text": ""}).encode(), timeout=10)
    assert ussd.read().decode().startswith("CON ")
    assert first.interrupt() == 0

    second = Terminal(env)
    second.read_until(b"modem sim0 up", timeout=120)
    assert b"database is up to date" in second.output
    assert second.interrupt() == 0

    engine = make_engine(f"sqlite:///{Path(tmp_path) / 'data' / 'permits.db'}")
    with engine.connect() as conn:
        imports = conn.scalar(sql_select(func.count()).where(
            audit_log.c.action == "residents_imported"))
        officers_added = conn.scalar(sql_select(func.count()).where(
            audit_log.c.action == "officer_added"))
    engine.dispose()
    assert (imports, officers_added) == (1, 1)
