#!/usr/bin/env bash
# Start or stop a local moto server (an AWS-compatible API) for bridge's AWS integration tests.
#
#   scripts/moto-server.sh start [PORT]   # default 5000; installs moto[server] with pip if missing
#   scripts/moto-server.sh stop [PORT]
#   export BRIDGE_TEST_ENDPOINT=http://127.0.0.1:PORT
#
# The server listens on 127.0.0.1 only. Its pid and log live in ${MOTO_STATE_DIR:-/tmp}.
set -euo pipefail

cmd="${1:-}"
port="${2:-5000}"
state_dir="${MOTO_STATE_DIR:-${TMPDIR:-/tmp}}"
pid_file="$state_dir/bridge-moto-$port.pid"
log_file="$state_dir/bridge-moto-$port.log"
python="${PYTHON:-python3}"

usage() {
    echo "usage: $0 start|stop [PORT]" >&2
    exit 2
}

answers() {
    "$python" - "$port" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1)
except Exception:
    sys.exit(1)
PY
}

start() {
    if [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
        echo "moto already running on 127.0.0.1:$port (pid $(cat "$pid_file"))"
        return 0
    fi
    if ! "$python" -c 'import moto.server, flask, flask_cors' 2>/dev/null; then
        echo "installing moto[server] with pip..." >&2
        "$python" -m pip install --quiet 'moto[server]'
    fi
    mkdir -p "$state_dir"
    # moto.server with a thread-safety fix for concurrent tests (see moto_server.py).
    nohup "$python" "$(dirname "${BASH_SOURCE[0]}")/moto_server.py" -H 127.0.0.1 -p "$port" >"$log_file" 2>&1 &
    echo $! >"$pid_file"
    for _ in $(seq 1 150); do
        if answers; then
            echo "moto listening on http://127.0.0.1:$port (pid $(cat "$pid_file"), log $log_file)"
            return 0
        fi
        if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
            echo "moto exited before answering; log follows:" >&2
            cat "$log_file" >&2
            rm -f "$pid_file"
            return 1
        fi
        sleep 0.2
    done
    echo "moto did not answer on 127.0.0.1:$port within 30 s; log: $log_file" >&2
    return 1
}

stop() {
    if [[ ! -f "$pid_file" ]]; then
        echo "no moto pid file at $pid_file (not running?)"
        return 0
    fi
    local pid
    pid="$(cat "$pid_file")"
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    rm -f "$pid_file"
    echo "moto on port $port stopped"
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    *) usage ;;
esac
