"""The console's language: Flask-Babel catalogues (sms_gateway/web/translations), chosen per
operator and remembered in their row, else `[web] language`. Dates, times and numbers follow
the same locale, in the service's time zone.

The msgids are English; `translations/ru` holds Russian. `scripts/translations.sh` extracts,
updates and compiles them (babel.cfg says where the strings are), and
tests/test_web_i18n.py fails when a string lacks its Russian or a .mo file is stale.
"""

from __future__ import annotations

from flask import Blueprint, Flask, g, redirect, request, session
from flask_babel import Babel
from sqlalchemy import update
from werkzeug.wrappers import Response

from sms_gateway.config import LANGUAGES
from sms_gateway.web import params
from sms_gateway.web.auth import current_operator, public, safe_next
from sms_gateway.web.context import services, writing
from sms_gateway.web.labels import LANGUAGE_NAMES
from storage.tables.console import operators

bp = Blueprint("i18n", __name__)
_SESSION_KEY = "language"


def _choose() -> str:
    """The operator's own choice, else the one made on this browser before login, else the
    console's default."""
    operator = current_operator()
    if operator is not None and operator.language in LANGUAGES:
        return operator.language
    chosen = session.get(_SESSION_KEY)
    return chosen if chosen in LANGUAGES else services().config.web.language


@bp.route("/language", methods=["POST"])
@public
def choose() -> Response:
    """Switch the console's language; a logged-in operator keeps the choice for next time."""
    chosen = params.text("language", 2)
    if chosen not in LANGUAGES:
        params.invalid("language", ", ".join(LANGUAGES))
    session[_SESSION_KEY] = chosen
    operator = current_operator()
    if operator is not None:
        with writing() as conn:
            conn.execute(update(operators).where(operators.c.id == operator.id)
                         .values(language=chosen))
        g.pop("operator", None)  # read again, with the new choice
    return redirect(safe_next(request.form.get("next")))


def init(app: Flask) -> None:
    Babel(app, locale_selector=_choose, timezone_selector=lambda: services().zone.key,
          default_translation_directories="translations")
    app.jinja_env.globals["languages"] = LANGUAGE_NAMES
    app.register_blueprint(bp)
