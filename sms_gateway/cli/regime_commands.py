"""The regime per district: `regime set DISTRICT|all off|on|registry-only [--from] [--until]`,
`regime show` (each district now and its next change, then the changes waiting to start),
`regime cancel ID`. Times are local to `[service] timezone`; every change is audited."""

from __future__ import annotations

import argparse
import datetime as dt

from permits import localtime, regime
from sms_gateway.cli.common import CommandError, local_time, os_user, prepare, record, zone
from sms_gateway.clock import utc_now
from sms_gateway.config import Config

_FORMAT = "%Y-%m-%d %H:%M"


def regime_set(config: Config, args: argparse.Namespace) -> None:
    state = regime.SPELLINGS[args.state]
    district = None if args.district == regime.WHOLE_REGION else args.district
    starts = _moment(args.starts, "--from", config) if args.starts else None
    ends = _moment(args.ends, "--until", config) if args.ends else None
    engine = prepare(config)
    now = utc_now()  # after the districts' sync: a new district's first state is in the past
    with engine.begin() as conn:
        change = regime.schedule(conn, district, state, by=os_user(), now=now,
                                 starts_at=starts, ends_at=ends)
        record(conn, "regime_set", change=change, district=args.district, state=args.state,
               starts=args.starts or None, ends=args.ends or None)
    where = "every district" if district is None else f"district {district}"
    when = f"from {args.starts}" if args.starts else "from now"
    until = f" until {args.ends}" if args.ends else ""
    print(f"change #{change}: {where} {args.state} {when}{until}")


def regime_show(config: Config, args: argparse.Namespace) -> None:
    engine = prepare(config)
    now = utc_now()  # after the districts' sync, as in `regime set`
    with engine.connect() as conn:
        districts = regime.overview(conn, now)
        waiting = regime.upcoming(conn, now)
    print("district\tid\tnow\tnext change")
    for district in districts:
        upcoming = (f"{local_time(district.next.at, config)} {regime.spelled(district.next.state)}"
                    if district.next else "-")
        print(f"{district.name}\t{district.id}\t{regime.spelled(district.state)}\t{upcoming}")
    if waiting:
        print("\nchanges waiting to start (regime cancel ID):\nid\tdistrict\tstate\tfrom\tuntil")
    for change in waiting:
        ends = local_time(change.ends_at, config) if change.ends_at else "-"
        print(f"{change.id}\t{change.district_id or regime.WHOLE_REGION}\t"
              f"{regime.spelled(change.state)}\t{local_time(change.starts_at, config)}\t{ends}")


def regime_cancel(config: Config, args: argparse.Namespace) -> None:
    with prepare(config).begin() as conn:
        change = regime.cancel(conn, args.id, utc_now())
        record(conn, "regime_cancelled", change=change.id,
               district=change.district_id or regime.WHOLE_REGION,
               state=regime.spelled(change.state))
    print(f"change #{args.id} cancelled")


def _moment(text: str, option: str, config: Config) -> dt.datetime:
    """`2026-12-01 08:00` in the service's time zone, as a UTC moment."""
    try:
        local = dt.datetime.strptime(text.strip(), _FORMAT)
        return localtime.moment(local, zone(config))
    except ValueError as exc:  # OutOfRange too: a time with no UTC moment
        raise CommandError(f"{option} takes a local time such as \"2026-12-01 08:00\","
                           f" not {text!r}") from exc


def _change_id(text: str) -> int:
    if not text.isdigit() or len(text) > 9:
        raise argparse.ArgumentTypeError(f"expected a change number, not {text!r}")
    return int(text)


def register(sub: argparse._SubParsersAction) -> None:
    reg = sub.add_parser("regime", help="the regime per district, now or on a schedule"
                         ).add_subparsers(dest="regime", required=True, metavar="ACTION")
    set_ = reg.add_parser("set", help="switch a district (or all) off, on or registry-only, now"
                                      " or from a local time, until a local time")
    set_.add_argument("district", help=f"a district id, or {regime.WHOLE_REGION!r}")
    set_.add_argument("state", choices=list(regime.SPELLINGS))
    set_.add_argument("--from", dest="starts", metavar='"YYYY-MM-DD HH:MM"',
                      help="when the change starts (default: now)")
    set_.add_argument("--until", dest="ends", metavar='"YYYY-MM-DD HH:MM"',
                      help="when it ends: the state before it applies again")
    set_.set_defaults(func=regime_set)
    reg.add_parser("show", help="each district's state now and its next change, and the"
                               " changes waiting to start").set_defaults(func=regime_show)
    cancel = reg.add_parser("cancel", help="withdraw a change that has not started yet")
    cancel.add_argument("id", type=_change_id)
    cancel.set_defaults(func=regime_cancel)
