"""A simulated SMSC on a loopback port, for running the gateway without an operator.

    python tools/sim_smsc.py --port 2775 --control 127.0.0.1:8772 [--system-id gw --password pw]

binds any ESME (or only the given credentials) and serves a JSON control API:

    POST /inject   {"sender": "+79270000001", "text": "ВЫХОД 2", "encoding": "gsm7|ucs2|latin1",
                    "to": "377", "split": "udh|sar|payload", "parts": 3, "order": [2, 0, 1],
                    "ussd_op": 1, "ussd_session": "0a01"}
    GET  /sent     every submit_sm: {"to", "text", "concat", "message_id", "ussd_op", ...}
    DELETE /sent   forget them
    POST /receipt  {"message_id": "1F000", "state": "DELIVRD", "form": "tlv|text|both"}
    POST /faults   {"silent": bool, "throttle": n, "nack": n, "drop_on_answer": n, "drop": true,
                    "unbind": true, "away": bool (refuse connections until "away": false)}
    GET  /status   bound ESMEs, counts, faults

Tests use the class: `with SimSmsc() as smsc: ... smsc.inject(...); smsc.submits ...`
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `sms_gateway` and `tools` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools import control_http
from tools.simsmsc.simulator import SimError, SimSmsc

__all__ = ["SimSmsc", "main", "serve_control"]

log = logging.getLogger("sim_smsc")

_INJECT_OPTIONS = ("encoding", "split", "parts", "order", "ussd_op", "ussd_session")
_RECEIPT_OPTIONS = ("form", "err", "text_id", "to", "recipient")


def _routes(smsc: SimSmsc) -> dict[tuple[str, str], Callable[[dict[str, Any]], object]]:
    def inject(body: dict[str, Any]) -> object:
        options = {key: body[key] for key in _INJECT_OPTIONS if key in body}
        return {
            "sequences": smsc.inject(body["sender"], body["text"], body.get("to", "377"), **options)
        }

    def receipt(body: dict[str, Any]) -> object:
        options = {key: body[key] for key in _RECEIPT_OPTIONS if key in body}
        return {
            "sequence": smsc.receipt(body["message_id"], body.get("state", "DELIVRD"), **options)
        }

    def faults(body: dict[str, Any]) -> object:
        if "away" in body:
            if body.pop("away"):
                smsc.go_away()
            else:
                smsc.come_back()
        if body.pop("drop", False):
            smsc.drop()
        if body.pop("unbind", False):
            smsc.unbind()
        for name, value in body.items():
            if name not in {field.name for field in dataclasses.fields(smsc.faults)}:
                raise ValueError(f"unknown fault {name!r}")
            setattr(smsc.faults, name, value)
        return dataclasses.asdict(smsc.faults)

    return {
        ("POST", "/inject"): inject,
        ("GET", "/sent"): lambda body: [record.as_json() for record in smsc.submits],
        ("DELETE", "/sent"): lambda body: smsc.submits.clear(),
        ("POST", "/receipt"): receipt,
        ("POST", "/faults"): faults,
        ("GET", "/status"): lambda body: {
            "bound": smsc.bound_count(),
            "sent": len(smsc.submits),
            "faults": dataclasses.asdict(smsc.faults),
        },
    }


def serve_control(smsc: SimSmsc, host: str, port: int) -> ThreadingHTTPServer:
    """Start the JSON control API in a daemon thread; `server.shutdown()` stops it."""
    return control_http.serve(_routes(smsc), host, port, "sim-smsc-control", (SimError,))


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on for SMPP")
    parser.add_argument("--port", type=int, default=2775, help="SMPP port (0: any free one)")
    parser.add_argument("--control", default="127.0.0.1:8772", help="HOST:PORT of the API")
    parser.add_argument("--system-id", help="accept only this system_id (with --password)")
    parser.add_argument("--password", default="")
    parser.add_argument("--id-format", choices=("hex", "decimal"), default="hex")
    parser.add_argument(
        "--auto-receipts",
        action="store_true",
        help="answer every submit that asks for one with a DELIVRD receipt",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    credentials = (args.system_id, args.password) if args.system_id else None
    smsc = SimSmsc(
        args.host, args.port, credentials, args.id_format, auto_receipts=args.auto_receipts
    ).start()
    control = serve_control(smsc, *_address(args.control))
    # One parseable line, so scripts and tests can find the ports that were picked.
    print(
        json.dumps({"smpp_port": smsc.port, "control_port": control.server_address[1]}), flush=True
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    control.shutdown()
    smsc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
