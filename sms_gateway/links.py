"""The registry of configured transports: `[[modems]]` form one pool, each `[[smpp]]` a link."""

from __future__ import annotations

from pathlib import Path

from sms_gateway.config import Config, ConfigError
from sms_gateway.transport import Transport

MODEM_POOL = "pool"


def _port(port: str, base: Path) -> str:
    """A relative device path (a simulator's symlink) is relative to the config file."""
    if "://" in port or port.startswith("/"):
        return port
    return str(base / port)


def modem_pool(config: Config, base: Path) -> Transport | None:
    if not config.modems:
        return None
    from sms_gateway.modem.settings import ModemPoolSettings, ModemSettings, SettingsError
    from sms_gateway.modem.transport import ModemTransport

    try:
        modems = tuple(
            ModemSettings(**{**row, "port": _port(row["port"], base), "pin": row["pin"] or None})
            for row in config.modems)
        return ModemTransport(ModemPoolSettings(MODEM_POOL, modems))
    except (TypeError, SettingsError) as exc:
        raise ConfigError(f"[[modems]]: {exc}") from exc


def smpp_links(config: Config) -> list[Transport]:
    if not config.smpp:
        return []
    from sms_gateway.smpp.settings import SmppSettings
    from sms_gateway.smpp.transport import SmppTransport

    links = []
    for row in config.smpp:
        try:
            links.append(SmppTransport(SmppSettings(**row)))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"[[smpp]] {row.get('name')}: {exc}") from exc
    return links


def build(config: Config) -> list[Transport]:
    """Every transport the configuration names, not yet started."""
    base = config.source.resolve().parent if config.source else Path.cwd()
    pool = modem_pool(config, base)
    return ([pool] if pool else []) + smpp_links(config)
