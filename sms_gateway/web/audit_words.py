"""The audit log in words: what each action means, in the page's language.

`sms_gateway.audit` stores facts; this module names the action and puts the facts into a
sentence of the operator's language. A new action gets a line in ACTIONS (and its Russian
in the catalogue: tests/test_web_i18n.py checks).
"""

from __future__ import annotations

from flask_babel import gettext

from sms_gateway.audit import facts
from sms_gateway.web import filters, labels
from sms_gateway.web.labels import N_

# action -> (what the operator did, the facts in words)
ACTIONS: dict[str, tuple[str, str]] = {
    "login": (N_("logged in"), N_("from %(address)s")),
    "login_failed": (N_("login refused"), N_("from %(address)s")),
    "logout": (N_("logged out"), ""),
    "resident_opened": (N_("opened a resident"), N_("resident #%(resident)s %(phone)s")),
    "resident_removed": (N_("removed a resident"),
                         N_("resident #%(resident)s %(phone)s, %(district)s")),
    "residents_imported": (N_("imported residents"),
                           N_("%(imported)s imported, %(rejected)s rejected from %(file)s")),
    "permit_requested": (N_("asked for a permit for a resident"),
                         N_("resident #%(resident)s %(phone)s, reason %(reason)s: %(outcome)s"
                            " %(code)s")),
    "permit_revoked": (N_("revoked a permit"), "%(code)s"),
    "officer_added": (N_("added an officer"), "%(phone)s %(name)s"),
    "officer_deactivated": (N_("deactivated an officer"), N_("officer #%(officer)s %(phone)s")),
    "district_on": (N_("switched a district on"), "%(district)s"),
    "district_off": (N_("switched a district off"), "%(district)s"),
    "operator_added": (N_("added an operator"), "%(username)s, %(role)s"),
    "operator_password_changed": (N_("gave an operator a new password"), "%(username)s"),
    "operator_role_changed": (N_("changed an operator's role"), "%(username)s: %(role)s"),
    "operator_removed": (N_("removed an operator"), "%(username)s"),
    "quarantine_released": (N_("released a quarantined message"), N_("entry #%(entry)s")),
    "quarantine_deleted": (N_("deleted a quarantined item"), N_("entry #%(entry)s")),
}


def describe(action: str, detail: str) -> tuple[str, str]:
    """(what was done, the facts) in the page's language; facts that are codes (a district's
    id, a reason's number, an outcome) are shown by their names."""
    title, template = ACTIONS.get(action, (action, ""))
    found = facts(detail)
    if found is None:
        return gettext(title) if action in ACTIONS else title, detail
    values = {key: "" if value is None else str(value) for key, value in found.items()}
    if "outcome" in found:
        values["outcome"] = labels.label(labels.OUTCOMES, str(found["outcome"]))
    if "district" in found:
        values["district"] = filters.district_name(str(found["district"]))
    if "role" in found:
        values["role"] = labels.label(labels.ROLES, str(found["role"]))
    if isinstance(found.get("reason"), int):
        values["reason"] = filters.reason_name(found["reason"])
    if action not in ACTIONS:
        return action, ", ".join(f"{key} {value}" for key, value in sorted(values.items()))
    try:
        return gettext(title), (gettext(template) % values if template else "").strip()
    except KeyError:  # an entry written with fewer facts than its sentence names
        return gettext(title), ", ".join(values.values())
