#!/usr/bin/env bash
# What /-/metrics costs (issue 19): dashboard requests per second on /admin with monitoring on
# and off (the same binary and data, turned off by SERVICE_PING__MONITORING__ENABLED=false),
# alternated over ROUNDS so the machine's drift falls on both; how long a scrape takes while
# 8 clients load the dashboard; and while a payload is generated right after start (the server
# builds its rollups then too) on a platform seeded at SCALE (100: about 10 M rows, seeded into a
# throwaway directory; 0 skips it). Needs wrk (Debian:
# apt-get install wrk).
#   bench/monitoring.sh [ROUNDS] [SCALE]     (default 3 and 100; 8 s of wrk -t2 -c8 a measurement)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export LEPTOS_OUTPUT_NAME=service-ping
rounds=${1:-3}
scale=${2:-100}
target=${CARGO_TARGET_DIR:-target}
command -v wrk >/dev/null || { echo "error: bench/monitoring.sh needs wrk (apt-get install wrk)" >&2; exit 1; }
# The binary the tests build (the same dependency features: no second compile of the tree).
cargo test --release --features ssr --no-run >&2
bin=$target/release/service-ping
data=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$data"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
RUST_LOG=warn "$bin" --data-dir "$data" seed --scale 1 >/dev/null

start() { # monitoring enabled: true or false; [data directory]
  SERVICE_PING__MONITORING__ENABLED=$1 RUST_LOG=warn SERVICE_PING__SERVER__SITE_ROOT=target/site \
    "$bin" --data-dir "${2:-$data}" --listen "127.0.0.1:$port" serve >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -sf "$url/-/health" >/dev/null && return; sleep 0.1; done
  echo "error: the server did not start" >&2; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }

sign_in() { # data directory; prints the session cookie (the session outlives restarts)
  local password
  password=$(sed -n 's/^Password: //p' "$1/initial_root_password")
  curl -sf -c "$1/jar" --data-urlencode login=root --data-urlencode "password=$password" \
    "$url/api/sign_in" >/dev/null
  echo "_service_ping_session=$(awk '/_service_ping_session/ {print $7}' "$1/jar")"
}

start true
cookie=$(sign_in "$data")
stop

requests_per_second() {
  wrk -t2 -c8 -d2s -H "Cookie: $cookie" "$url/admin" >/dev/null
  wrk -t2 -c8 -d8s -H "Cookie: $cookie" "$url/admin" | awk '/Requests\/sec/ {print $2}'
}

echo "/admin, wrk -t2 -c8, 8 s a measurement, alternated (target: on / off >= 0.95)"
for round in $(seq "$rounds"); do
  start true; on=$(requests_per_second); stop
  start false; off=$(requests_per_second); stop
  echo "$round $on $off"
done | awk '{
  printf "round %d   on %8.0f req/s   off %8.0f req/s   on / off %.3f\n", $1, $2, $3, $2 / $3
  on += $2; off += $3
} END { printf "all rounds   on / off %.3f\n", on / off }'

echo
echo "/-/metrics while wrk -t2 -c8 loads /admin: 20 scrapes"
start true
wrk -t2 -c8 -d12s -H "Cookie: $cookie" "$url/admin" >/dev/null &
load=$!
sleep 2
for _ in $(seq 20); do
  curl -sf -o /dev/null -w '%{time_total}\n' "$url/-/metrics"
  sleep 0.3
done | sort -n | awk '{t[NR] = $1 * 1000} END {printf "scrape time: median %.1f ms, slowest %.1f ms\n", t[int((NR + 1) / 2)], t[NR]}'
wait "$load"
printf 'scrape size: %d bytes\n' "$(curl -sf "$url/-/metrics" | wc -c)"
stop

[ "$scale" -gt 0 ] || exit 0
echo
echo "/-/metrics while a payload is generated right after start at scale $scale (seeding first)"
big="$data/scale-$scale"
RUST_LOG=warn "$bin" --data-dir "$big" seed --scale "$scale" >/dev/null
start true "$big"
big_cookie=$(sign_in "$big")
curl -sf -X POST -H "Cookie: $big_cookie" "$url/api/generate_preview" >/dev/null
started=$(date +%s.%N)
while curl -sf -X POST -H "Cookie: $big_cookie" "$url/api/generation_status" | grep -q '"running":true'; do
  curl -sf -o /dev/null -w '%{time_total}\n' "$url/-/metrics"
  sleep 0.3
done > "$data/scrapes"
finished=$(date +%s.%N)
sort -n "$data/scrapes" | awk -v took="$(echo "$finished $started" | awk '{print $1 - $2}')" \
  '{ t[NR] = $1 * 1000 } END { printf "generation %.1f s; %d scrapes during it: median %.1f ms, slowest %.1f ms\n", took, NR, t[int((NR + 1) / 2)], t[NR] }'
stop
