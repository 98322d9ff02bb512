"""Officers' checks inside a batch: which codes to look up, and each check's answer and record.

Only registered officers verify; anyone else learns nothing about anyone (not even whether a
code exists). An officer's message is checked wherever its codes stand ("проверить пропуск
K7MQ-3DXA пожалуйста", "код к7мq3dха"): every code-shaped span is checked, several answered in
one SMS (or the first ones, with a note of how many were left for another message). Other
people's texts are read exactly as before. Every check is recorded; an officer's repeated
misses slow their checks down.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from permits import codes, ledger
from permits.messages import Outcome
from permits.parser import PARSED_PREFIX, CheckRequest
from permits.replies import Texts
from permits.verification import canonical, in_one_sms, verdict

if TYPE_CHECKING:
    from permits.batch import Batch, Item

MAX_CODES = 6  # code-shaped spans read from one message; more never fit one reply


def typed_codes(item: Item, officer: bool) -> tuple[str, ...]:
    """What an officer's message asks about: every code-shaped span in it, else whatever
    follows CHECK (so a malformed code still gets the format's example). Nothing for others."""
    if not officer:
        return ()
    found = codes.find(item.message.text[:PARSED_PREFIX])
    if found:
        return tuple(found[:MAX_CODES])
    if isinstance(item.parsed.request, CheckRequest):
        return (item.parsed.request.typed,)
    return ()


def codes_asked(asked: Sequence[tuple[str, ...]]) -> list[str]:
    """The well-formed codes of the batch's officers' messages: read in one query."""
    return [code for typed in asked for code, _ in map(canonical, typed) if code]


def refuse(batch: Batch, item: Item, request: CheckRequest, texts: Texts) -> Outcome:
    """A check asked by someone who is not an officer."""
    phone = item.phone or ""
    if not request.explicit:  # a word that happens to look like a code
        return batch.outcome(phone, texts("unrecognized"), "unrecognized")
    _record(batch, item, request.typed[:40], "refused", None)
    return batch.outcome(phone, texts("officers_only"), "officers_only")


def check(batch: Batch, item: Item, typed: tuple[str, ...], texts: Texts) -> Outcome:
    """An officer's check of one code or several."""
    phone = item.phone or ""
    misses = batch.snap.misses.get(phone, 0)
    if misses >= batch.settings.officer_misses_allowed:
        _record(batch, item, typed[0][:40], "slowed", None)
        text = texts("check_slow", minutes=batch.settings.officer_miss_window_minutes)
        return batch.outcome(phone, text, "check_slowed", officer=True)
    verdicts = []
    for each in typed:
        code, problem = canonical(each)
        verdicts.append(verdict(each.strip(), code, problem, batch.found.get(code or ""),
                                batch.now, texts, batch.settings))
    text, answered = (verdicts[0].text, 1) if len(verdicts) == 1 else in_one_sms(verdicts, texts)
    for each, answer in zip(typed[:answered], verdicts[:answered], strict=True):
        if answer.outcome in ledger.MISS_OUTCOMES:
            misses += 1
        _record(batch, item, each[:40], answer.outcome, answer.permit_id)
    batch.snap.misses[phone] = misses
    return batch.outcome(phone, text, "verified", officer=True)


def _record(batch: Batch, item: Item, typed: str, outcome: str, permit_id: int | None) -> None:
    batch.verification_rows.append({
        "officer_phone": item.phone, "typed": typed, "permit_id": permit_id,
        "outcome": outcome, "channel": item.message.channel[:60], "checked_at": batch.now,
    })

