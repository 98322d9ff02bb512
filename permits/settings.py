"""The rules' own settings: plain values, loaded and validated by the gateway's config."""

from __future__ import annotations

from dataclasses import dataclass, field

from permits.reasons import DEFAULT_REASONS, Reason


@dataclass(frozen=True)
class RulesSettings:
    """Everything `permits` needs to decide; no transport or storage details."""

    timezone: str = "Europe/Samara"
    language: str = "ru"
    country: str = "RU"
    per_day: int = 2
    validity_minutes: int = 60
    registration: str = "registry"
    open_district: str = ""
    reasons: tuple[Reason, ...] = field(default=DEFAULT_REASONS)
    replies_per_hour: int = 10
    officer_replies_per_hour: int = 300
    officer_misses_allowed: int = 5
    officer_miss_window_minutes: int = 10

    def reason(self, number: int) -> Reason | None:
        """The reason with this number, if the catalogue has it."""
        return next((r for r in self.reasons if r.number == number), None)

    def validity_for(self, reason: Reason) -> int:
        """Minutes a permit for `reason` lasts."""
        return reason.validity_minutes or self.validity_minutes
