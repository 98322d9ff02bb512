"""The rules' entry point: a batch of inbound messages in, one outcome (with replies) each out.

The caller owns the transaction: everything decided here is written on the connection given,
so permits, verification records and the caller's own rows (outbox, inbox state) commit together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from permits import localtime
from permits.batch import Batch
from permits.messages import Inbound, Outcome
from permits.parser import Parser
from permits.replies import Texts
from permits.settings import RulesSettings
from permits.suggestions import Suggestions


class Rules:
    """Decides permits. Built once from settings; safe to share between threads."""

    def __init__(self, settings: RulesSettings) -> None:
        self.settings = settings
        self.zone = ZoneInfo(settings.timezone)
        self.parser = Parser(settings.reasons)
        self.suggestions = Suggestions(self.parser, settings.reasons)
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
        return localtime.midnight(tomorrow, self.zone)

    def texts(self, english: bool) -> Texts:
        return self._texts["en" if english else self.settings.language]

    def handle(self, conn: Connection, messages: Sequence[Inbound],
               now: dt.datetime) -> list[Outcome]:
        """Decide every message of the batch, writing the ledger on `conn`."""
        return Batch(self, conn, now).run(messages)
