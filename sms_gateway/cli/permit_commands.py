"""Permits from the command line: `permits list` (local times, says when it cut the list) and
`permits revoke`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from permits import codes, localtime
from sms_gateway import admin
from sms_gateway.cli.common import CommandError, local_time, prepare, record, whole_number, zone
from sms_gateway.clock import utc_now
from sms_gateway.config import Config

DEFAULT_LIMIT = 1000


def permits_list(config: Config, args: argparse.Namespace) -> None:
    limit = None if args.all else args.limit
    since = _since(args.since, config) if args.since else None
    with prepare(config).connect() as conn:
        views = admin.list_permits(conn, utc_now(), args.phone, config.rules.country,
                                   limit=None if limit is None else limit + 1, since=since)
    cut = limit is not None and len(views) > limit
    views = views[:limit]
    if args.json:
        print(json.dumps([v.as_dict() for v in views], ensure_ascii=False, indent=1))
    else:
        print("code\tphone\treason\tfrom\tuntil\tstate\tissued by")
        for v in views:
            print(f"{v.code}\t{v.phone}\t{v.reason}\t"
                  f"{local_time(dt.datetime.fromisoformat(v.valid_from), config)}\t"
                  f"{local_time(dt.datetime.fromisoformat(v.valid_until), config)}\t"
                  f"{v.state}\t{v.issued_by}")
    if cut:
        print(f"the newest {limit} permits are shown and there are more: use --limit N, --all"
              " or --since DATE", file=sys.stderr)


def permits_revoke(config: Config, args: argparse.Namespace) -> None:
    with prepare(config).begin() as conn:
        code = admin.revoke(conn, args.code, utc_now())
        record(conn, "permit_revoked", code=codes.display(code))
    print(f"permit {codes.display(code)} revoked")


def _since(text: str, config: Config) -> dt.datetime:
    """A local date (`2026-11-25`) as the UTC moment its day starts."""
    try:
        return localtime.midnight(dt.date.fromisoformat(text),
                                  zone(config))
    except ValueError as exc:  # OutOfRange too: a day at the calendar's ends
        raise CommandError(f"--since takes a date such as 2026-11-25, not {text!r}") from exc


def register(sub: argparse._SubParsersAction) -> None:
    per = sub.add_parser("permits", help="look up and revoke permits").add_subparsers(
        dest="permits", required=True, metavar="ACTION")
    lst = per.add_parser("list", help="newest first, times in the service's time zone")
    lst.add_argument("--phone", help="only this resident's permits")
    lst.add_argument("--since", metavar="DATE", help="only permits issued from this local day")
    amount = lst.add_mutually_exclusive_group()
    amount.add_argument("--limit", type=whole_number, default=DEFAULT_LIMIT,
                        help=f"at most this many (default {DEFAULT_LIMIT})")
    amount.add_argument("--all", action="store_true", help="every permit")
    lst.add_argument("--json", action="store_true", help="JSON with UTC ISO-8601 times")
    lst.set_defaults(func=permits_list)
    revoke = per.add_parser("revoke", help="revoke a permit (its slot stays spent)")
    revoke.add_argument("code")
    revoke.set_defaults(func=permits_revoke)
