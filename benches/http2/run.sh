#!/usr/bin/env bash
# HTTP/2 and TLS benchmark: torsion against Granian (`--interface wsgi --workers 1 --http 2`)
# and Twisted (`twist web --wsgi`, HTTP/2 over TLS through ALPN), the same hello-world
# application, one run, server pinned to CPU 0 and the load generator to CPU 1.
#   h2c:      h2load -c16 -m32 over cleartext (prior knowledge)          torsion, Granian
#   h2-tls:   h2load -c16 -m32 over TLS (ALPN h2)                        torsion, Granian, Twisted
#   h1:       wrk -c64 over cleartext HTTP/1.1                           torsion
#   h1-tls:   wrk -c64 over TLS, HTTP/1.1                                torsion
#   h1-lean, h1-tls-lean: the same two with h1load (benches/h1load.rs)   torsion
# The h1 scenarios end with the ratio of TLS to cleartext for each load generator. wrk's own
# TLS work fills its core before the server's does; h1load costs less per request, so its
# ratio is the server's (see benches/README.md).
# Usage: benches/http2/run.sh [--seconds N] [--only SCENARIO] [--servers LIST]
# Installs what it needs: nghttp2-client (h2load), wrk and openssl from Debian's packages when
# missing, and the peers in a virtualenv under target/.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=10
only=""
servers="torsion granian twisted"
while (($#)); do
    case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        --servers) servers=${2//,/ }; shift 2 ;;
        *) echo "usage: $0 [--seconds N] [--only SCENARIO] [--servers LIST]" >&2; exit 2 ;;
    esac
done
missing=()
command -v h2load >/dev/null || missing+=(nghttp2-client)
command -v wrk >/dev/null || missing+=(wrk)
command -v openssl >/dev/null || missing+=(openssl)
if ((${#missing[@]})); then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
venv="$PWD/target/http2-bench-venv"
if [ ! -x "$venv/bin/granian" ] || [ ! -x "$venv/bin/twist" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r benches/http2/requirements.txt
fi
cargo build --release -q
h1load=$(cargo bench --no-run --bench h1load 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)
[ -x "$h1load" ] || { echo "cannot build the h1load bench" >&2; exit 1; }
torsion="${TORSION_BIN:-$PWD/target/release/torsion}"
apps="$PWD/benches/wsgi"
certs=$PWD/target/http2-bench-certs
if [ ! -f "$certs/both.pem" ]; then
    mkdir -p "$certs"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
        -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
        -keyout "$certs/key.pem" -out "$certs/cert.pem" 2>/dev/null
    cat "$certs/key.pem" "$certs/cert.pem" >"$certs/both.pem"
fi
out=target/bench-results/http2.md
mkdir -p "$(dirname "$out")"

start_server() { # NAME TLS(0/1) PORT — in the background; becomes the server process itself
    local name=$1 tls=$2 port=$3
    cd "$apps"
    case "$name:$tls" in
        torsion:0) exec taskset -c 0 env -u VIRTUAL_ENV "$torsion" web --wsgi apps.hello \
                    --listen "tcp:$port:interface=127.0.0.1" --no-access-log ;;
        torsion:1) exec taskset -c 0 env -u VIRTUAL_ENV "$torsion" web --wsgi apps.hello \
                    --listen "ssl:$port:privateKey=$certs/both.pem:interface=127.0.0.1" --no-access-log ;;
        granian:0) exec taskset -c 0 "$venv/bin/granian" --interface wsgi --workers 1 --http 2 \
                    --host 127.0.0.1 --port "$port" --log-level error apps:hello ;;
        granian:1) exec taskset -c 0 "$venv/bin/granian" --interface wsgi --workers 1 --http 2 \
                    --ssl-certificate "$certs/cert.pem" --ssl-keyfile "$certs/key.pem" \
                    --host 127.0.0.1 --port "$port" --log-level error apps:hello ;;
        twisted:1) PYTHONPATH=. exec taskset -c 0 "$venv/bin/twist" web --wsgi apps.hello \
                    --listen "ssl:$port:privateKey=$certs/key.pem:certKey=$certs/cert.pem:interface=127.0.0.1" ;;
        *) exit 3 ;;
    esac
}

measure() { # NAME SCENARIO
    local name=$1 scenario=$2 port=$((9100 + RANDOM % 800)) tls=0 scheme=http
    case "$scenario" in *tls*) tls=1; scheme=https ;; esac
    start_server "$name" "$tls" "$port" >/dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 80); do curl -sk -o /dev/null "$scheme://127.0.0.1:$port/" && break; sleep 0.1; done
    local url="$scheme://127.0.0.1:$port/" result rps insecure=""
    [ "$tls" = 0 ] || insecure=--insecure # the throwaway certificate above
    case "$scenario" in
        h2*)
            taskset -c 1 h2load -c16 -m32 -D 2 "$url" >/dev/null 2>&1 || true
            result=$(taskset -c 1 h2load -c16 -m32 -D "$seconds" "$url" 2>&1 || true)
            rps=$(awk '/^finished in/ {gsub(",", "", $4); print $4}' <<<"$result")
            errors=$(awk '/^requests:/ {print $0}' <<<"$result")
            proto=$(awk '/^Application protocol:/ {print $3}' <<<"$result") ;;
        h1*-lean)
            result=$(taskset -c 1 "$h1load" "$url" --connections 64 --warmup 2 \
                --seconds "$seconds" $insecure 2>&1 || true)
            rps=$(sed -n 's/^RESULT requests_per_second=\([0-9.]*\).*/\1/p' <<<"$result")
            errors=$(sed -n 's/^RESULT .*\(errors=[0-9]* non_2xx=[0-9]*\).*/\1/p' <<<"$result")
            proto=http/1.1 ;;
        h1*)
            taskset -c 1 wrk -t1 -c64 -d2s "$url" >/dev/null 2>&1 || true
            result=$(taskset -c 1 wrk -t1 -c64 -d"${seconds}s" "$url" 2>&1 || true)
            rps=$(awk '/Requests\/sec/ {print $2}' <<<"$result")
            errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$result" | tr '\n' ' ')
            proto=http/1.1 ;;
    esac
    kill -INT "$pid" 2>/dev/null; sleep 0.5; kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    printf '| %s | %s | %s | %s |\n' "$name" "${rps:-0}" "${proto:--}" "$errors"
}

declare -A torsion_rps=()
{
    echo "# HTTP/2 and TLS benchmark ($(date -u +%F), ${seconds}s per run, server CPU 0, load CPU 1)"
    for scenario in h2c h2-tls h1 h1-tls h1-lean h1-tls-lean; do
        [ -z "$only" ] || [ "$only" = "$scenario" ] || continue
        echo
        echo "## $scenario"
        echo
        echo "| server | req/s | protocol | requests |"
        echo "|---|---:|---|---|"
        for server in $servers; do
            case "$server:$scenario" in
                twisted:h2c | twisted:h1* | granian:h1*) continue ;;
            esac
            line=$(measure "$server" "$scenario")
            echo "$line"
            [ "$server" = torsion ] && torsion_rps[$scenario]=$(awk -F'|' '{print $3+0}' <<<"$line")
        done
    done
    ratio() { # TLS CLEARTEXT LABEL
        local tls=${torsion_rps[$1]:-} clear=${torsion_rps[$2]:-}
        [ -n "$tls" ] && [ -n "$clear" ] || return 0
        awk -v t="$tls" -v c="$clear" -v l="$3" 'BEGIN { if (c > 0) printf "- HTTP/1.1 over TLS against cleartext, %s: %.0f / %.0f = %.2f\n", l, t, c, t / c }'
    }
    echo
    ratio h1-tls h1 wrk
    ratio h1-tls-lean h1-lean h1load
} | tee "$out"
