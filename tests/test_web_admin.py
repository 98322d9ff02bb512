"""Administration through the console: every action works, is audited, masks numbers, and the
ones that cannot be undone ask first."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from sms_gateway.web.app import MAX_UPLOAD_BYTES
from storage.tables.ledger import districts, officers, permits, residents
from tests.conftest import NEIGHBOUR, OFFICER, RESIDENT
from tests.web_support import audit_rows

pytest_plugins = ["tests.web_support"]  # the console fixtures
YES = {"confirmed": "yes"}


def _resident_id(engine, phone: str) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(residents.c.id).where(residents.c.phone == phone))


def _upload(console, text: str | bytes, name: str = "people.csv"):
    data = text.encode() if isinstance(text, str) else text
    return console.post("/residents/import", {"file": (io.BytesIO(data), name)},
                        content_type="multipart/form-data")


def _no_full_numbers(html: str) -> bool:
    return re.search(r"\+7\d{10}", html) is None


def _assert_audit_masked(engine) -> None:
    assert all(_no_full_numbers(row["detail"]) for row in audit_rows(engine))


def _names(html: str) -> list[str]:
    """The residents' names in the list, in order."""
    return re.findall(r'<a href="/residents/\d+">([^<]+)</a>', html)


def test_import_keeps_good_rows_and_reports_rejected_lines(console, engine, people):
    csv = ("\ufeffphone,name,district\n"
           "+79270000011,Новый Житель,kinel\n"
           "not a phone,Someone,kinel\n"
           "+79270000012,Another,atlantis\n"
           "+79270000011,Twice,kinel\n")
    response = _upload(console, csv)
    assert response.status_code == 200
    assert "1 resident imported, 3 lines rejected." in response.text
    assert "unknown district &#39;atlantis&#39;" in response.text
    assert "the phone +7927***0011 is repeated" in response.text
    assert _resident_id(engine, "+79270000011") is not None
    [row] = audit_rows(engine, "residents_imported")
    assert row["facts"] == {"imported": 1, "rejected": 3, "file": "people.csv"}
    assert "1 imported, 3 rejected from people.csv" in console.get("/audit").text


def test_hostile_uploads_are_refused_cleanly(console, engine, people):
    header = _upload(console, "name,district\nx,kinel\n")
    assert header.status_code == 400 and "(missing: phone)" in header.text
    assert _upload(console, b"phone,name,district\n\xff\xfe,x,kinel\n").status_code == 400
    nul = _upload(console, "phone,name,district\n\0,\0\n")
    assert nul.status_code == 200 and "0 residents imported, 1 line rejected." in nul.text
    huge = _upload(console, b"phone,name,district\n" + b"x" * MAX_UPLOAD_BYTES)
    assert huge.status_code == 413
    assert console.post("/residents/import").status_code == 400
    escaped = _upload(console, "phone,name,district\n+79270000013,<script>x</script>,nowhere\n")
    assert "<script>" not in escaped.text
    facts = [row["facts"] for row in audit_rows(engine, "residents_imported")]
    assert facts == [{"imported": 0, "rejected": 1, "file": "people.csv"}] * 2


def test_finding_a_resident_by_the_whole_number_opens_the_one_page_with_it(console, engine,
                                                                          people):
    listed = console.get("/residents?q=8 927 000-00-01")
    assert _names(listed.text) == ["Иванов Иван Иванович"]
    assert _no_full_numbers(listed.text)
    page = console.get(f"/residents/{_resident_id(engine, RESIDENT)}")
    assert RESIDENT in page.text and "Иванов Иван Иванович" in page.text
    [row] = audit_rows(engine, "resident_opened")
    assert row["facts"] == {"resident": _resident_id(engine, RESIDENT), "phone": "+7927***0001"}
    _assert_audit_masked(engine)


def test_the_residents_list_is_in_name_order_with_masked_numbers(console, people):
    page = console.get("/residents")
    assert page.status_code == 200
    assert _names(page.text) == ["Petrov Petr", "Иванов Иван Иванович", "Сидорова Анна"]
    assert "+7927***0002" in page.text and _no_full_numbers(page.text)


def test_the_residents_list_pages_by_name_without_skipping_or_repeating(console, engine, clock):
    from permits import registry

    rows = "".join(f"+7927555{i:04d},Житель {i % 7:02d} {i:03d},kinel\n" for i in range(120))
    with engine.begin() as conn:
        registry.import_residents(conn, io.StringIO("phone,name,district\n" + rows), "RU",
                                  clock())
    seen, url = [], "/residents"
    while url:
        page = console.get(url).text
        seen += _names(page)
        found = re.search(r'href="([^"]+)" rel="next"', page)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert len(seen) == 120 and seen == sorted(seen)


@pytest.mark.parametrize(("typed", "expected"), [
    ("иванов", ["Иванов Иван Иванович"]),  # lower case finds a Title Case name
    ("ИВАНОВ", ["Иванов Иван Иванович"]),
    ("анна", ["Сидорова Анна"]),  # any word of the name
    ("petr", ["Petrov Petr"]),
    ("0002", ["Petrov Petr"]),  # the last digits of a number
    ("samara", ["Сидорова Анна"]),  # a district by id
    ("Самара", ["Сидорова Анна"]),  # ... by its name
    ("кинель", ["Petrov Petr", "Иванов Иван Иванович"]),
    ("nobody", []),
    ("100%_", []),  # LIKE's wildcards are only letters here
])
def test_searching_residents_by_name_phone_or_district(console, people, typed, expected):
    assert _names(console.get("/residents", query_string={"q": typed}).text) == expected


def test_the_district_filter_narrows_a_search(console, people):
    assert _names(console.get("/residents?district=kinel&q=анна").text) == []
    assert _names(console.get("/residents?district=samara").text) == ["Сидорова Анна"]
    assert _names(console.get("/residents?district=kinel&q=samara").text) == []


def test_bad_searches_are_client_errors(console, people):
    assert console.get("/residents?q=" + "1" * 500).status_code == 400
    assert console.get("/residents?show=temporary").status_code == 400
    assert console.get("/residents?after=x").status_code == 400
    assert console.get("/residents/999999").status_code == 404
    assert console.get("/permits?q=" + "x" * 100).status_code == 400
    assert console.get("/audit?before=-1").status_code == 400
    assert console.get("/no/such/page").status_code == 404


def test_the_not_found_message_is_printed_once(console):
    page = console.get("/no/such/page").text
    assert page.count("There is no such page") == 1
    assert "404 Not found" in page and 'role="alert"' not in page


def test_removing_a_resident_asks_first(console, engine, people):
    rid = _resident_id(engine, NEIGHBOUR)
    question = console.get(f"/residents/{rid}/remove")
    assert question.status_code == 200
    assert "Remove this resident from the registry?" in question.text
    assert "Petrov Petr" in question.text and 'name="confirmed" value="yes"' in question.text
    unconfirmed = console.post(f"/residents/{rid}/remove")  # a form that skipped the question
    assert unconfirmed.status_code == 200 and "Remove this resident" in unconfirmed.text
    assert _resident_id(engine, NEIGHBOUR) == rid and not audit_rows(engine, "resident_removed")
    removed = console.post(f"/residents/{rid}/remove", YES)
    assert removed.status_code == 302
    assert _resident_id(engine, NEIGHBOUR) is None
    assert f"Resident #{rid} removed." in console.get(removed.headers["Location"]).text
    [row] = audit_rows(engine, "resident_removed")
    assert row["facts"] == {"resident": rid, "phone": "+7927***0002", "district": "kinel"}


def test_removed_residents_are_listed_as_the_audit_log_kept_them(console, engine, people):
    for phone in (NEIGHBOUR, RESIDENT):
        console.post(f"/residents/{_resident_id(engine, phone)}/remove", YES)
    page = console.get("/residents?show=removed").text
    assert page.index("+7927***0001") < page.index("+7927***0002")  # newest first
    assert "Petrov" not in page  # forgotten: only the masked number and district remain
    by_phone = console.get("/residents", query_string={"show": "removed", "q": NEIGHBOUR}).text
    assert "+7927***0002" in by_phone and "+7927***0001" not in by_phone
    assert "+7927***0002" not in console.get("/residents?show=removed&district=samara").text
    assert "+7927***0002" in console.get("/residents?show=removed&q=Кинель").text


def test_a_resident_holding_permits_stays_in_the_ledger(console, engine, send):
    send(RESIDENT, "ВЫХОД 1")
    response = console.post(f"/residents/{_resident_id(engine, RESIDENT)}/remove", YES)
    assert response.status_code == 409
    assert "holds permits" in response.text
    assert not audit_rows(engine, "resident_removed")


def test_issuing_on_a_residents_behalf_uses_the_quota(console, engine, people, clock):
    rid = _resident_id(engine, RESIDENT)
    first = console.post(f"/residents/{rid}/issue", {"reason": "1"})
    code = re.search(r'id="permit-code">([A-Z0-9-]+)<', first.text).group(1)
    assert "Read this to the caller" in first.text and f"PERMIT {code}" in first.text
    again = console.post(f"/residents/{rid}/issue", {"reason": "2"})
    assert code in again.text and "already holds" in again.text
    assert "1 shop" in again.text and "2 pharmacy" not in again.text  # the permit held
    clock.advance(hours=2)
    console.post(f"/residents/{rid}/issue", {"reason": "1"})
    clock.advance(hours=2)
    refused = console.post(f"/residents/{rid}/issue", {"reason": "1"})
    assert "No permit: daily limit reached." in refused.text
    assert "The limit of 2 permits a day is spent." in refused.text
    with engine.connect() as conn:
        by = conn.scalars(select(permits.c.issued_by).order_by(permits.c.id)).all()
    assert by == ["web:anna", "web:anna"]
    kinds = [row["facts"]["outcome"] for row in audit_rows(engine, "permit_requested")]
    assert kinds == ["issued", "repeated", "issued", "quota"]
    _assert_audit_masked(engine)


def test_an_exempt_trip_gives_the_operator_words_to_read(console, engine, people):
    rid = _resident_id(engine, RESIDENT)
    page = console.post(f"/residents/{rid}/issue", {"reason": "6"}).text
    assert "No permit needed for this trip (6 emergency)." in page
    assert re.search(r'<blockquote id="reply">No permit needed: emergency\.', page)
    with engine.connect() as conn:
        assert conn.scalar(select(permits.c.id)) is None


def test_the_text_to_read_is_missing_only_when_the_numbers_reply_limit_held_it(console,
                                                                              engine, people):
    rid = _resident_id(engine, RESIDENT)
    for _ in range(10):  # [permits] replies_per_hour
        console.post(f"/residents/{rid}/issue", {"reason": "6"})
    page = console.post(f"/residents/{rid}/issue", {"reason": "6"}).text
    assert "No permit needed for this trip (6 emergency)." in page
    assert "hourly limit of replies" in page and "<blockquote" not in page


def test_issuing_checks_the_reason(console, engine, people):
    rid = _resident_id(engine, RESIDENT)
    assert console.post(f"/residents/{rid}/issue", {"reason": "98"}).status_code == 400
    assert console.post(f"/residents/{rid}/issue", {"reason": "one"}).status_code == 400


def test_permit_lookup_by_code_or_phone_masks_the_holder(console, send):
    code = send(RESIDENT, "ВЫХОД 1").permit_code
    shown = f"{code[:4]}-{code[4:]}"
    by_code = console.get(f"/permits?q={code.lower()}")
    assert shown in by_code.text and "+7927***0001" in by_code.text
    by_phone = console.get("/permits?q=89270000001")
    assert shown in by_phone.text
    latest = console.get("/permits")
    assert shown in latest.text
    for page in (by_code, by_phone, latest):
        assert _no_full_numbers(page.text)
    typo = code[:-1] + ("2" if code[-1] != "2" else "3")
    assert console.get(f"/permits?q={typo}").status_code == 400
    assert console.get("/permits?q=hello").status_code == 400


def _state(engine) -> str:
    with engine.connect() as conn:
        return conn.scalar(select(permits.c.state))


def test_revoking_a_permit_asks_first(console, engine, send):
    code = send(RESIDENT, "ВЫХОД 1").permit_code
    listed = console.get(f"/permits?q={code}").text
    assert f'href="/permits/{code[:4]}-{code[4:]}/revoke"' in listed  # a link, not a POST
    question = console.get(f"/permits/{code}/revoke")
    assert question.status_code == 200 and "Revoke this permit?" in question.text
    assert "+7927***0001" in question.text and "1 shop" in question.text
    assert console.post(f"/permits/{code}/revoke").status_code == 200  # the question again
    assert _state(engine) == "issued" and not audit_rows(engine, "permit_revoked")
    response = console.post(f"/permits/{code}/revoke", YES)
    assert response.status_code == 302
    assert "revoked" in console.get(response.headers["Location"]).text
    assert _state(engine) == "revoked"
    [row] = audit_rows(engine, "permit_revoked")
    assert row["facts"] == {"code": f"{code[:4]}-{code[4:]}"}
    assert console.post(f"/permits/{code}/revoke", YES).status_code == 409
    assert console.get(f"/permits/{code}/revoke").status_code == 409
    assert console.post("/permits/nonsense/revoke", YES).status_code == 400


def test_the_printable_permit_names_its_holder_and_how_to_check_it(console, send, engine):
    code = send(RESIDENT, "ВЫХОД 1").permit_code
    page = console.get(f"/permits/{code}/print")
    assert page.status_code == 200
    assert f"{code[:4]}-{code[4:]}" in page.text
    assert '<html lang="ru">' in page.text and "Пропуск на выход" in page.text  # the service's
    assert "Иванов Иван Иванович" in page.text and "+7927***0001" in page.text
    assert _no_full_numbers(page.text)
    from permits.codes import keypad

    assert f"*377*{keypad(code)}#" in page.text
    svg = re.search(r"<svg[^>]*>", page.text).group(0)
    assert 'viewBox="0 0 29 29"' in svg and "width=" not in svg  # a regular QR, version 1
    english = console.get(f"/permits/{code}/print?language=en&paper=a4")
    assert "Exit permit" in english.text and 'class="print a4"' in english.text
    assert console.get(f"/permits/{code}/print?paper=letter").status_code == 400
    assert console.get("/permits/AAAAAAAA/print").status_code == 404


def test_officers_are_added_and_deactivated_after_a_question(console, engine, people):
    response = console.post("/officers", {"phone": "8 937 000-00-42", "name": "Лейтенант"})
    assert response.status_code == 302
    page = console.get("/officers").text
    assert "+7937***0042" in page and _no_full_numbers(page)
    with engine.connect() as conn:
        officer_id = conn.scalar(select(officers.c.id).where(officers.c.phone == OFFICER))
    assert "Deactivate this officer?" in console.get(f"/officers/{officer_id}/deactivate").text
    assert console.post(f"/officers/{officer_id}/deactivate").status_code == 200
    assert console.post(f"/officers/{officer_id}/deactivate", YES).status_code == 302
    with engine.connect() as conn:
        assert not conn.scalar(select(officers.c.active).where(officers.c.id == officer_id))
    assert [r["action"] for r in audit_rows(engine)][-2:] == ["officer_added",
                                                                "officer_deactivated"]
    _assert_audit_masked(engine)
    assert console.post("/officers", {"phone": "nope", "name": "x"}).status_code == 400
    assert console.post("/officers/99999/deactivate", YES).status_code == 404


def test_districts_are_switched_on_and_off_after_a_question(console, engine):
    question = console.get("/districts/kinel?enabled=0").text
    assert "Switch the service off in Кинель?" in question
    assert 'name="enabled" value="0"' in question
    assert console.post("/districts/kinel", {"enabled": "0"}).status_code == 200
    assert console.post("/districts/samara", {"enabled": "1", **YES}).status_code == 302
    assert console.post("/districts/kinel", {"enabled": "0", **YES}).status_code == 302
    with engine.connect() as conn:
        state = dict(conn.execute(select(districts.c.id, districts.c.regime)).all())
    assert state == {"kinel": "registry_only", "samara": "on"}
    assert [r["action"] for r in audit_rows(engine)][-2:] == ["district_on", "district_off"]
    assert console.post("/districts/atlantis", {"enabled": "1", **YES}).status_code == 404
    assert console.get("/districts/atlantis?enabled=1").status_code == 404
    assert console.post("/districts/kinel", {"enabled": "yes", **YES}).status_code == 400
    assert "Самара" in console.get("/districts").text


def test_the_audit_page_lists_actions_newest_first(console, engine):
    console.post("/districts/samara", {"enabled": "1", **YES})
    page = console.get("/audit").text
    assert page.index("switched a district on") < page.index("logged in")
