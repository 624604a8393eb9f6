#!/usr/bin/env bash
# Install everything the tests need (Chromium for the browser tests, the test libraries, the
# local model on first use) and run the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
apt_install chromium
ensure_venv
"$VENV/bin/pip" install --quiet -e ".[test]"
"$VENV/bin/ruff" check .
"$VENV/bin/python" -m pytest "$@"
