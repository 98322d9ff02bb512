"""The gateway's own sections of the configuration, one frozen dataclass each.

`[permits]` is the rules' (`permits.settings.RulesSettings`), `[[modems]]` and `[[smpp]]` the
transports' (`modem.settings`, `smpp.settings`): every section is read the same way
(`typed_settings.read`), and docs/configuration.md lists every key (a test holds them together).
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from dataclasses import dataclass

from sms_gateway.typed_settings import at_least_one, positive, setting

LANGUAGES = ("ru", "en")


def _timezone(value: str) -> bool:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _networks(values: tuple[str, ...]) -> bool:
    try:
        for value in values:
            ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = setting("sqlite:///data/permits.db", allowed="an SQLAlchemy URL")


@dataclass(frozen=True)
class ServiceSettings:
    timezone: str = setting("Europe/Samara", allowed="an IANA time zone such as Europe/Samara",
                            check=_timezone)
    language: str = setting("ru", allowed='"ru" or "en"', check=LANGUAGES)
    sms_number: str = setting("", allowed="the number people text, e.g. 0377 or +79270000377",
                              check=lambda v: v == "" or re.fullmatch(r"\+?[0-9]{3,15}", v)
                              is not None)
    country: str = setting("RU", allowed="an ISO country code",
                           check=lambda v: len(v) == 2 and v.isupper())
    data_dir: str = setting("data", allowed="a folder path")
    log_level: str = setting("INFO", allowed="a log level",
                             check=("DEBUG", "INFO", "WARNING", "ERROR"))


@dataclass(frozen=True)
class WebSettings:
    host: str = setting("127.0.0.1", allowed="a host name or address")
    port: int = setting(8080, allowed="a port number", check=lambda v: 0 <= v < 65536)
    secret_key: str = setting("", allowed="a long random string (or ${ENV_VAR})")
    metrics_public: bool = setting(True, allowed="true or false")
    trusted_proxy: str = setting("", allowed="the reverse proxy's IP address, e.g. 127.0.0.1",
                                 check=lambda v: v == "" or _address(v))
    language: str = setting("", allowed='"ru" or "en" (empty: [service] language)',
                            check=("", *LANGUAGES))
    session_idle_minutes: int = setting(30, allowed="minutes >= 1", check=at_least_one)
    session_max_hours: int = setting(12, allowed="hours >= 1", check=at_least_one)


@dataclass(frozen=True)
class PipelineSettings:
    batch_size: int = setting(500, allowed="a whole number >= 1", check=at_least_one)
    reassembly_timeout_seconds: int = setting(300, allowed="seconds >= 1", check=at_least_one)
    send_attempts: int = setting(8, allowed="a whole number >= 1", check=at_least_one)
    retry_base_seconds: float = setting(5.0, allowed="seconds > 0", check=positive)
    retry_max_seconds: float = setting(60.0, allowed="seconds > 0", check=positive)
    claim_timeout_seconds: int = setting(120, allowed="seconds >= 1", check=at_least_one)
    poll_seconds: float = setting(0.5, allowed="seconds, 0 < s <= 60",
                                  check=lambda v: 0 < v <= 60)
    reroute_after_seconds: float = setting(30.0, allowed="seconds >= 0",
                                           check=lambda v: v >= 0)
    fallback_to_modem: bool = setting(False, allowed="true or false")


@dataclass(frozen=True)
class PrivacySettings:
    retain_days: int = setting(30, allowed="days >= 2 (today's quota needs today)",
                               check=lambda v: v >= 2)


@dataclass(frozen=True)
class UssdSettings:
    service_code: str = setting("*377#", allowed="a USSD code such as *377#",
                                check=lambda v: re.fullmatch(r"\*[0-9*]+#", v) is not None)
    token: str = setting("", allowed="a shared secret (or ${ENV_VAR})")
    allow_from: tuple[str, ...] = setting((), allowed="a list of addresses or networks, e.g."
                                          ' ["192.0.2.0/28"]', check=_networks)
    allow_loopback: bool = setting(False, allowed="true or false")
    session_seconds: int = setting(120, allowed="seconds >= 1", check=at_least_one)


@dataclass(frozen=True)
class District:
    """A `[[districts]]` row: switched on one by one; the database keeps the state after."""

    id: str = setting(allowed="lower-case letters, digits, - and _",
                      check=lambda v: re.fullmatch(r"[a-z0-9_-]{1,40}", v) is not None)
    name: str = setting(allowed="a name")
    enabled: bool = setting(False, allowed="true or false")
    name_en: str = setting("", allowed="the district's name in English")

    def display_name(self, language: str) -> str:
        """The name in `language`; the Russian one where no English name is configured."""
        return self.name_en if language == "en" and self.name_en else self.name


@dataclass(frozen=True)
class ReasonRow:
    """A `[[reasons]]` row as written; merged into the built-in catalogue by number."""

    number: int = setting(allowed="1 to 99", check=lambda v: 1 <= v <= 99)
    name: str = setting(allowed="the reason's name in Russian")
    name_en: str = setting("", allowed="the reason's name in English")
    keywords: tuple[str, ...] = setting((), allowed="a list of words")
    exempt: bool = setting(False, allowed="true or false")
    validity_minutes: int = setting(0, allowed="minutes (0: the default)", check=lambda v: v >= 0)
