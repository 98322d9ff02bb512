"""Who may ask USSD over HTTP anything: one explicit trust model (`[ussd]`, docs/deployment.md).

An aggregator proves itself with `[ussd] token`, sent as the `X-USSD-Token` header or a `token`
form field and compared in constant time; `[ussd] allow_from`, when set, also limits the
addresses answered at all. A caller without a token is answered only when `[ussd]
allow_loopback` is on and it connected from this machine itself: a request relayed by the
trusted reverse proxy never counts as local, however it looks. Which requests came through the
proxy is decided from the socket peer (`web.proxy`), not from forwarding headers.

The form's `phoneNumber` names whose permits and which officer's rights are used, so it is read
only after the caller passed this check.
"""

from __future__ import annotations

import hmac
import ipaddress

from sms_gateway.config import UssdSettings
from sms_gateway.web.proxy import Connection

HEADER = "X-USSD-Token"
FIELD = "token"


def refusal(settings: UssdSettings, caller: Connection, presented: str) -> str | None:
    """Why this caller is not answered (for the log), or None when it is."""
    if settings.allow_from and not _within(caller.client, settings.allow_from):
        return "the caller's address is not in [ussd] allow_from"
    if presented:
        if settings.token and hmac.compare_digest(presented.encode(), settings.token.encode()):
            return None
        return "wrong token"
    if settings.allow_loopback and caller.direct_loopback:
        return None
    if settings.allow_loopback:
        return "no token, and the caller is not on this machine (or came through the proxy)"
    return "no token ([ussd] allow_loopback is off)"


def _within(address: str, networks: tuple[str, ...]) -> bool:
    try:
        found = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(found in ipaddress.ip_network(network, strict=False) for network in networks)
