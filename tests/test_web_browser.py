"""End to end in headless Chromium: the real WebServer (waitress) on a free port, a temporary
SQLite database, and an operator's day: log in, read the status page, import residents, issue
a permit, print it, revoke it. With UPDATE_SCREENSHOTS=1 it also saves
docs/screenshots/status.png for the README.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe), so the test
needs Debian's `chromium` package and nothing else."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import os
import queue
import random
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from permits import registry
from permits.service import Rules
from sms_gateway import migrate
from sms_gateway.config import from_dict
from sms_gateway.web.operators import add_operator
from sms_gateway.web.server import WebServer
from storage.db import make_engine
from storage.tables.ledger import permits
from tests.conftest import OFFICER, ROOT
from tests.test_web_support import PASSWORD, report_link, run_pipeline, send_replies

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = ROOT / "docs" / "screenshots" / "status.png"
_TIMEOUT = 30.0

pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="Chromium is not installed (apt-get install chromium)")


def _above_4(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class Browser:
    """Just enough of the DevTools protocol: one tab, commands, load events, JavaScript."""

    def __init__(self, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Above 4, so the shell's "3<&N 4>&M" cannot overwrite one with the other.
        to_browser_r, from_browser_w = (_above_4(fd) for fd in (to_browser_r, from_browser_w))
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage", "--remote-debugging-pipe",
                 f"--user-data-dir={profile}", "about:blank"]
        # The protocol pipe is fd 3 (to the browser) and fd 4 (from it).
        script = f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w}'
        self.process = subprocess.Popen(["/bin/bash", "-c", script, CHROMIUM, *flags],
                                        pass_fds=(to_browser_r, from_browser_w),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._messages: queue.Queue[dict] = queue.Queue()
        self._events: list[dict] = []
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        target = self.command("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.command("Target.attachToTarget", targetId=target,
                                    flatten=True)["sessionId"]
        self.command("Page.enable", session=True)

    def _read(self) -> None:
        buffer = b""
        while chunk := os.read(self._from_browser, 65536):
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for message in messages:
                self._messages.put(json.loads(message))

    def _take(self, deadline: float) -> dict:
        try:
            return self._messages.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            raise TimeoutError("Chromium did not answer in time") from None

    def command(self, method: str, session: bool = False, **params: object) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + _TIMEOUT
        while True:
            answer = self._take(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self._events.append(answer)

    def _wait_load(self) -> None:
        deadline = time.monotonic() + _TIMEOUT
        while not any(e.get("method") == "Page.loadEventFired" for e in self._events):
            self._events.append(self._take(deadline))
        self._events.clear()

    def js(self, expression: str) -> object:
        result = self.command("Runtime.evaluate", session=True, expression=expression,
                              returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self._events.clear()
        self.command("Page.navigate", session=True, url=url)
        self._wait_load()

    def submit(self, button: str, **fields: str) -> None:
        """Fill the fields of the button's form and click it, as a person would."""
        self._events.clear()
        fill = "".join(f"form.elements[{json.dumps(k)}].value = {json.dumps(v)};"
                       for k, v in fields.items())
        self.js(f"(() => {{ const b = document.querySelector({json.dumps(button)});"
                f" const form = b.form; {fill} b.click(); }})()")
        self._wait_load()

    def text(self) -> str:
        return str(self.js("document.body.innerText"))

    def path(self) -> str:
        return str(self.js("location.pathname + location.search"))

    def upload(self, selector: str, path: Path) -> None:
        node = self.command("Runtime.evaluate", session=True,
                            expression=f"document.querySelector({json.dumps(selector)})")
        self.command("DOM.setFileInputFiles", session=True, files=[str(path)],
                     objectId=node["result"]["objectId"])

    def screenshot(self, path: Path, width: int = 1200) -> None:
        height = int(self.js("document.documentElement.scrollHeight"))
        self.command("Emulation.setDeviceMetricsOverride", session=True, width=width,
                     height=height, deviceScaleFactor=1, mobile=False)
        shot = self.command("Page.captureScreenshot", session=True, format="png")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        with contextlib.suppress(OSError, TimeoutError, RuntimeError):
            self.command("Browser.close")
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)


@pytest.fixture
def site(tmp_path):
    """A gateway's database with three hours of traffic, and the console serving it."""
    url = f"sqlite:///{tmp_path / 'permits.db'}"
    config = from_dict({"database": {"url": url}, "service": {"data_dir": str(tmp_path)},
                        "districts": [{"id": "kinel", "name": "Кинель", "enabled": True}]},
                       base=tmp_path)
    engine = make_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        registry.sync_districts(conn, [("kinel", "Кинель", True), ("otradny", "Отрадный", False)])
        add_operator(conn, "anna", PASSWORD, dt.datetime.now(dt.UTC))
        registry.add_officer(conn, OFFICER, "Сержант Петров", "RU", dt.datetime.now(dt.UTC))
    _traffic(engine, Rules(config.rules))
    server = WebServer(dataclasses.replace(config), engine, host="127.0.0.1", port=0)
    server.start()
    yield server
    server.stop()
    engine.dispose()


def _traffic(engine, rules: Rules) -> None:
    """Residents asking for permits every few minutes over the last three hours."""
    import io

    numbers = [f"+7927100{i:04d}" for i in range(300)]
    rows = "".join(f"{n},Житель {i},kinel\n" for i, n in enumerate(numbers))
    end = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        registry.import_residents(conn, io.StringIO("phone,name,district\n" + rows), "RU", end)
    pick = random.Random(7)
    for minutes in range(179, -1, -1):
        moment = end - dt.timedelta(minutes=minutes)
        clock = lambda moment=moment: moment  # noqa: E731
        senders = pick.sample(numbers, pick.randint(0, 4) + (minutes % 45 < 8) * 5)
        messages = [(n, f"ВЫХОД {pick.randint(1, 4)}") for n in senders]
        if minutes % 9 == 0:
            with engine.connect() as conn:
                code = conn.scalar(select(permits.c.code).order_by(permits.c.id.desc()))
            messages.append((OFFICER, f"ПРОВЕРКА {code or 'AAAA-AAAA'}"))
        run_pipeline(engine, rules, clock, messages)
        send_replies(engine, clock, fail=1 if minutes % 50 == 7 else 0)
    report_link(engine, end, up=True)
    report_link(engine, end, up=False, channel="smpp:mts")


@pytest.fixture
def browser(tmp_path):
    browser = Browser(tmp_path / "chromium-profile")
    yield browser
    browser.close()


def test_an_operators_day_in_a_real_browser(site, browser, tmp_path):
    base = site.url
    browser.open(base + "/")
    assert browser.path().startswith("/login")
    browser.submit("form button[type=submit]", username="anna", password=PASSWORD)
    assert browser.path() == "/"
    status = browser.text()
    assert "UP" in status and "modem:sim0" in status and "DOWN" in status
    # The README's picture is refreshed on request only: a test run leaves the tree alone.
    shot = SCREENSHOT if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path / "status.png"
    browser.screenshot(shot)
    assert shot.stat().st_size > 10_000

    people = tmp_path / "people.csv"
    people.write_text("phone,name,district\n+79275550001,Смирнова Ольга,kinel\n"
                      "12345,Nobody,kinel\n", encoding="utf-8")
    browser.open(base + "/residents")
    browser.upload("input[type=file]", people)
    browser.submit("form[enctype] button[type=submit]")
    report = browser.text()
    assert "1 residents imported, 1 lines rejected." in report

    browser.open(base + "/residents?phone=%2B79275550001")
    assert "Смирнова Ольга" in browser.text()
    browser.submit("form[action$='/issue'] button", reason="1")
    code = str(browser.js("document.getElementById('permit-code').textContent"))
    assert len(code) == 9

    browser.js("document.getElementById('print-link').click()")
    browser._wait_load()
    assert browser.js("document.querySelector('.qr svg') !== null")
    assert code in browser.text()

    browser.open(f"{base}/permits?q={code}")
    browser.submit(f"form[action='/permits/{code}/revoke'] button")
    assert "revoked" in browser.text()
    browser.open(base + "/audit")
    audit = browser.text()
    for action in ("login", "residents_imported", "resident_opened", "permit_requested",
                   "permit_revoked"):
        assert action in audit


def test_a_link_goes_down_on_the_status_page_when_the_modem_is_dropped(site, browser,
                                                                       tmp_path):
    from sms_gateway.gateway import Gateway
    from sms_gateway.modem.settings import ModemPoolSettings, ModemSettings
    from sms_gateway.modem.transport import ModemTransport
    from tools.sim_modem import SimModem

    config = from_dict({"database": {"url": f"sqlite:///{tmp_path / 'permits.db'}"}},
                       base=tmp_path)
    with SimModem(tmp_path / "modem0") as sim:
        transport = ModemTransport(ModemPoolSettings("kinel", (ModemSettings(
            "m0", sim.device, reconnect_min_seconds=5, reconnect_max_seconds=5),)))
        gateway = Gateway(config, make_engine(config.database_url), [transport])
        gateway.start()
        try:
            deadline = time.monotonic() + _TIMEOUT
            while not transport.health().up and time.monotonic() < deadline:
                time.sleep(0.05)
            gateway.maintenance.snapshot_health()
            browser.open(site.url + "/")
            browser.submit("form button[type=submit]", username="anna", password=PASSWORD)
            assert "▲ UP modem:kinel" in " ".join(browser.text().split())
            sim.vanish(30)  # the USB modem is pulled out
            while transport.health().up and time.monotonic() < deadline:
                time.sleep(0.05)
            gateway.maintenance.snapshot_health()
            browser.open(site.url + "/")
            assert "▼ DOWN modem:kinel" in " ".join(browser.text().split())
        finally:
            gateway.stop()
