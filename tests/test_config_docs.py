"""docs/configuration.md and the settings dataclasses agree: every key, with its default."""

from __future__ import annotations

import dataclasses
import re

import pytest

from sms_gateway import config
from sms_gateway.typed_settings import keys
from tests.conftest import ROOT

_SECTION = re.compile(r"^## `(\[\[?[a-z]+\]?\])`$", re.MULTILINE)
_ROW = re.compile(r"^\| `([a-z_]+)` \| ([^|]+) \|", re.MULTILINE)
SECTIONS = {f"[{name}]": cls for name, cls in config._SECTIONS.items()}
SECTIONS |= {f"[[{name}]]": cls for name, (cls, _) in config._TABLES.items()}


def _documented() -> dict[str, dict[str, str]]:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    heads = list(_SECTION.finditer(text))
    ends = [h.start() for h in heads[1:]] + [len(text)]
    return {head[1]: dict(_ROW.findall(text[head.end():end]))
            for head, end in zip(heads, ends, strict=True)}


def _shown(value: object) -> str:
    """A default as the document writes it."""
    if value is dataclasses.MISSING:
        return "required"
    if value in ("", ()):
        return "empty" if value == "" else "`[]`"
    if isinstance(value, bool):
        return str(value).lower()
    return f"`{value}`" if isinstance(value, str) else str(value)


def test_every_section_is_documented():
    assert set(_documented()) == set(SECTIONS)


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_each_key_is_documented_with_its_default(section):
    cls = SECTIONS[section]
    documented = _documented()[section]
    assert list(documented) == keys(cls), "keys or their order differ"
    defaults = {f.name: _shown(f.default) for f in dataclasses.fields(cls)}
    assert {k: v.strip() for k, v in documented.items()} == {k: defaults[k] for k in documented}
