"""Officers' checks inside a batch: which codes to look up, and each check's answer and record.

Only registered officers verify; anyone else learns nothing about anyone (not even whether a
code exists). Every check is recorded; an officer's repeated misses slow their checks down.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from permits import ledger
from permits.ledger import Snapshot
from permits.messages import Outcome
from permits.parser import CheckRequest
from permits.replies import Texts
from permits.verification import canonical, verdict

if TYPE_CHECKING:
    from permits.batch import Batch, Item


def codes_asked(items: Sequence[Item], snap: Snapshot) -> list[str]:
    """The well-formed codes officers of the batch ask about: read in one query."""
    asked = []
    for item in items:
        if isinstance(item.parsed.request, CheckRequest) and item.phone in snap.officers:
            code, _ = canonical(item.parsed.request.typed)
            if code:
                asked.append(code)
    return asked


def check(batch: Batch, item: Item, request: CheckRequest, officer: bool,
          texts: Texts) -> Outcome:
    phone = item.phone or ""
    typed = request.typed[:40]
    if not officer and not request.explicit:  # a word that happens to look like a code
        return batch.outcome(phone, texts("unrecognized"), "unrecognized")
    if not officer:
        _record(batch, item, typed, "refused", None)
        return batch.outcome(phone, texts("officers_only"), "officers_only")
    misses = batch.snap.misses.get(phone, 0)
    if misses >= batch.settings.officer_misses_allowed:
        _record(batch, item, typed, "slowed", None)
        text = texts("check_slow", minutes=batch.settings.officer_miss_window_minutes)
        return batch.outcome(phone, text, "check_slowed", officer=True)
    code, problem = canonical(typed)
    answer = verdict(typed, code, problem, batch.found.get(code or ""), batch.now, texts,
                     batch.settings)
    if answer.outcome in ledger.MISS_OUTCOMES:
        batch.snap.misses[phone] = misses + 1
    _record(batch, item, typed, answer.outcome, answer.permit_id)
    return batch.outcome(phone, answer.text, "verified", officer=True)


def _record(batch: Batch, item: Item, typed: str, outcome: str, permit_id: int | None) -> None:
    batch.verification_rows.append({
        "officer_phone": item.phone, "typed": typed, "permit_id": permit_id,
        "outcome": outcome, "channel": item.message.channel[:60], "checked_at": batch.now,
    })
