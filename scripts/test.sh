#!/usr/bin/env bash
# Install everything the tests need (Chromium for the browser tests, the test libraries, the
# local model on first use) and run the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
# Chromium for the browser tests; PostgreSQL 15 and Redis 7 for the scale-out tests and Debian's
# nginx for the deployment tests. The tests start their own throwaway servers from these binaries
# on loopback (tests/servers.py, tests/test_deploy.py), never the system services.
apt_install chromium postgresql redis-server nginx-light
ensure_venv
"$VENV/bin/pip" install --quiet -e ".[test]"
"$VENV/bin/ruff" check .
"$VENV/bin/python" -m pytest "$@"
