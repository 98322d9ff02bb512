"""Every text the service sends, in Russian and English, each fitted to one SMS.

One SMS is measured in the encoding the reply will travel in (`sms_encoding.segments.measure`):
160 GSM-7 septets, an extension char (`{`, `€`) counting two, or 70 UTF-16 units in UCS2, an
emoji counting two, and a single char outside GSM-7 (a backtick, a Cyrillic name in an
English reply) turns the whole reply into UCS2. The parts that come from outside (reason
and district names, registry names, what an officer typed) are shortened until it fits.
"""

from __future__ import annotations

import datetime as dt
import functools
import string
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from permits.reasons import Reason
from permits.text import has_cyrillic, transliterate
from sms_encoding.segments import cut_to_parts, measure, plan

HELP_PARTS = 2

NAME_LIMIT = 17  # a configured reason or district name longer than this is clipped
# Template values that come from outside and are shortened to make a reply fit.
TRIMMABLE = ("reason", "district", "typed", "name")


def clip(name: str, limit: int) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "."

_TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        "issued": "ПРОПУСК {code} {start}-{end}, {reason}. Осталось сегодня: {left}",
        "active": "Пропуск {code} уже действует до {end}, {reason}",
        "exempt": "Пропуск не нужен: {reason}. Возьмите с собой документ.",
        "quota": "Лимит {per_day} пропуска в день исчерпан. Новые с {time} {date}.",
        "ask_reason": "Укажите причину: ВЫХОД и номер, напр. ВЫХОД 1. Список: ПОМОЩЬ",
        "no_such_reason": "Нет причины {number}. Напишите ВЫХОД 1-{last}. Список: ПОМОЩЬ",
        "not_resident": "Ваш номер не найден в реестре жителей. Обратитесь в администрацию.",
        "not_resident_sms": "Вашего номера нет в реестре. Регистрация: РЕГ фамилия район",
        "no_regime": "Пропуск не нужен: в районе {district} режим сейчас не введён.",
        "no_regime_anywhere": "Пропуск сейчас не нужен: режим самоизоляции не введён.",
        "registry_only": "Пропуск по SMS здесь не выдают. Обратитесь в администрацию района.",
        "registry_office": "Пропуск по SMS здесь не выдают. Где получить: {office}",
        "question": "Чтобы получить пропуск, отправьте SMS: {command}",
        "unrecognized": "Не понял. Пример: ВЫХОД МАГАЗИН или ВЫХОД 1. Список: ПОМОЩЬ",
        "status_active": "Пропуск {code} до {end} ({reason}). Осталось сегодня: {left}",
        "status_none": "Активного пропуска нет. Осталось сегодня: {left} из {per_day}.",
        "help_needed": "ВЫХОД и номер: {reasons}.",
        "help_exempt": "Без пропуска: {reasons}.",
        "help_status": "Ваш пропуск: СТАТУС",
        "officers_only": "Проверка пропусков доступна только сотрудникам полиции.",
        "check_format": "Код пропуска: 8 знаков. Пример: ПРОВЕРКА K7MQ-3DXA",
        "check_typo": "ОШИБКА В КОДЕ {typed}: проверьте знаки и повторите.",
        "check_unknown": "НЕИЗВЕСТЕН: пропуска {code} нет.",
        "check_slow": "Слишком много неудачных проверок. Повторите через {minutes} мин.",
        "check_until": "до {end}",
        "check_from": "с {start}",
        "check_more": "+{count} не проверено: пришлите отдельно",
        "consent": "Сохраним: ваш номер, {name}, {district}. Согласны — ответьте ДА",
        "registered": "Вы в реестре, район {district}. Пропуск: ВЫХОД и причина.",
        "queued": "Заявка принята и ждёт проверки. Ответ придёт по SMS.",
        "approved": "Заявка одобрена, район {district}. Пропуск: ВЫХОД и причина.",
        "rejected": "Заявку на регистрацию отклонили. Вопросы — в администрацию района.",
        "reg_format": "Напишите: РЕГ фамилия район, например РЕГ Иванов {district}",
        "reg_long": "Слишком длинно для SMS. Пришлите только фамилию: РЕГ фамилия район",
        "reg_no_district": "Нет района «{typed}». Пример: РЕГ Иванов {district}",
        "reg_closed": "Регистрация по SMS не ведётся. Обратитесь в администрацию.",
        "reg_already": "Ваш номер уже в реестре, район {district}.",
        "reg_waiting": "Ваша заявка уже ждёт проверки. Отозвать её: СТОП",
        "reg_too_many": "Слишком много попыток регистрации. Повторите через час.",
        "reg_withdrawn": "Заявка отозвана, ваши данные удалены.",
        "stop_confirm": "Удалить ваш номер из реестра? Пропуска по SMS не будет. Ответьте ДА",
        "removed": "Ваш номер удалён из реестра.",
        "removal_kept": "Хорошо, ваша запись остаётся в реестре.",
        "stop_registry": "Ваш номер внесла администрация: удалить его может только она.",
        "valid": "ДЕЙСТВУЕТ",
        "expired": "ИСТЁК",
        "not_yet_valid": "ЕЩЁ НЕ ДЕЙСТВУЕТ",
        "revoked": "ОТОЗВАН",
        "unknown": "НЕИЗВЕСТЕН",
        "typo": "ОШИБКА В КОДЕ",
        "format": "НЕ КОД",
    },
    "en": {
        "issued": "PERMIT {code} valid {start}-{end}, {reason}. Left today: {left}",
        "active": "Your permit {code} is valid until {end} ({reason}). No new permit needed.",
        "exempt": "No permit needed: {reason}. Carry an identity document.",
        "quota": "The limit of {per_day} permits a day is spent. New permits from {time} {date}.",
        "ask_reason": "Please give a reason: EXIT and a number, e.g. EXIT 1. Reasons: HELP",
        "no_such_reason": "There is no reason {number}. Send EXIT 1-{last}. Reasons: HELP",
        "not_resident": "Your number is not in the residents' registry. Please contact the"
                        " administration.",
        "not_resident_sms": "Your number is not in the registry. To register: REG surname"
                            " district",
        "no_regime": "No permit is needed: there is no regime in {district} at present.",
        "no_regime_anywhere": "No permit is needed now: there is no self-isolation regime.",
        "registry_only": "Permits are not issued by SMS here yet. Please contact the district"
                         " administration.",
        "registry_office": "No SMS permits here yet. Get one from: {office}",
        "question": "To get a permit, send the SMS: {command}",
        "unrecognized": "Sorry, not understood. Example: EXIT SHOP or EXIT 1. Reasons: HELP",
        "status_active": "Permit {code} valid until {end} ({reason}). Left today: {left}",
        "status_none": "No active permit. Left today: {left} of {per_day}.",
        "help_needed": "EXIT and a number: {reasons}.",
        "help_exempt": "No permit needed: {reasons}.",
        "help_status": "Your permit: STATUS",
        "officers_only": "Checking permits is for police officers only.",
        "check_format": "A permit code has 8 characters. Example: CHECK K7MQ-3DXA",
        "check_typo": "TYPO IN CODE {typed}: check the characters and try again.",
        "check_unknown": "UNKNOWN: no permit {code}.",
        "check_slow": "Too many failed checks. Try again in {minutes} min.",
        "check_until": "until {end}",
        "check_from": "from {start}",
        "check_more": "+{count} not checked: send them separately",
        "consent": "We will store this number, {name}, {district}. Reply YES to agree.",
        "registered": "You are registered in {district}. For a permit: EXIT and a reason.",
        "queued": "Your registration is waiting for approval. We will answer by SMS.",
        "approved": "Your registration is approved ({district}). For a permit: EXIT and a"
                    " reason.",
        "rejected": "Your registration was not approved. Please contact the district"
                    " administration.",
        "reg_format": "Send: REG surname district, e.g. REG Ivanov {district}",
        "reg_long": "Too long for one SMS. Send your surname only: REG surname district",
        "reg_no_district": "There is no district \"{typed}\". Example: REG Ivanov {district}",
        "reg_closed": "Registration by SMS is not open. Please contact the administration.",
        "reg_already": "Your number is already registered in {district}.",
        "reg_waiting": "Your registration is already waiting for approval. To withdraw it: STOP",
        "reg_too_many": "Too many registration attempts. Please try again in an hour.",
        "reg_withdrawn": "Registration withdrawn; your details are deleted.",
        "stop_confirm": "Remove your number from the registry? No more permits by SMS. Reply"
                        " YES",
        "removed": "Your number is removed from the registry.",
        "removal_kept": "OK, your registration stays.",
        "stop_registry": "The administration registered your number: only it can remove it.",
        "valid": "VALID",
        "expired": "EXPIRED",
        "not_yet_valid": "NOT YET VALID",
        "revoked": "REVOKED",
        "unknown": "UNKNOWN",
        "typo": "TYPO",
        "format": "NOT A CODE",
    },
}


@dataclass(frozen=True)
class Texts:
    """The texts of one language, with local-time formatting."""

    language: str
    zone: dt.tzinfo

    def __call__(self, key: str, **values: object) -> str:
        """The text `key` with `values`, fitted to one SMS by shortening the TRIMMABLE ones."""
        template = _TEXTS[self.language][key]
        names = _fields(template)
        parts = [str(values[name]) for name in names]
        return fit(lambda filled: template.format(**dict(zip(names, filled, strict=True))),
                   parts, {i for i, name in enumerate(names) if name in TRIMMABLE})

    def fits_as_is(self, key: str, **values: object) -> bool:
        """Whether the text `key` fits one SMS with `values` as they are, none shortened (a
        consent question must show in full what a ДА would store)."""
        return measure(_TEXTS[self.language][key].format(**values)).fits_one_sms

    def time(self, moment: dt.datetime) -> str:
        return _local_time(moment, self.zone)

    def date(self, moment: dt.datetime) -> str:
        return moment.astimezone(self.zone).strftime("%d.%m")

    def reason(self, reason: Reason) -> str:
        return clip(reason.name(self.language), NAME_LIMIT)

    def district(self, name: str) -> str:
        """The district's name, in Latin letters in English (`Kinel`: readable, typeable,
        and the reply stays in GSM-7)."""
        if self.language == "en" and has_cyrillic(name):
            name = transliterate(name).title()
        return clip(name, NAME_LIMIT)

    def help(self, reasons: tuple[Reason, ...]) -> str:
        """The command and the reasons in at most HELP_PARTS SMS (a HELP of four parts took
        12 s to arrive from a modem): full names where they fit, else the shortest word a
        resident may type for each reason, and as a last resort cut between words."""
        needed = [r for r in reasons if not r.exempt]
        exempt = [r for r in reasons if r.exempt]
        full, short = self.reason, self._keyword
        for needed_name, exempt_name, numbered, status in (
                (full, full, True, True), (full, full, False, False),
                (full, short, False, False), (short, short, False, False)):
            text = " ".join(filter(None, (
                self("help_needed", reasons=", ".join(
                    f"{r.number} {needed_name(r)}" for r in needed)),
                self("help_exempt", reasons=", ".join(
                    (f"{r.number} " if numbered else "") + exempt_name(r) for r in exempt)),
                self("help_status") if status else "")))
            if sms_parts(text) <= HELP_PARTS:
                return text
        return cut_between_words(text, HELP_PARTS)

    def _keyword(self, reason: Reason) -> str:
        """The shortest one-word keyword of the language's script (4 letters at least), which
        the parser takes for this reason; the name when there is none."""
        words = [k for k in reason.keywords if " " not in k and len(k) >= 4
                 and has_cyrillic(k) == (self.language == "ru")]
        if self.language != "ru" or not words:
            return self.reason(reason)
        return min(words, key=len)


@functools.lru_cache(maxsize=1024)
def _local_time(moment: dt.datetime, zone: dt.tzinfo) -> str:
    """HH:MM, local (cached: a batch's permits all start at its `now` and end an hour later,
    and converting zones took a twentieth of the dispatcher's time)."""
    return moment.astimezone(zone).strftime("%H:%M")


@functools.cache
def _fields(template: str) -> tuple[str, ...]:
    """The names a template fills in, in order (cached: every reply is made from a template)."""
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name)


def office_fits(office: str) -> bool:
    """Whether the registry-only reply naming `office` fits one SMS in either language as it
    is (it is never shortened: half a phone number is no use)."""
    return "\n" not in office and all(
        measure(_TEXTS[language]["registry_office"].format(office=office)).fits_one_sms
        for language in _TEXTS)


def initials(full_name: str) -> str:
    """`Иванов Иван Иванович` -> `Иванов И.И.`: enough to compare with a passport."""
    surname, *given = full_name.split()
    return " ".join([surname, "".join(f"{g[0]}." for g in given)]).strip() if given else surname


def fit(render: Callable[[list[str]], str], parts: Sequence[str],
        trimmable: Collection[int]) -> str:
    """`render(parts)` fitted to one SMS: the trimmable parts are shortened (the last first,
    each ending in "."), then emptied; a text still too long is cut (never sent in two)."""
    parts = list(parts)
    for index in sorted(trimmable, reverse=True):
        while True:
            text = render(parts)
            size = measure(text)
            if size.fits_one_sms:
                return text
            if not parts[index]:
                break
            keep = len(parts[index]) - max(1, size.units - size.single) - 1
            parts[index] = parts[index][:keep] + "." if keep > 0 else ""
    return cut_to_parts(render(parts), 1)


def joined(parts: Sequence[str]) -> str:
    """Parts with a space between, the empty ones left out (a `fit` renderer)."""
    return " ".join(part for part in parts if part)


def sms_parts(text: str) -> int:
    """How many SMS the text travels in, in the alphabet it will be sent in."""
    return len(plan(text).parts)


def cut_between_words(text: str, parts: int) -> str:
    """The longest start of `text`, ending between words with "...", that fits in `parts` SMS
    ("…" is not in the GSM alphabet and would make an English text UCS2)."""
    words = text.split(" ")
    while len(words) > 1 and sms_parts(" ".join(words) + "...") > parts:
        words.pop()
    return " ".join(words).rstrip(",.") + "..."
