"""The one typed configuration object, loaded from TOML and checked before anything starts.

Every section is a frozen dataclass read the same way (`typed_settings.read`): a wrong key, type or
value stops start-up with a message naming the file, the key and what is allowed. A string
value `${NAME}` is read from the environment variable NAME, so secrets stay out of the file;
`PERMIT_GATEWAY_DATABASE_URL` overrides `[database] url`. Relative paths (the SQLite file,
`data_dir`, a modem's port) are relative to the file.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from permits.reasons import DEFAULT_REASONS, Reason
from permits.settings import RulesSettings
from sms_gateway.config.sections import (
    LANGUAGES,
    DatabaseSettings,
    District,
    PipelineSettings,
    PrivacySettings,
    ReasonRow,
    ServiceSettings,
    UssdSettings,
    WebSettings,
)
from sms_gateway.modem.settings import ModemSettings
from sms_gateway.smpp.settings import SmppSettings
from sms_gateway.typed_settings import ConfigError, read

__all__ = ["LANGUAGES", "Config", "ConfigError", "District", "PipelineSettings",
           "UssdSettings", "WebSettings", "from_dict", "load"]


@dataclass(frozen=True)
class Config:
    database_url: str
    data_dir: Path
    rules: RulesSettings
    districts: tuple[District, ...] = ()
    modems: tuple[ModemSettings, ...] = ()
    smpp: tuple[SmppSettings, ...] = ()
    web: WebSettings = field(default_factory=WebSettings)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    ussd: UssdSettings = field(default_factory=UssdSettings)
    retain_days: int = 30
    log_level: str = "INFO"
    sms_number: str = ""  # what residents and officers text; printed on paper permits
    source: Path | None = None


# Sections read into one dataclass each; [permits] is read into the rules' settings.
_SECTIONS: dict[str, type] = {
    "database": DatabaseSettings, "service": ServiceSettings, "permits": RulesSettings,
    "web": WebSettings, "pipeline": PipelineSettings, "privacy": PrivacySettings,
    "ussd": UssdSettings,
}
# Arrays of tables: one dataclass per row, and the key that must be unique among rows.
_TABLES: dict[str, tuple[type, str]] = {
    "districts": (District, "id"), "reasons": (ReasonRow, "number"),
    "modems": (ModemSettings, "name"), "smpp": (SmppSettings, "name"),
}


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
    try:
        config = from_dict(data, base=source.resolve().parent, environ=environ)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return dataclasses.replace(config, source=source)


def from_dict(data: Mapping[str, Any], base: Path,
              environ: Mapping[str, str] = os.environ) -> Config:
    known = set(_SECTIONS) | set(_TABLES)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown section [{unknown[0]}]; allowed: {', '.join(sorted(known))}")
    service = read(ServiceSettings, "[service]", data.get("service", {}), environ)
    database = read(DatabaseSettings, "[database]", data.get("database", {}), environ)
    rows = {name: _rows(data, name, environ) for name in _TABLES}
    rules = read(RulesSettings, "[permits]", data.get("permits", {}), environ,
                 timezone=service.timezone, language=service.language,
                 country=service.country, reasons=_reasons(rows["reasons"]))
    if rules.registration == "open" and rules.open_district not in {
            d.id for d in rows["districts"]}:
        raise ConfigError('[permits] open_district: with registration = "open", name one of '
                          "the [[districts]] ids")
    url = environ.get("PERMIT_GATEWAY_DATABASE_URL") or database.url
    return Config(
        database_url=_resolve_sqlite(url, base), data_dir=base / service.data_dir, rules=rules,
        districts=tuple(rows["districts"]),
        modems=tuple(dataclasses.replace(m, port=_device(m.port, base)) for m in rows["modems"]),
        smpp=tuple(rows["smpp"]),
        web=_web(read(WebSettings, "[web]", data.get("web", {}), environ), service),
        pipeline=read(PipelineSettings, "[pipeline]", data.get("pipeline", {}), environ),
        ussd=read(UssdSettings, "[ussd]", data.get("ussd", {}), environ),
        retain_days=read(PrivacySettings, "[privacy]", data.get("privacy", {}),
                         environ).retain_days,
        log_level=service.log_level,
        sms_number=service.sms_number or next(
            (link.source_addr for link in rows["smpp"] if link.source_addr), ""),
    )


def _web(web: WebSettings, service: ServiceSettings) -> WebSettings:
    """The console speaks `[service] language` unless `[web] language` says otherwise."""
    return dataclasses.replace(web, language=web.language or service.language)


def _rows(data: Mapping[str, Any], table: str, environ: Mapping[str, str]) -> list:
    cls, unique = _TABLES[table]
    raw = data.get(table, [])
    if not isinstance(raw, list):
        raise ConfigError(f"[[{table}]]: expected an array of tables")
    rows = [read(cls, f"[[{table}]] #{n + 1}", row, environ) for n, row in enumerate(raw)]
    seen = [getattr(row, unique) for row in rows]
    if len(seen) != len(set(seen)):
        raise ConfigError(f"[[{table}]]: {unique} values must be unique")
    return rows


def _reasons(rows: list[ReasonRow]) -> tuple[Reason, ...]:
    """Configured reasons replace the default with the same number; the rest stay."""
    merged = {r.number: r for r in DEFAULT_REASONS}
    for row in rows:
        default = merged.get(row.number)
        merged[row.number] = Reason(
            number=row.number, name_ru=row.name,
            name_en=row.name_en or (default.name_en if default else row.name),
            keywords=row.keywords or (default.keywords if default else (row.name,)),
            exempt=row.exempt, validity_minutes=row.validity_minutes or None,
        )
    return tuple(merged[n] for n in sorted(merged))


def _device(port: str, base: Path) -> str:
    """A relative device path (a simulator's symlink) is relative to the config file."""
    if "://" in port or port.startswith("/"):
        return port
    return str(base / port)


def _resolve_sqlite(url: str, base: Path) -> str:
    """A relative SQLite path is relative to the config file, not to wherever we were started."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str((base / url[len(prefix):]).resolve())
    return url
