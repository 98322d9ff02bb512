"""What the inbox set aside: `quarantine list`, `release ID` (through the gate into the inbox
again) and `delete ID`, each change audited."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from permits import phones
from sms_gateway.cli.common import CommandError, prepare, record, whole_number
from sms_gateway.clock import utc_now
from sms_gateway.config import Config
from sms_gateway.pipeline import quarantine
from sms_gateway.pipeline.inbox import Inbox


def quarantine_list(config: Config, args: argparse.Namespace) -> None:
    with prepare(config).connect() as conn:
        entries = quarantine.entries(conn, limit=args.limit)
    print("id\tquarantined\tchannel\tsender\tkind\twhy")
    for entry in entries:
        sender = phones.mask(entry.sender) if entry.sender else "-"
        print(f"{entry.id}\t{entry.quarantined_at.isoformat(timespec='seconds')}\t"
              f"{entry.channel}\t{sender}\t{entry.kind}\t{entry.reason}")
    print(f"{len(entries)} held", file=sys.stderr)


def quarantine_release(config: Config, args: argparse.Namespace) -> None:
    inbox = Inbox(prepare(config))
    _resolving(lambda: inbox.release(
        args.id, also=lambda conn: record(conn, "quarantine_released", entry=args.id)))
    print(f"entry #{args.id} released into the inbox")


def quarantine_delete(config: Config, args: argparse.Namespace) -> None:
    def delete() -> None:
        with prepare(config).begin() as conn:
            quarantine.resolve(conn, args.id, quarantine.State.DELETED, utc_now())
            record(conn, "quarantine_deleted", entry=args.id)

    _resolving(delete)
    print(f"entry #{args.id} deleted")


def _resolving(action: Callable[[], None]) -> None:
    try:
        action()
    except quarantine.QuarantineError as exc:
        raise CommandError(str(exc)) from exc


def register(sub: argparse._SubParsersAction) -> None:
    qua = sub.add_parser("quarantine", help="inbound items the inbox set aside").add_subparsers(
        dest="quarantine", required=True, metavar="ACTION")
    lst = qua.add_parser("list", help="the held entries, newest first")
    lst.add_argument("--limit", type=whole_number, default=100)
    lst.set_defaults(func=quarantine_list)
    release = qua.add_parser("release", help="run a held message through the inbox again")
    release.add_argument("id", type=whole_number)
    release.set_defaults(func=quarantine_release)
    delete = qua.add_parser("delete", help="erase a held entry")
    delete.add_argument("id", type=whole_number)
    delete.set_defaults(func=quarantine_delete)
