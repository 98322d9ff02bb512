#!/usr/bin/env bash
# Runs the service on its embedded default: SQLite next to config.toml and a simulated GSM
# modem on a pseudo-terminal. No hardware, no server to install. Ctrl-C stops it (exit 0).
# Starting it again keeps what the last run left: demo residents and the demo officer are
# added only to a new database. PERMIT_GATEWAY_CONFIG names another configuration (its data
# folder is data/ next to it), DEMO_MODEM_CONTROL the simulated modem's control address.
set -euo pipefail
cd "$(dirname "$0")/.."
export PERMIT_GATEWAY_CONFIG="${PERMIT_GATEWAY_CONFIG:-$PWD/config.toml}"
data="$(dirname "$PERMIT_GATEWAY_CONFIG")/data"
control="${DEMO_MODEM_CONTROL:-127.0.0.1:8025}"
if [ ! -x .venv/bin/python ] && ! python3 -m venv .venv; then
  echo "Python's venv module is missing: apt-get install python3-venv (Python 3.11+ needed)" >&2
  exit 1
fi
# Install again only when the package's requirements changed since the last install.
stamp=".venv/.demo-installed-$(cat setup.cfg pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ ! -x .venv/bin/permit-gateway ]; then
  .venv/bin/python -m pip install -q -e .
  rm -f .venv/.demo-installed-*
  touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"

upgrade=$(permit-gateway db upgrade)
echo "$upgrade"
# Seed a new database (or one whose seeding was cut short); every step may run again.
if [[ "$upgrade" == "database created"* ]] || [ ! -f "$data/demo-seeded" ]; then
  permit-gateway residents import demo/residents.csv
  permit-gateway officers add +79370000099 --name "Демо Офицер"
  if [ ! -f "$data/demo-operator-password" ]; then
    python -c "import secrets; print(secrets.token_urlsafe(12))" > "$data/demo-operator-password"
    chmod 600 "$data/demo-operator-password"
  fi
  if ! added=$(permit-gateway operators add demo < "$data/demo-operator-password" 2>&1); then
    [[ "$added" == *"already exists"* ]] || { echo "$added" >&2; exit 1; }
  fi
  touch "$data/demo-seeded"
fi

mkdir -p "$data"
python tools/sim_modem.py --link "$data/modem0" --control "$control" &
simulator=$!
# Ctrl-C reaches the simulator too: it may be gone already when this runs.
trap 'kill $simulator 2>/dev/null || true' EXIT
cat <<HOWTO

  The gateway is starting with a simulated modem. Send it an SMS from another terminal:
    curl -s -X POST $control/inject -d '{"sender": "+79270000001", "text": "ВЫХОД магазин"}'
  and read what it sent back:
    curl -s $control/sent
  The operators' console: http://127.0.0.1:8080 (user "demo", password in
  $data/demo-operator-password).

HOWTO
permit-gateway run
