"""Officers checking a permit: the answer an officer needs, and nothing for anyone else."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from permits import codes
from permits.ledger import Found
from permits.phones import mask
from permits.replies import Texts, fit, initials, joined
from permits.settings import RulesSettings
from storage.tables.ledger import PermitState


@dataclass(frozen=True)
class Verdict:
    """One check: the outcome recorded in the ledger and the text the officer reads."""

    outcome: str
    text: str
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
    if problem == "format":
        return Verdict("format", texts("check_format"))
    if problem == "typo":
        return Verdict("typo", texts("check_typo", typed=typed.strip()[:12]))
    if found is None or found.permit.state == PermitState.REFUNDED:
        return Verdict("unknown", texts("check_unknown", code=codes.display(code or "")))
    state = state_of(found, now)
    return Verdict(state, _describe(state, found, now, texts, settings), found.permit.id)


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
