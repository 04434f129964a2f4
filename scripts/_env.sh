# shellcheck shell=bash
# Shared by scripts/*: find Python 3.13, make sure uv exists, create/refresh .venv from the lock.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

find_python() {
  local cand="${PYENV_ROOT:-$HOME/.pyenv}/versions/3.13.0/bin/python3"
  if [ -x "$cand" ] && "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
    echo "$cand"; return
  fi
  for cand in python3.13 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
      command -v "$cand"; return
    fi
  done
  echo "error: Python 3.13 not found (looked in ${PYENV_ROOT:-$HOME/.pyenv}/versions/3.13.0, python3.13, python3)" >&2
  exit 1
}

find_uv() {
  if command -v uv >/dev/null 2>&1; then command -v uv; return; fi
  if [ -x "$ROOT/.cache/uv-tool/bin/uv" ]; then echo "$ROOT/.cache/uv-tool/bin/uv"; return; fi
  echo "installing uv into .cache/uv-tool ..." >&2
  "$PY" -m venv "$ROOT/.cache/uv-tool" >&2
  "$ROOT/.cache/uv-tool/bin/pip" install -q --disable-pip-version-check uv >&2
  echo "$ROOT/.cache/uv-tool/bin/uv"
}

# Use the OS trust store (works behind TLS-inspecting proxies whose CA is installed).
export UV_NATIVE_TLS="${UV_NATIVE_TLS:-1}"
PY="$(find_python)"
UV="$(find_uv)"
export UV

# (Re)create .venv when missing or when the lock changed since the last sync.
stamp=".venv/.lock-sha"
want="$(sha256sum requirements_test.lock | cut -d' ' -f1)"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setting up .venv (Python $("$PY" -c 'import platform; print(platform.python_version())'), uv $("$UV" --version | cut -d' ' -f2)) ..." >&2
  [ -x .venv/bin/python ] || "$UV" venv -q -p "$PY" .venv
  "$UV" pip sync -q -p .venv/bin/python --compile-bytecode requirements_test.lock
  echo "$want" > "$stamp"
fi
VPY="$ROOT/.venv/bin/python"
export VPY
