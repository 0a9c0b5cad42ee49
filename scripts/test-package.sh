#!/usr/bin/env bash
# Builds the Debian package from the release binary and the site already built (cargo deb
# --no-build), unpacks it into a throwaway root, and checks it as an administrator would meet it:
# the files and their modes, the configuration marked as such, the maintainer scripts' syntax,
# the systemd units (systemd-analyze verify against the root, any warning fails; the hardening's
# exposure is printed), and the installed binary: --version, migrate, and a served dashboard that
# finds its site and metric dictionary where the package put them.
# Usage: scripts/test-package.sh [OUT_DIR]   (the .deb is left in OUT_DIR, default target/debian)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/debian}
work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "package test: $*" >&2; exit 1; }
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

say "building the Debian package"
mkdir -p "$out"
deb=$(cargo deb --no-build --output "$out/" 2>"$work/cargo-deb.log" | tail -1) || { cat "$work/cargo-deb.log" >&2; fail "cargo deb failed"; }
[ -f "$deb" ] || fail "cargo deb wrote no package ($deb)"
echo "$deb ($(du -h "$deb" | cut -f1))"

root=$work/root
mkdir -p "$root" "$work/control"
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$work/control"

say "checking files and modes"
expect_mode() { # PATH MODE UID/GID
  local path=$root/$1
  [ -e "$path" ] || fail "$1 is missing"
  local seen
  seen=$(dpkg-deb -c "$deb" | awk -v p="./$1" '$6 == p { print $1, $2 }')
  [ "$seen" = "$2 $3" ] || fail "$1 is '$seen' in the package, expected '$2 $3'"
}
expect_mode usr/bin/service-ping -rwxr-xr-x 0/0
expect_mode etc/service-ping/service-ping.toml -rw-r----- 0/0
expect_mode etc/service-ping/collector.toml -rw-r----- 0/0
expect_mode usr/lib/systemd/system/service-ping.service -rw-r--r-- 0/0
expect_mode usr/lib/systemd/system/service-ping-collector.service -rw-r--r-- 0/0
expect_mode usr/share/service-ping/site/pkg/service-ping.wasm -rw-r--r-- 0/0
expect_mode usr/share/service-ping/site/pkg/service-ping.js -rw-r--r-- 0/0
expect_mode usr/share/service-ping/site/pkg/service-ping.css -rw-r--r-- 0/0
expect_mode usr/share/service-ping/metrics/schema.json -rw-r--r-- 0/0
expect_mode usr/share/doc/service-ping/README.md -rw-r--r-- 0/0
expect_mode usr/share/doc/service-ping/service-ping.example.toml -rw-r--r-- 0/0
metric_files=$(find "$root/usr/share/service-ping/metrics" -name '*.yml' | wc -l)
repo_metric_files=$(find metrics -name '*.yml' | wc -l)
[ "$metric_files" = "$repo_metric_files" ] || fail "$metric_files metric definitions packaged, $repo_metric_files in metrics/"
for conffile in /etc/service-ping/service-ping.toml /etc/service-ping/collector.toml; do
  grep -qx "$conffile" "$work/control/conffiles" || fail "$conffile is not marked as configuration"
done
grep -q '^Depends:.*adduser' "$work/control/control" || fail "the package does not depend on adduser"
for script in postinst prerm postrm; do
  [ -f "$work/control/$script" ] || continue
  sh -n "$work/control/$script" || fail "$script does not parse"
done
grep -q 'adduser --quiet --system --group' "$work/control/postinst" || fail "postinst creates no system user"
grep -q 'deb-systemd-helper enable service-ping.service' "$work/control/postinst" || fail "postinst does not enable the dashboard"

say "verifying the systemd units"
# The root gets the host's own units (sysinit.target and the like), as a real system has them.
cp -rn /usr/lib/systemd/system/. "$root/usr/lib/systemd/system/"
for unit in service-ping.service service-ping-collector.service; do
  # systemd-analyze exits 0 on settings it ignores: any output is a failure.
  report=$(systemd-analyze verify --root="$root" "/usr/lib/systemd/system/$unit" 2>&1) || fail "$unit: $report"
  [ -z "$report" ] || fail "$unit: $report"
  for setting in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes ReadWritePaths=/var/lib/service-ping; do
    grep -q "^$setting" "$root/usr/lib/systemd/system/$unit" || fail "$unit lacks $setting"
  done
  exposure=$(systemd-analyze security --offline=true --root="$root" "$unit" 2>&1 | grep 'Overall exposure level' || true)
  echo "$unit: verified; ${exposure#→ }"
done

say "running the installed binary"
bin=$root/usr/bin/service-ping
version=$("$bin" --version)
echo "$version"
[[ $version =~ ^service-ping\ [0-9]+\.[0-9]+\.[0-9]+\ \(commit\ ([0-9a-f]{12}|unknown),\ schema\ [0-9]+,\ collector\ schema\ [0-9]+\)$ ]] ||
  fail "--version says '$version'"
# The packaged configuration, with the paths it names moved under the throwaway root.
export SERVICE_PING__DATA_DIR=$work/data
export SERVICE_PING__SERVER__SITE_ROOT=$root/usr/share/service-ping/site
export SERVICE_PING__SERVICE_PING__METRICS_DIR=$root/usr/share/service-ping/metrics
config=$root/etc/service-ping/service-ping.toml
"$bin" --config "$config" migrate
[ -f "$work/data/service-ping.sqlite3" ] || fail "migrate made no database in the data directory"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" --config "$config" --listen "127.0.0.1:$port" serve >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/-/health" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; fail "the installed server stopped"; }
  sleep 0.2
done
curl -fs "http://127.0.0.1:$port/-/health" >/dev/null || { cat "$work/serve.log" >&2; fail "the installed server does not answer"; }
# The page names the bundle by its content hash; that name serves the packaged bytes, and their
# packaged brotli copy to a browser that accepts it.
script=$(curl -fs "http://127.0.0.1:$port/users/sign_in" | grep -o 'pkg/service-ping\.[0-9a-f]\{16\}\.js' | head -n 1) ||
  fail "the sign-in page does not load a content-hashed bundle"
packaged=$root/usr/share/service-ping/site/pkg/service-ping.wasm
wasm_bytes=$(curl -fs "http://127.0.0.1:$port/${script%.js}.wasm" | wc -c)
[ "$wasm_bytes" = "$(stat -c %s "$packaged")" ] ||
  fail "the installed server serves a $wasm_bytes-byte bundle, not the packaged one"
brotli_bytes=$(curl -fs -H 'Accept-Encoding: br' "http://127.0.0.1:$port/${script%.js}.wasm" | wc -c)
[ "$brotli_bytes" = "$(stat -c %s "$packaged.br")" ] ||
  fail "the installed server sends $brotli_bytes bytes for brotli, not the packaged $packaged.br"
echo "served the dashboard and its packaged bundle on port $port"
say "package ok: $deb"
