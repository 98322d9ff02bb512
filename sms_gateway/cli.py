"""`permit-gateway`: thin commands that parse options and call one function each."""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import logging
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from permits import codes, phones, registry
from permits.service import Rules
from sms_gateway import admin, logsafe, migrate
from sms_gateway.clock import utc_now
from sms_gateway.config import Config, ConfigError, load
from storage.db import make_engine

log = logging.getLogger("permit-gateway")


class CommandError(Exception):
    """A command that cannot do what was asked; its message is shown, exit code 1."""


def _prepare(config: Config) -> Engine:
    """The engine, with the schema up to date and the configured districts present."""
    engine = make_engine(config.database_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        registry.sync_districts(conn, [(d.id, d.name, d.enabled) for d in config.districts])
    return engine


def cmd_db_upgrade(config: Config, args: argparse.Namespace) -> None:
    _prepare(config)
    print("database is up to date")


def cmd_residents_import(config: Config, args: argparse.Namespace) -> None:
    engine = _prepare(config)
    try:
        with open(args.file, encoding="utf-8-sig", newline="") as source:
            report = registry.import_residents(engine, source, config.rules.country, utc_now())
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


def cmd_officers_add(config: Config, args: argparse.Namespace) -> None:
    with _prepare(config).begin() as conn:
        number = registry.add_officer(conn, args.phone, args.name, config.rules.country,
                                      utc_now())
    print(f"officer {phones.mask(number)} ({args.name}) added")


def cmd_officers_list(config: Config, args: argparse.Namespace) -> None:
    with _prepare(config).connect() as conn:
        for officer in admin.list_officers(conn):
            state = "active" if officer["active"] else "inactive"
            print(f"{officer['phone']}\t{officer['name']}\t{state}")


def cmd_officers_remove(config: Config, args: argparse.Namespace) -> None:
    with _prepare(config).begin() as conn:
        registry.deactivate_officer(conn, args.phone, config.rules.country)
    print("officer deactivated")


def cmd_districts(config: Config, args: argparse.Namespace) -> None:
    with _prepare(config).begin() as conn:
        registry.set_district(conn, args.id, args.action == "enable")
    print(f"district {args.id} {args.action}d")


def cmd_permits_list(config: Config, args: argparse.Namespace) -> None:
    with _prepare(config).connect() as conn:
        views = admin.list_permits(conn, utc_now(), args.phone, config.rules.country)
    if args.json:
        print(json.dumps([v.as_dict() for v in views], ensure_ascii=False, indent=1))
        return
    for v in views:
        print(f"{v.code}\t{v.phone}\t{v.reason}\t{v.valid_from}\t{v.valid_until}\t{v.state}")


def cmd_permits_revoke(config: Config, args: argparse.Namespace) -> None:
    with _prepare(config).begin() as conn:
        code = admin.revoke(conn, args.code, utc_now())
    print(f"permit {codes.display(code)} revoked")


def cmd_simulate(config: Config, args: argparse.Namespace) -> None:
    from sms_gateway.simulate import Quarantined, simulate

    try:
        replies = simulate(_prepare(config), Rules(config.rules), args.sender, args.text)
    except Quarantined as exc:
        raise CommandError(f"the message was quarantined: {exc}") from exc
    for reply in replies:
        print(reply)


def cmd_quarantine_list(config: Config, args: argparse.Namespace) -> None:
    from sms_gateway.pipeline import quarantine

    with _prepare(config).connect() as conn:
        entries = quarantine.entries(conn, limit=args.limit)
    for entry in entries:
        sender = phones.mask(entry.sender) if entry.sender else "-"
        print(f"{entry.id}\t{entry.quarantined_at.isoformat(timespec='seconds')}\t"
              f"{entry.channel}\t{sender}\t{entry.kind}\t{entry.reason}")
    print(f"{len(entries)} held", file=sys.stderr)


def cmd_quarantine_release(config: Config, args: argparse.Namespace) -> None:
    from sms_gateway.pipeline.inbox import Inbox

    record = _audit(f"entry #{args.id}", "quarantine_released")
    _resolving(lambda: Inbox(_prepare(config)).release(args.id, also=record))
    print(f"entry #{args.id} released into the inbox")


def cmd_quarantine_delete(config: Config, args: argparse.Namespace) -> None:
    from sms_gateway.pipeline import quarantine

    def delete() -> None:
        with _prepare(config).begin() as conn:
            quarantine.resolve(conn, args.id, quarantine.State.DELETED, utc_now())
            _audit(f"entry #{args.id}", "quarantine_deleted")(conn)

    _resolving(delete)
    print(f"entry #{args.id} deleted")


def _resolving(action: Callable[[], None]) -> None:
    from sms_gateway.pipeline.quarantine import QuarantineError

    try:
        action()
    except QuarantineError as exc:
        raise CommandError(str(exc)) from exc


def _audit(detail: str, action: str) -> Callable[[Connection], None]:
    """The console's audit record for a change made here, by `cli:<login>`."""
    from sms_gateway.web import audit

    operator = f"cli:{getpass.getuser()}"
    return lambda conn: audit.record(conn, operator, action, detail, utc_now())


def cmd_run(config: Config, args: argparse.Namespace) -> None:
    from sms_gateway.runner import run

    run(config, _prepare(config), node=args.node, web=not args.no_web)


def cmd_web(config: Config, args: argparse.Namespace) -> None:
    from sms_gateway.runner import serve_web

    serve_web(config, _prepare(config))


def cmd_operators_add(config: Config, args: argparse.Namespace) -> None:
    from sms_gateway.web.operators import OperatorError, add_operator, read_password

    try:
        password = read_password(sys.stdin, sys.stdin.isatty())
        with _prepare(config).begin() as conn:
            add_operator(conn, args.username, password, utc_now())
    except OperatorError as exc:
        raise CommandError(str(exc)) from exc
    print(f"operator {args.username} added")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="permit-gateway", description=__doc__)
    parser.add_argument("--config", help="configuration file (default: $PERMIT_GATEWAY_CONFIG"
                                         " or ./config.toml)")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, func: Callable, parent: Any = sub,
                **kwargs: Any) -> argparse.ArgumentParser:
        p = parent.add_parser(name, **kwargs)
        p.set_defaults(func=func)
        return p

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    command("upgrade", cmd_db_upgrade, db, help="create or migrate the schema")

    res = sub.add_parser("residents").add_subparsers(dest="residents", required=True)
    command("import", cmd_residents_import, res,
            help="import phone,name,district[,document] rows").add_argument("file")

    off = sub.add_parser("officers").add_subparsers(dest="officers", required=True)
    add = command("add", cmd_officers_add, off)
    add.add_argument("phone")
    add.add_argument("--name", required=True)
    command("list", cmd_officers_list, off)
    command("remove", cmd_officers_remove, off).add_argument("phone")

    dis = sub.add_parser("districts").add_subparsers(dest="action", required=True)
    for action in ("enable", "disable"):
        command(action, cmd_districts, dis).add_argument("id")

    per = sub.add_parser("permits").add_subparsers(dest="permits", required=True)
    lst = command("list", cmd_permits_list, per)
    lst.add_argument("--phone")
    lst.add_argument("--json", action="store_true")
    command("revoke", cmd_permits_revoke, per).add_argument("code")

    sim = command("simulate", cmd_simulate, help="handle one SMS and print the replies")
    sim.add_argument("--from", dest="sender", required=True, help="the sender's number")
    sim.add_argument("text")

    qua = sub.add_parser("quarantine", help="inbound items the inbox set aside").add_subparsers(
        dest="quarantine", required=True)
    command("list", cmd_quarantine_list, qua, help="the held entries, newest first").add_argument(
        "--limit", type=int, default=100)
    command("release", cmd_quarantine_release, qua,
            help="run a held message through the inbox again").add_argument("id", type=int)
    command("delete", cmd_quarantine_delete, qua,
            help="erase a held entry").add_argument("id", type=int)

    run = command("run", cmd_run, help="run the gateway: transports, pipeline, scheduler, web")
    run.add_argument("--node", default=socket.gethostname(), help="this node's name")
    run.add_argument("--no-web", action="store_true", help="do not serve the web console")
    command("web", cmd_web, help="serve only the operators' web console")

    ops = sub.add_parser("operators").add_subparsers(dest="operators", required=True)
    command("add", cmd_operators_add, ops,
            help="add a web operator; the password is asked for, or read from the first line"
                 " of standard input").add_argument("username")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load(args.config)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logsafe.configure(config.log_level if args.command in ("run", "web") else "WARNING")
    try:
        args.func(config, args)
    except (CommandError, registry.RegistryError, phones.PhoneError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"error: the database at {make_url(config.database_url).render_as_string()} "
              f"cannot be used: {exc.__class__.__name__}: {str(exc).splitlines()[0]}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
