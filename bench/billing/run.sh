#!/usr/bin/env bash
# run.sh: bench_billing against a throw-away PostgreSQL 15 with fsync ON
# (the test harness turns fsync off; a benchmark must not).
#   bench/billing/run.sh BUILD_DIR [N]      e.g. bench/billing/run.sh build 1000000
# ROUNDS=K (default 5): fresh months measured; medians are printed.
# Keeps the cluster when BENCH_KEEP=1 (then prints where it is).
# Shared memory in huge pages where the machine can give them
# (bench/lib/hugepages.sh; LINDUNG_BENCH_HUGE_PAGES=0 for 4 kB pages).
# LOAD_MEMORIES="512 2048": one bench_billing per value, in that order, each
# with LINDUNG_BILLING_LOAD_MEMORY_MB set to it, on the same enrolments.
# LINDUNG_BENCH_SHARED_BUFFERS: the cluster's shared_buffers (default 512MB; huge pages
# are reserved for it).
# LINDUNG_BENCH_PG_OPTS: extra server options for experiments;
# LINDUNG_BENCH_SQL: SQL run once the database is migrated and imported
# (e.g. "ALTER TABLE enrolments DISABLE TRIGGER x"), for experiments too;
# docs/benchmarks.md says when a figure used either.
# LAPSE=1: bench_lapse instead (N enrolments from 2026-01, three months
# billed, due and partly unpaid, then April's run with its lapse check; see
# bench_lapse.c), with pg_stat_statements loaded for its per-statement
# times. LINDUNG_BENCH_UNPAID=same|rotate (which villages leave invoices
# unpaid), LINDUNG_BENCH_PAY_CALLS=K (only the first K payments through
# billing_record_payment, the rest set-based), LINDUNG_BENCH_VILLAGE_RUN=K
# (a village's people in runs of K consecutive ids, default 100): see
# bench_lapse.c. BENCH_REUSE=DIR (with LAPSE=1): start the cluster kept in
# DIR by an earlier BENCH_KEEP=1 run whose April run failed or was stopped,
# and time April again (LINDUNG_BENCH_RESUME=1); the cluster is kept.
# The synthetic people are enrolled in bench/billing/programs.json's
# PALI-BENCH-ADD (PALI's rules, no end), imported after the demo programmes.
set -eu
BUILD=$(cd "${1:?usage: run.sh BUILD_DIR [N]}" && pwd)
N=${2:-1000000}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
PGBIN=${LINDUNG_PG_BIN:-/usr/lib/postgresql/15/bin}
if [ -n "${BENCH_REUSE:-}" ]; then
    DIR=$(cd "$BENCH_REUSE" && pwd)
    BENCH_KEEP=1
    export LINDUNG_BENCH_RESUME=1
else
    DIR=$(mktemp -d /tmp/lindung-bench-XXXXXX)
fi
AS=""
if [ "$(id -u)" = 0 ]; then chown postgres "$DIR"; AS="runuser -u postgres --"; fi
. "$SRC/bench/lib/hugepages.sh"
cleanup() {
    $AS "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
    bench_huge_pages_release
    [ "${BENCH_KEEP:-0}" = 1 ] && echo "kept $DIR" || rm -rf "$DIR"
}
trap cleanup EXIT
[ -n "${BENCH_REUSE:-}" ] ||
    $AS "$PGBIN/initdb" -D "$DIR/data" -U lindung --auth=trust -E UTF8 --no-locale >/dev/null
SB=${LINDUNG_BENCH_SHARED_BUFFERS:-512MB}
bench_huge_pages "$DIR/data" "$SB"
PRELOAD=""
[ "${LAPSE:-0}" = 1 ] && PRELOAD="-c shared_preload_libraries=pg_stat_statements"
echo "bench cluster: shared_buffers=$SB ${BENCH_HUGE_PAGES_OPT#-c } ${PRELOAD#-c } ${LINDUNG_BENCH_PG_OPTS:-}"
$AS "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -w start -o \
    "-k $DIR -c listen_addresses= -c fsync=on -c synchronous_commit=on $BENCH_HUGE_PAGES_OPT \
     -c shared_buffers=$SB -c max_wal_size=8GB -c work_mem=64MB \
     -c maintenance_work_mem=256MB $PRELOAD ${LINDUNG_BENCH_PG_OPTS:-}" >/dev/null
export LINDUNG_DB="host=$DIR dbname=lindung user=lindung"
export LINDUNG_MIGRATIONS="$SRC/db/migrations"
if [ -z "${BENCH_REUSE:-}" ]; then
    "$PGBIN/createdb" -h "$DIR" -U lindung lindung
    "$BUILD/tools/lindungctl/lindungctl" migrate
    "$BUILD/tools/lindungctl/lindungctl" program import "$SRC/db/seed/programs.json"
    "$BUILD/tools/lindungctl/lindungctl" program import "$SRC/bench/billing/programs.json"
else
    # a set-up kept by an older tree: bring its schema up to this one's
    "$BUILD/tools/lindungctl/lindungctl" migrate
fi
if [ -n "${LINDUNG_BENCH_SQL:-}" ]; then
    echo "LINDUNG_BENCH_SQL: $LINDUNG_BENCH_SQL"
    psql -h "$DIR" -U lindung -d lindung -v ON_ERROR_STOP=1 -qc "$LINDUNG_BENCH_SQL"
fi
if [ "${LAPSE:-0}" = 1 ]; then
    "$BUILD/bench/billing/bench_lapse" "$N"
    exit
fi
if [ -z "${LOAD_MEMORIES:-}" ]; then
    "$BUILD/bench/billing/bench_billing" "$N" "${ROUNDS:-5}"
    exit
fi
for mb in $LOAD_MEMORIES; do
    echo "== LINDUNG_BILLING_LOAD_MEMORY_MB=$mb"
    LINDUNG_BILLING_LOAD_MEMORY_MB=$mb "$BUILD/bench/billing/bench_billing" "$N" "${ROUNDS:-5}"
done
