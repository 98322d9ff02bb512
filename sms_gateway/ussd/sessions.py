"""USSD over SMPP: sessions kept in the database, screens from the menu in `permits.ussd_menu`.

The network opens a session with `ussd_service_op` 1 (PSSR indication, the dialled string);
we ask with 2 (USSR request) and end with 17 (PSSR response); the officer's typed answer comes
back as 18 (USSR confirm). The answers so far are kept per number and `its_session_info`, so
any node can continue a session. USSD replies are sent at once and never retried: the
session lives seconds.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

from sqlalchemy import Connection, Row, delete, select

from permits.service import Rules
from permits.ussd_menu import Screen, UssdMenu, dialled_inputs
from sms_gateway.config import UssdSettings
from sms_gateway.pipeline.outbox import new_row
from storage.dialect import upsert
from storage.tables.messages import ussd_sessions

PSSR_INDICATION, USSR_REQUEST, PSSR_RESPONSE, USSR_CONFIRM = 1, 2, 17, 18
USSD_PRIORITY = 2
REPLY_LIFETIME = dt.timedelta(seconds=30)


class UssdSessions:
    """Turns USSD inbox rows into the next screen, as outbox rows."""

    def __init__(self, menu: UssdMenu, session_seconds: int) -> None:
        self.menu, self.lifetime = menu, dt.timedelta(seconds=session_seconds)

    @classmethod
    def configured(cls, rules: Rules, settings: UssdSettings) -> UssdSessions:
        return cls(UssdMenu(rules, settings.service_code), settings.session_seconds)

    def handle(self, conn: Connection, rows: Sequence[Row], now: dt.datetime) -> list[dict]:
        replies = []
        for row in rows:
            screen = self._screen(conn, row, now)
            if screen is not None:
                replies.append(_reply(row, screen, now))
        return replies

    def _screen(self, conn: Connection, row: Row, now: dt.datetime) -> Screen | None:
        key = {"phone": row.sender[:32], "session": (row.ussd_session or "")[:64]}
        if row.ussd_op == PSSR_INDICATION:
            inputs = dialled_inputs(row.text, self.menu.service_code) or []
        elif row.ussd_op == USSR_CONFIRM:
            held = conn.execute(select(ussd_sessions.c.inputs).where(
                ussd_sessions.c.phone == key["phone"], ussd_sessions.c.session == key["session"],
                ussd_sessions.c.expires_at > now)).scalar()
            if held is None:
                return self.menu.session_expired()
            inputs = [*json.loads(held), row.text.strip()]
        else:
            return None  # network notifications (PSSD, USSN confirm...) need no answer
        screen = self.menu.respond(conn, row.sender, inputs, row.channel, now)
        if screen.final:
            conn.execute(delete(ussd_sessions).where(ussd_sessions.c.phone == key["phone"],
                                                     ussd_sessions.c.session == key["session"]))
        else:
            upsert(conn, ussd_sessions, [key | {"inputs": json.dumps(inputs),
                                                "expires_at": now + self.lifetime}],
                   ["phone", "session"], ["inputs", "expires_at"])
        return screen


def _reply(row: Row, screen: Screen, now: dt.datetime) -> dict:
    return new_row(row.id, row.channel, row.sender, screen.text, now, priority=USSD_PRIORITY,
                   expires_at=now + REPLY_LIFETIME,
                   ussd_op=PSSR_RESPONSE if screen.final else USSR_REQUEST,
                   ussd_session=row.ussd_session)
