"""Why an import rejected a line, in the page's language.

permits.registry says why in English sentences (the CLI prints them as they are); the console
recognises each sentence it can say and shows it translated, with the same values. A test
feeds the importer every kind of bad line, so a sentence changed there fails here."""

from __future__ import annotations

import re

from flask_babel import gettext

from sms_gateway.web.labels import N_

_KNOWN = (
    (re.compile(r"not a (?:valid )?phone number: (?P<value>.*)", re.S),
     N_("not a phone number: %(value)s")),
    (re.compile(r"unknown district (?P<value>.*)", re.S), N_("unknown district %(value)s")),
    (re.compile(r"name is empty or longer than (?P<value>\d+) characters"),
     N_("the name is empty or longer than %(value)s characters")),
    (re.compile(r"phone (?P<value>\S+) repeated"), N_("the phone %(value)s is repeated")),
    (re.compile(r"the header must name (?P<names>.*) \(missing: (?P<value>.*)\)", re.S),
     N_("the header must name the columns %(names)s (missing: %(value)s)")),
)


def explain(why: str) -> str:
    for pattern, sentence in _KNOWN:
        match = pattern.fullmatch(why)
        if match:
            return gettext(sentence, **match.groupdict())
    return why
