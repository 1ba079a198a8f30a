#!/usr/bin/env bash
# Cost of shuffling without a copy: a plain scan vs the block_shuffle TABLESAMPLE scan vs
# shuffle-once's copy (bismarck.shuffle = CREATE TABLE AS ... ORDER BY random()), on the
# 581,012 x 54 float8[] table of bench/datasets.sql. Medians of 5 rounds after one warm-up round
# (each round runs every query once, interleaved), all in one session, warm cache, jit off. Run it in a throw-away cluster against a private install:
#
#   P=/tmp/$USER-pg; scripts/pginstall.sh $P; make && make install DESTDIR=$P
#   PGBIN=$P/usr/lib/postgresql/15/bin scripts/cluster.sh run -- bench/block_shuffle.sh
#
# ROWS=n for a smaller table. Prints one line per query: median, min, max (ms), ratio to the
# serial plain scan.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${ROWS:-581012}
runs=${RUNS:-5}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

psql -X -q -v ON_ERROR_STOP=1 <<SQL >/dev/null
CREATE EXTENSION IF NOT EXISTS bismarck;
\i bench/block_shuffle.sql
\i bench/datasets.sql
SELECT coalesce((SELECT reltuples = $rows FROM pg_class WHERE relname = 'forest' AND relkind = 'r'
                 AND relnamespace = 'public'::regnamespace), false) AS have \\gset
\\if :have
\\else
SELECT bench.make_dense('forest', $rows, 0.42);
VACUUM ANALYZE forest;
\\endif
SQL

# name|query, timed $runs times after a warm-up; %k in a query is replaced by the run number.
queries=(
  "scan (serial)|SET max_parallel_workers_per_gather = 0; SELECT sum(x[54]) FROM forest"
  "scan (parallel plan allowed, 2 workers)|SET max_parallel_workers_per_gather = 2; SELECT sum(x[54]) FROM forest"
  "block_shuffle, runs of 1 page|SELECT sum(x[54]) FROM forest TABLESAMPLE bismarck.block_shuffle(%k, 1)"
  "block_shuffle, runs of 4 pages|SELECT sum(x[54]) FROM forest TABLESAMPLE bismarck.block_shuffle(%k, 4)"
  "block_shuffle, runs of 16 pages|SELECT sum(x[54]) FROM forest TABLESAMPLE bismarck.block_shuffle(%k, 16)"
  "LR epoch (0.1.0 aggregate, serial) over the table|SET max_parallel_workers_per_gather = 0; SELECT bismarck.epoch_loss(bismarck.logistic_epoch(x, label, bismarck.logistic_init(54, 1e-9))) FROM forest"
  "LR epoch over block_shuffle, runs of 1 page|SELECT bismarck.epoch_loss(bismarck.logistic_epoch(x, label, bismarck.logistic_init(54, 1e-9))) FROM forest TABLESAMPLE bismarck.block_shuffle(%k, 1)"
  "LR epoch over block_shuffle, runs of 16 pages|SELECT bismarck.epoch_loss(bismarck.logistic_epoch(x, label, bismarck.logistic_init(54, 1e-9))) FROM forest TABLESAMPLE bismarck.block_shuffle(%k, 16)"
  "block_shuffle, 1 page, + ORDER BY random() of the rows (a full sort)|SELECT sum(x[54]) FROM (SELECT x FROM forest TABLESAMPLE bismarck.block_shuffle(%k, 1) ORDER BY random()) s"
  "shuffle once: bismarck.shuffle (CTAS ORDER BY random())|DROP TABLE IF EXISTS forest_shuffled; SELECT bismarck.shuffle('forest', 'forest_shuffled', %k)"
)

{
  # JIT off: a sample scan whose method picks its blocks is costed at random_page_cost per
  # page, which crosses jit_above_cost where the plain scan does not; the JIT compile would
  # then time something else than the scan.
  echo 'SET jit = off;'
  echo '\timing on'
  # Interleaved: round k runs every query once, so that load from other processes on the
  # machine falls on all of them alike. Round 0 is the warm-up.
  for k in $(seq 0 $runs); do
    for q in "${queries[@]}"; do
      name=${q%%|*}
      sql=${q#*|}
      echo "\\echo @@ $name|$k"
      # Everything before the last statement is set-up: the parser keeps the last time
      # printed after the marker.
      echo "${sql//%k/$k};"
    done
  done
  echo '\echo @@ end|0'
} | psql -X -q -v ON_ERROR_STOP=1 >"$out"

awk -F'|' -v runs=$runs '
  /^@@ / { if (cur != "" && k > 0) t[cur, k] = last; sub(/^@@ /, ""); cur = $1; k = $2;
           if (!(cur in seen)) { seen[cur] = 1; order[++n] = cur } next }
  /^Time: / { split($0, a, " "); last = a[2] }
  END {
    for (i = 1; i <= n; ++i) {
      q = order[i]; if (q == "end") continue;
      m = 0; for (j = 1; j <= runs; ++j) v[++m] = t[q, j] + 0;
      for (a1 = 1; a1 <= m; ++a1) for (b = a1 + 1; b <= m; ++b) if (v[b] < v[a1]) { x = v[a1]; v[a1] = v[b]; v[b] = x }
      med[i] = v[int((m + 1) / 2)]; lo[i] = v[1]; hi[i] = v[m]
    }
    base = med[1];
    printf "%-72s %10s %10s %10s %8s\n", "query", "median ms", "min", "max", "x scan"
    for (i = 1; i <= n; ++i) { if (order[i] == "end") continue;
      printf "%-72s %10.1f %10.1f %10.1f %8.2f\n", order[i], med[i], lo[i], hi[i], med[i] / base }
  }' "$out"
psql -X -At -c "SELECT 'table: ' || count(*) || ' rows, ' || pg_size_pretty(pg_relation_size('forest')) || ', ' || pg_relation_size('forest') / 8192 || ' pages, ' || round(count(*)::numeric / (pg_relation_size('forest') / 8192), 1) || ' rows/page; shared_buffers ' || current_setting('shared_buffers') || ', work_mem ' || current_setting('work_mem') FROM forest"
