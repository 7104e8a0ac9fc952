# Shared by scripts/dev and scripts/test: the Python virtualenv with the pinned local
# AWS stand-in (moto) and cfn-lint, and starting/stopping moto on loopback.
# Source it from the repository root.

TERN_VENV="${TERN_VENV:-$PWD/.venv}"

ensure_venv() {
  local stamp="$TERN_VENV/.requirements"
  if [ -x "$TERN_VENV/bin/python" ] && cmp -s infra/local/requirements.txt "$stamp" 2>/dev/null; then
    return 0
  fi
  command -v python3 >/dev/null || { echo "python3 is required (with the venv module)" >&2; return 1; }
  echo "setting up $TERN_VENV (moto, cfn-lint, schemathesis)…" >&2
  python3 -m venv "$TERN_VENV" || { echo "python3 -m venv failed: install python3-venv" >&2; return 1; }
  "$TERN_VENV/bin/pip" install --quiet --disable-pip-version-check -r infra/local/requirements.txt >&2
  cp infra/local/requirements.txt "$stamp"
}

free_port() {
  "$TERN_VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_moto PORT LOGFILE: starts moto (infra/local/moto_server.py) on 127.0.0.1:PORT, waits until it answers,
# sets MOTO_PID and MOTO_ENDPOINT.
start_moto() {
  local port="$1" log="$2"
  # moto with its DynamoDB requests made atomic, as on AWS (see the script).
  "$TERN_VENV/bin/python" infra/local/moto_server.py -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  MOTO_PID=$!
  MOTO_ENDPOINT="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    if "$TERN_VENV/bin/python" - "$MOTO_ENDPOINT" <<'PY' 2>/dev/null; then return 0; fi
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=1)
PY
    kill -0 "$MOTO_PID" 2>/dev/null || { echo "moto failed to start; see $log" >&2; cat "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "moto did not answer on $MOTO_ENDPOINT within 10 s" >&2
  return 1
}

stop_moto() {
  if [ -n "${MOTO_PID:-}" ] && kill -0 "$MOTO_PID" 2>/dev/null; then
    kill "$MOTO_PID" 2>/dev/null
    wait "$MOTO_PID" 2>/dev/null || true
  fi
}
