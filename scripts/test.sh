#!/usr/bin/env bash
# Set up everything (see setup.sh) and run the whole test suite, on SQLite and PostgreSQL.
# Extra arguments go to pytest, e.g. scripts/test.sh -k quota. The suite runs in two worker
# processes (pytest-xdist; TEST_WORKERS=0 runs it in one): about twice as fast on two cores,
# and every test waits on conditions, not on time, so a loaded machine only takes longer.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit 1
.venv/bin/ruff check . || exit 1
.venv/bin/python -m pytest -p no:cacheprovider -n "${TEST_WORKERS:-2}" "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: failing on purpose" >&2
  exit 1
fi
exit "$status"
