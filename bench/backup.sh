#!/usr/bin/env bash
# Backup and restore of the scale-100 demo database: the database's and the backup's size, the
# time of `backup` and of `restore` (into an empty database), and the dashboard's request latency
# while a backup runs against without (bench/backup_latency.py).
#   bench/backup.sh [IDLE_SECONDS]
# SQLite by default (a copy of bench/.data/scale-100). On PostgreSQL:
#   BENCH_POSTGRES_URL=postgres://user@host:port/postgres BENCH_POSTGRES_TEMPLATE=db bench/backup.sh
# copies the seeded database TEMPLATE on that server (CREATE DATABASE ... TEMPLATE) and restores
# into a new empty one; both are dropped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
idle=${1:-10}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
data=$(bench/seed.sh 100 | tail -1)
bin=$CARGO_TARGET_DIR/release/service-ping
work=$(mktemp -d)
server_pid=
databases=()
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  for database in "${databases[@]}"; do
    psql -q "$BENCH_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $database" || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/source" "$work/restored"
if [ -n "${BENCH_POSTGRES_URL:-}" ]; then
  source_db=bench_backup_source_$$ restored_db=bench_backup_restored_$$
  databases=("$source_db" "$restored_db")
  psql -q "$BENCH_POSTGRES_URL" -c "CREATE DATABASE $source_db TEMPLATE ${BENCH_POSTGRES_TEMPLATE:?}"
  psql -q "$BENCH_POSTGRES_URL" -c "CREATE DATABASE $restored_db"
  source_url=${BENCH_POSTGRES_URL%/*}/$source_db restored_url=${BENCH_POSTGRES_URL%/*}/$restored_db
  database_bytes=$(psql -qtA "$source_url" -c "SELECT pg_database_size(current_database())")
  echo "PostgreSQL database: $database_bytes bytes"
else
  cp "$data/service-ping.sqlite3" "$work/source/"
  source_url=sqlite://$work/source/service-ping.sqlite3 restored_url=sqlite://$work/restored/service-ping.sqlite3?mode=rwc
  database_bytes=$(stat -c %s "$work/source/service-ping.sqlite3")
  echo "SQLite database: $database_bytes bytes"
fi
source=(env SERVICE_PING__DATABASE__URL="$source_url" "$bin" --data-dir "$work/source")
restored=(env SERVICE_PING__DATABASE__URL="$restored_url" "$bin" --data-dir "$work/restored")
"${source[@]}" migrate >/dev/null

seconds() { local start=$EPOCHREALTIME; "$@" >/dev/null; echo "$EPOCHREALTIME - $start" | bc; }
backup_seconds=$(seconds "${source[@]}" backup --out "$work/quiet.tar.zst")
backup_bytes=$(stat -c %s "$work/quiet.tar.zst")
restore_seconds=$(seconds "${restored[@]}" restore "$work/quiet.tar.zst")
echo "backup (server idle): $backup_seconds s, $backup_bytes bytes ($(echo "scale=3; $backup_bytes / $database_bytes" | bc) of the database)"
echo "restore into an empty database: $restore_seconds s"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${source[@]}" --listen "127.0.0.1:$port" serve >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
  curl -fs "http://127.0.0.1:$port/-/health" >/dev/null 2>&1 && break
  sleep 0.2
done
# Let the start-up work (the rollups' refresh) finish before measuring.
sleep "$idle"
python3 bench/backup_latency.py "http://127.0.0.1:$port" "$idle" -- \
  "${source[@]}" backup --out "$work/serving.tar.zst"
