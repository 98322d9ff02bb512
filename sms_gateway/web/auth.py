"""Login, logout, the rule that every page but a few public ones needs a logged-in operator,
and the rule that a page is for admins unless marked for viewers.

A session is a row in the database (`web.sessions`) checked on every request, so logging out,
a new password or removing an operator ends it at once on every node. Failed logins are slowed
by `web.throttle`; a refused try says when to come back (page and `Retry-After`).
"""

from __future__ import annotations

import datetime as dt
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
from sms_gateway.web import csrf, devices, filters, sessions, throttle
from sms_gateway.web.context import now, reading, services, writing
from sms_gateway.web.operators import (
    MAX_PASSWORD,
    Operator,
    Role,
    authenticate,
    canonical_username,
)
from sms_gateway.web.proxy import connection

bp = Blueprint("auth", __name__)
View = TypeVar("View", bound=Callable)
_SESSION_KEY = "sid"  # the token of this browser's row in console_sessions


def public(view: View) -> View:
    """Reachable without login (health checks, metrics scrapers, the USSD gateway)."""
    view.public = True  # type: ignore[attr-defined]
    return view


def for_viewers(view: View) -> View:
    """Open to viewers as well as admins (every other page is for admins only)."""
    view.for_viewers = True  # type: ignore[attr-defined]
    return view


def operator_name() -> str:
    return g.operator.username


def lifetime() -> sessions.Lifetime:
    return sessions.Lifetime.of(services().config.web)


def current_operator() -> Operator | None:
    """The session's operator while the session is open (a session that ended, on any node,
    or whose operator was deactivated or removed, is forgotten here)."""
    if "operator" not in g:
        token = session.get(_SESSION_KEY)
        g.operator = _resume(token) if isinstance(token, str) else None
        if token and g.operator is None:
            session.clear()
    return g.operator


def _resume(token: str) -> Operator | None:
    moment, limits = now(), lifetime()
    with reading() as conn:
        found = sessions.find(conn, token, moment, limits)
    if found is None:
        return None
    if found.touch:
        with writing() as conn:
            sessions.touch(conn, token, moment)
    return found.operator


def may_open(endpoint: str) -> bool:
    """Whether the logged-in operator's role may open `endpoint` (pages hide what it may not)."""
    operator = current_operator()
    view = current_app.view_functions.get(endpoint)
    if operator is None or view is None:
        return False
    return operator.role == Role.ADMIN or getattr(view, "for_viewers", False)


def _require_login() -> Response | None:
    view = current_app.view_functions.get(request.endpoint or "")
    if request.endpoint == "static" or getattr(view, "public", False):
        return None
    if current_operator() is None:
        if request.method != "GET":
            abort(401)
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if view is not None and not may_open(request.endpoint or ""):
        abort(403, description=gettext("Only an administrator can do this. You are logged in"
                                       " as a viewer: status, permits and printing."))
    return None


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
    address = connection().client or "?"
    moment = now()
    tried = throttle.attempt(username, address, devices.known(username))
    with writing() as conn:  # short: the try is counted here, before the password is checked
        taken = throttle.take_try(conn, tried, moment)
    if taken.wait:
        return _too_many(taken.wait, moment)
    # The password hash (tens of ms) is checked on a read-only connection: on SQLite a
    # write transaction would hold the single write lock that the message path needs.
    with reading() as conn:
        operator = authenticate(conn, username, password) if username else None
    with writing() as conn:
        if operator is None:
            audit.record(conn, username or "?", "login_failed", moment, address=address)
        else:
            throttle.succeeded(conn, tried, taken)
            token = sessions.start(conn, operator.id, moment, lifetime())
            audit.record(conn, operator.username, "login", moment, address=address)
    if operator is None:
        return render_template("login.html", error=gettext("Wrong username or password."),
                               next=request.form.get("next", "")), 401
    session.clear()
    session.permanent = True
    session[_SESSION_KEY] = token
    csrf.renew()
    response = redirect(safe_next(request.form.get("next")))
    devices.remember(response, operator.username)
    return response


def _too_many(wait: dt.timedelta, moment: dt.datetime) -> Response:
    """429 with when to try again, in words and in `Retry-After` (whole seconds, rounded up)."""
    seconds = math.ceil(wait.total_seconds())
    if seconds < 120:
        after = gettext("%(seconds)s s", seconds=seconds)
    else:
        after = gettext("%(minutes)s min", minutes=math.ceil(seconds / 60))
    error = gettext("Too many failed logins with this name or from this address. Try again in"
                    " %(after)s, at %(time)s.", after=after,
                    time=filters.local(moment + dt.timedelta(seconds=seconds), "time_seconds"))
    page = render_template("login.html", error=error, next=request.form.get("next", ""))
    return Response(page, status=429, headers={"Retry-After": str(seconds)},
                    mimetype="text/html")


@bp.route("/logout", methods=["POST"])
@for_viewers
def logout() -> Response:
    with writing() as conn:
        sessions.end(conn, session[_SESSION_KEY])
        audit.record(conn, operator_name(), "logout", now())
    session.clear()
    return redirect(url_for("auth.login"))


def init(app: Flask) -> None:
    app.before_request(_require_login)
    app.jinja_env.globals["may_open"] = may_open
    app.register_blueprint(bp)
