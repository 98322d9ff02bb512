#!/usr/bin/env bash
# Installs Kannel (Debian's `kannel`: bearerbox and smsbox) for bench/kannel.py, the C SMS
# gateway that bench/smpp_flood.py measures the gateway against. The tests do not need it,
# so scripts/setup.sh does not install it. The bench runs its own bearerbox and smsbox with a
# configuration of its own: the package's service is not used (and not started here).
set -euo pipefail

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

if ! command -v bearerbox >/dev/null 2>&1 && [ ! -x /usr/sbin/bearerbox ]; then
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends kannel
fi
/usr/sbin/bearerbox --version 2>&1 | head -1
