#!/usr/bin/env bash
# Install webchat into ./.venv and start it. Extra arguments go to `webchat`, e.g.
#   bash scripts/run.sh --base-url http://127.0.0.1:8080/v1
# With no model flags it fetches and runs the embedded SmolLM2 model (about 100 MB, once).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv
echo "Installing webchat…" >&2
"$VENV/bin/pip" install --quiet .
exec "$VENV/bin/webchat" "$@"
