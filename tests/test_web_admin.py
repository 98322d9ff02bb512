"""Administration through the console: every action works, is audited, and masks numbers."""

from __future__ import annotations

import io
import re

from sqlalchemy import select

from sms_gateway.web.app import MAX_UPLOAD_BYTES
from storage.tables.ledger import districts, officers, permits, residents
from tests.conftest import NEIGHBOUR, OFFICER, RESIDENT
from tests.test_web_support import audit_rows

pytest_plugins = ["tests.test_web_support"]  # the console fixtures


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


def test_import_keeps_good_rows_and_reports_rejected_lines(console, engine, people):
    csv = ("\ufeffphone,name,district\n"
           "+79270000011,Новый Житель,kinel\n"
           "not a phone,Someone,kinel\n"
           "+79270000012,Another,atlantis\n"
           "+79270000011,Twice,kinel\n")
    response = _upload(console, csv)
    assert response.status_code == 200
    assert "<strong>1</strong> residents imported" in response.text
    assert "<strong>3</strong> lines rejected" in response.text
    assert "unknown district &#39;atlantis&#39;" in response.text
    assert _resident_id(engine, "+79270000011") is not None
    [row] = audit_rows(engine, "residents_imported")
    assert row["detail"] == "1 imported, 3 rejected from 'people.csv'"


def test_hostile_uploads_are_refused_cleanly(console, engine, people):
    assert _upload(console, "name,district\nx,kinel\n").status_code == 400  # header
    assert _upload(console, b"phone,name,district\n\xff\xfe,x,kinel\n").status_code == 400
    nul = _upload(console, "phone,name,district\n\0,\0\n")
    assert nul.status_code == 200 and "<strong>1</strong> lines rejected" in nul.text
    huge = _upload(console, b"phone,name,district\n" + b"x" * MAX_UPLOAD_BYTES)
    assert huge.status_code == 413
    assert console.post("/residents/import").status_code == 400
    escaped = _upload(console, "phone,name,district\n+79270000013,<script>x</script>,nowhere\n")
    assert "<script>" not in escaped.text
    details = [row["detail"] for row in audit_rows(engine, "residents_imported")]
    assert details == ["0 imported, 1 rejected from 'people.csv'"] * 2


def test_finding_a_resident_opens_the_one_page_with_the_full_number(console, engine, people):
    response = console.get("/residents?phone=8 927 000-00-01")
    assert response.status_code == 302
    page = console.get(response.headers["Location"])
    assert RESIDENT in page.text
    assert "Иванов Иван Иванович" in page.text
    [row] = audit_rows(engine, "resident_opened")
    assert row["detail"] == f"resident #{_resident_id(engine, RESIDENT)} +7927***0001"
    _assert_audit_masked(engine)


def test_bad_searches_are_client_errors(console, people):
    assert console.get("/residents?phone=hello").status_code == 400
    assert console.get("/residents?phone=%2B79270000077").status_code == 404
    assert console.get("/residents?phone=" + "1" * 500).status_code == 400
    assert console.get("/residents?removed=x").status_code == 400
    assert console.get("/residents/999999").status_code == 404
    assert console.get("/permits?q=" + "x" * 100).status_code == 400
    assert console.get("/audit?before=-1").status_code == 400
    assert console.get("/no/such/page").status_code == 404


def test_removing_a_resident_without_permits(console, engine, people):
    rid = _resident_id(engine, NEIGHBOUR)
    assert console.post(f"/residents/{rid}/remove").status_code == 302
    assert _resident_id(engine, NEIGHBOUR) is None
    [row] = audit_rows(engine, "resident_removed")
    assert row["detail"] == f"resident #{rid} +7927***0002"


def test_a_resident_holding_permits_stays_in_the_ledger(console, engine, send):
    send(RESIDENT, "ВЫХОД 1")
    response = console.post(f"/residents/{_resident_id(engine, RESIDENT)}/remove")
    assert response.status_code == 409
    assert "holds permits" in response.text
    assert not audit_rows(engine, "resident_removed")


def test_issuing_on_a_residents_behalf_uses_the_quota(console, engine, people, clock):
    rid = _resident_id(engine, RESIDENT)
    first = console.post(f"/residents/{rid}/issue", {"reason": "1"})
    code = re.search(r'id="permit-code">([A-Z0-9-]+)<', first.text).group(1)
    assert "Read this to the caller" in first.text
    again = console.post(f"/residents/{rid}/issue", {"reason": "2"})
    assert code in again.text and "already holds" in again.text
    clock.advance(hours=2)
    console.post(f"/residents/{rid}/issue", {"reason": "1"})
    clock.advance(hours=2)
    refused = console.post(f"/residents/{rid}/issue", {"reason": "1"})
    assert "No permit: quota" in refused.text
    with engine.connect() as conn:
        by = conn.scalars(select(permits.c.issued_by).order_by(permits.c.id)).all()
    assert by == ["web:anna", "web:anna"]
    kinds = [row["detail"].split(": ")[1].split()[0]
             for row in audit_rows(engine, "permit_requested")]
    assert kinds == ["issued", "repeated", "issued", "quota"]
    _assert_audit_masked(engine)


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


def test_revoking_a_permit(console, engine, send):
    code = send(RESIDENT, "ВЫХОД 1").permit_code
    response = console.post(f"/permits/{code}/revoke")
    assert response.status_code == 302
    assert "revoked" in console.get(response.headers["Location"]).text
    with engine.connect() as conn:
        assert conn.scalar(select(permits.c.state)) == "revoked"
    [row] = audit_rows(engine, "permit_revoked")
    assert row["detail"] == f"{code[:4]}-{code[4:]}"
    assert console.post(f"/permits/{code}/revoke").status_code == 409
    assert console.post("/permits/nonsense/revoke").status_code == 400


def test_the_printable_permit_has_a_qr_of_the_code_only(console, send):
    code = send(RESIDENT, "ВЫХОД 1").permit_code
    page = console.get(f"/permits/{code}/print")
    assert page.status_code == 200
    assert "<svg" in page.text and f"{code[:4]}-{code[4:]}" in page.text
    assert _no_full_numbers(page.text)
    assert "Иванов" not in page.text
    assert console.get("/permits/AAAAAAAA/print").status_code == 404


def test_officers_are_added_and_deactivated(console, engine, people):
    response = console.post("/officers", {"phone": "8 937 000-00-42", "name": "Лейтенант"})
    assert response.status_code == 302
    page = console.get("/officers").text
    assert "+7937***0042" in page and _no_full_numbers(page)
    with engine.connect() as conn:
        officer_id = conn.scalar(select(officers.c.id).where(officers.c.phone == OFFICER))
    assert console.post(f"/officers/{officer_id}/deactivate").status_code == 302
    with engine.connect() as conn:
        assert not conn.scalar(select(officers.c.active).where(officers.c.id == officer_id))
    assert [r["action"] for r in audit_rows(engine)][-2:] == ["officer_added",
                                                                "officer_deactivated"]
    _assert_audit_masked(engine)
    assert console.post("/officers", {"phone": "nope", "name": "x"}).status_code == 400
    assert console.post("/officers/99999/deactivate").status_code == 404


def test_districts_are_switched_on_and_off(console, engine):
    assert console.post("/districts/samara", {"enabled": "1"}).status_code == 302
    assert console.post("/districts/kinel", {"enabled": "0"}).status_code == 302
    with engine.connect() as conn:
        state = dict(conn.execute(select(districts.c.id, districts.c.enabled)).all())
    assert state == {"kinel": False, "samara": True}
    assert [r["action"] for r in audit_rows(engine)][-2:] == ["district_on", "district_off"]
    assert console.post("/districts/atlantis", {"enabled": "1"}).status_code == 404
    assert console.post("/districts/kinel", {"enabled": "yes"}).status_code == 400
    assert "Самара" in console.get("/districts").text


def test_the_audit_page_lists_actions_newest_first(console, engine):
    console.post("/districts/samara", {"enabled": "1"})
    page = console.get("/audit").text
    assert page.index("district_on") < page.index("login")
