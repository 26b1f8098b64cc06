#!/usr/bin/env bash
# WSGI benchmark: torsion against Twisted (`twist web --wsgi`), Granian (`--interface wsgi
# --workers 1`) and bjoern, the same applications, one run, server pinned to CPU 0 and wrk to
# CPU 1. "floor" is benches/http_floor.rs, the least an HTTP/1.1 server can do for the same
# requests: its req/s is the most wrk drives on this machine. Usage: benches/wsgi/run.sh [--seconds N] [--threads N] [--only SCENARIO]
# [--servers LIST] [--rounds N], SCENARIO one of hello-64, hello-256, big-64, echo-64 and LIST
# comma-separated. With --rounds N every scenario measures every server N times, the servers
# taking turns in a different order each round, and the report gives each server's median and
# the ratios of each round (see report.py). Writes target/bench-results/wsgi.md and wsgi.tsv.
# Needs: wrk, libev-dev (for bjoern), Python 3.11 with venv; installs the peers in a venv.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=10
threads=""
only=""
servers="torsion granian bjoern twisted floor"
rounds=1
while (($#)); do
    case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --threads) threads="--threads $2"; shift 2 ;;
        --only) only=$2; shift 2 ;;
        --servers) servers=${2//,/ }; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        *) echo "usage: $0 [--seconds N] [--threads N] [--only SCENARIO] [--servers LIST] [--rounds N]" >&2; exit 2 ;;
    esac
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "--rounds needs a positive whole number, not '$rounds'" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
venv="$PWD/target/wsgi-bench-venv"
if [ ! -x "$venv/bin/granian" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r benches/wsgi/requirements.txt
fi
cargo build --release -q
floor=$(cargo bench --no-run --bench http_floor 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)
[ -x "$floor" ] || { echo "cannot build the http_floor bench" >&2; exit 1; }
floor=$(realpath "$floor")
torsion="${TORSION_BIN:-$PWD/target/release/torsion}" # TORSION_BIN: another build to measure
apps="$PWD/benches/wsgi"
out=target/bench-results/wsgi
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
        floor)   exec taskset -c 0 "$floor" "127.0.0.1:$port" "$app" ;;
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

rotated() { # N — the servers, starting N places further on
    local list=($servers) n=${#list[@]} i
    for ((i = 0; i < n; i++)); do echo "${list[(i + $1) % n]}"; done
}

printf 'scenario\tconnections\tround\tserver\treq_per_sec\tp99\trss_kib\terrors\n' >"$out.tsv"
for scenario in "hello 64" "hello 256" "big 64" "echo 64 $apps/post16k.lua"; do
    set -- $scenario
    [ -z "$only" ] || [ "$only" = "$1-$2" ] || continue
    for ((round = 1; round <= rounds; round++)); do
        for server in $(rotated $((round - 1))); do
            line=$(measure "$server" "$1" "$2" "${3:-}")
            printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$round" "$line" >>"$out.tsv"
            echo "$1-$2 round $round: $line" | tr '\t' ' ' >&2
        done
    done
done
python3 benches/wsgi/report.py "$out.tsv" "$seconds" | tee "$out.md"
