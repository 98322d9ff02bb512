"""End to end in headless Chromium: the real WebServer (waitress) on a free port, a temporary
SQLite database, a gateway node with two simulated modems and an SMPP link reporting their
health, and an operator's day in Russian and in English: log in, read the status page with a
card per modem, list and search residents, issue a permit, print it (the QR read back by
zbar, the paper size from the page's @page rules), revoke it after the confirmation. With
UPDATE_SCREENSHOTS=1 it also saves docs/screenshots/status.png and permit.png for the README.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe), so the test
needs Debian's `chromium` package and nothing else."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import json
import os
import queue
import random
import re
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
from tests.conftest import OFFICER, ROOT, SINCE
from tests.web_support import PASSWORD, report_link, run_pipeline, send_replies

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ZBARIMG = shutil.which("zbarimg")
SCREENSHOTS = ROOT / "docs" / "screenshots"
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
        self.command("Emulation.setDeviceMetricsOverride", session=True, width=width,
                     height=400, deviceScaleFactor=1, mobile=False)  # then measure the page
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


SITE_CONFIG = {
    "service": {"sms_number": "0377"},
    "districts": [{"id": "kinel", "name": "Кинель", "name_en": "Kinel", "enabled": True},
                  {"id": "otradny", "name": "Отрадный", "name_en": "Otradny"}],
}


@pytest.fixture
def site(tmp_path):
    """A gateway's database with three hours of traffic, and the console serving it."""
    url = f"sqlite:///{tmp_path / 'permits.db'}"
    config = from_dict({**SITE_CONFIG, "database": {"url": url},
                        "service": {**SITE_CONFIG["service"], "data_dir": str(tmp_path)}},
                       base=tmp_path)
    engine = make_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        registry.sync_districts(conn, [(d.id, d.name, d.enabled) for d in config.districts],
                                SINCE)
        add_operator(conn, "anna", PASSWORD, dt.datetime.now(dt.UTC))
        registry.add_officer(conn, OFFICER, "Сержант Петров", "RU", dt.datetime.now(dt.UTC))
    _traffic(engine, Rules(config.rules))
    server = WebServer(config, engine, host="127.0.0.1", port=0)
    server.start()
    yield server
    server.stop()
    engine.dispose()


@pytest.fixture
def live_links(site, tmp_path):
    """A gateway node on the same database with a pool of two simulated modems (real AT on
    ptys) and an SMPP link to the simulated SMSC, each reporting its health as in service."""
    from sms_gateway.gateway import Gateway
    from sms_gateway.modem.settings import ModemPoolSettings, ModemSettings
    from sms_gateway.modem.transport import ModemTransport
    from sms_gateway.smpp.transport import SmppTransport
    from tools.sim_modem import SimModem
    from tools.simsmsc.kit import local_settings
    from tools.simsmsc.simulator import SimSmsc

    config = from_dict({"database": {"url": f"sqlite:///{tmp_path / 'permits.db'}"}},
                       base=tmp_path)
    with (SimModem(tmp_path / "modem0") as first, SimModem(tmp_path / "modem1") as second,
          SimSmsc() as smsc):
        pool = ModemTransport(ModemPoolSettings("kinel", tuple(
            ModemSettings(f"sim{i}", sim.device) for i, sim in enumerate((first, second)))))
        smpp = SmppTransport(local_settings(smsc.port, name="megafon"))
        gateway = Gateway(config, make_engine(config.database_url), [pool, smpp])
        gateway.start()
        try:
            _until(lambda: pool.health().details["healthy"] == 2 and smpp.health().up)
            _until(lambda: all(m["network"] for m in pool.health().details["modems"].values()))
            gateway.maintenance.snapshot_health()
            gateway.maintenance.heartbeat()
            yield gateway
        finally:
            gateway.stop()


def _until(condition) -> None:
    deadline = time.monotonic() + _TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the links did not come up")
        time.sleep(0.05)


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


def _log_in(browser: Browser, base: str) -> None:
    browser.open(base + "/")
    assert browser.path().startswith("/login")
    browser.submit("#log-in", username="anna", password=PASSWORD)
    assert browser.path() == "/"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _modem_cards(browser: Browser) -> dict[str, str]:
    return json.loads(str(browser.js(
        "JSON.stringify(Object.fromEntries([...document.querySelectorAll('[data-modem]')]"
        ".map(card => [card.dataset.modem, card.innerText])))")))


def _decode_qr(browser: Browser, shot: Path) -> str:
    """The printed permit as a person sees it, read back by zbar as a phone would read it."""
    browser.screenshot(shot, width=800)
    found = subprocess.run([ZBARIMG, "--raw", "-q", str(shot)], capture_output=True,
                           text=True, timeout=_TIMEOUT)
    assert found.returncode == 0, f"zbar found no QR code in {shot}"
    return found.stdout.strip()


def _pdf_page_points(browser: Browser) -> tuple[float, float]:
    """The page size Chromium prints with, from the page's own @page rules."""
    pdf = base64.b64decode(browser.command("Page.printToPDF", session=True,
                                           preferCSSPageSize=True)["data"])
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert len(boxes) == 1, "the permit must fit one page"
    return float(boxes[0][0]), float(boxes[0][1])


A6_POINTS, A4_POINTS = (297.6, 419.5), (595.3, 841.9)


def _print_preview(browser: Browser, base: str, code: str, tmp_path: Path,
                   shot: Path | None = None, **query: str) -> str:
    """Open the printable permit; check its paper size and that its QR reads back."""
    browser.open(f"{base}/permits/{code}/print?" + "&".join(f"{k}={v}" for k, v in
                                                          query.items()))
    paper = A4_POINTS if query.get("paper") == "a4" else A6_POINTS
    assert _pdf_page_points(browser) == pytest.approx(paper, abs=1.5)
    assert _decode_qr(browser, shot or tmp_path / "permit.png") == code
    return browser.text()


@pytest.mark.skipif(ZBARIMG is None, reason="zbar is not installed (apt-get install zbar-tools)")
def test_a_day_at_the_russian_console(site, live_links, browser, tmp_path):
    base = site.url
    browser.open(base + "/")
    assert browser.js("document.documentElement.lang") == "ru"
    assert "Войти" in browser.text()
    _log_in(browser, base)
    status = _flat(browser.text())
    assert "Каналы связи" in status and "▲ работает modem:kinel" in status
    assert "▲ работает smpp:megafon" in status and "окно" in status
    cards = _modem_cards(browser)
    assert set(cards) == {"sim0", "sim1"}
    for card in cards.values():
        assert "дБм" in card and "домашняя сеть, MegaFon" in card and "Память SIM" in card
    # The README's pictures are refreshed on request only: a test run leaves the tree alone.
    shots = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path
    browser.screenshot(shots / "status.png")
    assert (shots / "status.png").stat().st_size > 10_000

    people = tmp_path / "people.csv"
    people.write_text("phone,name,district\n+79275550001,Смирнова Ольга Петровна,kinel\n"
                      "12345,Nobody,kinel\n", encoding="utf-8")
    browser.open(base + "/residents")
    assert "Житель 0" in browser.text()  # the list, in name order
    browser.upload("input[type=file]", people)
    browser.submit("form[enctype] button[type=submit]")
    assert "1 житель принят, 1 строка отклонена." in browser.text()
    browser.submit("#search button[type=submit]", q="смирнова")
    assert browser.js("document.querySelectorAll('#list td a').length") == 1
    browser.js("document.querySelector('#list td a').click()")
    browser._wait_load()
    assert "Смирнова Ольга Петровна" in browser.text()
    browser.submit("form[action$='/issue'] button", reason="1")
    code = str(browser.js("document.getElementById('permit-code').textContent"))
    assert "Прочитайте звонящему:" in browser.text() and f"ПРОПУСК {code}" in browser.text()

    browser.js("document.getElementById('print-link').click()")
    browser._wait_load()
    sheet = _print_preview(browser, base, code, tmp_path, shots / "permit.png")
    assert "Пропуск на выход" in sheet and "Смирнова Ольга Петровна" in sheet
    assert "+7927***0001" in sheet and "0377" in sheet and "*377*" in sheet
    _print_preview(browser, base, code, tmp_path, paper="a4")

    browser.open(f"{base}/permits?q={code}")
    browser.js("document.querySelector('a.revoke').click()")
    browser._wait_load()
    assert "Отозвать этот пропуск?" in browser.text()
    browser.open(f"{base}/permits?q={code}")  # the question alone changed nothing
    assert "действует" in browser.text()
    browser.js("document.querySelector('a.revoke').click()")
    browser._wait_load()
    browser.submit("#confirm")
    assert "отозван" in browser.text()
    browser.open(base + "/audit")
    audit = browser.text()
    for action in ("вошёл", "загрузил жителей", "открыл карточку жителя",
                   "запросил пропуск для жителя", "отозвал пропуск"):
        assert action in audit


@pytest.mark.skipif(ZBARIMG is None, reason="zbar is not installed (apt-get install zbar-tools)")
def test_the_english_console_is_remembered_for_its_operator(site, live_links, browser,
                                                             tmp_path):
    base = site.url
    _log_in(browser, base)
    browser.submit("nav button[value=en]")
    assert browser.js("document.documentElement.lang") == "en"
    status = _flat(browser.text())
    assert "Links" in status and "▲ up modem:kinel" in status and "home network" in status
    browser.submit("nav .logout button")
    assert browser.path().startswith("/login")
    browser.command("Network.clearBrowserCookies", session=True)  # only their row remembers
    _log_in(browser, base)
    assert browser.js("document.documentElement.lang") == "en"

    browser.open(base + "/residents")
    browser.submit("#search button[type=submit]", q="Kinel")
    assert "Name, phone or district" in browser.text()
    browser.js("document.querySelector('#list td a').click()")
    browser._wait_load()
    browser.submit("form[action$='/issue'] button", reason="6")
    assert "No permit needed for this trip (6 emergency)." in browser.text()
    assert "No permit needed: emergency." in browser.text()  # the words to read, in English
    browser.js("history.back()")
    browser._wait_load()
    browser.submit("form[action$='/issue'] button", reason="2")
    code = str(browser.js("document.getElementById('permit-code').textContent"))
    sheet = _print_preview(browser, base, code, tmp_path, language="en", paper="a4")
    assert "Exit permit" in sheet and "Kinel" in sheet and "2 pharmacy" in sheet


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
            browser.submit("#log-in", username="anna", password=PASSWORD)
            assert "▲ работает modem:kinel" in _flat(browser.text())
            sim.vanish(30)  # the USB modem is pulled out
            while transport.health().up and time.monotonic() < deadline:
                time.sleep(0.05)
            gateway.maintenance.snapshot_health()
            browser.open(site.url + "/")
            assert "▼ не работает modem:kinel" in _flat(browser.text())
        finally:
            gateway.stop()
