#!/usr/bin/env bash
# Install everything the tests need (Chromium for the browser tests, the test libraries, the
# local model on first use) and run the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
apt_install chromium
# PostgreSQL 15 and Redis 7 for the scale-out tests: each test run starts its own throwaway
# servers from these binaries on loopback (tests/servers.py), never the system services.
apt_install postgresql redis-server
# Debian's nginx, run by tests/test_deploy.py with deploy/nginx.conf on loopback (never the system's).
apt_install nginx-light
ensure_venv
"$VENV/bin/pip" install --quiet -e ".[test]"
"$VENV/bin/ruff" check .
"$VENV/bin/python" -m pytest "$@"
