"""What the console shows for the codes stored in the ledger (states, outcomes, actions).

The tables hold msgids marked with `N_` (extracted by Babel, translated when shown), so a
page never prints a stored code such as `not_resident` in place of words.
"""

from __future__ import annotations

from flask_babel import gettext


def N_(message: str) -> str:
    return message


PERMIT_STATES = {
    "valid": N_("valid"),
    "not_yet_valid": N_("not yet valid"),
    "expired": N_("expired"),
    "revoked": N_("revoked"),
    "refunded": N_("refunded"),
    "issued": N_("issued"),
}
# The rules' outcome kinds (permits.service), as counted on the status page.
OUTCOMES = {
    "issued": N_("issued"),
    "repeated": N_("already held"),
    "exempt": N_("no permit needed"),
    "quota": N_("daily limit reached"),
    "not_resident": N_("not in the registry"),
    "district_off": N_("district not switched on"),
    "ask_reason": N_("asked for the reason"),
    "status": N_("status asked"),
    "help": N_("help asked"),
    "unrecognized": N_("not understood"),
    "officers_only": N_("check by a non-officer"),
    "check_slowed": N_("officer slowed down"),
    "verified": N_("checked by an officer"),
    "ignored": N_("ignored"),
    "capped": N_("not answered: reply limit"),
    "duplicate": N_("repeated before its answer left"),
}
# Officers' checks (permits.verification).
CHECKS = {
    "valid": N_("valid"),
    "expired": N_("expired"),
    "not_yet_valid": N_("not yet valid"),
    "revoked": N_("revoked"),
    "unknown": N_("unknown code"),
    "typo": N_("typo in the code"),
    "format": N_("not a code"),
    "refused": N_("not an officer"),
    "slowed": N_("slowed down"),
}
QUEUES = {"inbox": N_("incoming"), "outbox": N_("replies")}
# Operators' roles (sms_gateway.web.operators.Role).
ROLES = {"viewer": N_("viewer"), "admin": N_("administrator")}
# What the quarantine holds (sms_gateway.pipeline.quarantine.Kind).
QUARANTINE_KINDS = {"message": N_("message"), "receipt": N_("delivery receipt"),
                    "unreadable": N_("unreadable")}
QUEUE_STATES = {"new": N_("waiting to be decided"), "pending": N_("waiting to be sent"),
                "sending": N_("being sent")}
REGISTRATION = {
    "home": N_("home network"),
    "roaming": N_("roaming"),
    "searching": N_("searching"),
    "denied": N_("denied"),
    "not registered": N_("not registered"),
    "unknown": N_("unknown"),
}
MODEM_STATES = {"starting": N_("starting"), "up": N_("working"), "down": N_("reconnecting"),
                "failed": N_("needs a person"), "stopped": N_("stopped")}
# Received signal strength, by the usual reading of 27.007 +CSQ steps (dBm, at least).
SIGNAL = ((-73, N_("excellent")), (-83, N_("good")), (-93, N_("fair")), (-113, N_("poor")))
# Each language named in itself, so a reader of either finds their own.
LANGUAGE_NAMES = {"ru": "Русский", "en": "English"}
# Form fields named in "required" and "out of range" messages.
FIELDS = {
    "phone": N_("phone"),
    "name": N_("name"),
    "reason": N_("reason"),
    "enabled": N_("on or off"),
    "q": N_("search"),
    "before": N_("page"),
    "after": N_("page"),
    "removed": N_("removed resident"),
    "language": N_("language"),
    "district": N_("district"),
    "paper": N_("paper size"),
}


def label(table: dict[str, str], code: str | None) -> str:
    """The words for `code` in the page's language; an unknown code is shown as it is."""
    if code is None:
        return "—"
    return gettext(table[code]) if code in table else code


def signal(dbm: int | None) -> str:
    if dbm is None:
        return gettext("unknown")
    return gettext(next((words for floor, words in SIGNAL if dbm >= floor), SIGNAL[-1][1]))
