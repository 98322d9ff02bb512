"""A throwaway PostgreSQL server for `bench/smpp_flood_nodes.py`, durable like production.

The tests' server (`tests/pg_server.py`) runs with `fsync=off` for speed; a benchmark of
store-before-acknowledge must pay for its commits, so this one keeps fsync and
synchronous_commit on (the defaults) and only sizes memory and connections for two nodes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.pg_server import _binary, _free_port


class BenchPostgres:
    """initdb + pg_ctl in a temporary folder, loopback only; as `postgres` when we are root."""

    def __init__(self, fsync: bool = True) -> None:
        self.initdb, self.pg_ctl = _binary("initdb"), _binary("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
        self.port = _free_port()
        self.fsync = fsync
        self.folder = Path(tempfile.mkdtemp(prefix="permit-gateway-bench-pg-"))
        self.root = os.geteuid() == 0
        self.user = "postgres" if self.root else os.environ.get("USER", "postgres")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.root else []
        subprocess.run([*prefix, *command], check=True, stdout=subprocess.DEVNULL)

    def start(self) -> BenchPostgres:
        if self.root:
            shutil.chown(self.folder, "postgres")
        data = str(self.folder / "data")
        self._run(self.initdb, "-D", data, "-A", "trust", "-U", self.user, "-E", "UTF8")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port}"
                   f" -c unix_socket_directories={self.folder} -c max_connections=200"
                   f" -c shared_buffers=256MB -c fsync={'on' if self.fsync else 'off'}")
        self._run(self.pg_ctl, "-D", data, "-o", options, "-l", str(self.folder / "log"),
                  "-w", "-t", "60", "start")
        return self

    def postmaster_pid(self) -> int:
        return int((self.folder / "data" / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        try:
            self._run(self.pg_ctl, "-D", str(self.folder / "data"), "-m", "fast", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
