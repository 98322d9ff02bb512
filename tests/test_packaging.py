"""The release as an operator gets it: the sdist and the wheel carry everything the service
needs, and the wheel, installed into a fresh venv outside the source tree, creates its database
and runs, on SQLite and PostgreSQL. CI's own venv is an editable install, which cannot see a
file the wheel leaves out; these tests build and install the real thing (install_support.py).
"""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.install_support import (
    CATALOGUE_PROBE,
    clean_env,
    free_port,
    http_get,
    make_venv,
    shipped_packages,
    tree_files,
    wait_until_healthy,
)

# Build warnings that mean nothing: no compiled files to leave out of a clean copy, and no
# byte-compiling where PYTHONDONTWRITEBYTECODE is set.
_HARMLESS = re.compile(r"no previously-included files matching '\*\.py\[cod\]' found"
                       r"|byte-compiling is disabled")


def test_the_wheel_and_the_sdist_carry_every_file_of_the_shipped_packages(dist):
    files = tree_files()
    packages = shipped_packages(files)
    assert {"permits", "sms_gateway", "storage", "sms_encoding"} <= packages
    wanted = {name for name in files if name.split("/", 1)[0] in packages}
    in_wheel, in_sdist = dist.wheel_names(), dist.sdist_names()
    missing = sorted(wanted - in_wheel)
    assert not missing, (
        f"the wheel lacks {missing[:10]}: a new top-level package goes into setup.cfg's "
        "[options.packages.find] include and MANIFEST.in (or into install_support.NOT_SHIPPED "
        "if the service does not need it)")
    assert not sorted(wanted - in_sdist)
    assert CATALOGUE_PROBE in in_wheel, "translation catalogues must reach the wheel"
    assert not [name for name in in_wheel if "__pycache__" in name or name.endswith(".pyc")]


def test_the_sdist_carries_the_deployment_kit_docs_and_tests(dist):
    in_sdist = dist.sdist_names()
    every = {name for name in tree_files()
             if name.split("/", 1)[0] in ("deploy", "docs", "tests", "tools", "bench")}
    assert every and not sorted(every - in_sdist)
    assert {"config.toml", "MANIFEST.in", "README.md"} <= in_sdist


def test_building_the_release_warns_about_nothing(dist):
    warnings = [line for line in dist.build_log.splitlines()
                if "warn" in line.lower() and not _HARMLESS.search(line)]
    assert not warnings, "\n".join(warnings)


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory) -> Path:
    """`permit-gateway` from the wheel, in a venv that knows nothing of the source tree."""
    return make_venv(tmp_path_factory.mktemp("venv") / "permit-gateway", dist)


def test_the_installed_wheel_creates_its_database_and_serves(installed, empty_database_url,
                                                             tmp_path):
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{empty_database_url}"\n[service]\ndata_dir = "state"\n'
        f'[web]\nport = {port}\n'
        '[[districts]]\nid = "kinel"\nname = "Кинель"\nenabled = true\n', encoding="utf-8")
    (tmp_path / "residents.csv").write_text("phone,name,district\n+79270000001,Иванов Иван,"
                                            "kinel\n", encoding="utf-8")

    def gateway(*args: str, stdin: str = "") -> str:
        result = subprocess.run([str(installed), "--config", str(config), *args], cwd=tmp_path,
                                env=clean_env(), input=stdin, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "database created" in gateway("db", "upgrade")
    assert "imported 1 residents" in gateway("residents", "import", "residents.csv")
    assert "shop" in gateway("simulate", "--from", "+79270000001", "EXIT shop")
    gateway("operators", "add", "admin", stdin="a long enough password\n")
    with create_engine(empty_database_url).connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM permits")) == 1

    service = subprocess.Popen(
        [str(installed), "--config", str(config), "run", "--node", "wheel"], cwd=tmp_path,
        env=clean_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "run.log", "w"))  # noqa: SIM115 (the child owns it)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, service)
        status, page = http_get(url + "/login")
        assert status == 200 and b"<form" in page  # a template from the wheel
        assert http_get(url + "/static/console.css")[0] == 200
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=60) == 0, (tmp_path / "run.log").read_text()
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
    assert "Traceback" not in (tmp_path / "run.log").read_text()
