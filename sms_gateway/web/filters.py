"""Template filters: local times, masked phones, short ages, reason names."""

from __future__ import annotations

import datetime as dt

from flask import Flask

from permits.phones import mask
from sms_gateway.web.context import services


def local_time(value: dt.datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Stored UTC (a datetime or an ISO string) shown in the service's time zone."""
    if value is None or value == "":
        return ""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(services().zone).strftime(fmt)


def age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def reason_name(number: int | None) -> str:
    settings = services().rules.settings
    reason = settings.reason(number) if number is not None else None
    return f"{number} {reason.name(settings.language)}" if reason else str(number or "—")


def init(app: Flask) -> None:
    app.add_template_filter(local_time, "local")
    app.add_template_filter(mask, "mask")
    app.add_template_filter(age, "age")
    app.add_template_filter(reason_name, "reason")
