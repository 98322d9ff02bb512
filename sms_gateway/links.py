"""The registry of configured links: `[[modems]]` form one pool, each `[[smpp]]` a link."""

from __future__ import annotations

from sms_gateway.config import Config
from sms_gateway.transport import Transport

MODEM_POOL = "pool"


def build(config: Config) -> list[Transport]:
    """Every transport the configuration names, not yet started."""
    links: list[Transport] = []
    if config.modems:
        from sms_gateway.modem.settings import ModemPoolSettings
        from sms_gateway.modem.transport import ModemTransport

        links.append(ModemTransport(ModemPoolSettings(MODEM_POOL, config.modems)))
    if config.smpp:
        from sms_gateway.smpp.transport import SmppTransport

        links += [SmppTransport(settings) for settings in config.smpp]
    return links
