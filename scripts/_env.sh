# Shared by scripts/run and scripts/test: make .venv exist and match pyproject.toml.
# Usage: . scripts/_env.sh EXTRAS   (EXTRAS like "build" or "build,federated,test")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
EXTRAS="${1:-build}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export FLWR_TELEMETRY_ENABLED=0 FLWR_DISABLE_UPDATE_CHECK=1 FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION=1

pick_python() {
  for py in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$py" ] || continue
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  echo "edgeprompt needs Python >= 3.11; none found on PATH" >&2
  return 1
}

if [ ! -x "$VENV/bin/python" ]; then
  PY="$(pick_python)"
  echo "edgeprompt: creating $VENV with $PY" >&2
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
fi

# Re-install only when the dependency declaration (or the requested extras) changed.
STAMP="$VENV/.edgeprompt-installed"
deps_files=("$ROOT/pyproject.toml")
[ -f "$ROOT/federation/pyproject.toml" ] && deps_files+=("$ROOT/federation/pyproject.toml")
WANT="$(cat "${deps_files[@]}" | sha256sum | cut -c1-16)-$EXTRAS"
HAVE="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$WANT" != "$HAVE" ]; then
  # A stamp for a superset of extras also satisfies a smaller request.
  case "$HAVE" in
    "${WANT%%-*}-"*) have_extras="${HAVE#*-}";;
    *) have_extras="";;
  esac
  need=1
  if [ -n "$have_extras" ]; then
    need=0
    IFS=',' read -ra want_list <<<"$EXTRAS"
    for e in "${want_list[@]}"; do
      case ",$have_extras," in *",$e,"*) ;; *) need=1;; esac
    done
  fi
  if [ "$need" = 1 ]; then
    echo "edgeprompt: installing dependencies ($EXTRAS) into .venv; the first time takes a few minutes" >&2
    # torch first, pinned to a range the local CPU wheel satisfies, so no resolver pulls a CUDA build
    "$VENV/bin/python" -m pip install --quiet "torch>=2.4,<2.14" >&2
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT[$EXTRAS]" >&2
    echo "$WANT" >"$STAMP"
  fi
fi
export PATH="$VENV/bin:$PATH"
