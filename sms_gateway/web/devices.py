"""Remembered devices: a browser where an operator logged in keeps a signed cookie naming them
and a random device id, so its later login tries are throttled on their own (`web.throttle`)
and a guesser elsewhere cannot slow that operator down. The cookie opens nothing by itself:
the password is still asked for and checked.
"""

from __future__ import annotations

import secrets

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

COOKIE = "permit_gateway_device"
KEPT_DAYS = 90
_SALT = "permit-gateway remembered device"


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=_SALT)


def known(username: str) -> str | None:
    """The device id of this browser, if it is remembered for `username`."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        found = _signer().loads(raw, max_age=KEPT_DAYS * 86400)
    except BadSignature:
        return None
    if not isinstance(found, dict) or found.get("u") != username:
        return None
    device = found.get("d")
    return device if isinstance(device, str) and device else None


def remember(response: Response, username: str) -> None:
    """After a right password: this browser is this operator's device (the same id again if
    it already was)."""
    device = known(username) or secrets.token_urlsafe(16)
    response.set_cookie(COOKIE, _signer().dumps({"u": username, "d": device}),
                        max_age=KEPT_DAYS * 86400, httponly=True, samesite="Lax",
                        secure=request.is_secure)
