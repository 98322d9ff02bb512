"""The console behind waitress, in a background thread of the gateway (or of `permit-gateway web`).
"""

from __future__ import annotations

import logging
import threading

import waitress
from sqlalchemy import Engine

from sms_gateway.clock import Clock, utc_now
from sms_gateway.config import Config
from sms_gateway.web.app import MAX_UPLOAD_BYTES, create_app

log = logging.getLogger(__name__)
_JOIN_SECONDS = 10


class WebServer:
    """start() returns once the socket listens (port 0 picks a free port: see `port`)."""

    def __init__(self, config: Config, engine: Engine, *, clock: Clock = utc_now,
                 host: str | None = None, port: int | None = None, threads: int = 8) -> None:
        self.app = create_app(config, engine, clock=clock)
        self.host = config.web.host if host is None else host
        self.port = config.web.port if port is None else port
        self.threads = threads
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the web server is already running")
        # No proxy options here: the app reads forwarding headers itself (web.proxy), since
        # waitress would replace the socket peer the app decides trust from.
        self._server = waitress.create_server(
            self.app, host=self.host, port=self.port, threads=self.threads,
            ident="permit-gateway", max_request_body_size=MAX_UPLOAD_BYTES + 65536,
            clear_untrusted_proxy_headers=False)
        self.port = int(self._server.effective_port)
        self._thread = threading.Thread(target=self._server.run, name="web", daemon=True)
        self._thread.start()
        log.info("web console listening on %s", self.url)

    def stop(self) -> None:
        """Close the listening socket and every connection, then let the worker threads finish."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        # The socket map belongs to the loop thread: close it from there, via waitress's trigger.
        server.trigger.pull_trigger(lambda: [d.close() for d in list(server._map.values())])
        thread.join(_JOIN_SECONDS)
        server.task_dispatcher.shutdown(timeout=_JOIN_SECONDS)
        self._server = self._thread = None
