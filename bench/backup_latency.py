"""The dashboard's request latency without a backup and during one, side by side in one run.

Usage: backup_latency.py BASE_URL IDLE_SECONDS -- BACKUP_COMMAND...

Sequential keep-alive GETs of /-/health (a database round trip) and /users/sign_in (a page
rendered on the server), alternating, in three phases: idle, while BACKUP_COMMAND runs, idle
again. Prints each phase's median and 95th percentile and the ratios idle / during (1.0: the
backup costs nothing; the target is >= 0.8)."""

import http.client
import statistics
import subprocess
import sys
import time
import urllib.parse

PATHS = ["/-/health", "/users/sign_in"]


def probe(connection, path):
    started = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"{path}: HTTP {response.status}")
    return time.perf_counter() - started


def phase(connection, until):
    latencies = []
    while not until():
        latencies.append(probe(connection, PATHS[len(latencies) % len(PATHS)]))
    return latencies


def summary(latencies):
    ordered = sorted(latencies)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95)]


def main():
    base, idle_seconds = sys.argv[1], float(sys.argv[2])
    command = sys.argv[sys.argv.index("--") + 1 :]
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    for path in PATHS:
        probe(connection, path)

    def after(seconds):
        deadline = time.perf_counter() + seconds
        return lambda: time.perf_counter() >= deadline

    before = phase(connection, after(idle_seconds))
    started = time.perf_counter()
    backup = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    during = phase(connection, lambda: backup.poll() is not None)
    backup_seconds = time.perf_counter() - started
    if backup.returncode != 0:
        raise SystemExit(f"the backup failed ({backup.returncode})")
    after_backup = phase(connection, after(idle_seconds))
    idle = before + after_backup
    idle_median, idle_p95 = summary(idle)
    during_median, during_p95 = summary(during)
    print(f"backup while serving: {backup_seconds:.2f} s")
    print(f"{'':<22}{'requests':>9}{'median ms':>11}{'p95 ms':>9}")
    phases = [
        ("idle, before", before),
        ("during the backup", during),
        ("idle, after", after_backup),
        ("idle, both", idle),
    ]
    for name, latencies in phases:
        median, p95 = summary(latencies)
        print(f"{name:<22}{len(latencies):>9}{median * 1000:>11.2f}{p95 * 1000:>9.2f}")
    print(
        f"latency idle / during: median {idle_median / during_median:.2f}, "
        f"p95 {idle_p95 / during_p95:.2f} (target >= 0.8)"
    )


main()
