# Shared by run.sh and test.sh: a virtual environment at ./.venv, created on a fresh Debian 12
# (python3-venv is not installed there by default).
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

apt_install() {
  # Installs Debian packages when they are missing (needs root, as on a fresh machine or CI).
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "Installing ${missing[*]} with apt-get…" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
      rm -rf "$VENV"
      apt_install python3-venv
      "$PYTHON" -m venv "$VENV"
    fi
  fi
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
}
