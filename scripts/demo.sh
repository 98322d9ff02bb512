#!/usr/bin/env bash
# Runs the service on its embedded default: SQLite next to config.toml and a simulated GSM
# modem on a pseudo-terminal. No hardware, no server to install. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ] && ! python3 -m venv .venv; then
  echo "Python's venv module is missing: apt-get install python3-venv (Python 3.11+ needed)" >&2
  exit 1
fi
.venv/bin/python -m pip install -q -e .
export PATH="$PWD/.venv/bin:$PATH"

permit-gateway db upgrade
permit-gateway residents import demo/residents.csv
permit-gateway officers add +79370000099 --name "Демо Офицер"
if [ ! -f data/demo-operator-password ]; then
  python -c "import secrets; print(secrets.token_urlsafe(12))" > data/demo-operator-password
  chmod 600 data/demo-operator-password
  permit-gateway operators add demo < data/demo-operator-password
fi

python tools/sim_modem.py --link data/modem0 --control 127.0.0.1:8025 &
simulator=$!
trap 'kill $simulator 2>/dev/null' EXIT
cat <<'HOWTO'

  The gateway is starting with a simulated modem. Send it an SMS from another terminal:
    curl -s -X POST 127.0.0.1:8025/inject -d '{"sender": "+79270000001", "text": "ВЫХОД магазин"}'
  and read what it sent back:
    curl -s 127.0.0.1:8025/sent
  The operators' console: http://127.0.0.1:8080 (user "demo", password in
  data/demo-operator-password).

HOWTO
permit-gateway run
