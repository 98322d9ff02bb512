"""Reading request parameters: anything malformed is the client's error (400), never a 500."""

from __future__ import annotations

from flask import abort, request


def text(name: str, max_length: int, *, required: bool = True, form: bool = True) -> str:
    source = request.form if form else request.args
    value = source.get(name, "").strip()
    if required and not value:
        abort(400, description=f"{name} is required")
    if len(value) > max_length:
        abort(400, description=f"{name} is longer than {max_length} characters")
    return value


def integer(name: str, low: int, high: int, *, form: bool = True,
            default: int | None = None) -> int:
    raw = (request.form if form else request.args).get(name, "").strip()
    if not raw and default is not None:
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        abort(400, description=f"{name} must be a whole number from {low} to {high}")
    return int(raw)
