"""Residents' requests: a permit to go out (or why none is needed or left), their questions
("Можно выйти в аптеку?"), and their status.

What applies comes first: in a district without a regime nobody needs a permit, an exempt
trip needs none, where SMS permits are not rolled out the reply says where to get one.
One active permit at a time: asking again while a permit is valid returns it and spends
nothing. The daily quota is a number of slots per local day; the database's unique
(resident, day, slot) constraint is what finally enforces it (see `batch.Batch`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from permits import codes, ledger, phones
from permits.ledger import Permit, Person
from permits.messages import Outcome
from permits.parser import ExitRequest, QuestionRequest
from permits.replies import Texts
from storage.tables.ledger import PermitState, Regime

if TYPE_CHECKING:
    from permits.batch import Batch


def exit_request(batch: Batch, phone: str, request: ExitRequest, texts: Texts,
                 officer: bool) -> Outcome:
    reason = request.reason
    person = batch.snap.residents.get(phone)
    if person is None and reason and not reason.exempt and _may_register(batch, phone):
        try:
            person = ledger.register(batch.conn, phone, "—", batch.settings.open_district,
                                     batch.now, batch.today)
        except ledger.AlreadyRegistered as exc:  # stored meanwhile by another node
            person = exc.person
        if person:
            batch.snap.residents[phone] = person
    refusal = _what_applies(batch, phone, person, request, texts, officer)
    if refusal is not None:
        return refusal
    assert person is not None and reason is not None  # _what_applies answered otherwise
    district = person.district_id
    held = batch.snap.permits[person.id]
    active = active_permit(held, batch.now)
    if active:
        text = texts("active", code=codes.display(active.code),
                     end=texts.time(active.valid_until), reason=reason_name(batch, active, texts))
        return batch.outcome(phone, text, "repeated", permit=active, district=district)
    slot = free_slot(held, batch.today, batch.settings.per_day)
    if slot is None:
        midnight = batch.rules.next_local_midnight(batch.now)
        text = texts("quota", per_day=batch.settings.per_day, time=texts.time(midnight),
                     date=texts.date(midnight))
        return batch.outcome(phone, text, "quota", reason=reason.number, district=district)
    permit = _new_permit(batch, person, reason.number, slot)
    held.append(permit)
    batch.new_permits[permit.code] = permit
    left = batch.settings.per_day - len(used_slots(held, batch.today))
    text = texts("issued", code=codes.display(permit.code), start=texts.time(permit.valid_from),
                 end=texts.time(permit.valid_until), reason=reason_name(batch, permit, texts),
                 left=left)
    return batch.outcome(phone, text, "issued", permit=permit, district=district)


def question(batch: Batch, phone: str, request: QuestionRequest, texts: Texts,
             officer: bool) -> Outcome:
    """"Можно выйти в аптеку?": what applies, or the exact request to send (ВЫХОД АПТЕКА)."""
    person = batch.snap.residents.get(phone)
    asked = ExitRequest(request.reason)
    refusal = _what_applies(batch, phone, person, asked, texts, officer)
    if refusal is not None:
        return refusal
    command = batch.rules.suggestions.command(request.reason, request.script)
    return batch.outcome(phone, texts("question", command=command), "question",
                         reason=request.reason.number,
                         district=person.district_id if person else None, officer=officer)


def _what_applies(batch: Batch, phone: str, person: Person | None, request: ExitRequest,
                  texts: Texts, officer: bool) -> Outcome | None:
    """The answer when no permit is to be issued: no regime where the resident lives (or
    anywhere, to a number we do not know), no reason given, a trip that needs none, a number
    not on the registry, a district where SMS permits are not issued; None otherwise."""
    reason = request.reason
    number = reason.number if reason else None
    district = person.district_id if person else None

    def answer(text: str, kind: str) -> Outcome:
        return batch.outcome(phone, text, kind, reason=number, district=district,
                             officer=officer)

    if person is not None and person.regime == Regime.OFF:
        return answer(texts("no_regime", district=texts.district(person.district_name)),
                      "no_regime")
    if person is None and batch.districts and all(
            d.regime == Regime.OFF for d in batch.districts):
        return answer(texts("no_regime_anywhere"), "no_regime")
    if reason is None:
        return answer(_ask_reason(batch, request, texts), "ask_reason")
    if reason.exempt:
        return answer(texts("exempt", reason=texts.reason(reason)), "exempt")
    if person is None:
        key = "not_resident_sms" if batch.settings.registration == "sms" else "not_resident"
        return answer(texts(key), "not_resident")
    if person.regime == Regime.REGISTRY_ONLY:
        office = batch.settings.registry_office
        text = (texts("registry_office", office=office) if office
                else texts("registry_only"))
        return answer(text, "registry_only")
    return None


def _ask_reason(batch: Batch, request: ExitRequest, texts: Texts) -> str:
    if request.unknown_number is not None:
        last = max(r.number for r in batch.settings.reasons)
        return texts("no_such_reason", number=request.unknown_number, last=last)
    return texts("ask_reason")


def status(batch: Batch, phone: str, texts: Texts) -> str:
    person = batch.snap.residents.get(phone)
    if person is None:
        return texts("not_resident")
    held = batch.snap.permits[person.id]
    left = batch.settings.per_day - len(used_slots(held, batch.today))
    active = active_permit(held, batch.now)
    if active:
        return texts("status_active", code=codes.display(active.code),
                     end=texts.time(active.valid_until),
                     reason=reason_name(batch, active, texts), left=left)
    return texts("status_none", left=left, per_day=batch.settings.per_day)


def used_slots(held: list[Permit], today: dt.date) -> set[int]:
    """Today's slots spent: issued, revoked or over (a refunded permit gave its slot back)."""
    return {p.slot for p in held if p.local_day == today and p.slot is not None}


def free_slot(held: list[Permit], today: dt.date, per_day: int) -> int | None:
    used = used_slots(held, today)
    return next((s for s in range(1, per_day + 1) if s not in used), None)


def active_permit(held: list[Permit], now: dt.datetime) -> Permit | None:
    return next((p for p in held if p.is_active(now)), None)


def reason_name(batch: Batch, permit: Permit, texts: Texts) -> str:
    reason = batch.settings.reason(permit.reason)
    return texts.reason(reason) if reason else str(permit.reason)


def _may_register(batch: Batch, phone: str) -> bool:
    return (batch.settings.registration == "open"
            and phones.is_mobile_of(phone, batch.settings.country))


def _new_permit(batch: Batch, person: Person, reason: int, slot: int) -> Permit:
    minutes = batch.settings.validity_for(batch.settings.reason(reason))
    return Permit(id=0, code=codes.generate(), resident_id=person.id, local_day=batch.today,
                  slot=slot, reason=reason, valid_from=batch.now,
                  valid_until=batch.now + dt.timedelta(minutes=minutes), state=PermitState.ISSUED)
