#!/usr/bin/env bash
# Payload generation benchmark, on each backend side by side in one run.
#   bench/payload.sh [SCALE]      default scale 100, about 10 million rows
# Seeds bench/.data/scale-SCALE (SQLite) once (kept for later runs) and works on a copy of it,
# since the benchmark writes days of activity; seeds the same platform into a throwaway
# PostgreSQL server (scripts/postgres-server.sh). Prints the peak memory of a cold
# `service-ping payload` on SQLite, then for each backend, from one process: the lower bound
# (COUNT(*) per table the dictionary reads), one read of every row, ours cold, ours folding a day
# of writes, ours with current rollups, fused scans, the naive one-query-per-metric evaluation,
# their ratios, and at the end how many metric values differ between the two backends.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SERVICE_PING_TEST_POSTGRES_URL:-}" ]; then
  exec scripts/postgres-server.sh run "$0" "$@"
fi
scale=${1:-100}
data=$(bench/seed.sh "$scale" | tail -n 1)
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
export LEPTOS_OUTPUT_NAME=service-ping
bin=$CARGO_TARGET_DIR/release/service-ping

copy=$(mktemp -d "${TMPDIR:-/tmp}/service-ping-bench.XXXXXX")
trap 'rm -rf "$copy"' EXIT
cp -r "$data/." "$copy/"

# The seeded database has no rollups (benchmarks only ever write to copies): this run is cold.
echo "==> service-ping payload on SQLite (its own process, for peak memory; builds the rollups)"
RUST_LOG=warn "$bin" --data-dir "$copy" payload --out /dev/null 2>&1 | tail -n 1
rm -rf "$copy" && mkdir -p "$copy" && cp -r "$data/." "$copy/"

echo "==> seeding scale $scale into PostgreSQL"
psql -q "$SERVICE_PING_TEST_POSTGRES_URL" -c "CREATE DATABASE bench_payload"
postgres_url="${SERVICE_PING_TEST_POSTGRES_URL%/*}/bench_payload"
started=$(date +%s)
SERVICE_PING__DATABASE__URL="$postgres_url" RUST_LOG=warn "$bin" --data-dir "$copy/pg" seed --scale "$scale"
echo "seeded in $(( $(date +%s) - started )) s"

echo "==> SQLite, side by side in one process"
BENCH_VALUES_OUT="$copy/values.sqlite" cargo bench --features ssr --bench payload_generation -- "$copy"
echo "==> PostgreSQL, side by side in one process"
BENCH_VALUES_OUT="$copy/values.postgres" SERVICE_PING__DATABASE__URL="$postgres_url" \
  cargo bench --features ssr --bench payload_generation -- "$copy/pg"
echo "==> both backends"
echo "metric values differing between SQLite and PostgreSQL: $(diff "$copy/values.sqlite" "$copy/values.postgres" | grep -c '^<' || true) of $(wc -l < "$copy/values.sqlite")"
diff "$copy/values.sqlite" "$copy/values.postgres" | head -n 20 || true
