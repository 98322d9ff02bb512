"""The rules' entry point: a batch of inbound messages in, one outcome (with replies) each out.

The caller owns the transaction: everything decided here is written on the connection given,
so permits, verification records and the caller's own rows (outbox, inbox state) commit together.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from permits import codes, ledger, phones
from permits.ledger import Permit, Person
from permits.messages import OFFICER_PRIORITY, Inbound, Outcome, Reply
from permits.parser import CheckRequest, ExitRequest, HelpRequest, Parser, StatusRequest
from permits.replies import Texts
from permits.settings import RulesSettings
from permits.verification import canonical, verdict
from storage.tables.ledger import outcomes, verifications

_MAX_CONFLICT_ROUNDS = 5


class Rules:
    """Decides permits. Built once from settings; safe to share between threads."""

    def __init__(self, settings: RulesSettings) -> None:
        self.settings = settings
        self.zone = ZoneInfo(settings.timezone)
        self.parser = Parser(settings.reasons)
        self._texts = {lang: Texts(lang, self.zone) for lang in ("ru", "en")}

    def local_day(self, now: dt.datetime) -> dt.date:
        return now.astimezone(self.zone).date()

    def running_since(self, now: dt.datetime) -> dt.date:
        """The first local day on which a permit still running at `now` can have been issued
        (a day back at least, should the validity have been shortened since)."""
        longest = max([self.settings.validity_minutes, 24 * 60,
                       *(r.validity_minutes or 0 for r in self.settings.reasons)])
        return self.local_day(now - dt.timedelta(minutes=longest))

    def next_local_midnight(self, now: dt.datetime) -> dt.datetime:
        tomorrow = self.local_day(now) + dt.timedelta(days=1)
        return dt.datetime.combine(tomorrow, dt.time(), self.zone).astimezone(dt.UTC)

    def texts(self, english: bool) -> Texts:
        return self._texts["en" if english else self.settings.language]

    def handle(self, conn: Connection, messages: Sequence[Inbound],
               now: dt.datetime) -> list[Outcome]:
        """Decide every message of the batch, writing the ledger on `conn`."""
        return _Batch(self, conn, now).run(messages)


class _Batch:
    """One batch's reads, decisions and writes."""

    def __init__(self, rules: Rules, conn: Connection, now: dt.datetime) -> None:
        self.rules, self.conn, self.now = rules, conn, now
        self.settings = rules.settings
        self.today = rules.local_day(now)
        self.running_since = rules.running_since(now)
        self.verification_rows: list[dict] = []
        self.replies_given: Counter[str] = Counter()
        self.new_permits: dict[str, Permit] = {}

    def run(self, messages: Sequence[Inbound]) -> list[Outcome]:
        senders = [self._phone(m.sender) for m in messages]
        miss_since = self.now - dt.timedelta(minutes=self.settings.officer_miss_window_minutes)
        self.snap = ledger.read_snapshot(self.conn, [s for s in senders if s], self.today,
                                         self.now, miss_since, self.running_since)
        parsed = [self.rules.parser.parse(m.text) for m in messages]
        self.found = ledger.find_by_codes(self.conn, self._codes_asked(parsed, senders))
        self.items = list(zip(messages, senders, parsed, strict=True))
        results = [self._decide(*item) for item in self.items]
        self._insert_new_permits(results)
        self._write(results)
        return results

    def _phone(self, sender: str) -> str | None:
        if phones.is_alphanumeric_sender(sender):
            return None
        try:
            return phones.identify(sender, self.settings.country)
        except phones.PhoneError:
            return None

    def _codes_asked(self, parsed: list, senders: list[str | None]) -> list[str]:
        asked = []
        for item, sender in zip(parsed, senders, strict=True):
            if isinstance(item.request, CheckRequest) and sender in self.snap.officers:
                code, _ = canonical(item.request.typed)
                if code:
                    asked.append(code)
        return asked

    def _decide(self, message: Inbound, phone: str | None, parsed) -> Outcome:
        if phone is None:
            return Outcome("ignored")
        texts = self.rules.texts(parsed.english)
        request = parsed.request
        officer = phone in self.snap.officers
        if isinstance(request, CheckRequest):
            return self._check(message, phone, request, officer, texts)
        person = self.snap.residents.get(phone)
        if isinstance(request, ExitRequest):
            return self._exit(phone, person, request, texts, officer)
        if isinstance(request, StatusRequest):
            return self._reply(phone, self._status(person, texts), "status", officer=officer)
        if isinstance(request, HelpRequest):
            return self._reply(phone, texts.help(self.settings.reasons), "help", officer=officer)
        return self._reply(phone, texts("unrecognized"), "unrecognized", officer=officer)

    def _exit(self, phone: str, person: Person | None, request: ExitRequest, texts: Texts,
              officer: bool) -> Outcome:
        reason = request.reason
        if reason is None:
            if request.unknown_number is not None:
                last = max(r.number for r in self.settings.reasons)
                text = texts("no_such_reason", number=request.unknown_number, last=last)
            else:
                text = texts("ask_reason")
            return self._reply(phone, text, "ask_reason", officer=officer)
        district = person.district_id if person else None
        if reason.exempt:
            return self._reply(phone, texts("exempt", reason=texts.reason(reason)), "exempt",
                               reason=reason.number, district=district, officer=officer)
        if person is None and self._may_register(phone):
            person = ledger.register(self.conn, phone, self.settings.open_district, self.now)
            if person:
                self.snap.residents[phone] = person
        if person is None:
            return self._reply(phone, texts("not_resident"), "not_resident",
                               reason=reason.number, officer=officer)
        if not person.district_enabled:
            return self._reply(phone, texts("district_off",
                                            district=texts.district(person.district_name)),
                               "district_off", reason=reason.number, district=district)
        held = self.snap.permits[person.id]
        active = _active(held, self.now)
        if active:
            text = texts("active", code=codes.display(active.code),
                         end=texts.time(active.valid_until),
                         reason=self._reason_name(active, texts))
            return self._reply(phone, text, "repeated", permit=active, district=district)
        slot = self._free_slot(held)
        if slot is None:
            midnight = self.rules.next_local_midnight(self.now)
            text = texts("quota", per_day=self.settings.per_day, time=texts.time(midnight),
                         date=texts.date(midnight))
            return self._reply(phone, text, "quota", reason=reason.number, district=district)
        permit = self._new_permit(person, reason.number, slot)
        held.append(permit)
        self.new_permits[permit.code] = permit
        return self._issued_reply(phone, permit, texts, district)

    def _may_register(self, phone: str) -> bool:
        return (self.settings.registration == "open"
                and phones.is_mobile_of(phone, self.settings.country))

    def _issued_reply(self, phone: str, permit: Permit, texts: Texts, district: str) -> Outcome:
        left = self.settings.per_day - len(self._used_slots(self.snap.permits[permit.resident_id]))
        text = texts("issued", code=codes.display(permit.code), start=texts.time(permit.valid_from),
                     end=texts.time(permit.valid_until), reason=self._reason_name(permit, texts),
                     left=left)
        return self._reply(phone, text, "issued", permit=permit, district=district)

    def _new_permit(self, person: Person, reason: int, slot: int) -> Permit:
        minutes = self.settings.validity_for(self.settings.reason(reason))
        return Permit(id=0, code=codes.generate(), resident_id=person.id, local_day=self.today,
                      slot=slot, reason=reason, valid_from=self.now,
                      valid_until=self.now + dt.timedelta(minutes=minutes), state="issued")

    def _used_slots(self, held: list[Permit]) -> set[int]:
        return {p.slot for p in held if p.local_day == self.today and p.slot is not None}

    def _free_slot(self, held: list[Permit]) -> int | None:
        used = self._used_slots(held)
        return next((s for s in range(1, self.settings.per_day + 1) if s not in used), None)

    def _status(self, person: Person | None, texts: Texts) -> str:
        if person is None:
            return texts("not_resident")
        held = self.snap.permits[person.id]
        left = self.settings.per_day - len(self._used_slots(held))
        active = _active(held, self.now)
        if active:
            return texts("status_active", code=codes.display(active.code),
                         end=texts.time(active.valid_until),
                         reason=self._reason_name(active, texts), left=left)
        return texts("status_none", left=left, per_day=self.settings.per_day)

    def _reason_name(self, permit: Permit, texts: Texts) -> str:
        reason = self.settings.reason(permit.reason)
        return texts.reason(reason) if reason else str(permit.reason)

    def _check(self, message: Inbound, phone: str, request: CheckRequest, officer: bool,
               texts: Texts) -> Outcome:
        typed = request.typed[:40]
        if not officer and not request.explicit:  # a word that happens to look like a code
            return self._reply(phone, texts("unrecognized"), "unrecognized")
        if not officer:
            self._record_check(message, phone, typed, "refused", None)
            return self._reply(phone, texts("officers_only"), "officers_only")
        misses = self.snap.misses.get(phone, 0)
        if misses >= self.settings.officer_misses_allowed:
            self._record_check(message, phone, typed, "slowed", None)
            text = texts("check_slow", minutes=self.settings.officer_miss_window_minutes)
            return self._reply(phone, text, "check_slowed", officer=True)
        code, problem = canonical(typed)
        answer = verdict(typed, code, problem, self.found.get(code or ""), self.now, texts,
                         self.settings)
        if answer.outcome in ledger.MISS_OUTCOMES:
            self.snap.misses[phone] = misses + 1
        self._record_check(message, phone, typed, answer.outcome, answer.permit_id)
        return self._reply(phone, answer.text, "verified", officer=True)

    def _record_check(self, message: Inbound, phone: str, typed: str, outcome: str,
                      permit_id: int | None) -> None:
        self.verification_rows.append({
            "officer_phone": phone, "typed": typed, "permit_id": permit_id, "outcome": outcome,
            "channel": message.channel[:60], "checked_at": self.now,
        })

    def _reply(self, phone: str, text: str, kind: str, *, permit: Permit | None = None,
               reason: int | None = None, district: str | None = None,
               officer: bool = False) -> Outcome:
        cap = (self.settings.officer_replies_per_hour if officer
               else self.settings.replies_per_hour)
        given = self.snap.reply_counts.get(phone, 0) + self.replies_given[phone]
        replies: tuple[Reply, ...] = ()
        # A new permit's reply is never held back: at most per_day a day, and without it the
        # resident would lose a slot without learning the code.
        if given < cap or kind == "issued":
            self.replies_given[phone] += 1
            expires = permit.valid_until if kind == "issued" and permit else None
            replies = (Reply(to=phone, text=text, priority=OFFICER_PRIORITY if officer else 0,
                             expires_at=expires),)
        return Outcome(kind, replies, permit_id=permit.id if permit and permit.id else None,
                       reason=permit.reason if permit else reason, district_id=district,
                       officer=officer, permit_code=permit.code if permit else None)

    def _insert_new_permits(self, results: list[Outcome]) -> None:
        """Insert the batch's new permits; a unique-constraint conflict (another process took the
        slot, or a code collided) re-reads that resident and decides their messages again."""
        for _ in range(_MAX_CONFLICT_ROUNDS):
            pending: dict[str, list[int]] = {}
            for index, result in enumerate(results):
                if result.permit_code and result.permit_id is None:
                    pending.setdefault(result.permit_code, []).append(index)
            if not pending:
                return
            rows = [self._row(code) for code in pending if code in self.new_permits]
            inserted = ledger.insert_permits(self.conn, rows)
            lost = {self.new_permits[c].resident_id for c in pending if c not in inserted}
            for code, indexes in pending.items():
                if code in inserted:
                    for index in indexes:
                        results[index] = _with_permit_id(results[index], inserted[code])
            if not lost:
                return
            self._redecide(results, lost)
        raise RuntimeError("permit insert kept conflicting; giving up on this batch")

    def _row(self, code: str) -> dict:
        permit = self.new_permits[code]
        row = {k: getattr(permit, k) for k in ("code", "resident_id", "local_day", "slot",
                                               "reason", "valid_from", "valid_until", "state")}
        return row | {"keypad": codes.keypad(permit.code), "issued_at": self.now,
                      "issued_by": "sms"}

    def _redecide(self, results: list[Outcome], lost: set[int]) -> None:
        for permit in ledger.permits_of(self.conn, lost, self.today, self.now,
                                        self.running_since):
            self.snap.permits[permit.resident_id].append(permit)
        for resident_id in lost:
            self.snap.permits[resident_id] = [p for p in self.snap.permits[resident_id] if p.id]
        for index, (message, phone, parsed) in enumerate(self.items):
            person = self.snap.residents.get(phone or "")
            redo = isinstance(parsed.request, ExitRequest) and results[index].permit_id is None
            if person and person.id in lost and redo:
                self.replies_given[phone] -= len(results[index].replies)
                results[index] = self._decide(message, phone, parsed)

    def _write(self, results: list[Outcome]) -> None:
        """Every record of the batch but the permits themselves, in a few executemany calls."""
        ledger.record(self.conn, [
            (verifications, self.verification_rows),
            (outcomes, [{"at": self.now, "local_day": self.today, "kind": o.kind,
                         "reason": o.reason, "district_id": o.district_id} for o in results]),
        ])
        ledger.add_reply_counts(self.conn, dict(self.replies_given), self.now)


def _with_permit_id(outcome: Outcome, permit_id: int) -> Outcome:
    replies = tuple(replace(r, permit_id=permit_id) if r.expires_at else r
                    for r in outcome.replies)
    return replace(outcome, permit_id=permit_id, replies=replies)


def _active(held: list[Permit], now: dt.datetime) -> Permit | None:
    return next((p for p in held if p.is_active(now)), None)
