#!/usr/bin/env bash
# Smoke test of a throw-away Citus cluster:
#
#   PGBIN=... scripts/cluster.sh run --citus 2 -- tests/citus/smoke.sh
#
# Checks that the coordinator and the workers are registered and active, that every worker
# answers on its socket with Citus loaded, and that a distributed table's count(*) runs as shard
# queries on the workers (citus.log_remote_commands) and adds up. Exit status 0 when all hold.
set -euo pipefail

fail() { echo "citus smoke: FAIL: $*" >&2; exit 1; }
q() { psql -X -At -v ON_ERROR_STOP=1 "$@"; }

[[ -n "${BISMARCK_CITUS_WORKERS:-}" ]] || fail "BISMARCK_CITUS_WORKERS is not set (run under scripts/cluster.sh run --citus N)"
read -r -a workers <<<"$BISMARCK_CITUS_WORKERS"
n=${#workers[@]}

# 1. pg_dist_node: the coordinator (group 0) and n workers, all active primaries
nodes=$(q -c "SELECT count(*) FILTER (WHERE groupid = 0), count(*) FILTER (WHERE groupid <> 0),
                     count(*) FILTER (WHERE NOT isactive OR noderole <> 'primary')
                FROM pg_dist_node")
[[ $nodes == "1|$n|0" ]] || fail "pg_dist_node has coordinator|workers|inactive = $nodes, want 1|$n|0"
for w in "${workers[@]}"; do
  host=${w%:*} port=${w##*:}
  [[ $(q -c "SELECT count(*) FROM pg_dist_node WHERE nodename = '$host' AND nodeport = $port AND groupid <> 0") == 1 ]] ||
    fail "worker $w is not registered"
  [[ $(q -h "$host" -p "$port" -c "SELECT extversion FROM pg_extension WHERE extname = 'citus'") == 13.* ]] ||
    fail "worker $w does not answer or has no citus extension"
done
echo "citus smoke: $((n + 1)) nodes active (coordinator + $n workers)"

# 2. a distributed table's count(*) runs on the workers
rows=10000
out=$(q 2>&1 <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS citus_smoke;
CREATE TABLE citus_smoke (id bigint, v float8);
SELECT create_distributed_table('citus_smoke', 'id') IS NOT NULL;
INSERT INTO citus_smoke SELECT i, i FROM generate_series(1, $rows) i;
RESET client_min_messages;
SET citus.log_remote_commands = on;
SELECT count(*) AS n FROM citus_smoke;
RESET citus.log_remote_commands;
SET client_min_messages = warning;
DROP TABLE citus_smoke;
SQL
) || fail "distributed table: $out"
grep -qx "$rows" <<<"$out" || fail "count(*) over the distributed table is not $rows: $out"
shards=$(q -c "SELECT current_setting('citus.shard_count')")
queries=$(grep -c 'issuing SELECT count(\*) AS n FROM public.citus_smoke_[0-9]' <<<"$out" || true)
((queries == shards)) || fail "expected $shards shard queries in the remote-command log, saw $queries"
for w in "${workers[@]}"; do
  grep -q "on server postgres@$w " <<<"$out" || fail "no shard query ran on worker $w"
done
coord="$PGHOST:$PGPORT"
! grep -q "on server postgres@$coord " <<<"$out" || fail "a shard query ran on the coordinator"
echo "citus smoke: count(*) over $rows rows ran as $queries shard queries on ${workers[*]}"
echo "citus smoke: ok"
