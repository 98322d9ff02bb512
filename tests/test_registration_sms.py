"""Registration by SMS (`[permits] registration = "sms"`): РЕГ, consent, an operator's approval,
СТОП; nothing stored without consent. Through the rules, `simulate`, and a real SMPP link, on
SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re

import pytest
from sqlalchemy import select

from permits import registry
from permits.registration_queue import RegistrationError, waiting
from permits.service import Rules
from sms_gateway import admin
from sms_gateway.pipeline import purge
from storage.tables.ledger import registrations, residents
from storage.tables.messages import outbox
from tests.conftest import RESIDENT
from tests.registration_support import count
from tests.smpp_support import smpp_node, texts_to

# `gateway`: the command line on a test database; `rules_for`, `ask`: messages to the rules
pytest_plugins = ["tests.cli_support", "tests.registration_support"]
NEW = "+79270001111"
CONSENT = "Сохраним: ваш номер, Смирнова, Кинель. Согласны — ответьте ДА"


def test_nothing_is_stored_before_consent_and_the_question_says_what_would_be(
        engine, clock, rules_for, ask):
    rules = rules_for(registration_approval=False)
    before = count(engine, residents)
    asked = ask(rules, NEW, "РЕГ Смирнова Кинель")
    assert asked.kind == "consent_asked" and asked.replies[0].text == CONSENT
    assert count(engine, residents) == before
    with engine.connect() as conn:
        row = conn.execute(select(registrations)).mappings().one()
    assert (row["phone"], row["name"], row["district_id"], row["state"]) == (
        NEW, "Смирнова", "kinel", "consent")
    assert row["expires_at"] == clock() + dt.timedelta(hours=1)
    declined = ask(rules, NEW, "нет")
    assert declined.kind == "reg_withdrawn"
    assert declined.replies[0].text == "Заявка отозвана, ваши данные удалены."
    assert count(engine, registrations) == 0 and count(engine, residents) == before


def test_with_consent_the_resident_is_registered_and_may_ask_for_permits(rules_for, ask,
                                                                        engine):
    rules = rules_for(registration_approval=False)
    assert ask(rules, NEW, "ВЫХОД 1").replies[0].text == (
        "Вашего номера нет в реестре. Регистрация: РЕГ фамилия район")
    ask(rules, NEW, "РЕГ Смирнова Кинель")
    done = ask(rules, NEW, "Да")
    assert done.kind == "registered"
    assert done.replies[0].text == "Вы в реестре, район Кинель. Пропуск: ВЫХОД и причина."
    assert count(engine, registrations) == 0
    with engine.connect() as conn:
        person = conn.execute(select(residents).where(residents.c.phone == NEW)).mappings().one()
    assert (person["name"], person["district_id"], person["self_registered"]) == (
        "Смирнова", "kinel", True)
    assert ask(rules, NEW, "ВЫХОД 1").kind == "issued"
    assert ask(rules, NEW, "ДА").kind == "unrecognized"  # nothing to confirm any more
    again = ask(rules, NEW, "РЕГ Смирнова Кинель")
    assert again.kind == "reg_refused" and "уже в реестре" in again.replies[0].text


@pytest.mark.parametrize("text, reply", [
    ("reg smirnova kinel", "Сохраним: ваш номер, Smirnova, Кинель. Согласны — ответьте ДА"),
    ("РЕГ кинель смирнова", CONSENT),  # the district first
    ("PЕГ Смирнова Кинел", CONSENT),  # a Latin P, a letter missing
    ("регистрация Смирнова Кинель", CONSENT),
    ("REGISTER Smirnova Kinel", "We will store this number, Smirnova, Kinel. Reply YES to"
                                " agree."),
])
def test_registration_is_read_in_the_spellings_residents_use(rules_for, ask, text, reply):
    assert ask(rules_for(), NEW, text).replies[0].text == reply


def test_a_request_without_a_district_shows_an_example(rules_for, ask, engine):
    rules = rules_for()
    assert ask(rules, NEW, "РЕГ Смирнова").replies[0].text == (
        "Напишите: РЕГ фамилия район, например РЕГ Иванов Кинель")
    assert ask(rules, NEW, "РЕГ Смирнова Марс").replies[0].text == (
        "Нет района «Марс». Пример: РЕГ Иванов Кинель")
    assert ask(rules, NEW, "REGISTER Smith Mars").replies[0].text == (
        'There is no district "Mars". Example: REG Ivanov Kinel')
    assert count(engine, registrations) == 0


def test_a_number_may_ask_three_times_an_hour(rules_for, ask, clock):
    rules = rules_for()
    for _ in range(3):
        assert ask(rules, NEW, "РЕГ Смирнова Кинель").kind == "consent_asked"
    refused = ask(rules, NEW, "РЕГ Смирнова Кинель")
    assert refused.kind == "reg_refused" and "Слишком много" in refused.replies[0].text
    clock.advance(hours=1, seconds=1)
    assert ask(rules, NEW, "РЕГ Смирнова Кинель").kind == "consent_asked"


def test_a_question_left_unanswered_expires_and_is_purged(rules_for, ask, clock, engine):
    rules = rules_for(registration_approval=False)
    ask(rules, NEW, "РЕГ Смирнова Кинель")
    clock.advance(hours=1)
    assert ask(rules, NEW, "ДА").kind == "unrecognized"
    purge.purge(engine, rules, retain_days=30, now=clock())
    assert count(engine, registrations) == 0
    assert count(engine, residents, residents.c.phone == NEW) == 0


def test_with_approval_an_operator_decides_and_the_resident_is_told_either_way(
        rules_for, ask, engine, clock):
    rules = rules_for(registration_approval=True)
    other = "+79270002222"
    for phone, surname in ((NEW, "Смирнова"), (other, "Орлов")):
        ask(rules, phone, f"РЕГ {surname} Кинель")
        queued = ask(rules, phone, "ДА")
        assert queued.kind == "approval_queued"
        assert queued.replies[0].text == "Заявка принята и ждёт проверки. Ответ придёт по SMS."
    assert ask(rules, NEW, "ДА").kind == "reg_refused"  # still waiting: said so again
    assert count(engine, residents, residents.c.phone.in_([NEW, other])) == 0
    with engine.connect() as conn:
        ids = {row["phone"]: row["id"] for row in waiting(conn)}
    with engine.begin() as conn:
        approved = admin.decide_registration(conn, rules, ids[NEW], True, clock())
        rejected = admin.decide_registration(conn, rules, ids[other], False, clock())
    assert approved.person is not None and rejected.person is None
    with pytest.raises(RegistrationError), engine.begin() as conn:
        admin.decide_registration(conn, rules, ids[NEW], False, clock())
    with engine.connect() as conn:
        told = dict(conn.execute(select(outbox.c.recipient, outbox.c.text)
                                 .where(outbox.c.inbox_id.is_(None))).all())
        channels = set(conn.scalars(select(outbox.c.channel).where(outbox.c.inbox_id.is_(None))))
    assert told == {NEW: "Заявка одобрена, район Кинель. Пропуск: ВЫХОД и причина.",
                    other: "Заявку на регистрацию отклонили. Вопросы — в администрацию"
                           " района."}
    assert channels == {"smpp:mts"}  # where the ДА came from
    assert count(engine, registrations) == 0
    assert count(engine, residents, residents.c.phone == NEW) == 1
    assert count(engine, residents, residents.c.phone == other) == 0
    assert ask(rules, NEW, "ВЫХОД 1").kind == "issued"


def test_stop_removes_a_self_registration_after_a_yes(rules_for, ask, engine):
    rules = rules_for(registration_approval=False)
    ask(rules, NEW, "РЕГ Смирнова Кинель")
    ask(rules, NEW, "ДА")
    asked = ask(rules, NEW, "СТОП")
    assert asked.kind == "removal_asked" and asked.replies[0].text == (
        "Удалить ваш номер из реестра? Пропуска по SMS не будет. Ответьте ДА")
    assert ask(rules, NEW, "нет").kind == "removal_kept"
    assert count(engine, residents, residents.c.phone == NEW) == 1
    ask(rules, NEW, "stop")
    removed = ask(rules, NEW, "yes")
    assert removed.kind == "removed"
    assert removed.replies[0].text == "Your number is removed from the registry."
    assert count(engine, residents, residents.c.phone == NEW) == 0


def test_stop_from_someone_who_holds_permits_ends_their_entry_today(rules_for, ask, engine,
                                                                   clock):
    rules = rules_for(registration_approval=False)
    ask(rules, NEW, "РЕГ Смирнова Кинель")
    ask(rules, NEW, "ДА")
    assert ask(rules, NEW, "ВЫХОД 1").kind == "issued"
    ask(rules, NEW, "СТОП")
    assert ask(rules, NEW, "ДА").kind == "removed"
    with engine.connect() as conn:
        until = conn.scalar(select(residents.c.until).where(residents.c.phone == NEW))
    assert until == rules.local_day(clock()) - dt.timedelta(days=1)  # the ledger keeps whose
    assert ask(rules, NEW, "ВЫХОД 1").kind == "not_resident"
    assert ask(rules, NEW, "РЕГ Смирнова Кинель").kind == "consent_asked"  # may come back


def test_stop_withdraws_a_registration_in_progress_but_not_an_imported_entry(rules_for, ask):
    rules = rules_for(registration_approval=True)
    ask(rules, NEW, "РЕГ Смирнова Кинель")
    ask(rules, NEW, "ДА")
    assert ask(rules, NEW, "СТОП").kind == "reg_withdrawn"
    assert ask(rules, NEW, "ДА").kind == "unrecognized"
    imported = ask(rules, RESIDENT, "СТОП")
    assert imported.kind == "reg_refused"
    assert imported.replies[0].text == ("Ваш номер внесла администрация: удалить его может"
                                        " только она.")


def test_registration_by_sms_is_closed_in_the_other_modes(config, ask):
    closed = ask(Rules(config.rules), NEW, "РЕГ Смирнова Кинель")
    assert closed.kind == "reg_refused" and "не ведётся" in closed.replies[0].text
    assert ask(Rules(config.rules), NEW, "ВЫХОД 1").replies[0].text.startswith(
        "Ваш номер не найден в реестре")


def test_a_temporary_resident_whose_stay_ended_may_register_again(rules_for, ask, engine,
                                                                 clock):
    csv = "phone,name,district,until\n+79270001111,Смирнова,samara,2026-11-01\n"
    with engine.begin() as conn:
        registry.import_residents(conn, io.StringIO(csv), "RU", clock())
    rules = rules_for(registration_approval=False)
    ask(rules, NEW, "РЕГ Смирнова Кинель")
    assert ask(rules, NEW, "ДА").kind == "registered"
    with engine.connect() as conn:
        row = conn.execute(select(residents.c.district_id, residents.c.until)
                           .where(residents.c.phone == NEW)).one()
    assert tuple(row) == ("kinel", None)


# -- through simulate ----------------------------------------------------------------------------


def test_registration_and_removal_through_simulate(gateway):
    gateway.configure(registration='"sms"', registration_approval="false")

    def sms(text: str) -> str:
        return gateway("simulate", "--from", NEW, text).stdout.strip()

    assert sms("ВЫХОД 1") == "Вашего номера нет в реестре. Регистрация: РЕГ фамилия район"
    assert sms("РЕГ Смирнова Кинель") == CONSENT
    assert sms("ДА") == "Вы в реестре, район Кинель. Пропуск: ВЫХОД и причина."
    assert sms("ВЫХОД магазин").startswith("ПРОПУСК ")
    assert sms("СТОП").startswith("Удалить ваш номер из реестра?")
    assert sms("ДА") == "Ваш номер удалён из реестра."
    assert sms("ВЫХОД 1") == "Вашего номера нет в реестре. Регистрация: РЕГ фамилия район"


# -- through a real SMPP link, with an operator's approval in the console ----------------------


def test_registration_over_smpp_with_approval_in_the_console(config, engine, people, clock,
                                                            tmp_path):
    from sms_gateway.web.app import create_app
    from sms_gateway.web.operators import add_operator
    from tests.web_support import PASSWORD, Console

    settings = dataclasses.replace(config.rules, registration="sms",
                                   registration_approval=True)
    live = dataclasses.replace(config, rules=settings, data_dir=tmp_path / "data")
    with engine.begin() as conn:
        add_operator(conn, "anna", PASSWORD, clock())
    app = create_app(live, engine)
    app.testing = True
    console = Console(app.test_client())
    console.login()
    with smpp_node(live, engine) as smsc:
        smsc.inject(NEW, "РЕГ Смирнова Кинель", encoding="ucs2")
        smsc.wait(lambda: len(texts_to(smsc, NEW)) == 1)
        smsc.inject(NEW, "ДА", encoding="ucs2")
        smsc.wait(lambda: len(texts_to(smsc, NEW)) == 2)
        assert texts_to(smsc, NEW) == [
            CONSENT, "Заявка принята и ждёт проверки. Ответ придёт по SMS."]
        page = console.get("/registrations").text
        [registration] = re.findall(r'data-registration="(\d+)"', page)
        assert "Смирнова" in page and "+7927***1111" in page and NEW not in page
        question = console.get(f"/registrations/{registration}/approve").text
        assert "Смирнова" in question and 'name="confirmed"' in question
        assert console.post(f"/registrations/{registration}/approve",
                            {"confirmed": "yes"}).status_code == 302
        smsc.wait(lambda: len(texts_to(smsc, NEW)) == 3)
        assert texts_to(smsc, NEW)[-1] == ("Заявка одобрена, район Кинель. Пропуск: ВЫХОД и"
                                           " причина.")
        smsc.inject(NEW, "ВЫХОД магазин", encoding="ucs2")
        smsc.wait(lambda: len(texts_to(smsc, NEW)) == 4)
        assert texts_to(smsc, NEW)[-1].startswith("ПРОПУСК ")
