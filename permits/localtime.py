"""Local wall-clock times and days that operators type, as UTC moments.

Near the calendar's ends a local time has no UTC moment (0001-01-01 00:00 east of UTC,
9999-12-31 23:59 west of it), and the last day has no next one: `OutOfRange`, a ValueError
that the command line and the console answer as a bad value, where `astimezone` would have
raised an OverflowError out of the command or the page.
"""

from __future__ import annotations

import datetime as dt


class OutOfRange(ValueError):
    """A local time or day at the calendar's ends that has no UTC moment."""


def moment(local: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """A naive local time in `zone`, as a UTC moment."""
    try:
        return local.replace(tzinfo=zone).astimezone(dt.UTC)
    except OverflowError as exc:
        raise OutOfRange(f"{local:%Y-%m-%d %H:%M} has no moment in UTC") from exc


def midnight(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    """Where local day `day` begins, in UTC."""
    return moment(dt.datetime.combine(day, dt.time()), zone)


def typed_day(text: str, zone: dt.tzinfo) -> dt.date:
    """A day an operator typed (YYYY-MM-DD) that is a whole local day in UTC; ValueError
    (OutOfRange at the calendar's ends) otherwise."""
    day = dt.date.fromisoformat(text)
    day_bounds(day, zone)
    return day


def day_bounds(day: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """Where local day `day` begins and where the next one does, in UTC."""
    if day == dt.date.max:
        raise OutOfRange(f"{day.isoformat()} has no next day")
    return midnight(day, zone), midnight(day + dt.timedelta(days=1), zone)
