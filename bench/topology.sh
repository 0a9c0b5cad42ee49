#!/usr/bin/env bash
# Issue 19: how long gathering the payload's topology takes against a Prometheus holding a week
# of 15 s samples for 10 series (the recording rules' outputs for two nodes: 40 320 samples each,
# backfilled with promtool into a throwaway Prometheus on a free port, stopped by its pid).
# Generates ROUNDS payloads (`service-ping payload`, SQLite, the empty platform) and prints each
# payload's topology.duration_s, the queries that found nothing (USS, PSS and workers: not among
# the 10 series), the nodes reported, and the median.
#   bench/topology.sh [ROUNDS]     (default 5; needs Debian's prometheus, promtool, python3)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export LEPTOS_OUTPUT_NAME=service-ping
rounds=${1:-5}
target=${CARGO_TARGET_DIR:-target}
command -v promtool >/dev/null || { echo "error: needs Debian's prometheus (scripts/install-tools.sh --test)" >&2; exit 1; }
cargo test --release --features ssr --no-run >&2
bin=$target/release/service-ping
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# A week up to now, every 15 s: 10 series.
python3 - "$work/week.om" <<'PY'
import sys, time
end = int(time.time()) // 15 * 15
start = end - 7 * 24 * 3600
series = [
    ('gitlab_usage_ping:ops:rate5m', '', lambda t: 1.2 + (t % 3600) / 3600),
    ('gitlab_usage_ping:node_memory_total_bytes:avg', 'instance="node-1:9100"', lambda t: 33269903360),
    ('gitlab_usage_ping:node_memory_total_bytes:avg', 'instance="node-2:9100"', lambda t: 16634951680),
    ('gitlab_usage_ping:node_cpus:count', 'instance="node-1:9100"', lambda t: 16),
    ('gitlab_usage_ping:node_cpus:count', 'instance="node-2:9100"', lambda t: 8),
    ('gitlab_usage_ping:node_service_process_resident_memory_bytes:avg', 'instance="node-1:3000",job="service-ping"', lambda t: 180e6 + t % 1000),
    ('gitlab_usage_ping:node_service_process_resident_memory_bytes:avg', 'instance="node-2:9187",job="postgres"', lambda t: 750e6),
    ('gitlab_usage_ping:node_service_process:count', 'instance="node-1:3000",job="service-ping"', lambda t: 1),
    ('gitlab_usage_ping:node_service_process:count', 'instance="node-2:9187",job="postgres"', lambda t: 12),
    ('node_uname_info', 'instance="node-1:9100",machine="x86_64",release="6.1.0-27-amd64",sysname="Linux"', lambda t: 1),
]
with open(sys.argv[1], 'w') as out:
    for name, labels, value in series:
        for t in range(start, end + 1, 15):
            out.write(f'{name}{{{labels}}} {value(t)} {t}\n')
    out.write('# EOF\n')
PY
mkdir -p "$work/data"
promtool tsdb create-blocks-from openmetrics "$work/week.om" "$work/data" >/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'global:\n  scrape_interval: 1h\n' > "$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --storage.tsdb.retention.time=30d --web.listen-address="127.0.0.1:$port" >"$work/prometheus.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null && break; sleep 0.2; done

echo "topology over a week of 15 s samples, 10 series (40 320 samples each):"
for round in $(seq "$rounds"); do
  SERVICE_PING__PROMETHEUS__URL="http://127.0.0.1:$port" RUST_LOG=error \
    "$bin" --data-dir "$work/instance" payload --out "$work/payload.json" >/dev/null 2>&1
  python3 -c 'import json, sys; t = json.load(open(sys.argv[1]))["topology"]; print(t["duration_s"] * 1000, ",".join(next(iter(f)) for f in t["failures"]) or "none", len(t.get("nodes", [])))' "$work/payload.json"
done > "$work/rounds"
awk '{ printf "round %d   %.1f ms   failures %s   nodes %s\n", NR, $1, $2, $3 }' "$work/rounds"
sort -n "$work/rounds" | awk '{ d[NR] = $1 } END { printf "median %.1f ms, slowest %.1f ms\n", d[int((NR + 1) / 2)], d[NR] }'
