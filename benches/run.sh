#!/usr/bin/env bash
# Runs the reactor benchmarks in one go and writes target/bench-results/reactor.md.
#
#   benches/run.sh                     echo, timers and idle
#   benches/run.sh echo timers         a subset (any of: echo timers idle)
#   benches/run.sh --seconds 2         shorter echo runs (a smoke run)
#   benches/run.sh --pipeline 16       echo with 16 messages in flight per connection
#   benches/run.sh --rounds 3          echo comparison 3 times over; each server's best counts
#
# Servers run on CPU 0 and load generators on CPU 1 (taskset). See benches/README.md.
set -euo pipefail

cd "$(dirname "$0")/.."

MEASURE_SECONDS=10
WARMUP_SECONDS=1
CONNECTIONS=64
MESSAGE_SIZE=64
PIPELINE=1
ROUNDS=1
IDLE_CONNECTIONS=10000
SERVER_CPU=0
LOAD_CPU=1
RESULTS_DIR=target/bench-results
RAW_RESULTS=$RESULTS_DIR/raw.txt
REPORT=$RESULTS_DIR/reactor.md
VENV=target/bench-venv

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

parse_args() {
    SELECTED=()
    while (($#)); do
        case "$1" in
            echo | timers | idle) SELECTED+=("$1") ;;
            --seconds) MEASURE_SECONDS=${2:?--seconds needs a value}; shift ;;
            --pipeline) PIPELINE=${2:?--pipeline needs a value}; shift ;;
            --rounds) ROUNDS=${2:?--rounds needs a value}; shift ;;
            -h | --help) usage 0 ;;
            *) echo "unknown argument: $1" >&2; usage 2 ;;
        esac
        shift
    done
    if ((${#SELECTED[@]} == 0)); then
        SELECTED=(echo timers idle)
    fi
}

selected() {
    local wanted=$1 name
    for name in "${SELECTED[@]}"; do
        [[ $name == "$wanted" ]] && return 0
    done
    return 1
}

# Builds the bench binaries and sets ECHO_BIN, TIMERS_BIN and IDLE_BIN to their paths.
build_benches() {
    echo "== building (cargo build --release --benches)" >&2
    local messages=$RESULTS_DIR/build-messages.json
    cargo build --release --benches --message-format=json-render-diagnostics >"$messages"
    ECHO_BIN=$(bench_executable echo "$messages")
    TIMERS_BIN=$(bench_executable timers "$messages")
    IDLE_BIN=$(bench_executable idle_connections "$messages")
}

bench_executable() {
    python3 - "$1" "$2" <<'PY'
import json, sys
name, path = sys.argv[1], sys.argv[2]
for line in open(path):
    message = json.loads(line)
    target = message.get("target", {})
    if message.get("executable") and target.get("name") == name and "bench" in target.get("kind", []):
        print(message["executable"])
        break
else:
    sys.exit(f"no executable for bench {name}")
PY
}

ensure_venv() {
    if [[ ! -x $VENV/bin/python ]]; then
        echo "== creating $VENV" >&2
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r benches/requirements.txt
}

SERVER_PID=
stop_server() {
    if [[ -n $SERVER_PID ]]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
trap stop_server EXIT

# Starts a server (the command after LABEL) on CPU 0 and waits for its "listening on" line;
# sets SERVER_PID and SERVER_ADDRESS.
start_server() {
    local label=$1 log=$RESULTS_DIR/server-$1.log
    shift
    taskset -c "$SERVER_CPU" "$@" >"$log" 2>&1 &
    SERVER_PID=$!
    local tries
    for tries in $(seq 200); do
        if grep -q '^listening on ' "$log"; then
            SERVER_ADDRESS=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$log" | head -n 1)
            return 0
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "server $label exited early:" >&2
            cat "$log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "server $label did not start in 20 s" >&2
    exit 1
}

echo_one() {
    local label=$1
    shift
    echo "== echo: $label (${MEASURE_SECONDS}s after ${WARMUP_SECONDS}s warm-up)" >&2
    start_server "$label" "$@"
    taskset -c "$LOAD_CPU" "$ECHO_BIN" client "$SERVER_ADDRESS" \
        --connections "$CONNECTIONS" --size "$MESSAGE_SIZE" --pipeline "$PIPELINE" \
        --seconds "$MEASURE_SECONDS" --warmup "$WARMUP_SECONDS" \
        --server-pid "$SERVER_PID" --label "$label" | tee -a "$RAW_RESULTS"
    stop_server
}

run_echo() {
    ensure_venv
    local round
    for round in $(seq "$ROUNDS"); do
        echo_one torsion "$ECHO_BIN" server-torsion 127.0.0.1:0
        echo_one mio "$ECHO_BIN" server-mio 127.0.0.1:0
        echo_one mio-short-read "$ECHO_BIN" server-mio 127.0.0.1:0 --short-read
        echo_one twisted "$VENV/bin/python" benches/twisted_echo.py 0
    done
}

run_timers() {
    echo "== timers (1,000,000 calls per case, best of 5)" >&2
    taskset -c "$SERVER_CPU" "$TIMERS_BIN" | tee -a "$RAW_RESULTS"
}

run_idle() {
    echo "== idle connections ($IDLE_CONNECTIONS)" >&2
    taskset -c "$LOAD_CPU" "$IDLE_BIN" drive --connections "$IDLE_CONNECTIONS" \
        | tee -a "$RAW_RESULTS"
}

main() {
    parse_args "$@"
    mkdir -p "$RESULTS_DIR"
    : >"$RAW_RESULTS"
    build_benches
    if selected echo; then run_echo; fi
    if selected timers; then run_timers; fi
    if selected idle; then run_idle; fi
    python3 benches/summarize.py "$RAW_RESULTS" >"$REPORT"
    echo
    cat "$REPORT"
    echo
    echo "(written to $REPORT; raw lines in $RAW_RESULTS)"
}

main "$@"
