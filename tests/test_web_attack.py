"""The console and /ussd attacked from outside, as issue 14 found them: each test plays one
finding against a running `permit-gateway web` on loopback, behind Debian's nginx with the kit's
own sites where the point is proxies, on SQLite and PostgreSQL. The attacker knows what the
issue describes and nothing else: no session, no token, only the network.

Loopback has a whole /8 on Linux, so one machine can be thirty attackers: a browser here picks
its source address (127.0.0.2, 127.0.0.3, ...) and nginx forwards that address, as it would a
remote one.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import math
import re
import ssl
import time
import urllib.parse
from contextlib import ExitStack
from dataclasses import dataclass
from http.cookies import SimpleCookie

import pytest
from sqlalchemy import func, select

from permits.messages import Inbound
from sms_gateway.web.operators import Role, add_operator
from storage.tables.console import audit_log, login_failures
from storage.tables.ledger import officers, permits, residents
from tests.conftest import OFFICER, RESIDENT
from tests.deploy_support import (
    KIT,
    nginx_conf,
    running_nginx,
    self_signed_certificate,
    serving_console,
)
from tests.install_support import free_port

PASSWORD = "correct horse battery"
TOKEN = "aggregator-secret-0123456789"
SECRET = "s" * 48  # one [web] secret_key for every node, as docs/deployment.md asks
_UNVERIFIED = ssl._create_unverified_context()  # the tests' own self-signed certificate
_CODE = re.compile(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}")


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    text: str


class Browser:
    """A browser without redirects: keeps its cookies, sends forms with the page's CSRF token,
    connects from `source` (an address of the loopback /8)."""

    def __init__(self, base: str, source: str = "127.0.0.1") -> None:
        parts = urllib.parse.urlsplit(base)
        self.https, self.port, self.source = parts.scheme == "https", parts.port, source
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None,
                headers: dict | None = None) -> Reply:
        kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        extra = {"context": _UNVERIFIED} if self.https else {}
        conn = kind("127.0.0.1", self.port, timeout=30, source_address=(self.source, 0),
                    **extra)
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    if morsel.value:
                        self.cookies[name] = morsel.value
                    else:
                        self.cookies.pop(name, None)
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()},
                         response.read().decode())
        finally:
            conn.close()

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def submit(self, page: str, path: str, form: dict) -> Reply:
        """POST `form` to `path` as the form on `page` would, with its CSRF token."""
        token = re.search(r'name="csrf_token" value="([^"]+)"', self.get(page).text).group(1)
        return self.request("POST", path, {"csrf_token": token, **form})

    def login(self, username: str = "admin", password: str = PASSWORD) -> Reply:
        return self.submit("/login", "/login", {"username": username, "password": password})


def _logged_out(reply: Reply) -> bool:
    return reply.status == 302 and "/login" in reply.headers["location"]


@pytest.fixture
def ledger(engine, rules, people) -> dict[str, object]:
    """Residents, an officer, the operator `admin`, and a permit valid now for RESIDENT."""
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        add_operator(conn, "admin", PASSWORD, now)
        [outcome] = rules.handle(conn, [Inbound(RESIDENT, "ВЫХОД аптека", "test", now)], now)
        resident = conn.scalar(select(residents.c.id).where(residents.c.phone == RESIDENT))
    return {"code": _CODE.search(outcome.replies[0].text).group(), "resident": resident}


@pytest.fixture
def servers(tmp_path, database_url):
    """`start_console(web=..., ussd=...)` runs `permit-gateway web` on this test's database and
    returns its port; `start_nginx(sites, console_port)` puts the kit's sites in front of it."""
    stack = ExitStack()
    certificate = self_signed_certificate(tmp_path)

    def start_console(web: str = "", ussd: str = "") -> int:
        port = free_port()
        config = tmp_path / f"console-{port}.toml"
        config.write_text(
            f'[database]\nurl = "{database_url}"\n[service]\ndata_dir = "{tmp_path}"\n'
            f'[web]\nport = {port}\nsecret_key = "{SECRET}"\nlanguage = "en"\n{web}\n'
            f"[ussd]\n{ussd}\n",
            encoding="utf-8")
        stack.enter_context(serving_console(config, port))
        return port

    def start_nginx(sites: dict[str, str], console_port: int) -> dict[int, int]:
        ports = {80: free_port(), 443: free_port(), 8443: free_port()}
        conf = nginx_conf(tmp_path / f"nginx-{console_port}", sites, certificate, ports,
                          console_port)
        stack.enter_context(running_nginx(conf, ports[443] if "permit-gateway.conf" in sites
                                          else ports[8443]))
        return ports

    with stack:
        yield start_console, start_nginx


def _site(name: str, *edits: tuple[str, str]) -> dict[str, str]:
    """A kit site as written, with the edits an operator made (each must apply)."""
    text = (KIT / "nginx" / name).read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    return {name: text}


# The operators' networks in the public site, widened to the loopback /8 the attackers use.
OPERATORS_HERE = ("allow 127.0.0.1;", "allow 127.0.0.0/8;")
WITHOUT_THE_USSD_RULE = ("location ^~ /ussd {\n        return 404;\n    }", "")


def _ussd(browser: Browser, phone: str, path: str = "/ussd", headers: dict | None = None,
          **fields: str) -> Reply:
    form = {"sessionId": "s1", "serviceCode": "*377#", "phoneNumber": phone, "text": "",
            **fields}
    return browser.request("POST", path, form, headers)


# -- finding 1: /ussd's trust -----------------------------------------------------------------


def test_forwarding_headers_do_not_make_a_caller_local(servers, ledger):
    """Finding 1: waitress strips `X-Forwarded-For` and `Forwarded` from untrusted callers, so
    the console's check on those headers saw a plain loopback call and answered with the
    permit of whatever `phoneNumber` the caller named."""
    start_console, _ = servers
    direct = Browser(f"http://127.0.0.1:{start_console()}")
    for header, value in (("X-Forwarded-For", "203.0.113.9"), ("Forwarded", "for=203.0.113.9"),
                          ("X-Real-IP", "203.0.113.9"), ("X-Forwarded-For", "127.0.0.1")):
        reply = _ussd(direct, RESIDENT, headers={header: value})
        assert reply.status == 403 and ledger["code"] not in reply.text, header
    plain = _ussd(direct, RESIDENT)
    assert plain.status == 403 and ledger["code"] not in plain.text


def test_ussd_relayed_by_a_proxy_the_console_does_not_know_is_refused(servers, ledger):
    """Finding 1, behind nginx: with the site's `/ussd` rule gone and no `trusted_proxy`, every
    request nginx relays comes from 127.0.0.1."""
    start_console, start_nginx = servers
    console = start_console()
    ports = start_nginx(_site("permit-gateway.conf", OPERATORS_HERE, WITHOUT_THE_USSD_RULE),
                        console)
    outsider = Browser(f"https://127.0.0.1:{ports[443]}", source="127.0.0.9")
    reply = _ussd(outsider, RESIDENT)
    assert reply.status == 403 and ledger["code"] not in reply.text


def test_ussd_through_the_trusted_proxy_is_never_local_even_with_loopback_allowed(servers,
                                                                                  ledger):
    start_console, start_nginx = servers
    console = start_console(web='trusted_proxy = "127.0.0.1"', ussd="allow_loopback = true")
    ports = start_nginx(_site("permit-gateway.conf", OPERATORS_HERE, WITHOUT_THE_USSD_RULE),
                        console)
    for source in ("127.0.0.1", "127.0.0.9"):  # an ssh tunnel, a host on the operators' net
        reply = _ussd(Browser(f"https://127.0.0.1:{ports[443]}", source=source), RESIDENT)
        assert reply.status == 403 and ledger["code"] not in reply.text, source
    # A connector on this machine is local when it connects itself, from an address that is
    # not the proxy's; from 127.0.0.1 it cannot be told from nginx, and is refused.
    assert _ussd(Browser(f"http://127.0.0.1:{console}", "127.0.0.5"), RESIDENT).status == 200
    assert _ussd(Browser(f"http://127.0.0.1:{console}"), RESIDENT).status == 403


def test_the_aggregator_is_answered_with_its_token_from_its_address_only(servers, ledger):
    start_console, start_nginx = servers
    console = start_console(web='trusted_proxy = "127.0.0.1"',
                            ussd=f'token = "{TOKEN}"\nallow_from = ["127.0.0.2/32"]')
    ports = start_nginx(_site("permit-gateway-ussd.conf",
                              ("allow 192.0.2.0/28;", "allow 127.0.0.0/8;")), console)
    site = f"https://127.0.0.1:{ports[8443]}"
    aggregator, other = Browser(site, "127.0.0.2"), Browser(site, "127.0.0.3")
    token = {"X-USSD-Token": TOKEN}
    answered = _ussd(aggregator, OFFICER, headers=token, text=ledger["code"])
    assert answered.status == 200 and answered.text.startswith("END ДЕЙСТВУЕТ")
    assert _ussd(aggregator, OFFICER, token=TOKEN).text.startswith("CON ")  # a form field
    assert _ussd(aggregator, RESIDENT).status == 403  # no token
    assert _ussd(aggregator, RESIDENT, headers={"X-USSD-Token": TOKEN[:-1]}).status == 403
    assert _ussd(aggregator, RESIDENT, f"/ussd?token={TOKEN}").status == 403  # not in URLs
    stolen = _ussd(other, RESIDENT, headers=token)  # the token, from elsewhere
    assert stolen.status == 403 and ledger["code"] not in stolen.text


# -- findings 2, 4, 5: a throttle that only slows ---------------------------------------------


def test_counters_left_by_months_of_slow_guessing_let_the_right_password_in(servers, ledger,
                                                                            engine):
    """Finding 2: after ~50 counted failures the wait overflowed: every login for that name
    and address answered 500, the right password included, weeks later; the address's own
    counter did the same to every name. These are the rows such guessing leaves (the
    username's and the address's, and the per-address pair older versions kept)."""
    start_console, _ = servers
    weeks_ago = dt.datetime.now(dt.UTC) - dt.timedelta(weeks=3)
    with engine.begin() as conn:
        conn.execute(login_failures.insert(), [
            {"username": name, "address": address, "failures": 70, "last_at": weeks_ago}
            for name, address in (("admin", "*"), ("admin", "127.0.0.1"), ("*", "127.0.0.1"))])
        add_operator(conn, "boris", PASSWORD, weeks_ago)
    console = f"http://127.0.0.1:{start_console()}"
    assert Browser(console).login().status == 302
    assert Browser(console).login("boris").status == 302


def test_the_right_password_after_fifty_fast_wrong_ones_is_told_when_or_let_in(servers,
                                                                                ledger):
    """Finding 4: after 50 fast wrong passwords the right one got 429 with nothing saying when
    to try again. Every refusal says it (page and Retry-After) and holds to it; the operator's
    own browser, where they logged in before, is not slowed by someone else's guesses."""
    start_console, _ = servers
    console = f"http://127.0.0.1:{start_console()}"
    own = Browser(console)
    assert own.login().status == 302
    own.submit("/", "/logout", {})
    attacker = Browser(console, "127.0.0.66")
    refused = [reply for n in range(50)
               if (reply := attacker.login(password=f"guess {n}")).status == 429]
    assert refused  # the waits double: fifty tries cannot all be checked
    assert own.login().status == 302
    newcomer = Browser(console, "127.0.0.77")
    reply = newcomer.login()
    while reply.status == 429:  # the attacker has stopped: the stated wait is the last one
        refused.append(reply)
        time.sleep(int(reply.headers["retry-after"]))
        reply = newcomer.login()
    assert reply.status == 302
    for reply in refused:
        assert 0 < int(reply.headers["retry-after"]) <= 15 * 60
        assert "Try again in" in reply.text


def test_guesses_from_thirty_addresses_through_the_proxy_are_slowed_as_one(servers, ledger,
                                                                           engine):
    """Finding 5: with `trusted_proxy` set, 30 guesses for `admin` from 30 forwarded addresses
    were all checked: the per-user count was kept per address. Now the name's waits double
    whatever the address: in `elapsed` seconds at most log2(elapsed + 1) guesses follow the
    three free ones (however slow this machine is)."""
    start_console, start_nginx = servers
    console = start_console(web='trusted_proxy = "127.0.0.1"')
    ports = start_nginx(_site("permit-gateway.conf", OPERATORS_HERE), console)
    site = f"https://127.0.0.1:{ports[443]}"
    began = time.monotonic()
    answers = [Browser(site, f"127.0.0.{n}").login(password=f"guess {n}").status
               for n in range(2, 32)]
    elapsed = time.monotonic() - began
    assert set(answers) == {401, 429} and answers[:3] == [401] * 3
    assert answers.count(401) <= 3 + math.log2(elapsed + 1)
    with engine.connect() as conn:
        checked = conn.scalars(select(audit_log.c.detail).where(
            audit_log.c.action == "login_failed").order_by(audit_log.c.id)).all()
    assert [json.loads(facts)["address"] for facts in checked][:3] == [
        "127.0.0.2", "127.0.0.3", "127.0.0.4"]  # the proxy's clients, not the proxy


# -- finding 3: sessions that end -------------------------------------------------------------


def test_a_session_cookie_replayed_after_logout_opens_nothing_on_any_node(servers, ledger):
    """Finding 3: logout did not end the session; an old cookie still opened `/residents/1`.
    Two nodes share the database and the secret, as behind a load balancer."""
    start_console, _ = servers
    node_a, node_b = (f"http://127.0.0.1:{start_console()}" for _ in range(2))
    operator = Browser(node_a)
    assert operator.login().status == 302
    thief = Browser(node_b, "127.0.0.13")
    thief.cookies = dict(operator.cookies)
    resident_page = f"/residents/{ledger['resident']}"
    assert thief.get(resident_page).status == 200
    assert operator.submit("/", "/logout", {}).status == 302
    assert _logged_out(thief.get(resident_page))
    replayed = Browser(node_a, "127.0.0.13")
    replayed.cookies = dict(thief.cookies)
    assert _logged_out(replayed.get("/"))


# -- roles ----------------------------------------------------------------------------------


def test_a_viewer_reads_permits_and_is_refused_everything_else(servers, ledger, engine):
    start_console, _ = servers
    with engine.begin() as conn:
        add_operator(conn, "vera", PASSWORD, dt.datetime.now(dt.UTC), Role.VIEWER)
    viewer = Browser(f"http://127.0.0.1:{start_console()}")
    assert viewer.login("vera").status == 302
    assert ledger["code"] in viewer.get(f"/permits?q={ledger['code']}").text
    assert viewer.get(f"/permits/{ledger['code']}/print").status == 200
    for page in ("/residents", f"/residents/{ledger['resident']}", "/officers", "/audit",
                 "/quarantine", f"/permits/{ledger['code']}/revoke"):
        assert viewer.get(page).status == 403, page
    added = viewer.submit("/permits", "/officers", {"phone": "+79370000042", "name": "Sgt"})
    revoked = viewer.submit("/permits", f"/permits/{ledger['code']}/revoke",
                            {"confirmed": "yes"})
    assert (added.status, revoked.status) == (403, 403)
    with engine.connect() as conn:
        assert conn.scalar(select(permits.c.state)) == "issued"
        assert conn.scalar(select(func.count()).select_from(officers)) == 1

