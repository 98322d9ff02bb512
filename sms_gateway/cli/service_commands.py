"""Running the service: `db upgrade`, `simulate`, `run`, `web`."""

from __future__ import annotations

import argparse
import socket
import sys

from sms_gateway.cli.common import CommandError, prepare, prepare_reporting
from sms_gateway.config import Config

# Why a message got no reply, in words for whoever ran `simulate`.
_SILENT = {
    "ignored": "no reply: {sender} is not a phone number (alphanumeric senders never get a"
               " reply, so two automatic systems cannot answer each other for ever)",
    "capped": "no reply: this number has had {cap} replies this hour (the per-number reply"
              " cap stops loops); messages are answered again from the next hour",
}


def db_upgrade(config: Config, args: argparse.Namespace) -> None:
    _, upgrade = prepare_reporting(config)
    print(upgrade.describe())


def simulate(config: Config, args: argparse.Namespace) -> None:
    from sms_gateway.simulate import Quarantined, simulate

    try:
        result = simulate(prepare(config), config, args.sender, args.text)
    except Quarantined as exc:
        raise CommandError(f"the message was quarantined: {exc}") from exc
    for reply in result.replies:
        print(reply)
    if not result.replies:
        why = _SILENT.get(result.outcome, "no reply ({outcome})")
        print(why.format(sender=args.sender, cap=config.rules.replies_per_hour,
                         outcome=result.outcome), file=sys.stderr)


def run(config: Config, args: argparse.Namespace) -> None:
    from sms_gateway.runner import run

    run(config, prepare(config), node=args.node, web=not args.no_web)


def web(config: Config, args: argparse.Namespace) -> None:
    from sms_gateway.runner import serve_web

    serve_web(config, prepare(config))


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="the database schema").add_subparsers(
        dest="db", required=True, metavar="ACTION")
    db.add_parser("upgrade", help="create or migrate the schema (Alembic)").set_defaults(
        func=db_upgrade)

    sim = sub.add_parser("simulate", help="handle one SMS exactly as a transport's would and"
                                          " print each reply")
    sim.add_argument("--from", dest="sender", required=True, help="the sender's number")
    sim.add_argument("text")
    sim.set_defaults(func=simulate)

    run_ = sub.add_parser("run", help="run the gateway: transports, pipeline, scheduler, web"
                                      " console, until SIGTERM or SIGINT")
    run_.add_argument("--node", default=socket.gethostname(), help="this node's name")
    run_.add_argument("--no-web", action="store_true", help="do not serve the web console")
    run_.set_defaults(func=run)
    sub.add_parser("web", help="serve only the operators' web console").set_defaults(func=web)
