"""The ledger and the traffic of `bench/smpp_flood.py`: who floods, with what, who checks.

Residents are written with one Core executemany (the registry import parses CSV row by row,
which would dominate the set-up); the permits officers check are issued by the rules
themselves, so the bench follows the ledger's schema wherever it goes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, insert

from bench._ledger import fill_history
from permits import codes
from permits.messages import Inbound
from permits.service import Rules
from storage.tables.ledger import districts, officers, residents

# Cyrillic (UCS2) and Latin (GSM-7, with an escape pair and the euro sign) requests, mixed.
REQUEST_TEXTS = (
    ("ВЫХОД магазин", "ucs2"),
    ("EXIT shop", "gsm7"),
    ("выход 2", "ucs2"),
    ("EXIT {1} €", "gsm7"),
    ("vyhod apteka", "gsm7"),
)


def resident_phone(n: int) -> str:
    return f"+7927{n:07d}"


def officer_phone(n: int) -> str:
    return f"+7937{n:07d}"


def checked_phone(n: int) -> str:
    """Holders of the permits officers check: not in the flood, so their permits stay put."""
    return f"+7926{n:07d}"


@dataclass(frozen=True)
class Traffic:
    """What the flooding SMSC sends: one request per resident, and the officers' checks."""

    requests: list[tuple[str, str, str]]
    checks: list[tuple[str, str, str]]


def fill(engine: Engine, rules: Rules, count: int, officer_count: int, now: dt.datetime,
         history: int = 0) -> Traffic:
    """`count` residents in Kinel, officers, and one issued permit per officer to check;
    `history` permits of the residents on the days before today (a ledger in use)."""
    resident_rows = [_resident(resident_phone(n), now) for n in range(count)]
    resident_rows += [_resident(checked_phone(n), now) for n in range(officer_count)]
    with engine.begin() as conn:
        conn.execute(insert(districts), [{"id": "kinel", "name": "Кинель", "regime": "on"}])
        conn.execute(insert(residents), resident_rows)
        conn.execute(
            insert(officers),
            [
                {
                    "phone": officer_phone(n),
                    "name": f"Офицер {n}",
                    "active": True,
                    "created_at": now,
                }
                for n in range(officer_count)
            ],
        )
        asked = [Inbound(checked_phone(n), "ВЫХОД 1", "bench", now) for n in range(officer_count)]
        seeds = [outcome.permit_code for outcome in rules.handle(conn, asked, now)]
    if history:
        fill_history(engine, count, history, now)  # residents 1..count: written first
    requests = [(resident_phone(n), *REQUEST_TEXTS[n % len(REQUEST_TEXTS)]) for n in range(count)]
    checks = [
        (officer_phone(n), text, encoding)
        for variant in range(len(CHECK_WORDS) * 6)
        for n, code in enumerate(seeds)
        for text, encoding in [_check_text(code, variant + n)]
    ]
    return Traffic(requests, checks)


# An officer's identical check sent again before its answer left is answered once
# (pipeline/repeats.py), so the SMSC rotates each officer through different spellings.
CHECK_WORDS = ("ПРОВЕРКА ", "CHECK ", "проверка ", "check ", "verify ", "")


def _check_text(code: str, variant: int) -> tuple[str, str]:
    """One spelling of a check: the word (or none), the code upper or lower case, with a
    dash, a space or nothing in the middle; Cyrillic words travel as UCS2."""
    word = CHECK_WORDS[variant % len(CHECK_WORDS)]
    shown = codes.display(code).replace("-", ("-", " ", "")[variant // len(CHECK_WORDS) % 3])
    shown = shown.lower() if variant // (3 * len(CHECK_WORDS)) % 2 else shown
    return word + shown, "gsm7" if word.isascii() else "ucs2"


def _resident(phone: str, now: dt.datetime) -> dict:
    return {
        "phone": phone,
        "name": f"Житель {phone[-4:]} Тестович",
        "district_id": "kinel",
        "document": None,
        "self_registered": False,
        "created_at": now,
    }
