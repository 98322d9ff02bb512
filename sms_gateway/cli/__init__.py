"""`permit-gateway`: thin commands that parse options and call one function each.

Each group of commands lives in a module of its own and adds itself to the parser here;
every command that changes data writes the audit log with the OS user who ran it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from permits import phones, registry
from sms_gateway import logsafe
from sms_gateway.cli import (
    operator_commands,
    permit_commands,
    quarantine_commands,
    registry_commands,
    service_commands,
)
from sms_gateway.cli.common import CommandError
from sms_gateway.config import Config, ConfigError, load

_GROUPS = (service_commands, registry_commands, permit_commands, quarantine_commands,
           operator_commands)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="permit-gateway", description="Exit permits by SMS and USSD: the gateway, its"
        " database and its registry. `permit-gateway COMMAND --help` tells more.")
    parser.add_argument("--config", help="configuration file (default: $PERMIT_GATEWAY_CONFIG"
                                         " or ./config.toml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in _GROUPS:
        group.register(sub)
    parser.epilog = "commands:\n" + "\n".join(_every_command(sub))
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def _every_command(sub: argparse._SubParsersAction) -> list[str]:
    """One line per command, `officers add` as well as `run`, from the parsers themselves."""
    helps = {action.dest: action.help or "" for action in sub._choices_actions}
    lines = []
    for name, parser in sub.choices.items():
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not actions:
            lines.append((name, helps[name]))
            continue
        inner = {a.dest: a.help or "" for a in actions[0]._choices_actions}
        lines += [(f"{name} {action}", inner[action]) for action in actions[0].choices]
    width = max(len(name) for name, _ in lines)
    return [f"  {name.ljust(width)}  {text}" for name, text in lines]


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
    except OSError as exc:  # a folder or file the service must write (the ledger, data_dir)
        print(f"error: {_os_error(exc, config)}", file=sys.stderr)
        return 1
    return 0


def _os_error(exc: OSError, config: Config) -> str:
    """One line naming the path and the reason, and where relative paths point."""
    if not exc.filename:
        return exc.strerror or str(exc)
    message = f"cannot use {exc.filename}: {exc.strerror}"
    if config.source is not None:
        message += (f" (paths in {config.source} that are not absolute are relative to "
                    f"{config.source.resolve().parent})")
    return message
