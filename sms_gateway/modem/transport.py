"""The GSM modem pool as a `Transport`: what the pipeline starts, stops and sends through.

transport = ModemTransport(ModemPoolSettings("kinel", (ModemSettings("m1", "/dev/ttyUSB0"),)))
transport.start(sink)          # reads the SIMs, then listens
transport.send([OutboundMessage(1, "+79270000001", "Пропуск ...")])
transport.health()             # LinkHealth(channel="modem:kinel", kind="modem", ...)
transport.stop()
"""

from __future__ import annotations

from collections.abc import Sequence

from sms_gateway.modem.at_port import Opener, open_serial
from sms_gateway.modem.pool import KIND, ModemPool
from sms_gateway.modem.settings import ModemPoolSettings
from sms_gateway.transport import InboundSink, LinkHealth, OutboundMessage, SendResult, Transport


class ModemTransport(Transport):
    """A pool of GSM modems driven over AT commands (PDU mode)."""

    kind = KIND

    def __init__(self, settings: ModemPoolSettings, *, opener: Opener = open_serial) -> None:
        super().__init__(settings.name)
        self.settings = settings
        self._opener = opener
        self._pool: ModemPool | None = None

    @property
    def send_concurrency(self) -> int:
        """How many `send` calls can usefully run at once: one per modem.

        A single sender waits for its whole batch (the slowest modem's last SMS) before it
        claims more, leaving finished modems idle; one sender per modem keeps them all busy.
        `send` is safe to call concurrently (see `ModemPool`).
        """
        return len(self.settings.modems)

    def start(self, sink: InboundSink) -> None:
        if self._pool is not None:
            raise RuntimeError(f"{self.channel} is already started")
        self._pool = ModemPool(self.settings, self.channel, sink, self._opener)
        self._pool.start()

    def stop(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        pool = self._pool
        if pool is None:
            return [
                SendResult(m.id, ok=False, error=f"{self.channel} is not started", deferred=True)
                for m in messages
            ]
        return pool.send(messages)

    def ready(self) -> bool:
        pool = self._pool
        return pool is not None and pool.ready()

    def health(self) -> LinkHealth:
        if self._pool is None:
            return LinkHealth(self.channel, self.kind, up=False, details={"state": "stopped"})
        return self._pool.health()
