#!/usr/bin/env bash
# One throw-away PostgreSQL 15 cluster for tests, demo and benchmarks.
#
#   scripts/cluster.sh run [--conf 'key=value' ...] [--huge-pages] [--citus N] -- COMMAND [ARGS...]
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
#
# --citus N starts a Citus cluster instead: a coordinator (BISMARCK_PGDATA, PGHOST/PGPORT point
# at it) and N workers, each its own data directory and port in the same temp folder, sockets
# only, shared_preload_libraries = 'citus', shared_buffers = 256MB each (--conf applies to every
# node), the citus extension created on each and every node registered on the coordinator
# (citus_set_coordinator_host, citus_add_node with the socket folder as host name). Also exported:
# BISMARCK_CITUS_WORKERS ("host:port host:port ...") and BISMARCK_CITUS_WORKER_LOGS (the workers'
# server logs, same order). The PostgreSQL in PGBIN must have Citus (scripts/citus.sh).
set -euo pipefail

PGBIN=${PGBIN:-$(pg_config --bindir)}
[[ "${1:-}" == run ]] || { echo "usage: $0 run [--conf k=v ...] [--huge-pages] [--citus N] -- command..." >&2; exit 2; }
shift
extra_conf=()
huge=
citus=
while [[ $# -gt 0 && "$1" != "--" ]]; do
  case "$1" in
    --conf) extra_conf+=("$2"); shift 2 ;;
    --huge-pages) huge=1; shift ;;
    --citus)
      citus=${2:-}
      [[ $citus =~ ^[0-9]+$ ]] || { echo "cluster: --citus needs a number of workers" >&2; exit 2; }
      shift 2 ;;
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

# every node: name (data directory $dir/<name>), port, server log; the coordinator (or the only
# node) is "data" with the log server.log, as before
nodes=(data)
port=$((20000 + RANDOM % 20000))
ports=("$port")
logs=("$dir/server.log")
if [[ -n $citus ]]; then
  for ((i = 1; i <= citus; i++)); do
    nodes+=("worker$i")
    ports+=($((port + i)))
    logs+=("$dir/worker$i.log")
  done
fi
started=()

hugepages_before=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local d
  for d in "${started[@]}"; do
    as_pg "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1 &
  done
  wait
  if [[ -n $hugepages_before ]]; then echo "$hugepages_before" >/proc/sys/vm/nr_hugepages || true; fi
  if [[ -n "${BISMARCK_KEEP_LOG:-}" && -f "$dir/server.log" ]]; then
    cp "$dir/server.log" "$BISMARCK_KEEP_LOG" || true
  fi
  rm -rf "$dir"
  exit $rc
}
trap cleanup EXIT INT TERM

# initdb once; the workers start as copies of that fresh data directory (a copy takes a tenth
# of the time of an initdb; the nodes then share a system identifier, which only physical
# replication cares about)
as_pg "$PGBIN/initdb" -D "$dir/data" --no-sync --auth=trust -U postgres \
  --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
for n in "${nodes[@]:1}"; do
  cp -a "$dir/data" "$dir/$n"
done

shared_buffers=1GB
[[ -n $citus ]] && shared_buffers=256MB
for i in "${!nodes[@]}"; do
  {
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$dir'"
    echo "port = ${ports[$i]}"
    echo "fsync = off"
    echo "synchronous_commit = off"
    echo "full_page_writes = off"
    echo "shared_buffers = $shared_buffers"
    echo "work_mem = 64MB"
    echo "max_worker_processes = 16"
    echo "max_parallel_workers = 8"
    echo "dynamic_shared_memory_type = posix"
    echo "lc_messages = 'C'"
    [[ -n $citus ]] && echo "shared_preload_libraries = 'citus'"
    for c in "${extra_conf[@]}"; do echo "$c"; done
  } >>"$dir/${nodes[$i]}/postgresql.conf"
done

if [[ -n $huge ]]; then
  # shared_buffers (1 GB, or 256 MB a node with Citus) plus PostgreSQL's other shared memory,
  # in 2 MB pages
  want=600
  [[ -n $citus ]] && want=$((160 * ${#nodes[@]}))
  avail() { awk '/^HugePages_Free:/ { f = $2 } /^HugePages_Rsvd:/ { r = $2 } END { print f - r }' /proc/meminfo; }
  free=$(avail)
  if ((free < want)) && [[ $EUID -eq 0 ]] && [[ -w /proc/sys/vm/nr_hugepages ]]; then
    hugepages_before=$(cat /proc/sys/vm/nr_hugepages)
    echo $((hugepages_before + want - free)) >/proc/sys/vm/nr_hugepages || true
    free=$(avail)
  fi
  setting=on
  if ((free < want)); then
    echo "cluster: only $free huge pages could be reserved (want $want): huge_pages = try" >&2
    setting=try
  fi
  for n in "${nodes[@]}"; do echo "huge_pages = $setting" >>"$dir/$n/postgresql.conf"; done
fi

# start every node at once
pids=()
for i in "${!nodes[@]}"; do
  started+=("$dir/${nodes[$i]}")
  as_pg "$PGBIN/pg_ctl" -D "$dir/${nodes[$i]}" -l "${logs[$i]}" -w -t 60 start >/dev/null &
  pids+=($!)
done
for i in "${!nodes[@]}"; do
  wait "${pids[$i]}" || {
    cat "${logs[$i]}" >&2
    if [[ -n $citus ]] && grep -q 'could not access file "citus"' "${logs[$i]}"; then
      echo "cluster: no Citus in $PGBIN/../lib: run scripts/citus.sh (--destdir for a private tree)" >&2
    fi
    exit 1
  }
done

export PGHOST="$dir" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
export BISMARCK_SERVER_LOG="$dir/server.log"

if [[ -n $citus ]]; then
  psql_q() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -U postgres -d postgres "$@"; }
  pids=()
  for i in "${!nodes[@]}"; do
    psql_q -p "${ports[$i]}" -c "CREATE EXTENSION citus" >"$dir/citus-${nodes[$i]}.log" 2>&1 &
    pids+=($!)
  done
  for i in "${!nodes[@]}"; do
    wait "${pids[$i]}" || { cat "$dir/citus-${nodes[$i]}.log" >&2; exit 1; }
  done
  {
    echo "SELECT citus_set_coordinator_host('$dir', $port);"
    for ((i = 1; i <= citus; i++)); do echo "SELECT citus_add_node('$dir', ${ports[$i]});"; done
  } | psql_q -p "$port" >"$dir/citus-nodes.log" 2>&1 || { cat "$dir/citus-nodes.log" >&2; exit 1; }
  workers=()
  for ((i = 1; i <= citus; i++)); do workers+=("$dir:${ports[$i]}"); done
  export BISMARCK_CITUS_WORKERS="${workers[*]}"
  export BISMARCK_CITUS_WORKER_LOGS="${logs[*]:1}"
fi

set +e
"$@"
rc=$?
set -e
exit $rc
