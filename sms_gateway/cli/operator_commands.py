"""The console's operators: `operators add USER [--role viewer|admin]`, `list`, `passwd USER`,
`role USER ROLE` and `remove USER`; each change audited. A new password and removing an
operator end their open console sessions at once, on every node."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sms_gateway.cli.common import CommandError, prepare, record
from sms_gateway.clock import utc_now
from sms_gateway.config import Config
from sms_gateway.web.operators import (
    OperatorError,
    Role,
    add_operator,
    all_operators,
    canonical_username,
    read_password,
    remove_operator,
    set_password,
    set_role,
)

_ROLES = [role.value for role in Role]


def operators_add(config: Config, args: argparse.Namespace) -> None:
    with _checked():
        password = read_password(sys.stdin, sys.stdin.isatty())
        with prepare(config).begin() as conn:
            added = add_operator(conn, args.username, password, utc_now(), Role(args.role))
            record(conn, "operator_added", username=added.username, role=added.role.value)
    print(f"operator {added.username} added ({added.role})")


def operators_list(config: Config, args: argparse.Namespace) -> None:
    with prepare(config).connect() as conn:
        found = all_operators(conn)
    print("username\trole")
    for operator in found:
        print(f"{operator.username}\t{operator.role}")


def operators_passwd(config: Config, args: argparse.Namespace) -> None:
    with _checked():
        password = read_password(sys.stdin, sys.stdin.isatty())
        with prepare(config).begin() as conn:
            changed = set_password(conn, args.username, password)
            record(conn, "operator_password_changed", username=changed.username)
    print(f"new password for {changed.username}; their console sessions have ended")


def operators_role(config: Config, args: argparse.Namespace) -> None:
    with _checked(), prepare(config).begin() as conn:
        changed = set_role(conn, args.username, Role(args.role))
        record(conn, "operator_role_changed", username=changed.username,
               role=changed.role.value)
    print(f"operator {changed.username} is now {changed.role}")


def operators_remove(config: Config, args: argparse.Namespace) -> None:
    with _checked(), prepare(config).begin() as conn:
        removed = remove_operator(conn, args.username)
        record(conn, "operator_removed", username=removed.username)
    print(f"operator {removed.username} removed; their console sessions have ended")


@contextmanager
def _checked() -> Iterator[None]:
    """OperatorError as the command's error (exit code 1, its message)."""
    try:
        yield
    except OperatorError as exc:
        raise CommandError(str(exc)) from exc


def register(sub: argparse._SubParsersAction) -> None:
    ops = sub.add_parser("operators", help="the web console's operators").add_subparsers(
        dest="operators", required=True, metavar="ACTION")
    add = ops.add_parser("add", help="add a web operator (the password is asked for, or read"
                                     " from standard input)")
    add.add_argument("username", type=canonical_username)
    add.add_argument("--role", choices=_ROLES, default=Role.ADMIN.value,
                     help="viewer: status, permits and printing; admin: everything (default)")
    add.set_defaults(func=operators_add)
    ops.add_parser("list", help="operators and their roles").set_defaults(func=operators_list)
    passwd = ops.add_parser("passwd", help="a new password (asked for, or read from standard"
                                           " input); ends the operator's console sessions")
    passwd.add_argument("username", type=canonical_username)
    passwd.set_defaults(func=operators_passwd)
    role = ops.add_parser("role", help="make an operator a viewer or an admin")
    role.add_argument("username", type=canonical_username)
    role.add_argument("role", choices=_ROLES)
    role.set_defaults(func=operators_role)
    remove = ops.add_parser("remove", help="remove an operator; ends their console sessions")
    remove.add_argument("username", type=canonical_username)
    remove.set_defaults(func=operators_remove)
