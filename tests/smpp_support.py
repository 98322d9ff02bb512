"""A gateway node on a real SMPP link to the simulated SMSC, for tests that drive a feature
end to end (this module has no tests of its own)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sms_gateway.clock import Clock, utc_now
from sms_gateway.config import Config
from sms_gateway.gateway import Gateway
from sms_gateway.smpp.transport import SmppTransport
from tools.simsmsc.kit import local_settings
from tools.simsmsc.simulator import SimSmsc
from tools.waiting import wait_for


@contextlib.contextmanager
def smpp_node(config: Config, engine, clock: Clock = utc_now) -> Iterator[SimSmsc]:
    """The simulated SMSC, with a started gateway bound to it (its clock `clock`); stopped on
    the way out."""
    with SimSmsc() as smsc:
        transport = SmppTransport(local_settings(smsc.port))
        node = Gateway(config, engine, [transport], clock=clock)
        node.start()
        try:
            wait_for(lambda: transport.health().up, what="the SMPP bind")
            yield smsc
        finally:
            node.stop()


def texts_to(smsc: SimSmsc, phone: str) -> list[str]:
    """What the SMSC was asked to deliver to `phone`, in order."""
    return [record.text for record in smsc.submits if record.to == phone.lstrip("+")]
