"""The USSD menu: one set of screens for the SMPP and HTTP USSD paths.

An officer dials the service code (`*377#`) and is asked for the permit code, or dials
`*377*<code>#` and is answered at once. A phone dialler types only digits, so an officer may
key the code on the keypad (2=ABC ... 9=WXYZ): the digits are matched against permits valid
now and answered when exactly one matches. A resident who dials gets their own permit and
what is left today; anyone else, how to ask for a permit. Answers go through `Rules`, so a
USSD check is recorded and rate-limited exactly like one by SMS.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import Connection, select

from permits import codes, ledger, phones
from permits.messages import Inbound
from permits.service import Rules
from storage.tables.ledger import officers, permits, residents

SCREEN_LIMIT = {"ru": 80, "en": 182}  # UCS2 and GSM-7 characters on one USSD screen
_DIALLED = re.compile(r"^\*?(?P<body>[0-9A-Za-z*]*?)#?$")

_SCREENS = {
    "ru": {
        "ask_code": "Введите код пропуска (буквы или цифры клавиш):",
        "ambiguous": "Совпало несколько пропусков. Введите код буквами:",
        "strangers": "Пропуск: SMS ВЫХОД и номер причины. Список причин: SMS ПОМОЩЬ",
        "busy": "Слишком много запросов. Повторите позже.",
        "expired": "Сеанс истёк. Наберите {code} снова.",
    },
    "en": {
        "ask_code": "Enter the permit code (letters or keypad digits):",
        "ambiguous": "Several permits match. Enter the code in letters:",
        "strangers": "For a permit text EXIT and a reason number. Reasons: text HELP",
        "busy": "Too many requests. Try again later.",
        "expired": "The session has expired. Dial {code} again.",
    },
}


@dataclass(frozen=True)
class Screen:
    """One USSD answer: `final` ends the session, otherwise the phone shows an input field."""

    text: str
    final: bool


def dialled_inputs(dialled: str, service_code: str) -> list[str] | None:
    """`*377*K7MQ3DXA#` -> ["K7MQ3DXA"]; `*377#` -> []; another service code -> None."""
    service = service_code.strip("*#")
    match = _DIALLED.match(dialled.strip().replace(" ", ""))
    if not match:
        return None
    parts = [p for p in match.group("body").split("*") if p]
    if not parts or parts[0] != service:
        return None
    return parts[1:]


class UssdMenu:
    """The screens; the caller owns the transaction (SMPP: the dispatcher's; HTTP: a request's)."""

    def __init__(self, rules: Rules, service_code: str) -> None:
        self.rules, self.service_code = rules, service_code
        self.language = rules.settings.language
        self._screens = _SCREENS[self.language]

    def respond(self, conn: Connection, sender: str, inputs: list[str], channel: str,
                now: dt.datetime) -> Screen:
        """The screen for a session whose answers so far are `inputs` ([] when just dialled)."""
        try:
            phone = phones.identify(sender, self.rules.settings.country)
        except phones.PhoneError:
            return Screen(self._screens["strangers"], True)
        if self._is_officer(conn, phone):
            if not inputs:
                return Screen(self._screens["ask_code"], False)
            return self._check(conn, phone, inputs[-1], channel, now)
        resident = conn.scalar(select(residents.c.id).where(
            residents.c.phone == phone, ledger.registered_on(self.rules.local_day(now))))
        if resident is None:
            return Screen(self._screens["strangers"], True)
        command = "СТАТУС" if self.language == "ru" else "STATUS"
        return self._through_rules(conn, phone, command, channel, now)

    def session_expired(self) -> Screen:
        return Screen(self._screens["expired"].format(code=self.service_code), True)

    @staticmethod
    def _is_officer(conn: Connection, phone: str) -> bool:
        return conn.scalar(select(officers.c.id).where(officers.c.phone == phone,
                                                       officers.c.active)) is not None

    def _check(self, conn: Connection, phone: str, typed: str, channel: str,
               now: dt.datetime) -> Screen:
        compact = typed.replace(" ", "").replace("-", "")
        if compact.isdigit() and len(compact) == codes.LENGTH:
            matches = conn.scalars(select(permits.c.code).where(
                permits.c.keypad == compact, permits.c.state == "issued",
                permits.c.valid_from <= now, permits.c.valid_until > now).limit(2)).all()
            if len(matches) > 1:
                return Screen(self._screens["ambiguous"], False)
            if matches:
                typed = matches[0]
        command = "ПРОВЕРКА" if self.language == "ru" else "CHECK"
        return self._through_rules(conn, phone, f"{command} {typed}", channel, now)

    def _through_rules(self, conn: Connection, phone: str, text: str, channel: str,
                       now: dt.datetime) -> Screen:
        [outcome] = self.rules.handle(conn, [Inbound(phone, text, channel, now)], now)
        if not outcome.replies:
            return Screen(self._screens["busy"], True)
        return Screen(outcome.replies[0].text[:SCREEN_LIMIT[self.language]], True)
