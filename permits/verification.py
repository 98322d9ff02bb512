"""Officers checking a permit: the answer an officer needs, and nothing for anyone else."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from permits import codes
from permits.ledger import Found
from permits.phones import mask
from permits.replies import Texts, fit, initials, joined
from permits.settings import RulesSettings
from sms_encoding.segments import cut_to_parts, measure
from storage.tables.ledger import PermitState


@dataclass(frozen=True)
class Verdict:
    """One check: the outcome recorded in the ledger, the text the officer reads, and the
    same in brief (`K7MQ-3DXA ДЕЙСТВУЕТ до 14:00`) for an answer about several codes."""

    outcome: str
    text: str
    brief: str
    permit_id: int | None = None


def canonical(typed: str) -> tuple[str | None, str]:
    """(code, "") when the text is a well-formed code, else (None, "format" | "typo")."""
    try:
        return codes.normalize(typed), ""
    except codes.CodeChecksumError:
        return None, "typo"
    except codes.CodeFormatError:
        return None, "format"


def state_of(found: Found, now: dt.datetime) -> str:
    permit = found.permit
    if permit.state == PermitState.REVOKED:
        return "revoked"
    if now < permit.valid_from:
        return "not_yet_valid"
    if now >= permit.valid_until:
        return "expired"
    return "valid"


def verdict(typed: str, code: str | None, problem: str, found: Found | None,
            now: dt.datetime, texts: Texts, settings: RulesSettings) -> Verdict:
    """The answer to one officer's check; `found` is None when the code is not in the ledger."""
    if problem in ("format", "typo"):
        shown = typed.strip()[:12]
        text = texts("check_format") if problem == "format" else texts("check_typo", typed=shown)
        return Verdict(problem, text, f"{shown} {texts(problem)}")
    shown = codes.display(code or "")
    if found is None or found.permit.state == PermitState.REFUNDED:
        return Verdict("unknown", texts("check_unknown", code=shown), f"{shown} {texts('unknown')}")
    state = state_of(found, now)
    brief = f"{shown} {texts(state)}"
    if state == "valid":
        brief += " " + texts("check_until", end=texts.time(found.permit.valid_until))
    elif state == "not_yet_valid":
        brief += " " + texts("check_from", start=texts.time(found.permit.valid_from))
    return Verdict(state, _describe(state, found, now, texts, settings), brief,
                   found.permit.id)


def in_one_sms(verdicts: Sequence[Verdict], texts: Texts) -> tuple[str, int]:
    """Several checks in brief, as many as fit one SMS, then how many were left out; returns
    the text and how many it answers (those are the ones checked)."""
    for count in range(len(verdicts), 0, -1):
        text = "; ".join(v.brief for v in verdicts[:count])
        if count < len(verdicts):
            text += ". " + texts("check_more", count=len(verdicts) - count)
        if measure(text).fits_one_sms:
            return text, count
    return cut_to_parts(text, 1), 1


def _describe(state: str, found: Found, now: dt.datetime, texts: Texts,
              settings: RulesSettings) -> str:
    permit = found.permit
    window = f"{texts.time(permit.valid_from)}-{texts.time(permit.valid_until)}"
    if texts.date(permit.valid_from) != texts.date(now):
        window = f"{texts.date(permit.valid_from)} {window}"
    reason = settings.reason(permit.reason)
    reason_name = texts.reason(reason) if reason else str(permit.reason)
    parts = [texts(state), window, f"{reason_name},", mask(found.phone), initials(found.name),
             found.district_name]
    return fit(joined, parts, trimmable=(2, 4, 5))  # the district goes first, then the name
