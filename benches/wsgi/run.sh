#!/usr/bin/env bash
# WSGI benchmark: torsion against Twisted (`twist web --wsgi`), Granian (`--interface wsgi
# --workers 1`) and bjoern, the same applications, one run, server pinned to CPU 0 and wrk to
# CPU 1. Usage: benches/wsgi/run.sh [--seconds N] [--threads N] [--only SCENARIO]
# [--servers LIST], SCENARIO one of hello-64, hello-256, big-64, echo-64 and LIST comma-separated.
# Needs: wrk, libev-dev (for bjoern), Python 3.11 with venv; installs the peers in a venv.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=10
threads=""
only=""
servers="torsion granian bjoern twisted"
while (($#)); do
    case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --threads) threads="--threads $2"; shift 2 ;;
        --only) only=$2; shift 2 ;;
        --servers) servers=${2//,/ }; shift 2 ;;
        *) echo "usage: $0 [--seconds N] [--threads N] [--only SCENARIO] [--servers LIST]" >&2; exit 2 ;;
    esac
done
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
venv="$PWD/target/wsgi-bench-venv"
if [ ! -x "$venv/bin/granian" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r benches/wsgi/requirements.txt
fi
cargo build --release -q
torsion="${TORSION_BIN:-$PWD/target/release/torsion}" # TORSION_BIN: another build to measure
apps="$PWD/benches/wsgi"
out=target/bench-results/wsgi.md
mkdir -p "$(dirname "$out")"

start_server() { # NAME APP PORT — run in the background; becomes the server process itself
    local name=$1 app=$2 port=$3
    cd "$apps"
    case "$name" in
        torsion) exec taskset -c 0 env -u VIRTUAL_ENV "$torsion" web --wsgi "apps.$app" \
                    --listen "tcp:$port:interface=127.0.0.1" --no-access-log $threads ;;
        granian) exec taskset -c 0 "$venv/bin/granian" --interface wsgi --workers 1 \
                    --host 127.0.0.1 --port "$port" --log-level error "apps:$app" ;;
        bjoern)  exec taskset -c 0 "$venv/bin/python" bjoern_server.py "$app" "$port" ;;
        twisted) PYTHONPATH=. exec taskset -c 0 "$venv/bin/twist" web --wsgi "apps.$app" \
                    --listen "tcp:$port:interface=127.0.0.1" ;;
    esac
}

rss_of_tree() { # total RSS in KiB of a process and its children
    local pids; pids=$(pgrep -P "$1" | tr '\n' ' ')
    ps -o rss= -p "$1" $pids 2>/dev/null | awk '{s+=$1} END {print s+0}'
}

measure() { # NAME APP CONNECTIONS [LUA]
    local name=$1 app=$2 conns=$3 lua=${4:-} port=$((9100 + RANDOM % 800))
    start_server "$name" "$app" "$port" >/dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
    taskset -c 1 wrk -t1 -c"$conns" -d2s "http://127.0.0.1:$port/" ${lua:+-s "$lua"} >/dev/null 2>&1 || true
    local result; result=$(taskset -c 1 wrk -t1 -c"$conns" -d"${seconds}s" --latency \
        ${lua:+-s "$lua"} "http://127.0.0.1:$port/" 2>&1 & sleep $((seconds / 2)); rss_of_tree "$pid" >/tmp/wsgi-bench-rss; wait)
    kill -INT "$pid" 2>/dev/null; sleep 0.5; kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    local rps p99 errors
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$result")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$result")
    errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$result" | tr '\n' ' ')
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "${rps:-0}" "${p99:--}" "$(cat /tmp/wsgi-bench-rss)" "$errors"
}

{
    echo "# WSGI benchmark ($(date -u +%F), ${seconds}s per run, server CPU 0, wrk CPU 1)"
    for scenario in "hello 64" "hello 256" "big 64" "echo 64 $apps/post16k.lua"; do
        set -- $scenario
        [ -z "$only" ] || [ "$only" = "$1-$2" ] || continue
        echo
        echo "## $1, $2 connections"
        echo
        echo "| server | req/s | p99 | RSS KiB | errors |"
        echo "|---|---:|---:|---:|---|"
        for server in $servers; do
            measure "$server" "$1" "$2" "${3:-}" | awk -F'\t' '{printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5}'
        done
    done
} | tee "$out"
