#!/usr/bin/env bash
# Static-file benchmark: torsion `web --path` against nginx (one worker, sendfile on, its own
# temporary configuration) and Twisted `twist web --path`, serving the same directory, one run,
# server pinned to CPU 0 and wrk to CPU 1. Scenarios: a 1 KiB file (req/s, 64 connections) and
# a 1 MiB file (throughput, 16 connections).
# Usage: benches/static/run.sh [--seconds N] [--servers LIST] (LIST comma-separated from
# torsion,nginx,twisted). Needs: wrk, Python 3 with venv; installs nginx (apt-get) and Twisted
# (pip, in a venv under target/) when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=10
servers="torsion nginx twisted"
while (($#)); do
    case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --servers) servers=${2//,/ }; shift 2 ;;
        *) echo "usage: $0 [--seconds N] [--servers LIST]" >&2; exit 2 ;;
    esac
done
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    apt-get install -y -q nginx-light >/dev/null 2>&1 || apt-get install -y -q nginx >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
venv="$PWD/target/static-bench-venv"
if [ ! -x "$venv/bin/twist" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r benches/static/requirements.txt
fi
cargo build --release -q
torsion="${TORSION_BIN:-$PWD/target/release/torsion}" # TORSION_BIN: another build to measure
work=$(mktemp -d /tmp/torsion-static-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
files="$work/files"
mkdir -p "$files"
head -c 1024 /dev/urandom >"$files/1k.bin"
head -c $((1024 * 1024)) /dev/urandom >"$files/1m.bin"
chmod 755 "$work" "$files" # nginx's worker may run as another user
chmod 644 "$files"/*
out=target/bench-results/static.md
mkdir -p "$(dirname "$out")"

nginx_config() { # PORT — a configuration of its own: one worker, sendfile, no access log
    local port=$1 temp="$work/nginx"
    mkdir -p "$temp"
    cat >"$temp/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $temp/nginx.pid;
error_log $temp/error.log;
events { worker_connections 4096; }
http {
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $temp/body;
    proxy_temp_path $temp/proxy;
    fastcgi_temp_path $temp/fastcgi;
    uwsgi_temp_path $temp/uwsgi;
    scgi_temp_path $temp/scgi;
    server {
        listen 127.0.0.1:$port;
        root $files;
    }
}
CONF
    echo "$temp/nginx.conf"
}

start_server() { # NAME PORT — run in the background; becomes the server process itself
    local name=$1 port=$2
    case "$name" in
        torsion) exec taskset -c 0 "$torsion" web --path "$files" \
                    --listen "tcp:$port:interface=127.0.0.1" --no-access-log ;;
        nginx)   exec taskset -c 0 "$nginx_bin" -c "$(nginx_config "$port")" -p "$work/nginx" \
                    -e "$work/nginx/error.log" ;;
        twisted) exec taskset -c 0 "$venv/bin/twist" web --path "$files" \
                    --listen "tcp:$port:interface=127.0.0.1" ;;
    esac
}

rss_of_tree() { # total RSS in KiB of a process and its children
    local pids; pids=$(pgrep -P "$1" | tr '\n' ' ')
    ps -o rss= -p "$1" $pids 2>/dev/null | awk '{s+=$1} END {print s+0}'
}

measure() { # NAME FILE CONNECTIONS
    local name=$1 file=$2 conns=$3 port=$((9900 + RANDOM % 800))
    start_server "$name" "$port" >/dev/null 2>&1 &
    local pid=$! url="http://127.0.0.1:$port/$file"
    for _ in $(seq 50); do curl -s -o /dev/null "$url" && break; sleep 0.1; done
    taskset -c 1 wrk -t1 -c"$conns" -d2s "$url" >/dev/null 2>&1 || true
    local result; result=$(taskset -c 1 wrk -t1 -c"$conns" -d"${seconds}s" --latency "$url" 2>&1 &
        sleep $(((seconds + 1) / 2)); rss_of_tree "$pid" >"$work/rss"; wait)
    kill -TERM "$pid" 2>/dev/null; sleep 0.5; kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local rps transfer p99 errors
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$result")
    transfer=$(awk '/Transfer\/sec/ {print $2}' <<<"$result")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$result")
    errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$result" | tr '\n' ' ')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "${rps:-0}" "${transfer:--}" "${p99:--}" \
        "$(cat "$work/rss")" "$errors"
}

{
    echo "# Static-file benchmark ($(date -u +%F), ${seconds}s per run, server CPU 0, wrk CPU 1)"
    for scenario in "1k.bin 64" "1m.bin 16"; do
        set -- $scenario
        echo
        echo "## $1, $2 connections"
        echo
        echo "| server | req/s | transfer/s | p99 | RSS KiB | errors |"
        echo "|---|---:|---:|---:|---:|---|"
        for server in $servers; do
            measure "$server" "$1" "$2" |
                awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6}'
        done
    done
} | tee "$out"
