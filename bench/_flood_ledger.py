"""The ledger and the traffic of `bench/smpp_flood.py`: who floods, with what, who checks.

Residents are written with one Core executemany (the registry import parses CSV row by row,
which would dominate the set-up); the permits officers check are issued by the rules
themselves, so the bench follows the ledger's schema wherever it goes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, insert

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


def fill(engine: Engine, rules: Rules, count: int, officer_count: int, now: dt.datetime) -> Traffic:
    """`count` residents in Kinel, officers, and one issued permit per officer to check."""
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
    requests = [(resident_phone(n), *REQUEST_TEXTS[n % len(REQUEST_TEXTS)]) for n in range(count)]
    checks = [
        (officer_phone(n), f"ПРОВЕРКА {codes.display(code)}", "ucs2")
        if n % 2 == 0
        else (officer_phone(n), f"CHECK {codes.display(code).lower()}", "gsm7")
        for n, code in enumerate(seeds)
    ]
    return Traffic(requests, checks)


def _resident(phone: str, now: dt.datetime) -> dict:
    return {
        "phone": phone,
        "name": f"Житель {phone[-4:]} Тестович",
        "district_id": "kinel",
        "document": None,
        "self_registered": False,
        "created_at": now,
    }
