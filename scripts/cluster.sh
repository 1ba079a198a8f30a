#!/usr/bin/env bash
# One throw-away PostgreSQL 15 cluster for tests, demo and benchmarks.
#
#   scripts/cluster.sh run [--conf 'key=value' ...] [--huge-pages] -- COMMAND [ARGS...]
#
# --huge-pages maps shared memory with 2 MB pages (huge_pages = on), reserving the pages in the
# kernel for the cluster's lifetime (root only; restored afterwards). PostgreSQL's parallel
# workers are new processes for every query: with 4 kB pages each one faults in, and at exit
# unmaps, every page of shared buffers it touches, which on a 2-core machine costs a parallel
# scan of an in-memory table more than the workers bring. The benchmarks use it.
#
# initdb's a cluster owned by the postgres user in a fresh temp folder, starts it on a unix
# socket there (listen_addresses=''), exports PGHOST/PGPORT/PGUSER/PGDATABASE and BISMARCK_PGDATA,
# runs COMMAND, then stops the server and removes the folder, whatever COMMAND's outcome.
# The exit status is COMMAND's. Root cannot run initdb, so every server command runs as postgres.
set -euo pipefail

PGBIN=${PGBIN:-$(pg_config --bindir)}
[[ "${1:-}" == run ]] || { echo "usage: $0 run [--conf k=v ...] -- command..." >&2; exit 2; }
shift
extra_conf=()
huge=
while [[ $# -gt 0 && "$1" != "--" ]]; do
  case "$1" in
    --conf) extra_conf+=("$2"); shift 2 ;;
    --huge-pages) huge=1; shift ;;
    *) echo "cluster: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ "${1:-}" == "--" ]] && shift
[[ $# -gt 0 ]] || { echo "cluster: no command given" >&2; exit 2; }

as_pg() {
  if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

dir=$(mktemp -d /tmp/bismarck-cluster.XXXXXX)
chmod 755 "$dir"
[[ $EUID -eq 0 ]] && chown postgres:postgres "$dir"
export BISMARCK_PGDATA="$dir/data"

hugepages_before=
cleanup() {
  local rc=$?
  as_pg "$PGBIN/pg_ctl" -D "$BISMARCK_PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
  if [[ -n $hugepages_before ]]; then echo "$hugepages_before" >/proc/sys/vm/nr_hugepages || true; fi
  if [[ -n "${BISMARCK_KEEP_LOG:-}" && -f "$dir/server.log" ]]; then
    cp "$dir/server.log" "$BISMARCK_KEEP_LOG" || true
  fi
  rm -rf "$dir"
  exit $rc
}
trap cleanup EXIT INT TERM

as_pg "$PGBIN/initdb" -D "$BISMARCK_PGDATA" --no-sync --auth=trust -U postgres \
  --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }

port=$((20000 + RANDOM % 20000))
{
  echo "listen_addresses = ''"
  echo "unix_socket_directories = '$dir'"
  echo "port = $port"
  echo "fsync = off"
  echo "synchronous_commit = off"
  echo "full_page_writes = off"
  echo "shared_buffers = 1GB"
  echo "work_mem = 64MB"
  echo "max_worker_processes = 16"
  echo "max_parallel_workers = 8"
  echo "dynamic_shared_memory_type = posix"
  echo "lc_messages = 'C'"
  for c in "${extra_conf[@]}"; do echo "$c"; done
} >>"$BISMARCK_PGDATA/postgresql.conf"

if [[ -n $huge ]]; then
  # shared_buffers (1 GB) plus PostgreSQL's other shared memory, in 2 MB pages
  want=600
  avail() { awk '/^HugePages_Free:/ { f = $2 } /^HugePages_Rsvd:/ { r = $2 } END { print f - r }' /proc/meminfo; }
  free=$(avail)
  if ((free < want)) && [[ $EUID -eq 0 ]] && [[ -w /proc/sys/vm/nr_hugepages ]]; then
    hugepages_before=$(cat /proc/sys/vm/nr_hugepages)
    echo $((hugepages_before + want - free)) >/proc/sys/vm/nr_hugepages || true
    free=$(avail)
  fi
  if ((free >= want)); then
    echo "huge_pages = on" >>"$BISMARCK_PGDATA/postgresql.conf"
  else
    echo "cluster: only $free huge pages could be reserved (want $want): huge_pages = try" >&2
    echo "huge_pages = try" >>"$BISMARCK_PGDATA/postgresql.conf"
  fi
fi

as_pg "$PGBIN/pg_ctl" -D "$BISMARCK_PGDATA" -l "$dir/server.log" -w -t 60 start >/dev/null ||
  { cat "$dir/server.log" >&2; exit 1; }

export PGHOST="$dir" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
export BISMARCK_SERVER_LOG="$dir/server.log"
set +e
"$@"
rc=$?
set -e
exit $rc
