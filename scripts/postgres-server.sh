#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests and benchmarks, from Debian's `postgresql` package:
# a fresh cluster in a new temporary directory, owned by an unprivileged user when run as root
# (the server refuses root), listening on a free loopback port with a random superuser password.
#
#   scripts/postgres-server.sh start          prints the directory; its `url` file holds the URL
#   scripts/postgres-server.sh stop DIR       stops the server started there (by its pid) and
#                                             removes the directory
#   scripts/postgres-server.sh run CMD...     runs CMD with SERVICE_PING_TEST_POSTGRES_URL set to
#                                             a running server's URL, and stops it afterwards
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "error: PostgreSQL's server is not installed (apt-get install postgresql; scripts/install-tools.sh --test does it)" >&2
  exit 1
fi

# Runs a command as the server's owner.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

# A loopback port below the kernel's ephemeral range (32768 and up: a client's socket may hold
# one of those) that nothing listens on. Another process may still take it before the server
# binds it: start() then tries another.
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

start() {
  local dir port password
  dir=$(mktemp -d /tmp/service-ping-postgres.XXXXXX)
  chmod 0755 "$dir"
  [ "$(id -u)" = 0 ] && chown nobody "$dir"
  password=$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')
  printf '%s\n' "$password" > "$dir/password"
  [ "$(id -u)" = 0 ] && chown nobody "$dir/password"
  as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=scram-sha-256 \
    --pwfile="$dir/password" --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    rm -rf "$dir"
    exit 1
  }
  rm -f "$dir/password"
  # Settings for throwaway data: no fsync, enough connections for the concurrency benchmark.
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    rm -f "$dir/server.log"
    if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
      "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir \
       -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \
       -c shared_buffers=256MB" >/dev/null; then
      break
    fi
    if [ "$attempt" = 5 ] || ! grep -q "Address already in use" "$dir/server.log"; then
      cat "$dir/server.log" >&2
      rm -rf "$dir"
      exit 1
    fi
  done
  printf 'postgres://postgres:%s@127.0.0.1:%s/postgres\n' "$password" "$port" > "$dir/url"
  echo "$dir"
}

stop() {
  local dir=$1 pid
  [ -f "$dir/data/postmaster.pid" ] || { rm -rf "$dir"; return 0; }
  pid=$(head -n 1 "$dir/data/postmaster.pid")
  # SIGINT: "fast" shutdown, the server rolls back open transactions and exits.
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "$2" ;;
  run)
    shift
    dir=$(start)
    trap 'stop "$dir"' EXIT
    SERVICE_PING_TEST_POSTGRES_URL=$(cat "$dir/url") "$@"
    ;;
  *)
    echo "usage: $0 start | stop DIR | run CMD..." >&2
    exit 2
    ;;
esac
