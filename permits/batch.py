"""One batch of messages decided together: read up front, decided one by one, written at once.

The ledger is read with a handful of queries for the whole batch (`ledger.read_snapshot`),
each message is decided by the residents' or the officers' rules, the batch's new permits go
in with one executemany, and a unique-constraint conflict (another node took the slot, or a
code collided) re-reads only that resident and decides their messages again.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from permits import checks, codes, ledger, phones, registration, registration_queue, requests
from permits.ledger import District, Permit
from permits.messages import Inbound, Outcome
from permits.parser import (
    AnswerRequest,
    CheckRequest,
    ExitRequest,
    HelpRequest,
    Parsed,
    QuestionRequest,
    RegisterRequest,
    StatusRequest,
    StopRequest,
)
from permits.registration_queue import Pending
from permits.reply_cap import ReplyCap
from storage.tables.ledger import outcomes, verifications

if TYPE_CHECKING:
    from permits.service import Rules

_MAX_CONFLICT_ROUNDS = 5


_DIALOGUE = (RegisterRequest, AnswerRequest, StopRequest)


@dataclass(frozen=True)
class Item:
    """A message with what the batch knows of it: its sender as E.164 (None: nobody to
    answer, such as an alphanumeric sender), its parsed request, and the codes it asks about
    when it is an officer's (`checks.typed_codes`)."""

    message: Inbound
    phone: str | None
    parsed: Parsed
    typed: tuple[str, ...] = ()


class Batch:
    """One batch's reads, decisions and writes, on the caller's connection."""

    def __init__(self, rules: Rules, conn: Connection, now: dt.datetime) -> None:
        self.rules, self.conn, self.now = rules, conn, now
        self.settings = rules.settings
        self.today = rules.local_day(now)
        self.running_since = rules.running_since(now)
        self.verification_rows: list[dict] = []
        self.new_permits: dict[str, Permit] = {}
        self.registration_changes: dict[str, Pending | None] = {}

    def run(self, messages: Sequence[Inbound]) -> list[Outcome]:
        self.items = [Item(m, self._phone(m.sender), self.rules.parser.parse(m.text))
                      for m in messages]
        miss_since = self.now - dt.timedelta(minutes=self.settings.officer_miss_window_minutes)
        self.snap = ledger.read_snapshot(
            self.conn, [i.phone for i in self.items if i.phone], today=self.today, now=self.now,
            miss_since=miss_since, running_since=self.running_since)
        self.cap = ReplyCap(self.settings, self.snap.reply_counts)
        self.items = [replace(i, typed=checks.typed_codes(i, i.phone in self.snap.officers))
                      if i.phone in self.snap.officers else i for i in self.items]
        self.found = ledger.find_by_codes(self.conn,
                                          checks.codes_asked([i.typed for i in self.items]))
        results = [self.decide(item) for item in self.items]
        self._insert_new_permits(results)
        self._write(results)
        return results

    def decide(self, item: Item) -> Outcome:
        if item.phone is None:
            return Outcome("ignored")
        texts = self.rules.texts(item.parsed.english)
        request = item.parsed.request
        officer = item.phone in self.snap.officers
        if item.typed:
            return checks.check(self, item, item.typed, texts)
        if isinstance(request, CheckRequest):
            return checks.refuse(self, item, request, texts)
        if isinstance(request, ExitRequest):
            return requests.exit_request(self, item.phone, request, texts, officer)
        if isinstance(request, QuestionRequest):
            return requests.question(self, item.phone, request, texts, officer)
        if isinstance(request, _DIALOGUE):
            return registration.handle(self, item, request, texts, officer)
        if isinstance(request, StatusRequest):
            return self.outcome(item.phone, requests.status(self, item.phone, texts), "status",
                                officer=officer)
        if isinstance(request, HelpRequest):
            return self.outcome(item.phone, texts.help(self.settings.reasons), "help",
                                officer=officer)
        return self.outcome(item.phone, texts("unrecognized"), "unrecognized", officer=officer)

    def outcome(self, phone: str, text: str, kind: str, *, permit: Permit | None = None,
                reason: int | None = None, district: str | None = None,
                officer: bool = False) -> Outcome:
        """The outcome of a decision with its reply (none when the reply cap holds it back)."""
        issued = kind == "issued" and permit is not None
        replies = self.cap.reply(phone, text, officer=officer, always=issued,
                                 expires_at=permit.valid_until if issued else None)
        return Outcome(kind, replies, capped=not replies,
                       permit_id=permit.id if permit and permit.id else None,
                       reason=permit.reason if permit else reason, district_id=district,
                       officer=officer, permit_code=permit.code if permit else None)

    @functools.cached_property
    def districts(self) -> list[District]:
        """Every district: read once, and only by a batch with a message that needs them."""
        return ledger.all_districts(self.conn)

    @functools.cached_property
    def registrations(self) -> dict[str, Pending]:
        """The registrations in progress of the numbers in the batch that answer or ask
        about one: read once, and only when there are such messages."""
        return registration_queue.of_numbers(
            self.conn, [i.phone for i in self.items
                        if i.phone and isinstance(i.parsed.request, _DIALOGUE)], self.now)

    def change_registration(self, phone: str, pending: Pending | None) -> None:
        """A registration stored (or removed: None) when the batch is written."""
        if pending is None:
            self.registrations.pop(phone, None)
        else:
            self.registrations[phone] = pending
        self.registration_changes[phone] = pending

    def _phone(self, sender: str) -> str | None:
        if phones.is_alphanumeric_sender(sender):
            return None
        try:
            return phones.identify(sender, self.settings.country)
        except phones.PhoneError:
            return None

    def _insert_new_permits(self, results: list[Outcome]) -> None:
        """Insert the batch's new permits; a unique-constraint conflict (another process took
        the slot, or a code collided) re-reads that resident and decides their messages again."""
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
        for index, item in enumerate(self.items):
            person = self.snap.residents.get(item.phone or "")
            redo = (isinstance(item.parsed.request, ExitRequest)
                    and results[index].permit_id is None)
            if person and person.id in lost and redo:
                self.cap.take_back(person.phone)
                results[index] = self.decide(item)

    def _write(self, results: list[Outcome]) -> None:
        """Every record of the batch but the permits themselves, in a few executemany calls."""
        ledger.record(self.conn, [
            (verifications, self.verification_rows),
            (outcomes, [{"at": self.now, "local_day": self.today, "kind": o.recorded,
                         "reason": o.reason, "district_id": o.district_id} for o in results]),
        ])
        ledger.add_reply_counts(self.conn, dict(self.cap.asked), self.now)
        if self.registration_changes:
            registration_queue.save(self.conn, self.registration_changes)


def _with_permit_id(outcome: Outcome, permit_id: int) -> Outcome:
    replies = tuple(replace(r, permit_id=permit_id) if r.expires_at else r
                    for r in outcome.replies)
    return replace(outcome, permit_id=permit_id, replies=replies)
