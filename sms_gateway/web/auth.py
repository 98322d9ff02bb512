"""Login, logout, and the rule that every page but a few public ones needs a logged-in operator."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from werkzeug.wrappers import Response

from sms_gateway import audit
from sms_gateway.web import csrf, throttle
from sms_gateway.web.context import now, reading, writing
from sms_gateway.web.operators import (
    MAX_PASSWORD,
    Operator,
    active_operator,
    authenticate,
    canonical_username,
)

bp = Blueprint("auth", __name__)
View = TypeVar("View", bound=Callable)
_USER_KEY = "operator"


def public(view: View) -> View:
    """Reachable without login (health checks, metrics scrapers, the USSD gateway)."""
    view.public = True  # type: ignore[attr-defined]
    return view


def operator_name() -> str:
    return g.operator.username


def current_operator() -> Operator | None:
    """The session's operator if still active (a deactivated one is logged out here)."""
    if "operator" not in g:
        username = session.get(_USER_KEY)
        g.operator = None
        if username:
            with reading() as conn:
                g.operator = active_operator(conn, username)
            if g.operator is None:
                session.clear()
    return g.operator


def _require_login() -> Response | None:
    view = current_app.view_functions.get(request.endpoint or "")
    if request.endpoint == "static" or getattr(view, "public", False):
        return None
    if current_operator():
        return None
    if request.method != "GET":
        abort(401)
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


ANY_USER = "*"  # the throttle's key for every username tried from one address
ADDRESS_FREE_TRIES = 20  # failures from one address, whatever the names, before it waits


def safe_next(target: str | None) -> str:
    """Only a path on this site: `next=https://evil.example` must not become an open redirect."""
    if (target and target.startswith("/") and not target.startswith("//")
            and "\\" not in target and target.isprintable()
            and not urlsplit(target.replace("\t", "")).netloc):
        return target
    return url_for("status.page")


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Response | str | tuple[str, int]:
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    username = canonical_username(request.form.get("username", ""))[:60]
    password = request.form.get("password", "")[:MAX_PASSWORD]
    address = request.remote_addr or "?"
    moment = now()
    own = throttle.Counter(username, address)
    shared = throttle.Counter(ANY_USER, address, free_tries=ADDRESS_FREE_TRIES)
    with writing() as conn:  # short: the try is counted here, before the password is checked
        wait = throttle.take_try(conn, [own, shared], moment)
    if wait:
        seconds = math.ceil(wait.total_seconds())
        return render_template("login.html", error=gettext(
            "Too many failed logins. Try again in %(seconds)s s.", seconds=seconds),
            next=request.form.get("next", "")), 429
    # The password hash (tens of ms) is checked on a read-only connection: on SQLite a
    # write transaction would hold the single write lock that the message path needs.
    with reading() as conn:
        operator = authenticate(conn, username, password) if username else None
    with writing() as conn:
        if operator is None:
            audit.record(conn, username or "?", "login_failed", moment, address=address)
        else:
            throttle.succeeded(conn, own, [shared])
            audit.record(conn, operator.username, "login", moment, address=address)
    if operator is None:
        return render_template("login.html", error=gettext("Wrong username or password."),
                               next=request.form.get("next", "")), 401
    session.clear()
    session.permanent = True
    session[_USER_KEY] = operator.username
    csrf.renew()
    return redirect(safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    with writing() as conn:
        audit.record(conn, operator_name(), "logout", now())
    session.clear()
    return redirect(url_for("auth.login"))


def init(app: Flask) -> None:
    app.before_request(_require_login)
    app.register_blueprint(bp)
