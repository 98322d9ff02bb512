"""The one typed configuration object, loaded from TOML and checked before anything starts.

A wrong key, type or value stops start-up with a message naming the key and what is allowed.
A string value `${NAME}` is read from the environment variable NAME, so secrets stay out of
the file; `PERMIT_GATEWAY_DATABASE_URL` overrides `[database] url`.
"""

from __future__ import annotations

import os
import re
import tomllib
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from permits.reasons import DEFAULT_REASONS, Reason
from permits.settings import RulesSettings


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class District:
    id: str
    name: str
    enabled: bool = False


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    secret_key: str = ""
    metrics_public: bool = True
    trusted_proxy: str = ""


@dataclass(frozen=True)
class PipelineSettings:
    batch_size: int = 500
    reassembly_timeout_seconds: int = 300
    send_attempts: int = 8
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 60.0
    claim_timeout_seconds: int = 120
    poll_seconds: float = 0.5
    reroute_after_seconds: float = 30.0
    fallback_to_modem: bool = False


@dataclass(frozen=True)
class Config:
    database_url: str
    data_dir: Path
    rules: RulesSettings
    districts: tuple[District, ...] = ()
    modems: tuple[dict[str, Any], ...] = ()
    smpp: tuple[dict[str, Any], ...] = ()
    web: WebSettings = field(default_factory=WebSettings)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    ussd: dict[str, Any] = field(default_factory=dict)
    retain_days: int = 30
    log_level: str = "INFO"
    source: Path | None = None


def _positive(value: int) -> bool:
    return value >= 1


def _timezone(value: str) -> bool:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


# key -> (type, default, check or allowed values, what is allowed in words)
Spec = dict[str, tuple[type, Any, Callable[[Any], bool] | tuple | None, str]]

SECTIONS: dict[str, Spec] = {
    "database": {"url": (str, "sqlite:///data/permits.db", None, "an SQLAlchemy URL")},
    "service": {
        "timezone": (str, "Europe/Samara", _timezone, "an IANA time zone such as Europe/Samara"),
        "language": (str, "ru", ("ru", "en"), '"ru" or "en"'),
        "country": (str, "RU", lambda v: len(v) == 2 and v.isupper(), "an ISO country code"),
        "data_dir": (str, "data", None, "a folder path"),
        "log_level": (str, "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"), "a log level"),
    },
    "permits": {
        "per_day": (int, 2, _positive, "a whole number >= 1"),
        "validity_minutes": (int, 60, _positive, "a whole number >= 1"),
        "registration": (str, "registry", ("registry", "open"), '"registry" or "open"'),
        "open_district": (str, "", None, "the district id self-registered residents join"),
        "replies_per_hour": (int, 10, _positive, "a whole number >= 1"),
        "officer_replies_per_hour": (int, 300, _positive, "a whole number >= 1"),
        "officer_misses_allowed": (int, 5, _positive, "a whole number >= 1"),
        "officer_miss_window_minutes": (int, 10, _positive, "a whole number >= 1"),
    },
    "web": {
        "host": (str, "127.0.0.1", None, "a host name or address"),
        "port": (int, 8080, lambda v: 0 <= v < 65536, "a port number"),
        "secret_key": (str, "", None, "a long random string (or ${ENV_VAR})"),
        "metrics_public": (bool, True, None, "true or false"),
        "trusted_proxy": (str, "", None, "the reverse proxy's address, e.g. 127.0.0.1"),
    },
    "pipeline": {
        "batch_size": (int, 500, _positive, "a whole number >= 1"),
        "reassembly_timeout_seconds": (int, 300, _positive, "seconds >= 1"),
        "send_attempts": (int, 8, _positive, "a whole number >= 1"),
        "retry_base_seconds": (float, 5.0, lambda v: v > 0, "seconds > 0"),
        "retry_max_seconds": (float, 60.0, lambda v: v > 0, "seconds > 0"),
        "claim_timeout_seconds": (int, 120, _positive, "seconds >= 1"),
        "poll_seconds": (float, 0.5, lambda v: 0 < v <= 60, "seconds, 0 < s <= 60"),
        "reroute_after_seconds": (float, 30.0, lambda v: v >= 0, "seconds >= 0"),
        "fallback_to_modem": (bool, False, None, "true or false"),
    },
    "privacy": {
        "retain_days": (int, 30, lambda v: v >= 2, "days >= 2 (today's quota needs today)"),
    },
    "ussd": {
        "service_code": (str, "*377#", lambda v: re.fullmatch(r"\*[0-9*]+#", v) is not None,
                         "a USSD code such as *377#"),
        "token": (str, "", None, "a shared secret (or ${ENV_VAR})"),
        "session_seconds": (int, 120, _positive, "seconds >= 1"),
    },
}
TABLES: dict[str, Spec] = {
    "districts": {
        "id": (str, None, lambda v: re.fullmatch(r"[a-z0-9_-]{1,40}", v) is not None,
               "lower-case letters, digits, - and _"),
        "name": (str, None, None, "a name"),
        "enabled": (bool, False, None, "true or false"),
    },
    "reasons": {
        "number": (int, None, lambda v: 1 <= v <= 99, "1 to 99"),
        "name": (str, None, None, "the reason's name in Russian"),
        "name_en": (str, "", None, "the reason's name in English"),
        "keywords": (list, [], lambda v: all(isinstance(k, str) for k in v), "a list of words"),
        "exempt": (bool, False, None, "true or false"),
        "validity_minutes": (int, 0, lambda v: v >= 0, "minutes (0: the default)"),
    },
    "modems": {
        "name": (str, None, None, "a name"),
        "port": (str, None, None, "a serial device path"),
        "baudrate": (int, 115200, _positive, "a baud rate"),
        "pin": (str, "", None, "the SIM PIN (or ${ENV_VAR})"),
    },
    "smpp": {
        "name": (str, None, None, "a name"),
        "host": (str, None, None, "a host"),
        "port": (int, 2775, lambda v: 0 < v < 65536, "a port number"),
        "system_id": (str, None, None, "the ESME system_id"),
        "password": (str, "", None, "the password (or ${ENV_VAR})"),
        "source_addr": (str, "", None, "the short number replies come from"),
    },
}
_ENV = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def _value(where: str, key: str, raw: Any, spec: tuple) -> Any:
    kind, _default, check, allowed = spec
    if isinstance(raw, str) and (match := _ENV.match(raw)):
        if match.group(1) not in os.environ:
            raise ConfigError(f"{where} {key}: environment variable {match.group(1)} is not set")
        raw = os.environ[match.group(1)]
    if kind is float and isinstance(raw, int) and not isinstance(raw, bool):
        raw = float(raw)
    if not isinstance(raw, kind) or (kind is int and isinstance(raw, bool)):
        raise ConfigError(f"{where} {key}: expected {allowed}, got {raw!r}")
    ok = raw in check if isinstance(check, tuple) else (check is None or check(raw))
    if not ok:
        raise ConfigError(f"{where} {key}: expected {allowed}, got {raw!r}")
    return raw


def _read(where: str, data: Mapping[str, Any], spec: Spec, extra_ok: bool = False) -> dict:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a table")
    unknown = sorted(set(data) - set(spec))
    if unknown and not extra_ok:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(spec)}")
    values = {}
    for key, item in spec.items():
        if key in data:
            values[key] = _value(where, key, data[key], item)
        elif item[1] is None:
            raise ConfigError(f"{where}: missing key {key!r} ({item[3]})")
        else:
            values[key] = item[1]
    return values | {k: data[k] for k in unknown}


def _rows(data: Mapping[str, Any], table: str, extra_ok: bool = False) -> list[dict]:
    rows = data.get(table, [])
    if not isinstance(rows, list):
        raise ConfigError(f"[[{table}]]: expected an array of tables")
    result = [_read(f"[[{table}]] #{i + 1}", row, TABLES[table], extra_ok)
              for i, row in enumerate(rows)]
    key = "number" if table == "reasons" else ("id" if table == "districts" else "name")
    seen = [row[key] for row in result]
    if len(seen) != len(set(seen)):
        raise ConfigError(f"[[{table}]]: {key} values must be unique")
    return result


def _reasons(rows: list[dict]) -> tuple[Reason, ...]:
    """Configured reasons replace the default with the same number; the rest stay."""
    merged = {r.number: r for r in DEFAULT_REASONS}
    for row in rows:
        default = merged.get(row["number"])
        merged[row["number"]] = Reason(
            number=row["number"], name_ru=row["name"],
            name_en=row["name_en"] or (default.name_en if default else row["name"]),
            keywords=tuple(row["keywords"]) or (default.keywords if default else (row["name"],)),
            exempt=row["exempt"], validity_minutes=row["validity_minutes"] or None,
        )
    return tuple(merged[n] for n in sorted(merged))


def load(path: str | Path | None = None, environ: Mapping[str, str] = os.environ) -> Config:
    """Read and check the configuration file (default: ./config.toml, if present)."""
    source = Path(path or environ.get("PERMIT_GATEWAY_CONFIG") or "config.toml")
    if path is None and not source.exists():
        return from_dict({}, base=Path.cwd(), environ=environ)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {source}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from exc
    config = from_dict(data, base=source.resolve().parent, environ=environ)
    return Config(**{**config.__dict__, "source": source})


def from_dict(data: Mapping[str, Any], base: Path,
              environ: Mapping[str, str] = os.environ) -> Config:
    known = set(SECTIONS) | set(TABLES)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown section [{unknown[0]}]; allowed: {', '.join(sorted(known))}")
    s = {name: _read(f"[{name}]", data.get(name, {}), spec) for name, spec in SECTIONS.items()}
    url = environ.get("PERMIT_GATEWAY_DATABASE_URL") or s["database"]["url"]
    district_rows = _rows(data, "districts")
    if s["permits"]["registration"] == "open" and s["permits"]["open_district"] not in {
            row["id"] for row in district_rows}:
        raise ConfigError('[permits] open_district: with registration = "open", name one of '
                          "the [[districts]] ids")
    data_dir = base / s["service"]["data_dir"]
    rules = RulesSettings(
        timezone=s["service"]["timezone"], language=s["service"]["language"],
        country=s["service"]["country"], reasons=_reasons(_rows(data, "reasons")),
        **s["permits"],
    )
    return Config(
        database_url=_resolve_sqlite(url, base), data_dir=data_dir, rules=rules,
        districts=tuple(District(**row) for row in district_rows),
        modems=tuple(_rows(data, "modems", extra_ok=True)),
        smpp=tuple(_rows(data, "smpp", extra_ok=True)),
        web=WebSettings(**s["web"]), pipeline=PipelineSettings(**s["pipeline"]),
        ussd=s["ussd"], log_level=s["service"]["log_level"],
        retain_days=s["privacy"]["retain_days"],
    )


def _resolve_sqlite(url: str, base: Path) -> str:
    """A relative SQLite path is relative to the config file, not to wherever we were started."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str((base / url[len(prefix):]).resolve())
    return url
