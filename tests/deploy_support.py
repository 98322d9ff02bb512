"""Reading the deployment kit (deploy/) as systemd and nginx would, for the kit's tests; it
holds no tests itself.

* `Unit`: a systemd unit file's entries, repeated keys kept in order, and the service's
  command line and environment the way systemd builds them (Environment=, then
  EnvironmentFile=, specifiers, `$VAR` and `${VAR}`), so a test can start exactly what the
  unit would start.
* `local_site`: an nginx site of the kit made runnable on this machine: its ports, its
  certificate and the console's address replaced, nothing else touched; `nginx_conf` puts
  sites into a main nginx.conf, `running_nginx` runs it.
* `serving_console`: `permit-gateway web` running on a config, for requests from outside.
"""

from __future__ import annotations

import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.install_support import ROOT, wait_until_healthy

KIT = ROOT / "deploy"
SNIPPET = KIT / "nginx" / "permit-gateway-proxy.conf"
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass(frozen=True)
class Unit:
    path: Path
    entries: tuple[tuple[str, str, str], ...]  # (section, key, value), in file order

    @classmethod
    def read(cls, path: Path) -> Unit:
        entries, section, pending = [], "", ""
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = pending + raw.strip()
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            pending = ""
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            entries.append((section, key.strip(), value.strip()))
        return cls(path, tuple(entries))

    def values(self, key: str, section: str = "Service") -> list[str]:
        return [v for s, k, v in self.entries if s == section and k == key]

    def value(self, key: str, section: str = "Service") -> str | None:
        found = self.values(key, section)
        return found[-1] if found else None

    def environment(self, root: Path = Path("/")) -> dict[str, str]:
        """Environment= first, then EnvironmentFile= (read under `root`), which wins."""
        env: dict[str, str] = {}
        for value in self.values("Environment"):
            for word in shlex.split(specifiers(value)):
                key, _, val = word.partition("=")
                env[key] = val
        for value in self.values("EnvironmentFile"):
            optional, name = value.startswith("-"), value.lstrip("-")
            path = root / name.lstrip("/")
            if not path.exists() and optional:
                continue
            env.update(read_environment_file(path))
        return env

    def command(self, key: str, env: dict[str, str]) -> list[list[str]]:
        """Each `key=` line (ExecStart=, ...) as the argv systemd would run."""
        return [expand(value, env) for value in self.values(key)]

    def state_directory(self) -> Path:
        return Path("/var/lib") / self.value("StateDirectory")


def specifiers(value: str) -> str:
    """The specifiers the kit uses: %H (host name) and %% (a percent sign)."""
    def one(match: re.Match) -> str:
        letter = match.group(1)
        if letter == "H":
            return socket.gethostname()
        if letter == "%":
            return "%"
        raise AssertionError(f"specifier %{letter} is not understood by the tests")

    return re.sub(r"%(.)", one, value)


def expand(value: str, env: dict[str, str]) -> list[str]:
    """systemd's rules: `$VAR` alone is split into words (none if empty), `${VAR}` is one."""
    argv = []
    for word in shlex.split(specifiers(value)):
        whole = re.fullmatch(r"\$(\w+)", word)
        if whole:
            argv.extend(env.get(whole.group(1), "").split())
        else:
            argv.append(_VARIABLE.sub(lambda m: env.get(m.group(1) or m.group(2), ""), word))
    return argv


def read_environment_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        key, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def local_site(text: str, ports: dict[int, int], certificate: Path, key: Path,
               snippet: Path, console_port: int) -> str:
    """An nginx site of the kit with this machine's ports, certificate and console; the IPv6
    listeners go (a container may have no IPv6), every rule stays as written."""
    lines = [line for line in text.splitlines() if not re.match(r"\s*listen \[::\]", line)]
    text = "\n".join(lines) + "\n"
    for public, local in ports.items():
        text = re.sub(rf"(\blisten\s+(?:[\d.]+:)?){public}\b", rf"\g<1>{local}", text)
    text = re.sub(r"listen\s+[\d.]+:(\d+)", r"listen 127.0.0.1:\1", text)
    text = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {certificate};", text)
    text = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", text)
    text = text.replace("/etc/nginx/snippets/permit-gateway-proxy.conf", str(snippet))
    return text.replace("127.0.0.1:8080", f"127.0.0.1:{console_port}")


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing: scripts/setup.sh installs it")
    return path


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate and its key."""
    cert, key = folder / "site.pem", folder / "site.key"
    subprocess.run([require("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-days", "1", "-subj", "/CN=permits.example.org", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


def nginx_conf(folder: Path, sites: dict[str, str], certificate: tuple[Path, Path],
               ports: dict[int, int], console_port: int) -> Path:
    """A main nginx.conf around sites (file name: the kit's text, as is or edited), as Debian's
    includes them in http {}."""
    folder.mkdir(parents=True, exist_ok=True)
    snippet = folder / SNIPPET.name
    shutil.copy(SNIPPET, snippet)
    includes = []
    for name, text in sites.items():
        local = folder / name
        local.write_text(local_site(text, ports, *certificate, snippet, console_port))
        includes.append(f"    include {local};")
    conf = folder / "nginx.conf"
    temp = "".join(f"    {kind}_temp_path {folder / kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf.write_text(
        f"pid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'};\n"
        "events {}\nhttp {\n    include /etc/nginx/mime.types;\n"
        f"    access_log {folder / 'access.log'};\n{temp}" + "\n".join(includes) + "\n}\n")
    return conf


@contextmanager
def running_nginx(conf: Path, port: int, timeout: float = 60.0) -> Iterator[None]:
    """nginx on `conf` until the block ends, once it accepts connections on `port`."""
    process = subprocess.Popen([require("nginx"), "-c", str(conf), "-g", "daemon off;"],
                               stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while not _accepts(port):
            if process.poll() is not None:
                raise AssertionError(f"nginx exited: {process.stderr.read().decode()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"nginx did not listen on {port} within {timeout:.0f} s")
            time.sleep(0.05)
        yield
    finally:
        process.send_signal(signal.SIGQUIT)
        process.wait(timeout=30)


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@contextmanager
def serving_console(config: Path, port: int) -> Iterator[None]:
    """`permit-gateway --config CONFIG web` until the block ends, once /healthz answers on
    `port` (the config's [web] port)."""
    process = subprocess.Popen([sys.executable, "-m", "sms_gateway.cli", "--config",
                                str(config), "web"], cwd=ROOT, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process)
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
