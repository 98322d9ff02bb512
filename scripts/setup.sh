#!/usr/bin/env bash
# Installs everything the service and its tests need on a fresh Debian machine:
# system packages (PostgreSQL for the tests' own server, gammu as a third-party modem client,
# Chromium for the browser tests, zbar to read back the printed permit's QR code; nginx,
# promtool (prometheus), sqlite3 and openssl check the deployment kit in deploy/), a virtual
# environment with the package, and the npm SMPP peer.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

packages="postgresql gammu python3-gammu chromium zbar-tools python3-venv nginx prometheus
  sqlite3 openssl systemd nodejs npm"
missing=""
for p in $packages; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ] && [ "${1:-}" != "--no-system" ]; then
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  # nodejs/npm may already come from elsewhere: install what apt can, never fail on them
  $sudo apt-get install -y -q --no-install-recommends postgresql gammu python3-gammu chromium \
    zbar-tools python3-venv nginx prometheus sqlite3 openssl systemd
  command -v npm >/dev/null 2>&1 || $sudo apt-get install -y -q nodejs npm
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,postgresql]'

if [ -f tests/smpp_peer/package-lock.json ] && command -v npm >/dev/null 2>&1; then
  npm ci --prefix tests/smpp_peer --no-audit --no-fund --loglevel=error
fi
