"""Template filters: times, dates and numbers in the page's locale and the service's time zone,
masked phones, and reason and district names in the page's language."""

from __future__ import annotations

import datetime as dt

from babel import dates
from flask import Flask
from flask_babel import (
    format_date,
    format_datetime,
    format_decimal,
    format_time,
    get_locale,
    gettext,
)

from permits.phones import mask
from sms_gateway.web import labels
from sms_gateway.web.context import services

# Named formats, so templates say what they show, not how (Babel's patterns per locale).
_FORMATS = {
    "datetime": lambda moment: format_datetime(moment, "short"),
    "seconds": lambda moment: format_datetime(moment, "medium"),
    "time": lambda moment: format_time(moment, "short"),
    "time_seconds": lambda moment: format_time(moment, "medium"),
    "date": lambda moment: format_date(moment, "long"),
}


def local(value: dt.datetime | str | None, shown: str = "datetime") -> str:
    """Stored UTC (a datetime or an ISO string) in the service's time zone and page's locale."""
    if value is None or value == "":
        return ""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return _FORMATS[shown](moment)


def day(value: dt.date) -> str:
    return format_date(value, "long")


def number(value: int | float | None) -> str:
    return "—" if value is None else format_decimal(value)


def age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return dates.format_timedelta(dt.timedelta(seconds=seconds), threshold=1.5, format="short",
                                  locale=get_locale())


def language() -> str:
    """The language of the page being made ("ru" or "en")."""
    locale = get_locale()
    return locale.language if locale else services().config.web.language


def reason_name(number: int | None) -> str:
    """`1 shop` or `1 магазин`: the number residents type, and the name in the page's language."""
    settings = services().rules.settings
    reason = settings.reason(number) if number is not None else None
    return f"{number} {reason.name(language())}" if reason else str(number or "—")


def district_name(district_id: str | None, stored: str | None = None) -> str:
    """The configured name in the page's language, else the name the database holds."""
    if not district_id:
        return "—"
    for district in services().config.districts:
        if district.id == district_id:
            return district.display_name(language())
    return stored or district_id


def issuer(issued_by: str) -> str:
    """Who issued a permit: `sms`, or `web:<operator>` for one asked for through the console."""
    if issued_by.startswith("web:"):
        return gettext("console, %(operator)s", operator=issued_by.removeprefix("web:"))
    return gettext("by SMS") if issued_by == "sms" else issued_by


def init(app: Flask) -> None:
    for name, function in (("local", local), ("day", day), ("number", number), ("age", age),
                           ("mask", mask), ("reason", reason_name), ("district", district_name),
                           ("issuer", issuer), ("signal", labels.signal)):
        app.add_template_filter(function, name)
    app.add_template_filter(lambda code, table: labels.label(getattr(labels, table), code),
                            "label")
    app.jinja_env.globals["page_language"] = language
