"""The rules' own settings: plain values, loaded and validated by the gateway's config.

Each `[permits]` key carries what is allowed in its field's metadata (`allowed`, `check`),
which the configuration loader reads: the rules say what makes sense for them, the loader
reports a wrong value with the file and the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from permits.reasons import Reason
from permits.replies import office_fits


def _key(default: Any, allowed: str, check: Any = None) -> Any:
    """A `[permits]` key: its default and what is allowed (see sms_gateway.typed_settings)."""
    return field(default=default, metadata={"allowed": allowed, "check": check})


def _at_least_one(value: int) -> bool:
    return value >= 1


_WHOLE = "a whole number >= 1"


@dataclass(frozen=True)
class RulesSettings:
    """Everything `permits` needs to decide; no transport or storage details.

    `timezone`, `language` and `country` come from `[service]`, `reasons` from `[[reasons]]`,
    the rest from `[permits]`."""

    timezone: str
    language: str
    country: str
    reasons: tuple[Reason, ...]
    per_day: int = _key(2, _WHOLE, _at_least_one)
    validity_minutes: int = _key(60, _WHOLE, _at_least_one)
    registration: str = _key("registry", '"registry", "open" or "sms"',
                             ("registry", "open", "sms"))
    open_district: str = _key("", "the district id self-registered residents join")
    registration_approval: bool = _key(True, "true or false")
    registry_office: str = _key("", "where to get a permit where SMS permits are not issued,"
                                    " e.g. a phone number (it must fit the reply: about 24"
                                    " characters)", office_fits)
    replies_per_hour: int = _key(10, _WHOLE, _at_least_one)
    officer_replies_per_hour: int = _key(300, _WHOLE, _at_least_one)
    officer_misses_allowed: int = _key(5, _WHOLE, _at_least_one)
    officer_miss_window_minutes: int = _key(10, _WHOLE, _at_least_one)

    def reason(self, number: int) -> Reason | None:
        """The reason with this number, if the catalogue has it."""
        return next((r for r in self.reasons if r.number == number), None)

    def validity_for(self, reason: Reason) -> int:
        """Minutes a permit for `reason` lasts."""
        return reason.validity_minutes or self.validity_minutes
