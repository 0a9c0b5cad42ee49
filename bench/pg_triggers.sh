#!/usr/bin/env bash
# What keeping the rollups' change log costs a PostgreSQL writer, row triggers against the
# statement-level triggers with transition tables that the engine installs (crates/engine/src/
# rollup/log.rs), side by side in one run on a throwaway server:
#   bench/pg_triggers.sh [ROWS]     default 200 000 rows, written in statements of 1 000
# Each variant inserts the rows into a fresh table shaped like the platform's (a text timestamp
# spread over a year), then updates every row once; the times are the server's (psql \timing).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SERVICE_PING_TEST_POSTGRES_URL:-}" ]; then
  exec scripts/postgres-server.sh run "$0" "$@"
fi
rows=${1:-200000}
[[ "$rows" =~ ^[0-9]+$ ]] || { echo "usage: bench/pg_triggers.sh [ROWS]" >&2; exit 2; }
url=$SERVICE_PING_TEST_POSTGRES_URL

setup() {
  cat <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS t, log CASCADE;
CREATE TABLE t (id BIGINT PRIMARY KEY, state TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE log (sign SMALLINT NOT NULL, state TEXT, created_at TEXT,
                  xid XID8 NOT NULL DEFAULT pg_current_xact_id());
SQL
  case $1 in
    none) ;;
    row) cat <<'SQL'
CREATE FUNCTION log_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
  IF TG_OP = 'UPDATE' THEN INSERT INTO log (sign, state, created_at) VALUES (-1, OLD.state, OLD.created_at); END IF;
  INSERT INTO log (sign, state, created_at) VALUES (1, NEW.state, NEW.created_at); RETURN NULL; END $$;
CREATE TRIGGER log_write AFTER INSERT OR UPDATE ON t FOR EACH ROW EXECUTE FUNCTION log_row();
SQL
    ;;
    statement) cat <<'SQL'
CREATE FUNCTION log_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
  INSERT INTO log (sign, state, created_at) SELECT 1, state, created_at FROM new_rows; RETURN NULL; END $$;
CREATE FUNCTION log_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
  INSERT INTO log (sign, state, created_at) SELECT -1, state, created_at FROM old_rows
  UNION ALL SELECT 1, state, created_at FROM new_rows; RETURN NULL; END $$;
CREATE TRIGGER log_insert AFTER INSERT ON t REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION log_insert();
CREATE TRIGGER log_update AFTER UPDATE ON t REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION log_update();
SQL
    ;;
  esac
}

# Seconds the inserts (in statements of 1 000 rows) and one UPDATE of every row take.
measure() {
  psql -qAt -v ON_ERROR_STOP=1 "$url" <<SQL | awk '/^Time:/ {sum += $2} END {printf "%.3f", sum / 1000}'
$(setup "$1")
\\timing on
SELECT format('INSERT INTO t SELECT g, ''opened'', to_char(timestamp ''2025-12-01'' + (g %% 365) * interval ''1 day'', ''YYYY-MM-DD HH24:MI:SS'') FROM generate_series(%s, %s) AS g', s, s + 999)
FROM generate_series(1, $rows, 1000) AS s \\gexec
UPDATE t SET state = 'closed';
SQL
}

none=$(measure none)
row=$(measure row)
statement=$(measure statement)
printf '%-52s %8s s\n' "$rows rows inserted and updated, no trigger:" "$none"
printf '%-52s %8s s\n' "row triggers (one log insert per row image):" "$row"
printf '%-52s %8s s\n' "statement triggers with transition tables (ours):" "$statement"
awk -v n="$none" -v r="$row" -v s="$statement" 'BEGIN {
  printf "overhead of the log: row triggers %.2fx, statement triggers %.2fx the bare writes\n", r / n, s / n }'
