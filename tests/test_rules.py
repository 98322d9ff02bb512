"""The permit rules, end to end through `Rules.handle`, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from permits import codes
from permits.ledger import refund
from permits.service import Rules
from storage.tables.ledger import outcomes, permits, verifications
from tests.conftest import NEIGHBOUR, OFFICER, RESIDENT, SAMARA_RESIDENT, STRANGER

CODE = re.compile(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}")


def code_in(text: str) -> str:
    return CODE.search(text).group()


def permit_count(engine, **where) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(permits)
        for column, value in where.items():
            query = query.where(permits.c[column] == value)
        return conn.scalar(query)


def test_a_resident_gets_a_permit_with_code_window_and_reason(send):
    outcome = send(RESIDENT, "ВЫХОД магазин")
    assert outcome.kind == "issued"
    [reply] = outcome.replies
    assert reply.text.startswith("ПРОПУСК ")
    assert "13:00-14:00" in reply.text and "магазин" in reply.text
    assert reply.expires_at is not None and reply.permit_id == outcome.permit_id
    codes.normalize(code_in(reply.text))


def test_a_digit_in_a_chinese_sentence_or_another_script_spends_no_permit(send, engine):
    for text in ("我要2", "၂", "-1"):
        assert send(RESIDENT, text).kind == "unrecognized"
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(permits)) == 0


def test_asking_again_while_valid_returns_the_same_permit_and_spends_nothing(send, engine, clock):
    first = code_in(send(RESIDENT, "EXIT shop").replies[0].text)
    clock.advance(minutes=30)
    again = send(RESIDENT, "выход аптека")
    assert again.kind == "repeated" and code_in(again.replies[0].text) == first
    assert permit_count(engine) == 1


def test_quota_is_per_day_and_the_reply_says_when_it_returns(send, clock, engine):
    for _ in range(2):
        assert send(RESIDENT, "EXIT 1").kind == "issued"
        clock.advance(minutes=61)
    refused = send(RESIDENT, "EXIT 1")
    assert refused.kind == "quota"
    assert "00:00 26.11" in refused.replies[0].text
    assert permit_count(engine) == 2


def test_quota_resets_at_local_midnight_not_utc(send, clock):
    clock.set_local("Europe/Samara", 2026, 11, 25, 21, 0)
    send(RESIDENT, "EXIT 1")
    clock.advance(minutes=61)
    send(RESIDENT, "EXIT 1")
    clock.set_local("Europe/Samara", 2026, 11, 25, 23, 59)  # the second one ended at 23:01
    assert send(RESIDENT, "EXIT 1").kind == "quota"
    clock.set_local("Europe/Samara", 2026, 11, 26, 0, 1)  # still 20:01 UTC on the 25th
    assert send(RESIDENT, "EXIT 1").kind == "issued"


def test_a_permit_running_past_midnight_is_still_the_active_one(send, clock):
    clock.set_local("Europe/Samara", 2026, 11, 25, 23, 30)
    first = code_in(send(RESIDENT, "EXIT 1").replies[0].text)
    clock.set_local("Europe/Samara", 2026, 11, 26, 0, 10)
    again = send(RESIDENT, "EXIT 1")
    assert again.kind == "repeated" and code_in(again.replies[0].text) == first


def test_a_revoked_permit_still_counts_toward_the_day(send, engine, clock):
    send(RESIDENT, "EXIT 1")
    with engine.begin() as conn:
        conn.execute(update(permits).values(state="revoked"))
    assert send(RESIDENT, "EXIT 1").kind == "issued"
    clock.advance(minutes=61)
    assert send(RESIDENT, "EXIT 1").kind == "quota"


def test_a_refunded_permit_gives_its_slot_back(send, engine, clock):
    for _ in range(2):
        permit_id = send(RESIDENT, "EXIT 1").permit_id
        clock.advance(minutes=61)
    with engine.begin() as conn:
        assert refund(conn, [permit_id]) == 1
    assert send(RESIDENT, "EXIT 1").kind == "issued"


def test_exempt_trips_need_no_permit_and_spend_nothing(send, engine):
    for text, reason in [
        ("выход мусор", "вынос мусора"),
        ("EXIT emergency", "emergency"),
        ("выход на работу", "работа"),
        ("выход ближайший магазин", "ближайший магазин"),
    ]:
        outcome = send(RESIDENT, text)
        assert outcome.kind == "exempt", text
        assert reason in outcome.replies[0].text
    assert send(STRANGER, "выход 10").kind == "exempt"  # no personal data: anyone may ask
    assert permit_count(engine) == 0


def test_strangers_and_districts_not_yet_on_are_told_so(send):
    assert send(STRANGER, "EXIT 1").kind == "not_resident"
    off = send(SAMARA_RESIDENT, "ВЫХОД 1")
    assert off.kind == "registry_only" and "администрацию" in off.replies[0].text


def test_a_missing_or_unknown_reason_is_asked_for(send):
    assert send(RESIDENT, "ВЫХОД").replies[0].text.startswith("Укажите причину")
    assert "Нет причины 42" in send(RESIDENT, "выход 42").replies[0].text


def test_help_lists_the_numbered_reasons_and_status_tells_what_is_left(send):
    help_text = send(RESIDENT, "ПОМОЩЬ").replies[0].text
    assert "1 магазин" in help_text and "Без пропуска:" in help_text and "мусор" in help_text
    assert "Осталось сегодня: 2 из 2" in send(RESIDENT, "СТАТУС").replies[0].text
    code = code_in(send(RESIDENT, "EXIT 2").replies[0].text)
    status = send(RESIDENT, "status").replies[0].text
    assert code in status and "Left today: 1" in status


def test_gibberish_gets_an_example_of_a_correct_request(send):
    assert "ВЫХОД МАГАЗИН" in send(RESIDENT, "привет как дела").replies[0].text
    assert "ВЫХОД МАГАЗИН" in send(RESIDENT, "hello there").replies[0].text  # default language
    assert "EXIT 1" in send(RESIDENT, "EXIT to the moon").replies[0].text


def test_officer_verifies_a_valid_permit_and_learns_who_what_until_when(send):
    code = code_in(send(RESIDENT, "ВЫХОД аптека").replies[0].text)
    outcome = send(OFFICER, f"ПРОВЕРКА {code}")
    text = outcome.replies[0].text
    assert text.startswith("ДЕЙСТВУЕТ 13:00-14:00")
    assert "аптека" in text and "+7927***0001" in text and "Иванов И.И." in text
    assert "Кинель" in text and len(text) <= 70
    assert outcome.replies[0].priority == 1


def test_officer_check_accepts_bare_code_any_case_dashes_and_cyrillic_lookalikes(send):
    code = code_in(send(RESIDENT, "EXIT 1").replies[0].text)
    cyrillic = code.lower().translate(str.maketrans("abekmhopctyx", "авекмнорстух"))
    for typed in (
        code,
        code.replace("-", ""),
        code.lower(),
        f"check {cyrillic}",
        " ".join(code.replace("-", "")),
    ):
        assert send(OFFICER, typed).replies[0].text.startswith(("ДЕЙСТВУЕТ", "VALID")), typed


def test_verification_states_expired_revoked_not_yet_valid_unknown(send, engine, clock):
    code = code_in(send(RESIDENT, "EXIT 1").replies[0].text)
    clock.advance(minutes=61)
    assert send(OFFICER, f"проверка {code}").replies[0].text.startswith("ИСТЁК")
    with engine.begin() as conn:
        conn.execute(update(permits).values(state="revoked"))
    assert send(OFFICER, f"check {code}").replies[0].text.startswith("REVOKED")
    future = code_in(send(NEIGHBOUR, "EXIT 1").replies[0].text)
    with engine.begin() as conn:
        conn.execute(
            update(permits)
            .where(permits.c.code == future.replace("-", ""))
            .values(valid_from=clock() + dt.timedelta(hours=2))
        )
    assert send(OFFICER, f"check {future}").replies[0].text.startswith("NOT YET VALID")
    unknown = codes.display(codes.generate())
    assert send(OFFICER, f"проверка {unknown}").replies[0].text.startswith("НЕИЗВЕСТЕН")


def test_a_wrong_check_character_is_reported_as_a_typo(send):
    code = code_in(send(RESIDENT, "EXIT 1").replies[0].text)
    wrong = code[:2] + ("2" if code[2] != "2" else "3") + code[3:]
    assert send(OFFICER, f"проверка {wrong}").replies[0].text.startswith("ОШИБКА В КОДЕ")


def test_non_officers_learn_nothing_not_even_whether_a_code_exists(send):
    code = code_in(send(RESIDENT, "EXIT 1").replies[0].text)
    real = send(NEIGHBOUR, f"CHECK {code}").replies[0].text
    fake = send(NEIGHBOUR, f"CHECK {codes.display(codes.generate())}").replies[0].text
    assert real == fake == "Checking permits is for police officers only."


def test_every_verification_is_recorded_and_repeated_misses_are_slowed(send, engine):
    for _ in range(5):
        send(OFFICER, f"проверка {codes.display(codes.generate())}")
    slowed = send(OFFICER, f"проверка {codes.display(codes.generate())}")
    assert slowed.kind == "check_slowed" and "Слишком много" in slowed.replies[0].text
    send(NEIGHBOUR, "CHECK K7MQ-3DXA")
    with engine.connect() as conn:
        kinds = [r.outcome for r in conn.execute(select(verifications.c.outcome))]
    assert kinds.count("unknown") == 5 and "slowed" in kinds and "refused" in kinds


def test_replies_are_capped_per_number_per_hour(send, rules, clock):
    limit = rules.settings.replies_per_hour
    replies = [len(send(RESIDENT, "hello").replies) for _ in range(limit + 3)]
    assert replies == [1] * limit + [0] * 3
    clock.advance(hours=1)
    assert len(send(RESIDENT, "hello").replies) == 1


def test_a_message_held_back_by_the_cap_says_so_and_is_logged_once_an_hour(
        send, rules, clock, engine, caplog):
    limit = rules.settings.replies_per_hour
    with caplog.at_level("WARNING", logger="permits.reply_cap"):
        kinds = [send(RESIDENT, "СТАТУС").recorded for _ in range(limit + 3)]
    assert kinds == ["status"] * limit + ["capped"] * 3
    said = [r.getMessage() for r in caplog.records if r.name == "permits.reply_cap"]
    assert len(said) == 1 and "+7927***0001" in said[0] and RESIDENT not in said[0]
    with engine.connect() as conn:
        recorded = conn.scalars(select(outcomes.c.kind).where(outcomes.c.kind == "capped")).all()
    assert len(recorded) == 3
    clock.advance(hours=1)
    caplog.clear()
    with caplog.at_level("WARNING", logger="permits.reply_cap"):
        kinds = [send(RESIDENT, "СТАТУС").recorded for _ in range(limit + 1)]
    assert kinds[-1] == "capped" and len(caplog.records) == 1


def test_alphanumeric_senders_never_get_a_reply(send, engine):
    for sender in ("MTS", "Beeline", "Tele2 Info"):
        outcome = send(sender, "Ваш баланс 100 руб. EXIT")
        assert outcome.kind == "ignored" and outcome.replies == ()


def test_every_reply_fits_one_sms(send, engine, clock):
    texts = [
        send(RESIDENT, t).replies[0].text
        for t in ("ВЫХОД 1", "ВЫХОД 1", "СТАТУС", "ВЫХОД", "ВЫХОД 99", "абв", "ВЫХОД мусор")
    ]
    texts += [
        send(STRANGER, "ВЫХОД 1").replies[0].text,
        send(SAMARA_RESIDENT, "ВЫХОД 1").replies[0].text,
        send(NEIGHBOUR, "ПРОВЕРКА K7MQ-3DXA").replies[0].text,
    ]
    clock.advance(minutes=61)
    send(RESIDENT, "ВЫХОД 1")
    clock.advance(minutes=61)
    texts.append(send(RESIDENT, "ВЫХОД 1").replies[0].text)
    for text in texts:
        assert len(text) <= 70, text


def test_english_replies_fit_gsm7_sms(send, clock):
    texts = [
        send(RESIDENT, t).replies[0].text
        for t in ("EXIT 1", "EXIT 1", "STATUS", "EXIT", "EXIT 99", "EXIT trash")
    ]
    for text in texts:
        assert len(text) <= 160, text


def test_long_names_and_districts_are_trimmed_to_fit_the_officers_sms(send, engine, rules):
    from storage.tables.ledger import residents

    with engine.begin() as conn:
        conn.execute(
            update(residents)
            .where(residents.c.phone == RESIDENT)
            .values(name="Константинопольский-Шереметьев Владимир Александрович")
        )
    code = code_in(send(RESIDENT, "ВЫХОД выгул собаки").replies[0].text)
    text = send(OFFICER, f"проверка {code}").replies[0].text
    assert text.startswith("ДЕЙСТВУЕТ") and len(text) <= 70 and "+7927***0001" in text


def test_outcomes_are_recorded_for_the_status_page(send, engine):
    send(RESIDENT, "EXIT 1")
    send(STRANGER, "EXIT 1")
    with engine.connect() as conn:
        kinds = sorted(conn.scalars(select(outcomes.c.kind)))
    assert kinds == ["issued", "not_resident"]


def test_a_batch_with_the_same_resident_twice_issues_one_permit(engine, rules, clock, people):
    from permits.messages import Inbound

    batch = [Inbound(RESIDENT, t, "test", clock()) for t in ("EXIT 1", "EXIT 2", "EXIT 1")]
    with engine.begin() as conn:
        results = rules.handle(conn, batch, clock())
    assert [r.kind for r in results] == ["issued", "repeated", "repeated"]
    assert len({code_in(r.replies[0].text) for r in results}) == 1
    assert all(r.permit_id == results[0].permit_id for r in results)
    assert permit_count(engine) == 1


def test_validity_comes_from_the_reason_when_it_has_its_own(engine, config, clock, people):
    from permits.messages import Inbound

    reasons = tuple(
        dataclasses.replace(r, validity_minutes=30) if r.number == 3 else r
        for r in config.rules.reasons
    )
    rules = Rules(dataclasses.replace(config.rules, reasons=reasons))
    with engine.begin() as conn:
        [outcome] = rules.handle(conn, [Inbound(RESIDENT, "EXIT dog", "t", clock())], clock())
    assert "13:00-13:30" in outcome.replies[0].text


def test_a_permit_longer_than_a_day_is_still_found_two_days_later(engine, config, clock, people):
    from permits.messages import Inbound

    reasons = tuple(dataclasses.replace(r, validity_minutes=3 * 24 * 60) if r.number == 3 else r
                    for r in config.rules.reasons)
    rules = Rules(dataclasses.replace(config.rules, reasons=reasons))
    with engine.begin() as conn:
        [first] = rules.handle(conn, [Inbound(RESIDENT, "EXIT 3", "t", clock())], clock())
    clock.advance(minutes=2 * 24 * 60 + 30)
    with engine.begin() as conn:
        [again] = rules.handle(conn, [Inbound(RESIDENT, "EXIT 1", "t", clock())], clock())
    assert again.kind == "repeated" and again.permit_id == first.permit_id


def test_a_code_that_collides_with_an_old_permit_is_drawn_again(send, monkeypatch):
    taken = codes.normalize(code_in(send(NEIGHBOUR, "EXIT 1").replies[0].text))
    draws = iter([taken])
    real = codes.generate
    monkeypatch.setattr(codes, "generate", lambda: next(draws, None) or real())
    outcome = send(RESIDENT, "EXIT 1")
    assert outcome.kind == "issued" and outcome.permit_id is not None
    assert codes.normalize(code_in(outcome.replies[0].text)) != taken


def test_open_registration_lets_any_mobile_of_the_country_ask(engine, config, clock, people):
    from permits.messages import Inbound

    open_rules = Rules(dataclasses.replace(config.rules, registration="open",
                                           open_district="kinel"))

    def ask(sender: str):
        with engine.begin() as conn:
            return open_rules.handle(conn, [Inbound(sender, "ВЫХОД 1", "t", clock())],
                                     clock())[0]

    assert ask("+79270001234").kind == "issued"
    assert ask("+79270001234").kind == "repeated"
    assert ask("+78462000000").kind == "not_resident"  # a Samara landline
    assert ask("+380501234567").kind == "not_resident"  # a mobile of another country


def test_senders_in_national_form_are_read_with_the_configured_country(send):
    assert send("89270000001", "ВЫХОД 1").kind == "issued"
    assert send("+7 927 000-00-01", "ВЫХОД 1").kind == "repeated"


def test_a_new_permit_is_always_answered_even_past_the_hourly_cap(send, rules):
    for _ in range(rules.settings.replies_per_hour):
        send(RESIDENT, "привет")
    outcome = send(RESIDENT, "ВЫХОД 1")
    assert outcome.kind == "issued" and len(outcome.replies) == 1


def test_a_malformed_sender_does_not_break_the_batch(engine, config, clock, people):
    from permits.messages import Inbound

    open_rules = Rules(dataclasses.replace(config.rules, registration="open",
                                           open_district="kinel"))
    batch = [Inbound("+9991234567890", "EXIT 1", "t", clock()),
             Inbound(RESIDENT, "EXIT 1", "t", clock())]
    with engine.begin() as conn:
        kinds = [o.kind for o in open_rules.handle(conn, batch, clock())]
    assert kinds == ["not_resident", "issued"]


def test_a_word_shaped_like_a_code_gets_an_example_not_a_refusal(send):
    outcome = send(NEIGHBOUR, "МАСТЕРКА")
    assert outcome.kind == "unrecognized" and "ВЫХОД МАГАЗИН" in outcome.replies[0].text


def test_long_configured_names_still_fit_one_sms(engine, config, clock, people):
    from permits.messages import Inbound
    from storage.tables.ledger import districts

    reasons = tuple(dataclasses.replace(r, name_ru="поездка к врачу-специалисту в областную"
                                        " больницу") if r.number == 5 else r
                    for r in config.rules.reasons)
    rules = Rules(dataclasses.replace(config.rules, reasons=reasons))
    with engine.begin() as conn:
        conn.execute(update(districts).values(name="Кинель-Черкасский муниципальный район"))
    texts = []
    for sender, text in ((RESIDENT, "ВЫХОД 5"), (RESIDENT, "ВЫХОД 5"), (RESIDENT, "СТАТУС")):
        with engine.begin() as conn:
            texts.append(rules.handle(conn, [Inbound(sender, text, "t", clock())],
                                      clock())[0].replies[0].text)
    code = code_in(texts[0])
    with engine.begin() as conn:
        texts.append(rules.handle(conn, [Inbound(OFFICER, f"CHECK {code}", "t", clock())],
                                  clock())[0].replies[0].text)
    assert all(len(t) <= 70 for t in texts), texts


@pytest.mark.parametrize("language", ["ru", "en"])
def test_help_fits_two_sms_in_the_encoding_it_travels_in(rules, language):
    from permits.replies import sms_parts

    text = rules.texts(language == "en").help(rules.settings.reasons)
    assert sms_parts(text) <= 2 and "1 " in text


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet="абвгдеёжзийклмнопрстуфхцчшщыьэюя xyzQ{}€😀", min_size=1,
                        max_size=40).map(str.strip).filter(bool), min_size=1, max_size=40))
def test_help_of_any_catalogue_fits_two_sms(names):
    from zoneinfo import ZoneInfo

    from permits.reasons import Reason
    from permits.replies import Texts, sms_parts

    reasons = tuple(Reason(n + 1, name, name, (name,), exempt=n % 2 == 1)
                    for n, name in enumerate(names))
    for language in ("ru", "en"):
        text = Texts(language, ZoneInfo("Europe/Samara")).help(reasons)
        assert sms_parts(text) <= 2
