"""Building and installing the package the way an operator does, for the packaging and
deployment tests; it holds no tests itself.

The wheel is built like a release: `python -m build` makes the sdist from a clean copy of the
tree (the files git tracks, plus new ones not ignored), then the wheel from that sdist, each in
an isolated build environment with the setuptools an operator would get. So a file the sdist
or the wheel leaves out is missing here too, which an editable install never shows.
Dependencies are fetched once per session into a wheelhouse; every venv is then installed from
it with `--no-index`, in seconds and without the project's own venv leaking in.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_UNVERIFIED = ssl._create_unverified_context()
# Top-level folders holding Python files that are not part of the installed service.
NOT_SHIPPED = frozenset({"tests", "tools", "bench"})
# A translation catalogue the tree does not have yet: the build must pick such files up.
CATALOGUE_PROBE = "sms_gateway/web/translations/ru/LC_MESSAGES/messages.po"
_BUILD_TIMEOUT = 600


@dataclass(frozen=True)
class Dist:
    """What one build produced: the release files and the log of making them."""

    sdist: Path
    wheel: Path
    wheelhouse: Path  # the wheel and every dependency's wheel, for `pip install --no-index`
    build_log: str

    def wheel_names(self) -> set[str]:
        with zipfile.ZipFile(self.wheel) as wheel:
            return set(wheel.namelist())

    def sdist_names(self) -> set[str]:
        """Paths inside the sdist, without its `name-version/` folder."""
        with tarfile.open(self.sdist) as sdist:
            return {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}


def tree_files() -> list[str]:
    """The source tree as a fresh clone would have it (plus new files not yet committed)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True).stdout.decode().split("\0")
    return sorted(name for name in listed if name and (ROOT / name).is_file())


def shipped_packages(files: list[str]) -> set[str]:
    """Top-level folders with Python files in them, except the ones that stay in the tree."""
    return {name.split("/", 1)[0] for name in files
            if "/" in name and name.endswith(".py")} - NOT_SHIPPED


def build(workdir: Path) -> Dist:
    """sdist and wheel of a clean copy of the tree, with a translation catalogue probe added."""
    source, out = workdir / "source", workdir / "dist"
    for name in tree_files():
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    probe = source / CATALOGUE_PROBE
    probe.parent.mkdir(parents=True, exist_ok=True)
    probe.write_text('msgid ""\nmsgstr ""\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)],
        capture_output=True, text=True, timeout=_BUILD_TIMEOUT, stdin=subprocess.DEVNULL)
    log = result.stdout + result.stderr
    if result.returncode != 0:
        raise AssertionError(f"python -m build failed:\n{log[-4000:]}")
    [sdist], [wheel] = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    house = workdir / "wheelhouse"
    pip(["wheel", "--quiet", "--wheel-dir", str(house), f"{wheel}[postgresql]"])
    return Dist(sdist, wheel, house, log)


def pip(args: list[str], **env: str) -> None:
    """The project venv's pip (any pip would do: it only fetches and installs)."""
    result = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True,
                            text=True, timeout=_BUILD_TIMEOUT, stdin=subprocess.DEVNULL,
                            env={**os.environ, **env})
    if result.returncode != 0:
        raise AssertionError(f"pip {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


def offline_pip_env(dist: Dist) -> dict[str, str]:
    """Environment that makes any pip install from the wheelhouse only."""
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(dist.wheelhouse),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def make_venv(path: Path, dist: Dist) -> Path:
    """A fresh venv (no pip of its own: the project's pip installs into it) with the wheel and
    its PostgreSQL extra; returns the `permit-gateway` script."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True,
                   timeout=_BUILD_TIMEOUT)
    pip(["--python", str(path / "bin" / "python"), "install", "--quiet",
         f"{dist.wheel}[postgresql]"], **offline_pip_env(dist))
    return path / "bin" / "permit-gateway"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for an installed command: nothing pointing back at the source tree."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PERMIT_GATEWAY_CONFIG",
                        "PERMIT_GATEWAY_DATABASE_URL")}
    return {**env, **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str) -> tuple[int, bytes]:
    """Status and body; an unreachable server is status 0. HTTPS is the tests' own
    self-signed certificate on loopback: not verified."""
    try:
        with urllib.request.urlopen(url, timeout=5, context=_UNVERIFIED) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    """Until `url`/healthz answers 200; fails at once if the process ends first."""
    deadline = time.monotonic() + timeout
    while http_get(url + "/healthz")[0] != 200:
        if process.poll() is not None:
            raise AssertionError(f"the service exited with {process.returncode} before "
                                 "/healthz answered")
        if time.monotonic() > deadline:
            raise AssertionError(f"{url}/healthz did not answer within {timeout:.0f} s")
        time.sleep(0.1)
