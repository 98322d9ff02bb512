"""Who may use the service: `residents import`, `officers add|list|remove`, `districts`."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from permits import phones, regime, registry
from sms_gateway import admin
from sms_gateway.cli.common import CommandError, os_user, prepare, record
from sms_gateway.clock import utc_now
from sms_gateway.config import Config


def residents_import(config: Config, args: argparse.Namespace) -> None:
    engine = prepare(config)
    try:
        with open(args.file, encoding="utf-8-sig", newline="") as source:
            report = registry.import_residents(engine, source, config.rules.country, utc_now())
        with engine.begin() as conn:
            record(conn, "residents_imported", imported=report.imported,
                   rejected=len(report.rejected), file=Path(args.file).name[:100])
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise CommandError(f"{args.file} is not UTF-8 text") from exc
    except csv.Error as exc:
        raise CommandError(f"{args.file} is not a readable CSV file: {exc}") from exc
    except registry.RegistryError as exc:
        raise CommandError(str(exc)) from exc
    for line, why in report.rejected:
        print(f"line {line}: {why}", file=sys.stderr)
    print(f"imported {report.imported} residents, rejected {len(report.rejected)} rows")


def officers_add(config: Config, args: argparse.Namespace) -> None:
    with prepare(config).begin() as conn:
        number = registry.add_officer(conn, args.phone, args.name, config.rules.country,
                                      utc_now())
        record(conn, "officer_added", phone=phones.mask(number), name=args.name[:200])
    print(f"officer {phones.mask(number)} ({args.name}) added")


def officers_list(config: Config, args: argparse.Namespace) -> None:
    with prepare(config).connect() as conn:
        officers = admin.list_officers(conn)
    print("phone\tname\tstate")
    for officer in officers:
        state = "active" if officer["active"] else "inactive"
        print(f"{officer['phone']}\t{officer['name']}\t{state}")


def officers_remove(config: Config, args: argparse.Namespace) -> None:
    with prepare(config).begin() as conn:
        registry.deactivate_officer(conn, args.phone, config.rules.country)
        record(conn, "officer_deactivated",
               phone=phones.mask(phones.normalize(args.phone, config.rules.country)))
    print("officer deactivated")


def districts_switch(config: Config, args: argparse.Namespace) -> None:
    """`enable`: the regime on, permits by SMS; `disable`: registry-only (as before regimes)."""
    enabled = args.action == "enable"
    with prepare(config).begin() as conn:
        regime.switch(conn, args.id, enabled, by=os_user(), now=utc_now())
        record(conn, "district_on" if enabled else "district_off", district=args.id)
    print(f"district {args.id} {args.action}d")


def register(sub: argparse._SubParsersAction) -> None:
    res = sub.add_parser("residents", help="the residents' registry").add_subparsers(
        dest="residents", required=True, metavar="ACTION")
    imp = res.add_parser("import", help="import phone,name,district[,document][,until] rows;"
                                        " bad rows are reported by line")
    imp.add_argument("file")
    imp.set_defaults(func=residents_import)

    off = sub.add_parser("officers", help="who may verify permits").add_subparsers(
        dest="officers", required=True, metavar="ACTION")
    add = off.add_parser("add", help="add (or rename) an officer")
    add.add_argument("phone")
    add.add_argument("--name", required=True)
    add.set_defaults(func=officers_add)
    off.add_parser("list", help="list officers").set_defaults(func=officers_list)
    remove = off.add_parser("remove", help="deactivate an officer")
    remove.add_argument("phone")
    remove.set_defaults(func=officers_remove)

    dis = sub.add_parser("districts", help="switch the service on district by district")
    actions = dis.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, what in (("enable", "issue permits by SMS in a district (regime on)"),
                         ("disable", "stop issuing permits by SMS in a district (regime"
                                     " registry-only)")):
        cmd = actions.add_parser(action, help=what)
        cmd.add_argument("id")
        cmd.set_defaults(func=districts_switch)
