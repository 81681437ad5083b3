#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback for the store's conformance tests.
#
#   scripts/test-postgres.sh start   # prints the line to export: STAGELINK_TEST_POSTGRES=postgres://…
#   swift test --filter StoreConformance
#   scripts/test-postgres.sh stop
#
# The cluster lives in a temporary folder ($STAGELINK_PG_DIR, default /tmp/stagelink-test-pg) and
# runs as an unprivileged user (initdb refuses root: as root it runs as `postgres`), listening on
# 127.0.0.1 only, port $STAGELINK_PG_PORT (default 55432), with trust authentication: for tests on
# loopback only, never for a real store (docs/configuration.md: `store:` verifies TLS and takes a
# password). Needs Debian's `postgresql` package (apt-get install -y postgresql).
set -euo pipefail
dir="${STAGELINK_PG_DIR:-/tmp/stagelink-test-pg}"
port="${STAGELINK_PG_PORT:-55432}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
if [[ -z "$bin" ]]; then
    echo "PostgreSQL is not installed: apt-get install -y postgresql" >&2
    exit 1
fi
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}
url="postgres://stagelink@127.0.0.1:${port}/stagelink"
case "${1:-}" in
start)
    mkdir -p "$dir"
    if [[ "$(id -u)" == 0 ]]; then chown postgres "$dir"; fi
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
        as_owner "'$bin/initdb' -D '$dir/data' -U stagelink --auth=trust --encoding=UTF8 --locale=C.UTF-8" >"$dir/initdb.log"
    fi
    # Every store a test opens keeps a pool of up to 8 connections, and the suite runs its tests in
    # parallel: the default max_connections (100) was refused with SQLSTATE 53300 ("too many clients")
    # when several test runs shared the cluster.
    if ! as_owner "'$bin/pg_ctl' -D '$dir/data' status" >/dev/null 2>&1; then
        as_owner "'$bin/pg_ctl' -D '$dir/data' -l '$dir/log' -w -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c max_connections=300\" start" >/dev/null
    fi
    if ! psql -h 127.0.0.1 -p "$port" -U stagelink -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'stagelink'" | grep -q 1; then
        psql -h 127.0.0.1 -p "$port" -U stagelink -d postgres -qc 'CREATE DATABASE stagelink' >/dev/null
    fi
    echo "export STAGELINK_TEST_POSTGRES=$url"
    ;;
stop)
    if [[ -f "$dir/data/PG_VERSION" ]]; then
        as_owner "'$bin/pg_ctl' -D '$dir/data' -m fast stop" >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
url)
    echo "$url"
    ;;
*)
    echo "usage: $0 start|stop|url" >&2
    exit 2
    ;;
esac
