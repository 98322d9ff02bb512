#!/usr/bin/env bash
# The console's message catalogues (Flask-Babel): extract every string from the web package
# (babel.cfg), merge new ones into each catalogue, and compile the .mo files the service reads.
# Translate the empty msgstr entries of sms_gateway/web/translations/*/LC_MESSAGES/messages.po
# between the update and the compile; tests/test_web_i18n.py fails until every one is done.
set -euo pipefail
cd "$(dirname "$0")/.."
pybabel=".venv/bin/pybabel"
[ -x "$pybabel" ] || pybabel="pybabel"
pot="$(mktemp --suffix=.pot)"
trap 'rm -f "$pot"' EXIT
"$pybabel" -q extract -F babel.cfg --no-location --sort-output -o "$pot" .
"$pybabel" -q update -i "$pot" -d sms_gateway/web/translations --no-fuzzy-matching \
  --ignore-obsolete
"$pybabel" -q compile -d sms_gateway/web/translations
