"""Lenient parsing: a corpus of the messages real launches saw, and a parser that never raises."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from permits.parser import (
    PARSED_PREFIX,
    CheckRequest,
    ExitRequest,
    HelpRequest,
    Parser,
    StatusRequest,
    Unrecognized,
)
from permits.reasons import DEFAULT_REASONS

parser = Parser(DEFAULT_REASONS)

# (message, expected reason number) for exit requests, as residents really type them.
EXIT_CORPUS = [
    ("EXIT shop", 1),
    ("exit 2", 2),
    ("ВЫХОД магазин", 1),
    ("выход в аптеку", 2),
    ("vyhod apteka", 2),
    ("Выход*2", 2),
    ("ВЫХОД#1", 1),
    ("выход,1", 1),
    ("выход 1.", 1),
    ("  выход   магазин  ", 1),
    ("ВЫХОД МАГАЗИН!!!", 1),
    ("выход в магазин за продуктами", 1),
    ("выход за продуктами", 1),
    ("Выход. Аптека", 2),
    ("выход: лекарства", 2),
    ("выход собаку выгулять", 3),
    ("выгул собаки", 3),
    ("vyhod sobaka", 3),
    ("vihod magazin", 1),
    ("vykhod magazin", 1),
    ("vyxod magazin", 1),
    ("vyhod2", 2),
    ("выхд магазн", 1),
    ("вызод магазин", 1),
    ("выход магазни", 1),
    ("ВЫХОД магазин", 1),
    ("выxод в аптеку", 2),  # Latin x inside a Cyrillic word
    ("BЫXOД MAГAЗИH", 1),  # Latin look-alike capitals throughout
    ("выход в банк", 4),
    ("выход на почту", 4),
    ("exit post office", 4),
    ("exit bank", 4),
    ("выход мусор", 10),
    ("вынести мусор", 10),
    ("exit trash", 10),
    ("vyhod musor", 10),
    ("выход на работу", 7),
    ("EXIT work", 7),
    ("выход к врачу", 6),
    ("скорая", 6),
    ("выход ближайший магазин", 8),
    ("exit nearest shop", 8),
    ("помощь пожилым", 11),
    ("выход к бабушке", 11),
    ("EXIT elderly relatives", 11),
    ("выход 10", 10),
    ("выход №3", 3),
    ("2", 2),
    ("магазин", 1),
    ("аптека", 2),
    ("Pharmacy", 2),
    ("ВЫХОД ДРУГОЕ", 5),
    ("exit other", 5),
    ("exit doctor", 6),
    ("ЕXIT shop", 1),
    ("exit shp", 1),
    ("Exit Shop Please", 1),
    ("ВЫХОД ВЫГУЛ", 3),
    ("выход: питомец", 9),
]


@pytest.mark.parametrize(("text", "number"), EXIT_CORPUS)
def test_exit_requests_name_their_reason(text, number):
    request = parser.parse(text).request
    assert isinstance(request, ExitRequest), text
    assert request.reason is not None and request.reason.number == number, text


@pytest.mark.parametrize(
    "text", ["EXIT", "выход", "ВЫХОД!", "vyhod", "Выход пожалуйста", "пропуск", "exit to the moon"]
)
def test_exit_without_a_reason_asks_for_one(text):
    request = parser.parse(text).request
    assert isinstance(request, ExitRequest) and request.reason is None


def test_an_unknown_reason_number_is_reported_as_such():
    assert parser.parse("выход 42").request == ExitRequest(None, unknown_number=42)


@pytest.mark.parametrize("text", ["HELP", "help", "помощь", "ПОМОЩЬ", "справка", "?помощь"])
def test_help(text):
    assert isinstance(parser.parse(text).request, HelpRequest)


@pytest.mark.parametrize("text", ["STATUS", "статус", "Статус?", "status please"])
def test_status(text):
    assert isinstance(parser.parse(text).request, StatusRequest)


@pytest.mark.parametrize(
    ("text", "typed"),
    [
        ("CHECK K7MQ-3DXA", "K7MQ-3DXA"),
        ("проверка k7mq3dxa", "k7mq3dxa"),
        ("ПРОВЕРКА К7МQ 3DХА", "К7МQ 3DХА"),
        ("K7MQ-3DXA", "K7MQ-3DXA"),
        ("k7mq 3dxa", "k7mq 3dxa"),
        ("verify K7MQ3DXA", "K7MQ3DXA"),
        ("CHECK", ""),
    ],
)
def test_checks_keep_the_code_as_typed(text, typed):
    request = parser.parse(text).request
    assert isinstance(request, CheckRequest) and request.typed == typed
    assert request.explicit == (text.split()[0].lower() in ("check", "проверка", "verify"))


@pytest.mark.parametrize(
    "text", ["", "   ", "привет", "hello", "???", "12345678901", "Ваш баланс 100 руб", "😀😀", "ok",
             "Приду через 2 часа", "Не пойду в магазин", "Где ближайшая аптека?",
             "магазин работает?"]
)
def test_anything_else_is_unrecognized(text):
    assert isinstance(parser.parse(text).request, Unrecognized)


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("EXIT shop", True),
        ("help", True),
        ("CHECK K7MQ3DXA", True),
        ("выход 1", False),
        ("vyhod 1", False),
        ("2", False),
        ("shop", False),
    ],
)
def test_english_requests_are_answered_in_english(text, english):
    assert parser.parse(text).english is english


@settings(max_examples=500)
@given(st.text(max_size=200))
def test_the_parser_never_raises(text):
    parser.parse(text)


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from(
            [
                "выход",
                "EXIT",
                "магазин",
                "2",
                "*",
                "#",
                " ",
                "vyhod",
                "ПРОВЕРКА",
                "k7mq",
                "-",
                "3dxa",
                "аптека",
                "\x00",
                "☃",
            ]
        ),
        max_size=8,
    )
)
def test_the_parser_never_raises_on_near_misses(words):
    parser.parse("".join(words))


# -- numbers name reasons only in Latin or Cyrillic requests ----------------------------------


@pytest.mark.parametrize("text", ["我要2", "我想去药店 2", "၂", "٢", "-1", "−1", "+2",
                                  "Ich will 2 ☕ ß", "ⅱ", "exit ၂", "ВЫХОД -1", "ВЫХОД ٣"])
def test_a_lone_digit_in_another_script_or_with_a_sign_names_no_reason(text):
    request = parser.parse(text).request
    assert not (isinstance(request, ExitRequest) and request.reason is not None)
    assert not (isinstance(request, ExitRequest) and request.unknown_number is not None)


@pytest.mark.parametrize("text, number", [("2", 2), ("выход 2", 2), ("EXIT 2!", 2),
                                          ("Vyhod 3 🙂", 3), ("выход-1", 1), ("ÉXIT 2", 2)])
def test_a_number_in_a_latin_or_cyrillic_request_still_names_its_reason(text, number):
    assert parser.parse(text).request.reason.number == number


# -- bounded work ------------------------------------------------------------------------------


def test_the_parser_reads_what_one_sms_holds_and_no_more():
    padding = "please " * (PARSED_PREFIX // 7)
    assert parser.parse(f"EXIT pharmacy {padding}").request.reason.number == 2
    assert parser.parse(f"EXIT {padding} pharmacy").request == ExitRequest(None)
    flood = "EXIT " + "слово " * 10_000  # 60 KB: a message_payload's worth
    assert parser.parse(flood) == parser.parse(flood[:PARSED_PREFIX])


def test_long_texts_are_never_kept_in_the_cache():
    fresh = Parser(DEFAULT_REASONS)
    for n in range(200):
        fresh.parse(f"EXIT {n} " + "x" * 60_000)
    fresh.parse("ВЫХОД магазин")
    assert fresh.cache_info().currsize == 1
