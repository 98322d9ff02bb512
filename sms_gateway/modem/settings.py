"""Typed settings of a modem pool, loaded once (from `[[modems]]` TOML tables) and passed down."""

from __future__ import annotations

from dataclasses import dataclass


class SettingsError(ValueError):
    """A modem pool configuration that cannot work (no modems, duplicate names, ...)."""


@dataclass(frozen=True)
class ModemSettings:
    """One modem: where it is and how patient to be with it.

    `port` is a device path (/dev/ttyUSB0, a simulator's symlink) or a pyserial URL.
    `send_timeout` covers one part from the prompt to +CMGS (the network may take seconds);
    `rest_seconds` is how long a modem that failed `failures_before_rest` sends in a row
    is kept from sending; `reconnect_max_seconds` caps the backoff when reopening the port.
    """

    name: str
    port: str
    baudrate: int = 115200
    pin: str | None = None
    poll_seconds: float = 30.0
    command_timeout: float = 10.0
    prompt_timeout: float = 10.0
    send_timeout: float = 60.0
    status_reports: bool = True
    failures_before_rest: int = 2
    rest_seconds: float = 60.0
    reconnect_min_seconds: float = 0.5
    reconnect_max_seconds: float = 60.0

    def __post_init__(self) -> None:
        if not self.name or not self.port:
            raise SettingsError("a modem needs a name and a port")
        for field in ("poll_seconds", "command_timeout", "prompt_timeout", "send_timeout"):
            if getattr(self, field) <= 0:
                raise SettingsError(f"modem {self.name}: {field} must be positive")
        low, high = self.reconnect_min_seconds, self.reconnect_max_seconds
        if low <= 0 or high < low:
            raise SettingsError(f"modem {self.name}: reconnect backoff bounds are inverted")


@dataclass(frozen=True)
class ModemPoolSettings:
    """Modems that answer as one channel (`modem:<name>`): replies leave through any of them."""

    name: str
    modems: tuple[ModemSettings, ...]

    def __post_init__(self) -> None:
        if not self.modems:
            raise SettingsError(f"modem pool {self.name} has no modems")
        names = [modem.name for modem in self.modems]
        if len(set(names)) != len(names):
            raise SettingsError(f"modem pool {self.name}: modem names repeat: {names}")
