"""USSD over HTTP in the aggregators' convention: `POST /ussd`, answers `CON ...` or `END ...`.

The form carries `sessionId`, `serviceCode`, `phoneNumber` and `text` (every answer so far,
joined by `*`), so the session needs no state here. Its fields pass the gate's text
normalisation (`gate.clean_text`): a NUL typed into a USSD field must not fail the check's
transaction. With `[ussd] token` set a request must
carry it (`token` query parameter or `X-USSD-Token` header); without a token the endpoint
answers direct loopback callers only (not requests relayed by a reverse proxy).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

from flask import Blueprint, Response, request
from sqlalchemy import Engine

from permits.ussd_menu import UssdMenu, dialled_inputs
from sms_gateway.clock import Clock
from sms_gateway.pipeline.gate import clean_text

log = logging.getLogger(__name__)
MAX_FIELD = 200
CHANNEL = "ussd:http"


def _plain(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/plain", headers={"Cache-Control":
                                                                         "no-store"})


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def blueprint(engine: Engine, menu: UssdMenu, token: str, clock: Clock) -> Blueprint:
    """The `/ussd` endpoint; the web app registers it outside the login wall."""
    ussd = Blueprint("ussd", __name__)

    @ussd.post("/ussd")
    def answer() -> Response:
        refusal = _refusal(token, request.remote_addr)
        if refusal:
            return refusal
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


def _refusal(token: str, remote: str | None) -> Response | None:
    given = request.args.get("token") or request.headers.get("X-USSD-Token") or ""
    if token:
        if not hmac.compare_digest(given.encode(), token.encode()):
            log.warning("USSD request refused: wrong or missing token from %s", remote)
            return _plain("END forbidden", 403)
        return None
    proxied = any(h in request.headers for h in ("X-Forwarded-For", "Forwarded", "X-Real-IP"))
    if not _loopback(remote) or proxied:
        # A reverse proxy on this host makes every caller look local: without a token, only
        # a direct local caller (the USSD gateway's connector on this machine) is answered.
        log.warning("USSD request refused: no token configured and the caller is not local")
        return _plain("END forbidden", 403)
    return None


