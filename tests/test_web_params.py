"""Numbers from outside the console: anything malformed or huge is the client's error (4xx)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.tables.ledger import residents
from tests.conftest import RESIDENT

pytest_plugins = ["tests.web_support"]  # the console fixtures

THOUSANDS = "9" * 5000  # int() refuses a string of more than 4300 digits


@pytest.mark.parametrize("query", [
    f"/audit?before={THOUSANDS}", "/audit?before=%C2%B2", "/audit?before=-1",
    f"/residents?gone={THOUSANDS}", "/residents?gone=%D9%A1%D9%A2",
    f"/residents?show=removed&before={THOUSANDS}",
])
def test_a_number_in_a_query_that_is_no_number_we_take_is_a_400(console, query):
    assert console.get(query).status_code == 400


@pytest.mark.parametrize("path", [f"/residents/{THOUSANDS}", "/residents/3000000000",
                                  "/residents/%D9%A3", "/residents/0"])
def test_a_row_id_no_integer_column_holds_names_no_row(console, people, path):
    assert console.get(path).status_code == 404


def test_a_number_in_a_form_that_is_no_number_we_take_is_a_400(console, engine, people):
    with engine.connect() as conn:
        resident = conn.scalar(select(residents.c.id).where(residents.c.phone == RESIDENT))
    assert console.post(f"/residents/{resident}/issue", {"reason": THOUSANDS}).status_code == 400
    assert console.post("/districts/kinel", {"enabled": "1" * 5000}).status_code == 400
    assert console.post(f"/officers/{THOUSANDS}/deactivate").status_code == 404
