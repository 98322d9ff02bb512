"""Registration by SMS (`[permits] registration = "sms"`): the dialogue inside a batch.

`РЕГ Иванов Кинель` from a number not on the registry is answered with what would be stored
(this number, the surname, the district) and a question; only the resident's ДА stores it,
as an entry or, with `registration_approval`, as a request an operator approves or rejects
in the console (the resident is told either way). НЕТ, or no answer within the hour, leaves
nothing behind. A number asks at most `ATTEMPTS` times an hour. СТОП from a resident who
registered themselves asks for a ДА too, then removes the entry; СТОП while a registration is
in progress withdraws it.

Everything a batch needs is read once, and only when the batch holds such a message: the
districts (to read a district's name in any spelling) and the numbers' registrations.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from permits import ledger, phones
from permits.ledger import District
from permits.messages import Outcome
from permits.parser import AnswerRequest, RegisterRequest, StopRequest
from permits.registration_queue import ATTEMPTS, CONSENT_MINUTES, Pending
from permits.replies import Texts
from permits.text import fold, similar
from storage.tables.ledger import RegistrationState

if TYPE_CHECKING:
    from permits.batch import Batch, Item

Dialogue = RegisterRequest | AnswerRequest | StopRequest


def handle(batch: Batch, item: Item, request: Dialogue, texts: Texts, officer: bool) -> Outcome:
    phone = item.phone or ""
    if isinstance(request, RegisterRequest):
        return _register(batch, item, request, texts, officer)
    if isinstance(request, StopRequest):
        return _stop(batch, phone, texts, officer)
    return _answer(batch, phone, request.yes, texts, officer)


def _register(batch: Batch, item: Item, request: RegisterRequest, texts: Texts,
              officer: bool) -> Outcome:
    phone = item.phone or ""
    reply = _Reply(batch, phone, texts, officer)
    person = batch.snap.residents.get(phone)
    pending = batch.registrations.get(phone)
    if batch.settings.registration != "sms":
        return reply("reg_closed", "reg_refused")
    if person is not None:
        return reply("reg_already", "reg_refused", district=texts.district(person.district_name),
                     district_id=person.district_id)
    if pending and pending.state == RegistrationState.APPROVAL:
        return reply("reg_waiting", "reg_refused")
    if not phones.is_mobile_of(phone, batch.settings.country):
        return reply("not_resident", "reg_refused")
    attempts = pending.attempts if pending and pending.state == RegistrationState.CONSENT else 0
    if attempts >= ATTEMPTS:
        return reply("reg_too_many", "reg_refused")
    example = _example(batch.districts, texts)
    found = split(request.words, batch.districts)
    if found is None:
        if len(request.words) < 2:
            return reply("reg_format", "reg_refused", district=example)
        return reply("reg_no_district", "reg_refused", typed=request.words[-1], district=example)
    surname, district = found
    shown = texts.district(district.name)
    if not texts.fits_as_is("consent", name=surname, district=shown):
        return reply("reg_long", "reg_refused")  # a question cut short is no consent
    batch.change_registration(phone, Pending(
        phone, surname, district.id, RegistrationState.CONSENT, texts.language,
        item.message.channel[:60], attempts + 1,
        pending.asked_at if attempts else batch.now, _expiry(batch.now)))
    return reply("consent", "consent_asked", name=surname, district=shown,
                 district_id=district.id)


def _answer(batch: Batch, phone: str, yes: bool, texts: Texts, officer: bool) -> Outcome:
    reply = _Reply(batch, phone, texts, officer)
    pending = batch.registrations.get(phone)
    if pending is None:
        return reply("unrecognized", "unrecognized")
    if pending.state == RegistrationState.APPROVAL:
        return reply("reg_waiting", "reg_refused", district_id=pending.district_id)
    if not yes:
        batch.change_registration(phone, None)
        kept = pending.state == RegistrationState.REMOVAL
        return reply("removal_kept" if kept else "reg_withdrawn",
                     "removal_kept" if kept else "reg_withdrawn", district_id=pending.district_id)
    if pending.state == RegistrationState.REMOVAL:
        return _remove(batch, phone, pending, reply)
    if batch.settings.registration_approval:
        batch.change_registration(phone, dataclasses.replace(
            pending, state=RegistrationState.APPROVAL, expires_at=None))
        return reply("queued", "approval_queued", district_id=pending.district_id)
    batch.change_registration(phone, None)
    try:
        person = ledger.register(batch.conn, phone, pending.name, pending.district_id,
                                 batch.now, batch.today)
    except ledger.AlreadyRegistered as exc:  # imported (or stored by another node) meanwhile
        batch.snap.residents[phone] = exc.person
        return reply("reg_already", "reg_refused", district=texts.district(
            exc.person.district_name), district_id=exc.person.district_id)
    if person is None:  # the district has gone meanwhile
        return reply("reg_closed", "reg_refused")
    batch.snap.residents[phone] = person
    return reply("registered", "registered", district=texts.district(person.district_name),
                 district_id=person.district_id)


def _remove(batch: Batch, phone: str, pending: Pending, reply: _Reply) -> Outcome:
    """The ДА that confirms a СТОП: the entry goes only if it is still the resident's own (the
    administration may have imported the number since)."""
    batch.change_registration(phone, None)
    person = batch.snap.residents.get(phone)
    if person is not None and not person.self_registered:
        return reply("stop_registry", "reg_refused", district_id=person.district_id)
    if person is not None:
        del batch.snap.residents[phone]
        ledger.unregister(batch.conn, person.id, batch.today)
    return reply("removed", "removed", district_id=pending.district_id)


def _stop(batch: Batch, phone: str, texts: Texts, officer: bool) -> Outcome:
    reply = _Reply(batch, phone, texts, officer)
    pending = batch.registrations.get(phone)
    person = batch.snap.residents.get(phone)
    if pending and pending.state != RegistrationState.REMOVAL:
        batch.change_registration(phone, None)
        return reply("reg_withdrawn", "reg_withdrawn", district_id=pending.district_id)
    if person is None:
        return reply("not_resident", "not_resident")
    if not person.self_registered:
        return reply("stop_registry", "reg_refused", district_id=person.district_id)
    batch.change_registration(phone, Pending(
        phone, "", person.district_id, RegistrationState.REMOVAL, texts.language, "", 1,
        batch.now, _expiry(batch.now)))
    return reply("stop_confirm", "removal_asked", district_id=person.district_id)


class _Reply:
    """One dialogue step's outcome: its text, its kind, the district it concerns."""

    def __init__(self, batch: Batch, phone: str, texts: Texts, officer: bool) -> None:
        self.batch, self.phone, self.texts, self.officer = batch, phone, texts, officer

    def __call__(self, key: str, kind: str, district_id: str | None = None,
                 **values: object) -> Outcome:
        return self.batch.outcome(self.phone, self.texts(key, **values), kind,
                                  district=district_id, officer=self.officer)


def split(words: Sequence[str], districts: Sequence[District]) -> tuple[str, District] | None:
    """(surname, district) from the words after РЕГ: the district's name (or id) last or first,
    in any spelling the parser forgives (`Кинель`, `kinel`, `Кинел`); None when no district
    is named or no surname is left.

    Each district's spellings are folded once, and only as many words as the longest of them
    are tried as the district: a text of 80 one-letter words cost 70 ms against 40 districts
    when every split of it was tried, each folding every district again."""
    spellings = [(district, spelling) for district in districts
                 for spelling in (_folded(district.name), _folded(district.id))]
    longest = max((len(spelling) for _, spelling in spellings), default=0)
    for surname, named in _readings(words, longest):
        district = _district_named(named, spellings)
        if district is not None and surname:
            return " ".join(_capitalised(word) for word in surname), district
    return None


def _readings(words: Sequence[str], longest: int) -> list[tuple[Sequence[str], Sequence[str]]]:
    """Ways to split the words into (surname, district) with at most `longest` words for the
    district: the district last, longest first, then the district first."""
    last = [(words[:cut], words[cut:]) for cut in range(max(1, len(words) - longest),
                                                        len(words))]
    first = [(words[cut:], words[:cut]) for cut in range(min(longest, len(words) - 1), 0, -1)]
    return last + first


@functools.lru_cache(maxsize=1024)  # districts' names and ids: a region has a few dozen
def _folded(name: str) -> tuple[str, ...]:
    return tuple(fold(name))


def _district_named(words: Sequence[str],
                    spellings: Sequence[tuple[District, tuple[str, ...]]]) -> District | None:
    typed = tuple(fold(" ".join(words)))
    close = []
    for district, spelling in spellings:
        if typed == spelling:
            return district
        if len(typed) == len(spelling) and all(map(similar, typed, spelling)):
            close.append(district)
    return close[0] if len(set(close)) == 1 else None


def _capitalised(word: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in word.split("-"))


def _example(districts: Sequence[District], texts: Texts) -> str:
    """A district's name for the example in a reply."""
    return texts.district(districts[0].name if districts else "")


def _expiry(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(minutes=CONSENT_MINUTES)
