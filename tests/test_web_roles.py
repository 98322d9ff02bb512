"""Roles: a viewer sees the status page, looks permits up and prints them; everything else is for
admins. Routes refuse it (403, translated) and pages hide it (issue 14)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from sms_gateway.web.operators import Role, add_operator, set_role
from storage.tables.ledger import permits, residents
from tests.conftest import RESIDENT
from tests.web_support import PASSWORD, Console, audit_rows, make_app

pytest_plugins = ["tests.web_support"]  # the console fixtures
VIEWERS_PAGES = {"status.page", "permits.lookup", "printing.permit", "auth.logout"}
ADMIN_LINKS = ("/residents", "/officers", "/districts", "/audit")
# What a form of any admin action could carry: if a route forgot its check, the action happens.
EVERY_FIELD = {"confirmed": "yes", "reason": "1", "phone": "+79370000042", "name": "Sgt",
               "enabled": "1"}


@pytest.fixture
def viewer(app, engine, clock) -> Console:
    with engine.begin() as conn:
        add_operator(conn, "vera", PASSWORD, clock(), Role.VIEWER)
    console = Console(app.test_client())
    assert console.login("vera").status_code == 302
    return console


@pytest.fixture
def issued(send) -> str:
    """A valid permit's code (K7MQ-3DXA style)."""
    reply = send(RESIDENT, "ВЫХОД аптека").replies[0].text
    return re.search(r"[2-9A-Z]{4}-[2-9A-Z]{4}", reply).group()


def _links(html: str) -> set[str]:
    return set(re.findall(r'href="(/[a-z]*)[?"]', html))


def test_a_viewer_sees_the_status_looks_permits_up_and_prints_them(viewer, issued):
    status = viewer.get("/")
    assert status.status_code == 200
    assert not _links(status.text) & set(ADMIN_LINKS)
    assert 'href="/quarantine"' not in status.text
    found = viewer.get("/permits", query_string={"q": issued})
    assert found.status_code == 200 and issued in found.text
    assert "/revoke" not in found.text
    assert viewer.get(f"/permits/{issued}/print").status_code == 200


def test_an_admin_sees_every_link(console, issued):
    assert _links(console.get("/").text) >= set(ADMIN_LINKS)
    assert f"/permits/{issued}/revoke" in console.get("/permits").text


def _every_admin_route(app, code: str, resident: int) -> list[tuple[str, str]]:
    """(method, path) of every route that is neither public nor for viewers."""
    values = {"code": code, "resident_id": resident, "officer_id": 1, "district_id": "kinel",
              "entry_id": 1}
    found = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if (rule.endpoint == "static" or getattr(view, "public", False)
                or getattr(view, "for_viewers", False)):
            continue
        path = rule.build({name: values[name] for name in rule.arguments})[1]
        found += [(method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return found


def test_every_other_page_and_action_is_refused_to_a_viewer(viewer, app, engine, issued):
    with engine.connect() as conn:
        resident = conn.scalar(select(residents.c.id).where(residents.c.phone == RESIDENT))
    routes = _every_admin_route(app, issued, resident)
    assert len(routes) >= 15
    for method, path in routes:
        response = viewer.get(path) if method == "GET" else viewer.post(path, EVERY_FIELD)
        assert response.status_code == 403, (method, path)
        assert "Only an administrator can do this" in response.text
    assert [row["action"] for row in audit_rows(engine)] == ["login"]
    with engine.connect() as conn:
        assert conn.scalar(select(permits.c.state)) == "issued"  # not revoked


def test_the_viewers_pages_are_few_and_named(app):
    """Every page is for admins unless marked: a page added later is not open to viewers by
    mistake."""
    marked = {endpoint for endpoint, view in app.view_functions.items()
              if getattr(view, "for_viewers", False)}
    assert marked == VIEWERS_PAGES


def test_a_viewer_is_refused_in_their_language(web_config, engine, clock):
    with engine.begin() as conn:
        add_operator(conn, "vera", PASSWORD, clock(), Role.VIEWER)
    russian = Console(make_app(web_config, engine, clock, language="ru").test_client())
    russian.login("vera")
    refused = russian.get("/officers")
    assert refused.status_code == 403
    assert "Это может только администратор" in refused.text


def test_a_new_role_holds_from_the_next_request(viewer, engine):
    assert viewer.get("/officers").status_code == 403
    with engine.begin() as conn:
        set_role(conn, "vera", Role.ADMIN)
    assert viewer.get("/officers").status_code == 200
    with engine.begin() as conn:
        set_role(conn, "vera", Role.VIEWER)
    assert viewer.get("/officers").status_code == 403
