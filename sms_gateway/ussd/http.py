"""USSD over HTTP in the aggregators' convention: `POST /ussd`, answers `CON ...` or `END ...`.

The form carries `sessionId`, `serviceCode`, `phoneNumber` and `text` (every answer so far,
joined by `*`), so the session needs no state here. Its fields pass the gate's text
normalisation (`gate.clean_text`): a NUL typed into a USSD field must not fail the check's
transaction. Who is answered at all is `ussd.trust`'s decision, made before the phone number or
any other field but the token is believed.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request
from sqlalchemy import Engine

from permits.ussd_menu import UssdMenu, dialled_inputs
from sms_gateway.clock import Clock
from sms_gateway.config import UssdSettings
from sms_gateway.pipeline.gate import clean_text
from sms_gateway.ussd import trust
from sms_gateway.web.proxy import connection

log = logging.getLogger(__name__)
MAX_FIELD = 200
CHANNEL = "ussd:http"


def _plain(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/plain", headers={"Cache-Control":
                                                                         "no-store"})


def blueprint(engine: Engine, menu: UssdMenu, settings: UssdSettings,
              clock: Clock) -> Blueprint:
    """The `/ussd` endpoint; the web app registers it outside the login wall."""
    ussd = Blueprint("ussd", __name__)

    @ussd.post("/ussd")
    def answer() -> Response:
        caller = connection()
        presented = request.headers.get(trust.HEADER) or request.form.get(trust.FIELD) or ""
        why = trust.refusal(settings, caller, presented)
        if why:
            log.warning("USSD request refused: %s (from %s%s)", why, caller.client,
                        " through the proxy" if caller.via_proxy else "")
            return _plain("END forbidden", 403)
        phone, text, service = (clean_text(request.form.get(name, default))[:MAX_FIELD]
                                for name, default in (("phoneNumber", ""), ("text", ""),
                                                      ("serviceCode", menu.service_code)))
        if not phone:
            return _plain("END phoneNumber is required", 400)
        inputs = (dialled_inputs(service, menu.service_code) or []) + [
            part for part in text.split("*") if part]
        with engine.begin() as conn:
            screen = menu.respond(conn, phone, inputs, CHANNEL, clock())
        return _plain(("END " if screen.final else "CON ") + screen.text)

    return ussd
