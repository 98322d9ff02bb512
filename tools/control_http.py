"""The simulators' small JSON control API: a route table served on a loopback port.

Both simulators (modem and SMSC) use it: routes map (method, path) to a function of the JSON
body; a wrong request is answered 400 with the reason, an unknown route 404.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

Routes = dict[tuple[str, str], Callable[[dict[str, Any]], object]]


class BadRequest(Exception):
    """The control request was malformed: answered 400 with the reason."""


def make_server(routes: Routes, host: str, port: int,
                errors: tuple[type[Exception], ...] = ()) -> ThreadingHTTPServer:
    """A server for `routes` (not yet serving); `errors` are answered 400 like BadRequest."""
    refused = (BadRequest, KeyError, ValueError, TypeError, *errors)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get((self.command, self.path.split("?")[0].rstrip("/")))
            if route is None:
                self._reply(HTTPStatus.NOT_FOUND, {"error": f"no route {self.path}"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(body, dict):
                    raise BadRequest("the body must be a JSON object")
                result = route(body)
            except refused as exc:
                self._reply(HTTPStatus.BAD_REQUEST, {"error": str(exc) or repr(exc)})
                return
            self._reply(HTTPStatus.OK, {"ok": True} if result is None else result)

        do_POST = do_DELETE = do_GET

        def _reply(self, status: HTTPStatus, payload: object) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("control: " + format, *args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def serve(routes: Routes, host: str, port: int, name: str,
          errors: tuple[type[Exception], ...] = ()) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; `server.shutdown()` stops it."""
    server = make_server(routes, host, port, errors)
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server
