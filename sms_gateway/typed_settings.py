"""Reading one TOML table into one frozen dataclass: the one style every section uses.

A setting is a dataclass field whose metadata says what is allowed (`allowed`, in words for
the error message) and how to check it (`check`: a predicate, or a tuple of choices). Fields
without a default are required. Types come from the annotations (str, int, float, bool,
tuple[str, ...]); an int is taken where a float is expected, never a bool for a number.
Errors say where (the file, the table, the key) and what is allowed.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

_ENV = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the file, the key and why."""


def setting(default: Any = dataclasses.MISSING, *, allowed: str,
            check: Callable[[Any], bool] | tuple | None = None) -> Any:
    """A configuration key: its default (none: required), what is allowed, how to check it."""
    return dataclasses.field(default=default, metadata={"allowed": allowed, "check": check})


def keys(cls: type) -> list[str]:
    """The TOML keys of a settings dataclass, in declaration order."""
    return [f.name for f in dataclasses.fields(cls) if "allowed" in f.metadata]


def read(cls: type, where: str, data: Any, environ: Mapping[str, str] = os.environ,
         **given: Any) -> Any:
    """`cls` built from the TOML table `data`; `given` fills fields that are not TOML keys."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a table")
    fields = {f.name: f for f in dataclasses.fields(cls) if "allowed" in f.metadata}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    values = dict(given)
    for name, field in fields.items():
        if name in data:
            values[name] = _value(f"{where} {name}", data[name], hints[name], field.metadata,
                                  environ)
        elif field.default is dataclasses.MISSING:
            raise ConfigError(f"{where}: missing key {name!r} ({field.metadata['allowed']})")
    try:
        return cls(**values)
    except ConfigError as exc:  # a check across keys, made by the dataclass itself
        raise ConfigError(f"{where} {exc}") from None


def _value(where: str, raw: Any, kind: Any, meta: Mapping[str, Any],
           environ: Mapping[str, str]) -> Any:
    allowed, check = meta["allowed"], meta["check"]
    if isinstance(raw, str) and (match := _ENV.match(raw)):
        if match.group(1) not in environ:
            raise ConfigError(f"{where}: environment variable {match.group(1)} is not set")
        raw = environ[match.group(1)]
    value = _typed(raw, kind)
    if value is _WRONG:
        raise ConfigError(f"{where}: expected {allowed}, got {raw!r}")
    ok = value in check if isinstance(check, tuple) else (check is None or check(value))
    if not ok:
        raise ConfigError(f"{where}: expected {allowed}, got {raw!r}")
    return value


_WRONG = object()


def _typed(raw: Any, kind: Any) -> Any:
    """`raw` as `kind`, or _WRONG."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):  # `str | None`: a value, never None here
        kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
        origin = typing.get_origin(kind)
    if origin is typing.Literal:
        return raw if raw in typing.get_args(kind) else _WRONG
    if origin is tuple:
        ok = isinstance(raw, list) and all(isinstance(item, str) for item in raw)
        return tuple(raw) if ok else _WRONG
    if isinstance(raw, bool) and kind is not bool:
        return _WRONG
    if kind is float and isinstance(raw, int):
        return float(raw)
    return raw if isinstance(raw, kind) else _WRONG


def positive(value: float) -> bool:
    return value > 0


def at_least_one(value: int) -> bool:
    return value >= 1
