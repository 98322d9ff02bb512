"""Officers' checks in free form: a code anywhere in an officer's message is checked, several in
one SMS reply; other people's texts are read as before. Through the rules, `simulate` and a
real SMPP link, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from permits import codes
from sms_encoding.segments import measure
from storage.tables.ledger import verifications
from tests.conftest import NEIGHBOUR, OFFICER, RESIDENT, SAMARA_RESIDENT
from tests.smpp_support import smpp_node, texts_to

pytest_plugins = ["tests.cli_support"]  # `gateway`: the command line on a test database
CODE = re.compile(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}")
_TO_CYRILLIC = str.maketrans("ABEKMHPCTX", "АВЕКМНРСТХ")


def issued_code(send, phone: str) -> str:
    return CODE.search(send(phone, "ВЫХОД магазин").replies[0].text).group()


def checks(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(verifications.c.typed,
                                                      verifications.c.outcome)
                                               .order_by(verifications.c.id))]


@pytest.mark.parametrize("phrase", [
    "проверить пропуск {code} пожалуйста",
    "код {compact}",
    "Проверка:{lower}.",
    "пропуск {first} {second} проверьте",
    "{cyrillic}?",
    "ПРОВЕРКА {code}",
    "{code}",
])
def test_an_officers_code_is_checked_wherever_it_stands(send, engine, phrase):
    code = issued_code(send, RESIDENT)
    compact = code.replace("-", "")
    text = phrase.format(code=code, compact=compact, lower=compact.lower(), first=code[:4],
                         second=code[5:], cyrillic=code.translate(_TO_CYRILLIC).lower())
    answer = send(OFFICER, text)
    assert answer.kind == "verified", text
    [reply] = answer.replies
    assert reply.text.startswith("ДЕЙСТВУЕТ ") and "Иванов И.И." in reply.text
    assert [outcome for _, outcome in checks(engine)] == ["valid"]


def test_an_english_check_in_a_sentence_is_answered_in_english(send):
    code = issued_code(send, RESIDENT)
    assert send(OFFICER, f"check {code} please").replies[0].text.startswith("VALID ")


def test_several_codes_are_answered_in_one_sms(send, engine):
    first, second = issued_code(send, RESIDENT), issued_code(send, NEIGHBOUR)
    unknown = codes.display(codes.generate())
    typo = first[:-1] + ("2" if first[-1] != "2" else "3")
    [russian] = send(OFFICER, f"Проверьте: {second}, ещё {typo}").replies
    assert russian.text == f"{second} ДЕЙСТВУЕТ до 14:00; {typo} ОШИБКА В КОДЕ"
    [english] = send(OFFICER, f"check {first}, {second}, {unknown} and {typo}").replies
    assert english.text == (f"{first} VALID until 14:00; {second} VALID until 14:00; "
                            f"{unknown} UNKNOWN; {typo} TYPO")
    assert measure(russian.text).fits_one_sms and measure(english.text).fits_one_sms
    assert [outcome for _, outcome in checks(engine)] == ["valid", "typo", "valid", "valid",
                                                          "unknown", "typo"]


def test_codes_beyond_one_sms_are_left_for_another_message_and_not_recorded(send, engine):
    held = [issued_code(send, phone) for phone in (RESIDENT, NEIGHBOUR)]
    asked = [*held, *(codes.display(codes.generate()) for _ in range(4))]
    [reply] = send(OFFICER, " ".join(asked)).replies
    assert measure(reply.text).fits_one_sms
    answered = len(checks(engine))
    assert 1 <= answered < len(asked)
    assert reply.text.endswith(f"+{len(asked) - answered} не проверено: пришлите отдельно")
    assert [typed for typed, _ in checks(engine)] == asked[:answered]
    assert all(code in reply.text for code in asked[:answered])


@pytest.mark.parametrize("text, kind", [
    ("проверить пропуск {code} пожалуйста", "officers_only"),
    ("код {code}", "unrecognized"),
    ("{code}", "unrecognized"),
    ("мой пропуск {code}", "unrecognized"),
])
def test_other_peoples_texts_with_a_code_are_read_as_before(send, engine, text, kind):
    code = issued_code(send, RESIDENT)
    outcome = send(SAMARA_RESIDENT, text.format(code=code))
    assert outcome.kind == kind
    assert "ДЕЙСТВУЕТ" not in outcome.replies[0].text and "Иванов" not in outcome.replies[0].text
    assert all(outcome == "refused" for _, outcome in checks(engine))


def test_an_officers_ordinary_request_is_still_a_request(send):
    assert send(OFFICER, "ВЫХОД магазин").kind == "not_resident"


def test_a_free_form_check_through_simulate(gateway, tmp_path):
    csv = tmp_path / "residents.csv"
    csv.write_text(f"phone,name,district\n{RESIDENT},Иванов Иван Иванович,kinel\n",
                   encoding="utf-8")
    gateway("residents", "import", str(csv))
    gateway("officers", "add", OFFICER, "--name", "Сержант Петров")
    code = CODE.search(gateway("simulate", "--from", RESIDENT, "ВЫХОД 1").stdout).group()
    answer = gateway("simulate", "--from", OFFICER, f"проверить пропуск {code} пожалуйста")
    assert answer.stdout.startswith("ДЕЙСТВУЕТ ") and "Иванов И.И." in answer.stdout


def test_a_free_form_check_over_smpp(config, engine, people):
    with smpp_node(config, engine) as smsc:
        smsc.inject(RESIDENT, "ВЫХОД аптека", encoding="ucs2")
        smsc.inject(NEIGHBOUR, "EXIT shop", encoding="gsm7")
        smsc.wait(lambda: texts_to(smsc, RESIDENT) and texts_to(smsc, NEIGHBOUR))
        first = CODE.search(texts_to(smsc, RESIDENT)[0]).group()
        second = CODE.search(texts_to(smsc, NEIGHBOUR)[0]).group()
        smsc.inject(OFFICER, f"проверьте пропуска {first} и {second.lower()}", encoding="ucs2")
        smsc.wait(lambda: texts_to(smsc, OFFICER))
    [answer] = texts_to(smsc, OFFICER)
    assert re.fullmatch(rf"{first} ДЕЙСТВУЕТ до \d\d:\d\d; {second} ДЕЙСТВУЕТ до \d\d:\d\d",
                        answer), answer
