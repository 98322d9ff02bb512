"""The `permit-gateway` command run as a user runs it, on a test database (imported by the
tests of the command line as a plugin; this module has no tests of its own)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

BASE_CONFIG = (
    '[database]\nurl = "{url}"\n'
    "[permits]\nreplies_per_hour = 100\n{permits}"
    '[[districts]]\nid = "kinel"\nname = "Кинель"\nenabled = true\n'
    '[[districts]]\nid = "samara"\nname = "Самара"\nenabled = false\n'
)


@pytest.fixture
def gateway(tmp_path, database_url):
    """Runs `permit-gateway --config <a config on this test's database>`;
    `gateway.configure(key="value", ...)` adds `[permits]` keys (TOML values as written)."""
    config = tmp_path / "config.toml"

    def configure(**permits: str) -> None:
        lines = "".join(f"{key} = {value}\n" for key, value in permits.items())
        config.write_text(BASE_CONFIG.format(url=database_url, permits=lines), encoding="utf-8")

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "sms_gateway.cli", "--config", str(config), *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        if check:
            assert result.returncode == 0, result.stderr
        return result

    configure()
    run.config, run.url, run.configure = config, database_url, configure  # type: ignore
    return run
