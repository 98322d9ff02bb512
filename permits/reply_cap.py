"""The reply cap: at most so many replies to one number an hour, so that two automatic systems
(an auto-responder, another gateway) can never answer each other for ever.

Every reply asked for counts, given or held back, so the first one held back in an hour is
known (`count == cap`): it is logged once, and each message left unanswered is an outcome of
its own (`capped`), counted in /metrics and on the status page.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter

from permits.messages import OFFICER_PRIORITY, Reply
from permits.phones import mask
from permits.settings import RulesSettings

log = logging.getLogger(__name__)


class ReplyCap:
    """One batch's view of the hour's counts: `counts` as read, plus what the batch asked."""

    def __init__(self, settings: RulesSettings, counts: dict[str, int]) -> None:
        self.settings = settings
        self._read = counts
        self.asked: Counter[str] = Counter()

    def reply(self, phone: str, text: str, *, officer: bool, always: bool = False,
              expires_at: dt.datetime | None = None) -> tuple[Reply, ...]:
        """The reply, or nothing when the number's cap for the hour is reached. `always`: a
        new permit's reply is never held back (at most `per_day` a day, and without it the
        resident would lose a slot without learning the code)."""
        cap = (self.settings.officer_replies_per_hour if officer
               else self.settings.replies_per_hour)
        count = self._read.get(phone, 0) + self.asked[phone]
        self.asked[phone] += 1
        if count < cap or always:
            return (Reply(to=phone, text=text, priority=OFFICER_PRIORITY if officer else 0,
                          expires_at=expires_at),)
        if count == cap:
            log.warning("reply cap reached for %s: %d replies this hour; further messages from"
                        " this number are not answered until the hour is over", mask(phone), cap)
        return ()

    def take_back(self, phone: str) -> None:
        """A message decided again (its permit insert lost a race): its first ask is void."""
        self.asked[phone] -= 1
