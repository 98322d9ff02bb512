"""What the console's server-side sessions cost (issue 14): every request reads its session with
its operator, and "last seen" is written at most once a minute per session.

    python bench/console_sessions.py --sessions 10000 [--url postgresql://...]

With `--sessions` other sessions open in the table, it times a logged-in operator's requests
(GET /permits through the Flask test client: the whole request, session check included) and
the check alone (`web.sessions.find` on one read connection), and counts the writes a minute
of clicking makes. Prints figures; passes or fails nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event

from sms_gateway import migrate
from sms_gateway.config import from_dict
from sms_gateway.web import sessions
from sms_gateway.web.app import create_app
from sms_gateway.web.operators import add_operator
from storage.db import READ_ONLY, make_engine

PASSWORD = "correct horse battery"
REPEATS = 5


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def _median_ms(action, count: int) -> float:
    runs = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        for _ in range(count):
            action()
        runs.append((time.perf_counter() - began) / count * 1000)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--url", help="a database URL (default: SQLite in a temporary folder)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    url = args.url or f"sqlite:///{folder / 'permits.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    clock = Clock()
    config = from_dict({"database": {"url": url}, "service": {"data_dir": str(folder)}},
                       base=folder)
    lifetime = sessions.Lifetime.of(config.web)
    with engine.begin() as conn:
        others = add_operator(conn, "others", PASSWORD, clock())
        add_operator(conn, "anna", PASSWORD, clock())
        for _ in range(args.sessions):
            sessions.start(conn, others.id, clock(), lifetime)
    client = create_app(config, engine, clock=clock).test_client()
    token = re.search('name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"username": "anna", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    with client.session_transaction() as session:
        sid = session["sid"]

    def page() -> None:
        assert client.get("/permits").status_code == 200

    with engine.connect().execution_options(**READ_ONLY) as conn:
        check = _median_ms(lambda: sessions.find(conn, sid, clock(), lifetime), args.requests)
    request = _median_ms(page, args.requests)
    writes = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, statement, *_: writes.append(
        statement) if statement.lstrip().upper().startswith("UPDATE CONSOLE_SESSIONS") else None)
    for _ in range(60):  # a click a second for a minute
        clock.now += dt.timedelta(seconds=1)
        page()
    print(f"{engine.dialect.name}, {args.sessions:,} other sessions open")
    print(f"  GET /permits, whole request:  {request:.2f} ms (median of {REPEATS} x "
          f"{args.requests})")
    print(f"  the session check alone:      {check * 1000:.0f} µs")
    print(f"  session writes in a minute of one click a second: {len(writes)}")


if __name__ == "__main__":
    main()
