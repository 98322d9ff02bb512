"""docs/deployment.md's install steps, run as written, in a scratch root of this machine: a
private mount namespace whose /etc, /var, /opt, /root and /usr/local are overlays on folders
of the test, so the steps create a real user, venv, config and units without touching the
machine. The service is then started as its installed unit would start it (systemd is not
PID 1 here): the unit's ExecStart with its user, groups, environment and working directory,
inside its sandbox (ProtectSystem=strict: everything read-only but the state directory).
"""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.deploy_support import KIT, Unit
from tests.install_support import ROOT, free_port, offline_pip_env, wait_until_healthy

GUIDE = ROOT / "docs" / "deployment.md"
OVERLAID = ("etc", "var", "opt", "root", "usr/local")
# What systemd hands every service, and a root shell's PATH on Debian for the steps.
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NODE = "etc/systemd/system/permit-gateway.service"
BACKUP = "etc/systemd/system/permit-gateway-backup.service"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 and not os.environ.get("CI"),
    reason="mount namespaces and overlays need root (CI runs as root)")


def install_steps(guide: str) -> str:
    """The ```sh blocks between the guide's install-steps markers, in order."""
    section = guide.split("<!-- install-steps -->", 1)[1].split("<!-- /install-steps -->")[0]
    blocks = re.findall(r"^```sh\n(.*?)^```$", section, flags=re.S | re.M)
    assert blocks, "docs/deployment.md has no install steps between its markers"
    return "\n".join(blocks)


class ScratchRoot:
    """Overlays kept in `folder`: each `run` mounts them again in a new mount namespace, so
    what one run installed the next one finds, and the machine never sees any of it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True)
        self.log = folder / "scratch.log"

    def upper(self, path: str) -> Path:
        """Where a file the steps wrote under / lands, e.g. upper("etc/passwd")."""
        top, _, rest = path.lstrip("/").partition("/")
        return self.folder / "upper" / top / rest

    def run(self, script: str, env: dict[str, str]) -> subprocess.Popen:
        mounts = "".join(
            f'mkdir -p "{self.folder}/upper/{d}" "{self.folder}/work/{d.replace("/", "_")}"\n'
            f'mount -t overlay overlay -o "lowerdir=/{d},upperdir={self.folder}/upper/{d},'
            f'workdir={self.folder}/work/{d.replace("/", "_")}" "/{d}"\n' for d in OVERLAID)
        with open(self.log, "a") as log:
            return subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "bash", "-c",
                 "set -euo pipefail\n" + mounts + script],
                env={"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8", **env},
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def finish(self, script: str, env: dict[str, str] | None = None, timeout: float = 600):
        process = self.run(script, env or {})
        assert process.wait(timeout=timeout) == 0, self.log.read_text()[-6000:]

    def as_unit(self, unit: Unit, user_env: dict[str, str]) -> str:
        """Shell lines that enter the unit's sandbox and run each ExecStart as it would:
        its writable paths bound, the rest read-only, then its user, groups and environment
        (ExecStart= of a oneshot run in turn; a service's one is exec'd)."""
        writable = [str(unit.state_directory()), *unit.values("ReadWritePaths")]
        assert unit.value("ProtectSystem") == "strict"
        lines = [f"mount --bind {shlex.quote(p)} {shlex.quote(p)}" for p in writable]
        lines.append(f"mount --bind {self.folder} {self.folder}")
        lines += [f"mount -o remount,bind,ro /{d}" for d in ("", *OVERLAID)]
        user = unit.value("User")
        groups = {unit.value("Group")} | set(" ".join(unit.values("SupplementaryGroups")).split())
        groups |= {line.split(":")[0] for line in self.upper("etc/group").read_text().splitlines()
                   if user in line.split(":")[3].split(",")}
        home = next(line.split(":")[5] for line in self.upper("etc/passwd").read_text()
                    .splitlines() if line.startswith(user + ":"))
        env = {"PATH": PATH, "HOME": home, "USER": user, "LOGNAME": user,
               "SHELL": "/usr/sbin/nologin", "STATE_DIRECTORY": str(unit.state_directory()),
               **user_env}
        lines.append(f"cd {shlex.quote(unit.value('WorkingDirectory') or '/')}")
        lines.append(f"umask {unit.value('UMask') or '0022'}")
        commands = unit.command("ExecStart", env)
        for index, argv in enumerate(commands):
            run = shlex.join(["setpriv", f"--reuid={user}", f"--regid={unit.value('Group')}",
                              f"--groups={','.join(sorted(groups))}", "--no-new-privs",
                              "--inh-caps=-all", "--bounding-set=-all", "env", "-i",
                              *(f"{k}={v}" for k, v in env.items()), *argv])
            last = index == len(commands) - 1 and unit.value("Type") != "oneshot"
            lines.append(("exec " if last else "") + run)
        return "\n".join(lines) + "\n"


@pytest.fixture
def release(tmp_path, dist) -> Path:
    """A folder as an operator has it: the kit and the wheel built from the sdist."""
    folder = tmp_path / "release"
    shutil.copytree(KIT, folder / "deploy")
    (folder / "dist").mkdir()
    shutil.copy(dist.wheel, folder / "dist")
    return folder


def test_the_guides_install_steps_give_a_node_that_writes_only_its_state_directory(
        tmp_path, release, dist):
    if shutil.which("unshare") is None or shutil.which("setpriv") is None:
        pytest.fail("util-linux's unshare and setpriv are needed")
    root = ScratchRoot(tmp_path / "scratch")
    steps = tmp_path / "steps.sh"
    steps.write_text(install_steps(GUIDE.read_text(encoding="utf-8")))
    units = " ".join(f"/{unit}" for unit in (NODE, BACKUP))
    root.finish(f"cd {release}\nbash -euxo pipefail {steps}\n"
                f"systemd-analyze verify {units} > {tmp_path}/verify.log 2>&1\n",
                offline_pip_env(dist))
    assert (tmp_path / "verify.log").read_text() == "", "systemd-analyze verify on the install"

    node = Unit.read(root.upper(NODE))
    assert node.path.read_text() == (KIT / "systemd/permit-gateway.service").read_text()
    env = node.environment(root.folder / "upper")
    port = free_port()  # the kit's 8080 may be taken on a shared machine: the one change
    config = "/etc/permit-gateway/config.toml"
    service = root.run(f"sed -i 's/^port = 8080$/port = {port}/' {config}\n"
                       + root.as_unit(node, env), {})
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, service)
        password = root.upper("root/permit-gateway-admin-password").read_text().strip()
        assert _logs_in(url, "admin", password)
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=90) == 0, root.log.read_text()[-6000:]
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
    log = root.log.read_text()
    assert "Traceback" not in log and "web console on" in log

    state = root.upper("var/lib/permit-gateway")
    assert {"permits.db", "web_secret"} <= {p.name for p in state.iterdir()}
    installed = {p.name for p in root.upper("etc/permit-gateway").iterdir()}
    assert installed == {"config.toml", "env"}, "nothing but the install writes /etc"

    backup = Unit.read(root.upper(BACKUP))
    root.finish(root.as_unit(backup, backup.environment(root.folder / "upper")))
    copy = root.upper(f"var/backups/permit-gateway/permits-{dt.date.today():%Y-%m-%d}.db")
    assert copy.stat().st_mode & 0o077 == 0, "the backup unit's UMask keeps copies private"
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT username FROM operators").fetchall() == [("admin",)]


def _logs_in(url: str, username: str, password: str) -> bool:
    """The console's login form, as a browser fills it in."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(url + "/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrf_token": token, "username": username,
                                   "password": password, "next": ""}).encode()
    with opener.open(url + "/login", data=form, timeout=30) as answer:
        return "/login" not in answer.url and 'action="/logout"' in answer.read().decode()
