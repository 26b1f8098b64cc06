#!/usr/bin/env bash
# Instructions per request of `torsion web --wsgi`, counted by callgrind (all threads together),
# for the applications of the WSGI benchmark: wall-clock speed on a busy machine says little,
# instruction counts do not move with the load. With --strace, counts system calls per request
# instead (strace -c -f on the running server).
#
# Usage: benches/wsgi/instructions.sh [--requests N] [--connections N] [--threads N]
#        [--only LIST] [--strace] [--tls] [--keep]
# LIST is comma-separated, from hello, echo, big (default: all three). The server is started
# under `valgrind --tool=callgrind`, warmed up, its counters zeroed, driven with exactly N
# requests by h2load (HTTP/1.1, keep-alive, N/C requests per connection), and its counters
# dumped; instructions/request is the dump's total over N. --keep leaves the callgrind files
# in target/instructions/ for callgrind_annotate. --tls serves over TLS (an `ssl:` endpoint with
# a throwaway P-256 certificate; TLS 1.3) so the layer's cost per request can be compared. Needs valgrind, h2load (nghttp2-client) and,
# for --strace, strace.
set -euo pipefail
cd "$(dirname "$0")/../.."
requests=20000
connections=64
threads=8
only="hello,echo,big"
trace=false
keep=false
tls=false
while (($#)); do
    case "$1" in
        --requests) requests=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        --strace) trace=true; shift ;;
        --keep) keep=true; shift ;;
        --tls) tls=true; shift ;;
        *) echo "usage: $0 [--requests N] [--connections N] [--threads N] [--only LIST] [--strace] [--tls] [--keep]" >&2; exit 2 ;;
    esac
done
for tool in valgrind callgrind_control h2load; do
    command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install valgrind nghttp2-client" >&2; exit 1; }
done
if $trace; then
    command -v strace >/dev/null || { echo "strace is missing: apt-get install strace" >&2; exit 1; }
fi
cargo build --release -q
torsion="${TORSION_BIN:-$PWD/target/release/torsion}"
work="$PWD/target/instructions"
mkdir -p "$work"
scheme=http
endpoint() { echo "tcp:$1:interface=127.0.0.1"; }
if $tls; then
    command -v openssl >/dev/null || { echo "openssl is missing: apt-get install openssl" >&2; exit 1; }
    if [ ! -f "$work/both.pem" ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
            -subj /CN=localhost -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
        cat "$work/key.pem" "$work/cert.pem" >"$work/both.pem"
    fi
    scheme=https
    endpoint() { echo "ssl:$1:privateKey=$work/both.pem:interface=127.0.0.1"; }
fi
head -c 16384 /dev/zero | tr '\0' p >"$work/post16k.body"

wait_for() { # PORT — until the server answers
    for _ in $(seq 600); do
        curl -s -k -o /dev/null "$scheme://127.0.0.1:$1/" && return 0
        sleep 0.1
    done
    echo "the server on port $1 did not start" >&2
    return 1
}

load() { # SCENARIO PORT COUNT CONNECTIONS — exactly COUNT requests
    local args=(--h1 -n "$3" -c "$4" "$scheme://127.0.0.1:$2/")
    [ "$1" = echo ] && args+=(-d "$work/post16k.body" -H "Content-Type: application/octet-stream")
    h2load "${args[@]}" >"$work/h2load.txt" 2>&1
    grep -q "$3 succeeded" "$work/h2load.txt" || { cat "$work/h2load.txt" >&2; return 1; }
}

stop() { # PID
    kill -INT "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

count_instructions() { # SCENARIO — prints instructions per request
    local scenario=$1 port=$((9100 + RANDOM % 800))
    local out="$work/callgrind.$scenario"
    rm -f "$out".*
    (cd benches/wsgi && exec env -u VIRTUAL_ENV valgrind --tool=callgrind --separate-threads=no --compress-strings=no --compress-pos=no \
        --callgrind-out-file="$out.%p" "$torsion" web --wsgi "apps.$scenario" \
        --listen "$(endpoint "$port")" --no-access-log --threads "$threads") \
        >"$work/server.log" 2>&1 &
    local pid=$!
    wait_for "$port"
    load "$scenario" "$port" 500 "$connections"
    callgrind_control -z "$pid" >/dev/null 2>&1
    load "$scenario" "$port" "$requests" "$connections"
    callgrind_control -d "$scenario" "$pid" >/dev/null 2>&1
    stop "$pid"
    local dump="$out.$pid.1"
    local total; total=$(awk '/^(summary|totals):/ {print $2; exit}' "$dump")
    $keep || rm -f "$out".*
    echo $((total / requests))
}

count_syscalls() { # SCENARIO — prints system calls per request, then the busiest calls
    local scenario=$1 port=$((9100 + RANDOM % 800))
    (cd benches/wsgi && exec env -u VIRTUAL_ENV "$torsion" web --wsgi "apps.$scenario" \
        --listen "$(endpoint "$port")" --no-access-log --threads "$threads") \
        >"$work/server.log" 2>&1 &
    local pid=$!
    wait_for "$port"
    load "$scenario" "$port" 500 "$connections"
    strace -c -f -p "$pid" -o "$work/strace.$scenario" &
    local tracer=$!
    sleep 1
    load "$scenario" "$port" "$requests" "$connections"
    kill -INT "$tracer"
    wait "$tracer" 2>/dev/null || true
    stop "$pid"
    awk -v n="$requests" '
        $NF == "total" { total = $4 }
        $1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { calls[$NF] = $4 }
        END {
            printf "%.2f", total / n
            for (c in calls) if (calls[c] / n >= 0.01) printf " %s=%.2f", c, calls[c] / n
            print ""
        }' "$work/strace.$scenario"
}

if $trace; then
    echo "| scenario | requests | connections | threads | system calls/request (and the most frequent) |"
    echo "|---|---:|---:|---:|---|"
    for scenario in ${only//,/ }; do
        echo "| $scenario | $requests | $connections | $threads | $(count_syscalls "$scenario") |"
    done
else
    echo "| scenario | requests | connections | threads | instructions/request |"
    echo "|---|---:|---:|---:|---:|"
    for scenario in ${only//,/ }; do
        echo "| $scenario | $requests | $connections | $threads | $(count_instructions "$scenario") |"
    done
fi
