"""Console sessions that end: logout, a new password and removing an operator end them at once on
every node sharing the database; an unused session ends after the idle time, every session after
its longest lifetime (issue 14)."""

from __future__ import annotations

from sqlalchemy import func, select

from sms_gateway.web.operators import remove_operator, set_password
from storage.tables.console import console_sessions
from storage.tables.ledger import residents
from tests.conftest import RESIDENT
from tests.web_support import Console, make_app

pytest_plugins = ["tests.web_support"]  # the console fixtures
COOKIE = "permit_gateway_session"
NEW_PASSWORD = "another good password"


def copy_of(console: Console, app) -> Console:
    """Another browser holding the same session cookie (stolen, or the same operator on a
    second node)."""
    other = Console(app.test_client())
    other.client.set_cookie(COOKIE, console.client.get_cookie(COOKIE).value)
    return other


def _logged_out(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def _open_sessions(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(console_sessions))


def test_a_copied_session_cookie_opens_nothing_after_logout(console, app, engine, people):
    """Issue 14, finding 3: an old session cookie still opened `/residents/1` after logout."""
    with engine.connect() as conn:
        resident = conn.scalar(select(residents.c.id).where(residents.c.phone == RESIDENT))
    copied = copy_of(console, app)
    assert copied.get(f"/residents/{resident}").status_code == 200
    assert console.post("/logout").status_code == 302
    assert _logged_out(copied.get(f"/residents/{resident}"))
    assert _logged_out(copied.get("/"))
    assert _open_sessions(engine) == 0


def test_logging_out_on_one_node_ends_the_session_on_every_node(web_config, engine, clock,
                                                                operator):
    node_a, node_b = (make_app(web_config, engine, clock) for _ in range(2))
    on_a = Console(node_a.test_client())
    assert on_a.login().status_code == 302
    on_b = copy_of(on_a, node_b)  # the same secret and database: a node behind a balancer
    assert on_b.get("/").status_code == 200
    on_a.post("/logout")
    assert _logged_out(on_b.get("/"))


def test_a_new_password_ends_every_session_of_that_operator(console, app, engine, clock):
    second = Console(app.test_client())
    assert second.login().status_code == 302
    with engine.begin() as conn:
        set_password(conn, "anna", NEW_PASSWORD)
    assert _logged_out(console.get("/")) and _logged_out(second.get("/"))
    assert Console(app.test_client()).login(password=NEW_PASSWORD).status_code == 302


def test_removing_an_operator_ends_their_sessions(console, engine):
    with engine.begin() as conn:
        remove_operator(conn, "anna")
    assert _logged_out(console.get("/"))
    assert _open_sessions(engine) == 0


def test_an_unused_session_ends_after_the_idle_time(web_config, engine, clock, operator):
    app = make_app(web_config, engine, clock, session_idle_minutes=30, session_max_hours=12)
    console = Console(app.test_client())
    console.login()
    for _ in range(4):  # used every 29 minutes: kept for two hours
        clock.advance(minutes=29)
        assert console.get("/permits").status_code == 200
    clock.advance(minutes=30)
    assert _logged_out(console.get("/permits"))


def test_a_session_ends_after_its_longest_lifetime_however_used(web_config, engine, clock,
                                                                 operator):
    app = make_app(web_config, engine, clock, session_idle_minutes=30, session_max_hours=12)
    console = Console(app.test_client())
    console.login()
    for _ in range(12 * 3 - 1):
        clock.advance(minutes=20)
        assert console.get("/permits").status_code == 200
    clock.advance(minutes=20)
    assert _logged_out(console.get("/permits"))


def test_last_seen_is_written_at_most_once_a_minute(console, engine, clock):
    def seen():
        with engine.connect() as conn:
            return conn.scalar(select(console_sessions.c.seen_at))

    login = seen()
    clock.advance(seconds=50)
    console.get("/permits")
    assert seen() == login  # browsing does not write on every click
    clock.advance(seconds=20)
    console.get("/permits")
    assert seen() == clock()


def test_the_cookie_holds_a_token_the_database_holds_only_a_digest_of(console, engine):
    with console.client.session_transaction() as session:
        token = session["sid"]
    with engine.connect() as conn:
        [stored] = conn.scalars(select(console_sessions.c.id)).all()
    assert token not in stored and len(stored) == 64
    assert "anna" not in console.client.get_cookie(COOKIE).value
