"""Reports: `report daily [--date D] [--csv]` for a local day (default: today), per district
and reason, as text for a terminal or CSV for a spreadsheet."""

from __future__ import annotations

import argparse
import datetime as dt

from permits import localtime
from sms_gateway import reports
from sms_gateway.cli.common import CommandError, prepare, zone
from sms_gateway.clock import utc_now
from sms_gateway.config import Config

WORDS = {
    "issued": "issued", "repeated": "already held", "exempt": "no permit needed (exempt)",
    "no_regime": "no permit needed (no regime)", "refused_quota": "refused: daily limit",
    "refused_not_resident": "refused: not on the registry",
    "refused_registry_only": "refused: not issued by SMS there",
    "checks_valid": "checks: valid", "checks_expired": "checks: expired",
    "checks_not_yet_valid": "checks: not yet valid", "checks_revoked": "checks: revoked",
    "checks_unknown": "checks: unknown code", "checks_typo": "checks: typo",
    "checks_format": "checks: not a code", "checks_refused": "checks: not an officer",
    "checks_slowed": "checks: slowed down",
}


def report_daily(config: Config, args: argparse.Namespace) -> None:
    local = zone(config)
    day = _day(args.date, local) if args.date else utc_now().astimezone(local).date()
    with prepare(config).connect() as conn:
        report = reports.daily(conn, day, local)
    names = {d.id: d.display_name(config.rules.language) for d in config.districts}

    def district(district_id: str) -> str:
        return names.get(district_id, district_id)

    def reason(number: int) -> str:
        found = config.rules.reason(number)
        return found.name(config.rules.language) if found else str(number)

    if args.csv:
        print(reports.as_csv(report, district, reason), end="")
        return
    print(f"daily report for {day.isoformat()} (local day, {config.rules.timezone})")
    print(reports.as_text(report, district, reason, WORDS))


def _day(text: str, zone: dt.tzinfo) -> dt.date:
    try:
        return localtime.typed_day(text, zone)
    except ValueError as exc:
        raise CommandError(f"--date takes a date such as 2026-11-25, not {text!r}") from exc


def register(sub: argparse._SubParsersAction) -> None:
    rep = sub.add_parser("report", help="reports for operators and the authorities"
                         ).add_subparsers(dest="report", required=True, metavar="ACTION")
    daily = rep.add_parser("daily", help="one local day per district and reason: issued,"
                                         " refused by cause, exempt, checks by outcome")
    daily.add_argument("--date", metavar="DATE", help="the local day (default: today)")
    daily.add_argument("--csv", action="store_true", help="CSV with every column")
    daily.set_defaults(func=report_daily)
