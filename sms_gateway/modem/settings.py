"""Typed settings of a modem pool: each `[[modems]]` table read once (see sms_gateway.config)."""

from __future__ import annotations

from dataclasses import dataclass

from sms_gateway.typed_settings import ConfigError, at_least_one, positive, setting

_SECONDS = "seconds > 0"


@dataclass(frozen=True)
class ModemSettings:
    """One modem: where it is and how patient to be with it.

    `port` is a device path (/dev/ttyUSB0, a simulator's symlink) or a pyserial URL.
    `send_timeout` covers one part from the prompt to +CMGS (the network may take seconds);
    `rest_seconds` is how long a modem that failed `failures_before_rest` sends in a row
    is kept from sending; `reconnect_max_seconds` caps the backoff when reopening the port.
    """

    name: str = setting(allowed="a name")
    port: str = setting(allowed="a serial device path, a pyserial URL or a simulator's link")
    baudrate: int = setting(115200, allowed="a baud rate", check=at_least_one)
    pin: str = setting("", allowed="the SIM PIN (or ${ENV_VAR}); empty: none")
    poll_seconds: float = setting(30.0, allowed=_SECONDS, check=positive)
    command_timeout: float = setting(10.0, allowed=_SECONDS, check=positive)
    prompt_timeout: float = setting(10.0, allowed=_SECONDS, check=positive)
    send_timeout: float = setting(60.0, allowed=_SECONDS, check=positive)
    status_reports: bool = setting(True, allowed="true or false")
    failures_before_rest: int = setting(2, allowed="a whole number >= 1", check=at_least_one)
    rest_seconds: float = setting(60.0, allowed=_SECONDS, check=positive)
    reconnect_min_seconds: float = setting(0.5, allowed=_SECONDS, check=positive)
    reconnect_max_seconds: float = setting(60.0, allowed=_SECONDS, check=positive)

    def __post_init__(self) -> None:
        if not self.name or not self.port:
            raise ConfigError("a modem needs a name and a port")
        if self.reconnect_max_seconds < self.reconnect_min_seconds:
            raise ConfigError("reconnect_max_seconds: below reconnect_min_seconds")


@dataclass(frozen=True)
class ModemPoolSettings:
    """Modems that answer as one channel (`modem:<name>`): replies leave through any of them."""

    name: str
    modems: tuple[ModemSettings, ...]

    def __post_init__(self) -> None:
        if not self.modems:
            raise ConfigError(f"modem pool {self.name} has no modems")
        names = [modem.name for modem in self.modems]
        if len(set(names)) != len(names):
            raise ConfigError(f"modem pool {self.name}: modem names repeat: {names}")
