"""Every reply fits one SMS in the encoding it travels in, whatever names the registry holds."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from permits import codes, replies
from permits.checks import MAX_CODES
from permits.ledger import Found, Permit
from permits.parser import Parser
from permits.reasons import Reason
from permits.replies import Texts, office_fits
from permits.settings import RulesSettings
from permits.suggestions import Suggestions
from permits.verification import in_one_sms, verdict
from sms_encoding.segments import measure
from storage.tables.ledger import districts, residents

ZONE = ZoneInfo("Europe/Samara")
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
# The help text is deliberately longer than one SMS; the help_* keys are its pieces, and the
# state words and times are pieces of an officer's answer (checked below, as a whole).
PIECES = {"help_head", "help_needed", "help_exempt", "valid", "expired", "not_yet_valid",
          "revoked", "unknown", "typo", "format", "check_until", "check_from"}
CHARS = st.one_of(
    st.sampled_from(["😀", "👍🏽", "🇷🇺", "𝔸", "`", "{", "€", "\\", "^", " ", "ё", "Ы", "é", "-"]),
    st.characters(min_codepoint=0x0400, max_codepoint=0x04FF),  # Cyrillic
    st.characters(min_codepoint=0x0300, max_codepoint=0x036F),  # combining marks
    st.characters(exclude_categories=("Cs", "Cc")),  # anything a name column holds
)


def names(limit: int) -> st.SearchStrategy[str]:
    """Names as the registry keeps them: words of any script, spaces collapsed."""
    return (st.lists(CHARS, min_size=1, max_size=limit).map("".join)
            .map(lambda name: " ".join(name.split())[:limit]).filter(bool))


VALUES = st.fixed_dictionaries({
    "name_ru": names(60), "name_en": names(60), "district": names(districts.c.name.type.length),
    "typed": names(40), "left": st.integers(0, 9), "per_day": st.integers(1, 9),
    "number": st.integers(0, 999), "last": st.integers(1, 99), "minutes": st.integers(1, 1440),
    "name": names(residents.c.name.type.length), "count": st.integers(1, MAX_CODES),
    "office": names(40).filter(office_fits), "script": st.sampled_from(["cyrillic", "latin",
                                                                         "english"]),
})


@settings(max_examples=300)
@given(VALUES, st.sampled_from(["ru", "en"]))
def test_every_reply_kind_fits_one_sms_for_any_names(values, language):
    texts = Texts(language, ZONE)
    reason = Reason(1, values["name_ru"], values["name_en"], ())
    command = Suggestions(Parser((reason,)), (reason,)).command(reason, values["script"])
    filled = {"reason": texts.reason(reason), "district": texts.district(values["district"]),
              "command": command,
              "typed": values["typed"].strip()[:12], "code": codes.display(codes.generate()),
              "start": texts.time(NOW), "end": texts.time(NOW), "time": texts.time(NOW),
              "date": texts.date(NOW), **values}
    for key in replies._TEXTS[language].keys() - PIECES:
        text = texts(key, **filled)
        size = measure(text)
        assert size.fits_one_sms, (key, text, size)


@settings(max_examples=300)
@given(names(residents.c.name.type.length), names(districts.c.name.type.length), names(60),
       st.sampled_from(["ru", "en"]), st.sampled_from([-2, 0, 3]))
def test_an_officers_answer_fits_one_sms_for_any_holder(name, district, reason_name, language,
                                                        hours):
    settings_ = RulesSettings("Europe/Samara", language, "RU",
                              reasons=(Reason(1, reason_name, reason_name, ()),))
    start = NOW + dt.timedelta(hours=hours)
    permit = Permit(id=1, code=codes.generate(), resident_id=1, local_day=start.date(), slot=1,
                    reason=1, valid_from=start, valid_until=start + dt.timedelta(hours=1),
                    state="issued")
    found = Found(permit, name, "+79270000001", district)
    answer = verdict(permit.code, permit.code, "", found, NOW, Texts(language, ZONE), settings_)
    assert measure(answer.text).fits_one_sms, answer.text
    assert "+7927***0001" in answer.text  # the masked phone is never trimmed away


@pytest.mark.parametrize("language, reason, units", [
    ("en", "`shop`", 70),  # one backtick sends the English reply as UCS2: 70, not 160
    ("en", "магазин", 70),
    ("ru", "😀" * 17, 70),  # 17 code points, 34 UTF-16 units
    ("en", "{shop}", 160),  # GSM-7 after all, braces count two septets each
])
def test_a_reply_is_measured_in_the_encoding_it_travels_in(language, reason, units):
    texts = Texts(language, ZONE)
    text = texts("active", code="K7MQ-3DXA", end="14:00",
                 reason=texts.reason(Reason(1, reason, reason, ())))
    assert measure(text).single == units and measure(text).fits_one_sms


@settings(max_examples=200)
@given(st.lists(st.tuples(names(residents.c.name.type.length),
                          names(districts.c.name.type.length),
                          st.sampled_from([-2, 0, 3, None])), min_size=2, max_size=MAX_CODES),
       names(60), st.sampled_from(["ru", "en"]))
def test_an_answer_about_several_codes_fits_one_sms_and_says_what_it_left_out(
        holders, reason_name, language):
    texts = Texts(language, ZONE)
    settings_ = RulesSettings("Europe/Samara", language, "RU",
                              reasons=(Reason(1, reason_name, reason_name, ()),))
    verdicts = []
    for name, district, hours in holders:
        code = codes.generate()
        if hours is None:  # a code nobody holds
            verdicts.append(verdict(code, code, "", None, NOW, texts, settings_))
            continue
        start = NOW + dt.timedelta(hours=hours)
        permit = Permit(id=1, code=code, resident_id=1, local_day=start.date(), slot=1,
                        reason=1, valid_from=start, valid_until=start + dt.timedelta(hours=1),
                        state="issued")
        verdicts.append(verdict(code, code, "", Found(permit, name, "+79270000001", district),
                                NOW, texts, settings_))
    text, answered = in_one_sms(verdicts, texts)
    assert measure(text).fits_one_sms, text
    assert 1 <= answered <= len(verdicts)
    assert all(codes.display(v.brief[:9].replace("-", "")) in text
               for v in verdicts[:answered])
    assert (f"+{len(verdicts) - answered} " in text) == (answered < len(verdicts))
