#!/usr/bin/env bash
# pgcluster.sh: a private PostgreSQL 15 for benchmarks, fsync ON (durable
# commits, as in production), on a unix socket in a temp dir. Source it:
#   . bench/lib/pgcluster.sh; pg_bench_start; ...; pg_bench_stop
# Exports LINDUNG_DB. Runs initdb as `postgres` when we are root.
# Shared memory in huge pages where the machine can give them (hugepages.sh;
# LINDUNG_BENCH_HUGE_PAGES=0 for 4 kB pages). LINDUNG_BENCH_SHARED_BUFFERS
# (default 1GB) and LINDUNG_BENCH_PG_OPTS (extra server options) are for
# experiments; the figures in docs/benchmarks.md are with neither set unless
# they say so.
PG_BIN=${LINDUNG_PG_BIN:-/usr/lib/postgresql/15/bin}
. "$(dirname "${BASH_SOURCE[0]}")/hugepages.sh"

pg_as() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bench_start() {
  PG_BENCH_DIR=$(mktemp -d /tmp/lindung-bench-XXXXXX)
  chmod 755 "$PG_BENCH_DIR"
  [ "$(id -u)" = 0 ] && chown postgres "$PG_BENCH_DIR"
  pg_as "$PG_BIN/initdb" -D "$PG_BENCH_DIR/data" -U lindung -A trust -E UTF8 --no-locale >/dev/null
  local buffers=${LINDUNG_BENCH_SHARED_BUFFERS:-1GB}
  bench_huge_pages "$PG_BENCH_DIR/data" "$buffers"
  echo "bench cluster: shared_buffers=$buffers ${BENCH_HUGE_PAGES_OPT#-c } ${LINDUNG_BENCH_PG_OPTS:-}"
  pg_as "$PG_BIN/pg_ctl" -D "$PG_BENCH_DIR/data" -l "$PG_BENCH_DIR/log" -w \
    -o "-k $PG_BENCH_DIR -c listen_addresses='' -c max_wal_size=8GB -c checkpoint_timeout=30min -c shared_buffers=$buffers $BENCH_HUGE_PAGES_OPT ${LINDUNG_BENCH_PG_OPTS:-}" \
    start >/dev/null

  psql -h "$PG_BENCH_DIR" -U lindung -d postgres -qc "CREATE DATABASE lindung"
  export LINDUNG_DB="host=$PG_BENCH_DIR user=lindung dbname=lindung"
  trap pg_bench_stop EXIT
}

pg_bench_stop() {
  [ -n "${PG_BENCH_DIR:-}" ] || return 0
  pg_as "$PG_BIN/pg_ctl" -D "$PG_BENCH_DIR/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$PG_BENCH_DIR"
  PG_BENCH_DIR=
  bench_huge_pages_release
}
