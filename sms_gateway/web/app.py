"""The operators' web console: `create_app` builds the Flask app around one engine and config."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Flask, render_template, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import Engine
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from permits.service import Rules
from permits.ussd_menu import UssdMenu
from sms_gateway.clock import Clock, utc_now
from sms_gateway.config import Config
from sms_gateway.ussd import http as ussd_http
from sms_gateway.web import (
    admin_audit,
    admin_permits,
    admin_quarantine,
    admin_registry,
    admin_residents,
    auth,
    csrf,
    filters,
    i18n,
    metrics,
    params,
    printing,
    status,
)
from sms_gateway.web.context import Services, install
from sms_gateway.web.proxy import ProxyAware
from sms_gateway.web.secret import session_secret

MAX_UPLOAD_BYTES = 16 * 1024 * 1024
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self';"
                               " form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


class _SessionCookies(SecureCookieSessionInterface):
    """The cookie is marked Secure whenever the request came over HTTPS (e.g. through a proxy
    that says so), and still works on plain HTTP on a trusted local network."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure or super().get_cookie_secure(app)


def create_app(config: Config, engine: Engine, *, clock: Clock = utc_now) -> Flask:
    """One app per engine; every figure it shows is read from that database, so any node's
    console tells the same story."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=session_secret(config),
        SESSION_COOKIE_NAME="permit_gateway_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=config.web.session_max_hours),
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
    )
    app.session_interface = _SessionCookies()
    app.wsgi_app = ProxyAware(app.wsgi_app,  # type: ignore[method-assign]
                              config.web.trusted_proxy)
    app.url_map.converters["int"] = params.RowId
    rules = Rules(config.rules)
    install(app, Services(config, engine, rules, clock))
    csrf.init(app)
    auth.init(app)
    i18n.init(app)
    metrics.init(app)
    for blueprint in (status.bp, admin_residents.bp, admin_registry.bp, admin_permits.bp,
                      printing.bp, admin_audit.bp, admin_quarantine.bp):
        app.register_blueprint(blueprint)
    _register_for_machines(app, ussd_http.blueprint(
        engine, UssdMenu(rules, config.ussd.service_code), config.ussd, clock))
    filters.init(app)
    app.register_error_handler(HTTPException, _error_page)
    app.after_request(_headers)
    return app


def _register_for_machines(app: Flask, blueprint: Blueprint) -> None:
    """Endpoints that gateways call (USSD): outside the login wall, no CSRF token; they check
    their caller themselves."""
    app.register_blueprint(blueprint)
    for endpoint, view in app.view_functions.items():
        if endpoint.startswith(blueprint.name + "."):
            auth.public(csrf.csrf_exempt(view))


def _error_page(failure: HTTPException) -> tuple[str, int]:
    """Werkzeug's English name and description are replaced by the page's language; a
    description we wrote ourselves (already translated) is kept."""
    code = failure.code or 500
    description = failure.description
    if description == type(failure).description:
        description = None
    return render_template("error.html", code=code, description=description), code


def _headers(response: Response) -> Response:
    response.headers.update(_SECURITY_HEADERS)
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response
