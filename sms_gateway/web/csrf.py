"""CSRF protection: a random token per session, required in every form that changes anything.

Views that machines post to (the USSD gateway) opt out with `@csrf_exempt`.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, abort, current_app, request, session
from flask_babel import gettext

FIELD = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
View = TypeVar("View", bound=Callable)


def csrf_exempt(view: View) -> View:
    view.csrf_exempt = True  # type: ignore[attr-defined]
    return view


def token() -> str:
    """The session's token, made on first use (also before login: the login form has one)."""
    if FIELD not in session:
        session[FIELD] = secrets.token_urlsafe(32)
    return session[FIELD]


def renew() -> None:
    """A fresh token at login and logout, so a token seen before login is worth nothing after."""
    session[FIELD] = secrets.token_urlsafe(32)


def _check() -> None:
    if request.method in _SAFE_METHODS:
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "csrf_exempt", False):
        return
    sent = request.form.get(FIELD, "")
    expected = session.get(FIELD, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description=gettext("The form has expired or did not come from this site."
                                       " Reload the page and try again."))


def init(app: Flask) -> None:
    app.before_request(_check)
    app.jinja_env.globals["csrf_token"] = token
