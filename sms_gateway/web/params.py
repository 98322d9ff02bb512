"""Reading request parameters: anything malformed is the client's error (400), never a 500."""

from __future__ import annotations

from typing import NoReturn

from flask import abort, request
from flask_babel import gettext
from werkzeug.routing import IntegerConverter, ValidationError

from sms_gateway.pipeline.gate import bounded_int
from sms_gateway.web.labels import FIELDS, label

# Row ids in paths (`/residents/<int:resident_id>`): what an INTEGER column holds. A larger one
# names no row (404), where PostgreSQL would answer the query with an error (500).
MAX_ROW_ID = 2**31 - 1


def text(name: str, max_length: int, *, required: bool = True, form: bool = True) -> str:
    source = request.form if form else request.args
    value = source.get(name, "").strip()
    if required and not value:
        abort(400, description=gettext("Fill in the field “%(field)s”.",
                                       field=label(FIELDS, name)))
    if len(value) > max_length:
        abort(400, description=gettext("The field “%(field)s” is longer than %(max)s"
                                       " characters.", field=label(FIELDS, name),
                                       max=max_length))
    return value


def integer(name: str, low: int, high: int, *, form: bool = True,
            default: int | None = None) -> int:
    raw = (request.form if form else request.args).get(name, "").strip()
    if not raw and default is not None:
        return default
    value = bounded_int(raw, len(str(high)))
    if value is None or not low <= value <= high:
        abort(400, description=gettext("The field “%(field)s” must be a whole number from"
                                       " %(low)s to %(high)s.", field=label(FIELDS, name),
                                       low=low, high=high))
    return value


def invalid(name: str, allowed: str) -> NoReturn:
    abort(400, description=gettext("The field “%(field)s” must be one of: %(allowed)s.",
                                   field=label(FIELDS, name), allowed=allowed))


class RowId(IntegerConverter):
    """The app's `<int:...>`: ASCII digits of an id an INTEGER column can hold, else 404."""

    def to_python(self, value: str) -> int:
        number = bounded_int(value, len(str(MAX_ROW_ID)))
        if number is None or not 1 <= number <= MAX_ROW_ID:
            raise ValidationError()
        return number
