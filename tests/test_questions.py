"""Residents' questions ("можно выйти в аптеку?") get the exact request to send, or what
applies (no permit needed, no regime, not by SMS there). Through the rules, `simulate` and a
real SMPP link, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from permits import regime
from permits.parser import ExitRequest, Parser
from permits.reasons import DEFAULT_REASONS
from permits.suggestions import Suggestions
from storage.tables.ledger import Regime, permits
from tests.conftest import RESIDENT, SAMARA_RESIDENT
from tests.smpp_support import smpp_node, texts_to

pytest_plugins = ["tests.cli_support"]  # `gateway`: the command line on a test database


@pytest.mark.parametrize("question, answer", [
    ("можно выйти в аптеку?", "Чтобы получить пропуск, отправьте SMS: ВЫХОД АПТЕКА"),
    ("Можно сходить в магазин за продуктами?", "Чтобы получить пропуск, отправьте SMS: ВЫХОД"
                                               " МАГАЗИН"),
    ("А в банк можно?", "Чтобы получить пропуск, отправьте SMS: ВЫХОД БАНК"),
    ("нужен ли пропуск чтобы выгулять собаку?", "Чтобы получить пропуск, отправьте SMS: ВЫХОД"
                                                " ВЫГУЛ СОБАКИ"),
    ("mozhno vyiti v apteku?", "Чтобы получить пропуск, отправьте SMS: VYHOD APTEKA"),
    ("Can I go to the pharmacy?", "To get a permit, send the SMS: EXIT PHARMACY"),
    ("можно вынести мусор?", "Пропуск не нужен: вынос мусора. Возьмите с собой документ."),
])
def test_a_question_is_answered_with_the_request_to_send(send, engine, question, answer):
    outcome = send(RESIDENT, question)
    assert outcome.replies[0].text == answer
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(permits)) == 0


def test_the_suggested_request_gets_the_permit_asked_about(send):
    outcome = send(RESIDENT, "можно выйти в аптеку?")
    assert outcome.kind == "question" and outcome.reason == 2
    issued = send(RESIDENT, outcome.replies[0].text.split(": ", 1)[1])
    assert issued.kind == "issued" and "аптека" in issued.replies[0].text


@pytest.mark.parametrize("script", ["cyrillic", "latin", "english"])
def test_every_suggestion_is_read_back_as_its_reason(script):
    parser = Parser(DEFAULT_REASONS)
    suggestions = Suggestions(parser, DEFAULT_REASONS)
    for reason in DEFAULT_REASONS:
        command = suggestions.command(reason, script)
        assert parser.parse(command).request == ExitRequest(reason), command


def test_conversation_is_not_taken_for_a_question(send):
    for text in ("Где ближайшая аптека?", "магазин работает?", "Можно ли не брать пропуск в"
                                                               " магазин?"):
        assert send(RESIDENT, text).kind == "unrecognized", text


def test_a_question_is_told_what_applies_where_the_resident_lives(send, engine, clock):
    answer = send(SAMARA_RESIDENT, "можно в аптеку?")
    assert answer.kind == "registry_only"
    with engine.begin() as conn:
        regime.schedule(conn, "kinel", Regime.OFF, by="test", now=clock())
    assert send(RESIDENT, "можно в аптеку?").replies[0].text == (
        "Пропуск не нужен: в районе Кинель режим сейчас не введён.")


def test_a_question_through_simulate(gateway, tmp_path):
    csv = tmp_path / "residents.csv"
    csv.write_text(f"phone,name,district\n{RESIDENT},Иванов Иван Иванович,kinel\n",
                   encoding="utf-8")
    gateway("residents", "import", str(csv))
    answer = gateway("simulate", "--from", RESIDENT, "Можно выйти в аптеку?").stdout
    assert answer == "Чтобы получить пропуск, отправьте SMS: ВЫХОД АПТЕКА\n"


def test_a_question_over_smpp(config, engine, people):
    with smpp_node(config, engine) as smsc:
        smsc.inject(RESIDENT, "можно в магазин?", encoding="ucs2")
        smsc.wait(lambda: texts_to(smsc, RESIDENT))
    assert texts_to(smsc, RESIDENT) == ["Чтобы получить пропуск, отправьте SMS: ВЫХОД МАГАЗИН"]
