"""The deployment kit (deploy/), each file checked by the tool that will read it: systemd's
own analyzer for the units, systemd-sysusers and systemd-tmpfiles for the user and folders,
nginx for the sites (and a running nginx in front of a running console), promtool for the
alert rules; and the files against each other and against what the console exports."""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from sms_gateway import migrate
from sms_gateway.config import from_dict, load
from sms_gateway.web.app import create_app
from storage.db import make_engine
from tests.deploy_support import (
    KIT,
    Unit,
    nginx_conf,
    read_environment_file,
    require,
    running_nginx,
    self_signed_certificate,
    serving_console,
)
from tests.install_support import free_port

UNITS = sorted((KIT / "systemd").glob("permit-gateway*.*"))
SERVICES = [unit for unit in UNITS if unit.suffix == ".service"]
NODE_UNIT = KIT / "systemd" / "permit-gateway.service"
BACKUP_UNIT = KIT / "systemd" / "permit-gateway-backup.service"
SITES = sorted((KIT / "nginx").glob("permit-gateway*.conf"))
RULES = KIT / "monitoring" / "permit-gateway.rules.yml"
DASHBOARD = KIT / "monitoring" / "permit-gateway.dashboard.json"
UDEV = KIT / "udev" / "78-permit-gateway-modems.rules"
# Exposure systemd-analyze security allows (its 0-10 scale times ten): "OK" is below 40.
MAX_EXPOSURE = 25
# Metrics other parts of the project are adding, under these names (issue 15); Prometheus's
# own `up` is always there.
COMING = {"permit_gateway_quarantined_messages", "permit_gateway_link_down_seconds",
          "permit_gateway_replies_waiting"}
PROMETHEUS_OWN = {"up"}
USSD_TOKEN = "kit-test-token"  # USSD_TOKEN of the node's environment file


def kit_config():
    """deploy/config.toml with every ${...} it names set as env.example sets it."""
    return load(KIT / "config.toml", environ=read_environment_file(KIT / "env.example"))


# -- systemd -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def systemd_root(tmp_path_factory) -> Path:
    """A root with systemd's own units and the kit's, and a file at each path ExecStart names
    (verify checks only that it is executable; tests/test_deploy_steps.py runs the real one)."""
    root = tmp_path_factory.mktemp("systemd-root")
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "lib").symlink_to("usr/lib")
    units = root / "etc/systemd/system"
    units.mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(unit, units)
        for key in ("ExecStart", "ExecStartPre", "ExecStop"):
            for argv in Unit.read(unit).command(key, {}):
                executable = root / argv[0].lstrip("/")
                executable.parent.mkdir(parents=True, exist_ok=True)
                executable.write_text("#!/bin/sh\n")
                executable.chmod(0o755)
    return root


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_analyze_verify_finds_nothing_to_say(unit, systemd_root):
    result = subprocess.run([require("systemd-analyze"), "verify", f"--root={systemd_root}",
                             f"/etc/systemd/system/{unit.name}"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and not result.stdout + result.stderr, result.stderr


@pytest.mark.parametrize("unit", SERVICES, ids=lambda p: p.name)
def test_the_services_are_hardened(unit, systemd_root):
    result = subprocess.run([require("systemd-analyze"), "security", "--offline=yes",
                             f"--threshold={MAX_EXPOSURE}", f"--root={systemd_root}",
                             f"/etc/systemd/system/{unit.name}"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout[-3000:]


def test_the_service_may_write_its_state_directory_and_nowhere_else():
    for path in SERVICES:
        unit = Unit.read(path)
        assert unit.value("ProtectSystem") == "strict"
        assert unit.value("StateDirectory") == "permit-gateway"
        assert unit.value("User") == "permit-gateway"
    node = Unit.read(NODE_UNIT)
    assert "dialout" in node.value("SupplementaryGroups").split()
    assert node.value("WorkingDirectory") == str(node.state_directory())


def test_sysusers_and_tmpfiles_make_the_user_and_its_folders(tmp_path):
    sysusers = KIT / "sysusers.d" / "permit-gateway.conf"
    tmpfiles = KIT / "tmpfiles.d" / "permit-gateway.conf"
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/group").write_text("root:x:0:\ndialout:x:20:\n")
    for tool, args in (("systemd-sysusers", [str(sysusers)]),
                       ("systemd-tmpfiles", ["--create", str(tmpfiles)])):
        subprocess.run([require(tool), f"--root={tmp_path}", *args], check=True, timeout=60)
    passwd = (tmp_path / "etc/passwd").read_text()
    [user] = [line.split(":") for line in passwd.splitlines() if line.startswith("permit-")]
    assert user[5] == str(Unit.read(NODE_UNIT).state_directory())
    assert "dialout:x:20:permit-gateway" in (tmp_path / "etc/group").read_text()
    state = tmp_path / "var/lib/permit-gateway"
    assert state.stat().st_uid == int(user[2]) and oct(state.stat().st_mode)[-3:] == "750"


# -- the config, the units and the rest agree ---------------------------------------------------


def test_the_kit_config_keeps_every_file_in_the_state_directory():
    config = kit_config()
    state = Unit.read(NODE_UNIT).state_directory()
    ledger = Path(config.database_url.removeprefix("sqlite:///"))
    assert ledger.parent == state and config.data_dir == state
    backup = " ".join(" ".join(argv) for argv in Unit.read(BACKUP_UNIT).command("ExecStart", {}))
    assert f"sqlite3 {ledger} " in backup, "the backup must copy the ledger the config names"
    assert f"cd {state}\n" in (KIT / "permit-gateway-admin").read_text()


def test_the_console_trusts_the_proxy_the_site_runs_on():
    config = kit_config()
    site = (KIT / "nginx" / "permit-gateway.conf").read_text()
    assert f"server {config.web.trusted_proxy}:{config.web.port};" in site
    assert config.web.host == "127.0.0.1"


def _udev_rules() -> list[dict[str, tuple[str, str]]]:
    """Each rule as {key: (operator, value)}; a line that is not `KEY op "value", ...` fails."""
    token = re.compile(r'\s*([A-Z_]+(?:\{[^}]+\})?)\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(,|$)')
    rules = []
    for number, line in enumerate(UDEV.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        rule, position = {}, 0
        while position < len(line):
            match = token.match(line, position)
            assert match, f"{UDEV.name}:{number}: cannot read {line[position:]!r}"
            rule[match.group(1)] = (match.group(2), match.group(3))
            position = match.end()
        rules.append(rule)
    return rules


def test_udev_names_the_modems_the_config_uses_and_hides_them_from_modemmanager():
    rules = _udev_rules()
    named = {"/dev/" + rule["SYMLINK"][1] for rule in rules if "SYMLINK" in rule}
    assert named == {modem.port for modem in kit_config().modems}
    for rule in rules:
        assert rule["SUBSYSTEM"] == ("==", "tty")
        assert rule["SYMLINK"][0] == "+="
        assert rule["ENV{ID_MM_DEVICE_IGNORE}"] == ("=", "1")
        assert rule["GROUP"] == ("=", "dialout")
    assert len(kit_config().modems) == 2


# -- nginx -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


def test_nginx_accepts_the_sites(tmp_path, certificate):
    conf = nginx_conf(tmp_path, {site.name: site.read_text() for site in SITES}, certificate,
                      {80: 80, 443: 443, 8443: 8443}, 8080)
    result = subprocess.run([require("nginx"), "-t", "-c", str(conf)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "[warn]" not in result.stderr, result.stderr


@pytest.fixture
def console(tmp_path):
    """`permit-gateway web` with the kit's [web] and [ussd] settings, on a free port."""
    port = free_port()
    kit = kit_config()
    url = f"sqlite:///{tmp_path / 'permits.db'}"
    migrate.upgrade(make_engine(url))
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n[service]\ndata_dir = "{tmp_path}"\n'
        f'[web]\nport = {port}\ntrusted_proxy = "{kit.web.trusted_proxy}"\n'
        f'[ussd]\ntoken = "{USSD_TOKEN}"\n'
        f"allow_loopback = {str(kit.ussd.allow_loopback).lower()}\n", encoding="utf-8")
    with serving_console(config, port):
        yield port


@pytest.fixture
def nginx(tmp_path, certificate, console):
    """The public site, running, in front of the console: {"http": port, "https": port}."""
    ports = {80: free_port(), 443: free_port()}
    site = KIT / "nginx" / "permit-gateway.conf"
    conf = nginx_conf(tmp_path / "nginx", {site.name: site.read_text()}, certificate, ports,
                      console)
    with running_nginx(conf, ports[443]):
        yield {"http": ports[80], "https": ports[443], "console": console}


def _request(url: str, data: bytes | None = None) -> tuple[int, dict, bytes]:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context),
                                         NoRedirect())
    try:
        with opener.open(urllib.request.Request(url, data=data), timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_through_the_public_site_the_console_answers_and_ussd_does_not(nginx):
    public = f"https://127.0.0.1:{nginx['https']}"
    form = b"sessionId=1&serviceCode=*377%23&phoneNumber=%2B79370000099&text="
    with_token = form + f"&token={USSD_TOKEN}".encode()
    # The console answers USSD from this host with the token and to nobody without it (the
    # kit's allow_loopback is off): the 404s below are the site's rule.
    direct = f"http://127.0.0.1:{nginx['console']}/ussd"
    assert _request(direct, form)[0] == 403
    assert _request(direct, with_token)[0] == 200
    for path in ("/ussd", "/ussd?token=x", "//ussd", "/%75ssd", "/static/../ussd"):
        assert _request(public + path, with_token)[0] == 404, path
    status, headers, page = _request(public + "/login")
    assert status == 200 and b"<form" in page
    assert "Secure" in headers["Set-Cookie"], "X-Forwarded-Proto from the trusted proxy"
    assert _request(public + "/metrics")[0] == 200
    status, headers, _ = _request(f"http://127.0.0.1:{nginx['http']}/login")
    assert status == 301 and headers["Location"].startswith("https://")


# -- monitoring --------------------------------------------------------------------------------


def test_promtool_accepts_the_alert_rules_and_the_scrape_config():
    promtool = require("promtool")
    for args in (["check", "rules", str(RULES)],
                 ["check", "config", str(KIT / "monitoring" / "prometheus.yml")]):
        result = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> set[str]:
    """Every sample name the console's /metrics can carry, read from a running app."""
    folder = tmp_path_factory.mktemp("metrics")
    url = f"sqlite:///{folder / 'permits.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    config = from_dict({"database": {"url": url}, "service": {"data_dir": str(folder)}},
                       base=folder)
    text = create_app(config, engine).test_client().get("/metrics").text
    engine.dispose()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
                "gauge": ("",)}
    return {family.name + suffix for family in text_string_to_metric_families(text)
            for suffix in suffixes[family.type]}


def _metric_names(expression: str) -> set[str]:
    """Metric names in a PromQL expression (label values and strings left out)."""
    bare = re.sub(r'"[^"]*"', '""', expression)
    own = {name for name in PROMETHEUS_OWN if re.search(rf"\b{name}\s*[{{=]", bare)}
    return set(re.findall(r"\bpermit_gateway_\w+", bare)) | own


def test_alert_rules_name_only_metrics_the_console_exports(exported):
    assert "permit_gateway_node_heartbeat_age_seconds" in exported
    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"]
             for rule in group["rules"]]
    for rule in rules:
        names = _metric_names(rule["expr"])
        assert names, f"{rule['alert']}: no metric found in {rule['expr']!r}"
        assert names <= exported | COMING | PROMETHEUS_OWN, (rule["alert"], names - exported)
    alerts = {rule["alert"] for rule in rules}
    assert {"PermitGatewayLinkDown", "PermitGatewayInboxBehind", "PermitGatewayOutboxBehind",
            "PermitGatewayRepliesFailing", "PermitGatewayReplyCapHit",
            "PermitGatewayQuarantined", "PermitGatewayNodeSilent"} <= alerts


def test_the_dashboard_queries_name_only_metrics_the_console_exports(exported):
    dashboard = json.loads(DASHBOARD.read_text())
    targets = [target for panel in dashboard["panels"] for target in panel["targets"]]
    assert targets
    used = set()
    for target in targets:
        names = _metric_names(target["expr"])
        assert names and names <= exported | COMING, (target["expr"], names - exported)
        used |= names
    assert used >= COMING
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
