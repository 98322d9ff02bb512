"""The simulated modem's HTTP control API: inject SMS, read what was sent, flip faults.

POST /inject   {"sender": "+79270000001", "text": "ВЫХОД магазин", "shuffle": false}
GET  /sent     [{"to": ..., "text": ..., "concat": [ref, total, seq] | null, ...}, ...]
DELETE /sent   forget what was sent
GET  /status   SIM usage, rejected count, registers, faults
POST /faults   {"send_error": 500 | null, "sim_busy": bool, "prompt_delay": s,
                "send_delay": s, "urc_inside_response": bool}
POST /vanish   {"seconds": 2}   the port disappears and comes back
POST /silence  {"seconds": 5}   the modem stops answering
POST /network  {"rssi": 0..31|99, "registration": 0..5}
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from tools import control_http
from tools.control_http import BadRequest

log = logging.getLogger(__name__)


class Controllable(Protocol):
    def inject(self, sender: str, text: str, shuffle: bool = False) -> Any: ...
    def sent(self) -> list[dict[str, object]]: ...
    def clear_sent(self) -> None: ...
    def status(self) -> dict[str, object]: ...
    def set_faults(self, **changes: object) -> dict[str, object]: ...
    def vanish(self, seconds: float) -> None: ...
    def silence(self, seconds: float) -> None: ...
    def set_network(self, rssi: int | None = None, registration: int | None = None) -> None: ...


def _routes(modem: Controllable) -> dict[tuple[str, str], Callable[[dict[str, Any]], object]]:
    def inject(body: dict[str, Any]) -> object:
        if not isinstance(body.get("sender"), str) or not isinstance(body.get("text"), str):
            raise BadRequest('"sender" and "text" (strings) are required')
        result = modem.inject(body["sender"], body["text"], bool(body.get("shuffle", False)))
        return {"indexes": list(result.indexes), "rejected": result.rejected}

    return {
        ("POST", "/inject"): inject,
        ("GET", "/sent"): lambda body: modem.sent(),
        ("DELETE", "/sent"): lambda body: modem.clear_sent(),
        ("GET", "/status"): lambda body: modem.status(),
        ("POST", "/faults"): lambda body: modem.set_faults(**body),
        ("POST", "/vanish"): lambda body: modem.vanish(float(body.get("seconds", 2))),
        ("POST", "/silence"): lambda body: modem.silence(float(body.get("seconds", 5))),
        ("POST", "/network"): lambda body: modem.set_network(
            body.get("rssi"), body.get("registration")
        ),
    }


class ControlServer:
    """A ThreadingHTTPServer in a daemon thread, bound to one simulated modem."""

    def __init__(self, modem: Controllable, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = control_http.make_server(_routes(modem), host, port)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
