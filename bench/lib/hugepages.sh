#!/usr/bin/env bash
# hugepages.sh: back a benchmark cluster's shared memory with huge pages, as
# docs/operations.md asks of production PostgreSQL on a VM. Source it, then
#   bench_huge_pages DATADIR SHARED_BUFFERS
# and pass $BENCH_HUGE_PAGES_OPT ("-c huge_pages=on|off") to the server. Not a tuning tool for real servers: it only
# reserves what one throw-away cluster needs, and gives it back on exit.
#
# Why: on this project's VMs a 4 kB page costs about 11 us to fault in and
# every PostgreSQL process faults in each shared buffer it touches, so with
# 4 kB pages a million-row working set measures the hypervisor's page tables
# rather than lindung (docs/benchmarks.md has both figures).
#
# LINDUNG_BENCH_HUGE_PAGES=0 forces 4 kB pages (for the comparison). As root
# the helper raises vm.nr_hugepages by what the cluster needs when too few are
# free, and restores the old value at exit (bench_huge_pages_release, called
# from the caller's EXIT trap); otherwise it uses what is free, or falls back
# to 4 kB pages with a notice on stderr.

BENCH_HUGE_PAGES_RESTORE=
BENCH_HUGE_PAGES_OPT="-c huge_pages=off"

# Huge pages nobody holds: free ones not already promised to a mapping.
bench_huge_pages_free() {
  awk '/^HugePages_Free:/ {f = $2} /^HugePages_Rsvd:/ {r = $2} END {print f - r}' /proc/meminfo
}

bench_huge_pages() {
  local data=$1 buffers=$2
  BENCH_HUGE_PAGES_OPT="-c huge_pages=off"
  [ "${LINDUNG_BENCH_HUGE_PAGES:-1}" = 0 ] && return 0
  local pg_bin=${LINDUNG_PG_BIN:-/usr/lib/postgresql/15/bin} need free total as=
  [ "$(id -u)" = 0 ] && as="runuser -u postgres --"
  need=$($as "$pg_bin/postgres" -D "$data" -c shared_buffers="$buffers" \
    -C shared_memory_size_in_huge_pages 2>/dev/null || echo 0)
  # a margin for what -C does not count (pg_stat_statements' shared memory)
  [ "${need:-0}" -gt 0 ] && need=$((need + need / 50 + 16))
  free=$(bench_huge_pages_free)
  total=$(awk '/^HugePages_Total:/ {print $2}' /proc/meminfo)
  if [ "${need:-0}" -gt 0 ] && [ "${free:-0}" -lt "$need" ] && [ "$(id -u)" = 0 ] &&
    sysctl -qw vm.nr_hugepages=$((total + need - free)) 2>/dev/null; then
    BENCH_HUGE_PAGES_RESTORE=$total
    free=$(bench_huge_pages_free)
  fi
  if [ "${need:-0}" -gt 0 ] && [ "${free:-0}" -ge "$need" ]; then
    BENCH_HUGE_PAGES_OPT="-c huge_pages=on"
  else
    echo "bench: ${need:-?} huge pages needed, ${free:-0} free: 4 kB pages" \
      "(figures not comparable with docs/benchmarks.md)" >&2
  fi
}

# Give back what bench_huge_pages reserved (after the server has stopped).
bench_huge_pages_release() {
  [ -n "$BENCH_HUGE_PAGES_RESTORE" ] || return 0
  sysctl -qw vm.nr_hugepages="$BENCH_HUGE_PAGES_RESTORE" 2>/dev/null || true
  BENCH_HUGE_PAGES_RESTORE=
}
