#!/usr/bin/env bash
# Checks of bismarck on a Citus cluster; run by tests/citus/run.sh inside
#   scripts/cluster.sh run --citus 2 --conf "shared_preload_libraries = 'citus, bismarck'"
# One line per check: "ok <what>", "FAIL <what>: <why>" or "xfail <what>: <why>" (a known gap).
#
# Data (seeded, generated on the coordinator): a 200,000-row two-class table, a 200,000-row
# three-class / regression table and 30,000 ratings, each as a distributed table (32 shards) and
# as a local copy on the coordinator, plus local test tables. Every model trained on the
# distributed table is compared with serial training on the local copy of the same rows.
set -uo pipefail

q() { psql -X -At -q -v ON_ERROR_STOP=1 "$@"; }
ok() { echo "ok $*"; }
bad() { echo "FAIL $*"; }
within() {  # within WHAT DIST LOCAL TOLERANCE: |DIST - LOCAL| <= TOLERANCE
  local what=$1 d=$2 l=$3 tol=$4
  if [[ -z $d || -z $l ]]; then bad "$what: no value (distributed '$d', local '$l')"; return; fi
  if awk -v d="$d" -v l="$l" -v t="$tol" 'BEGIN { x = d - l; if (x < 0) x = -x; exit !(x <= t) }'; then
    ok "$what: distributed $d, local $l (tolerance $tol)"
  else
    bad "$what: distributed $d, local $l differ by more than $tol"
  fi
}

read -r -a workers <<<"${BISMARCK_CITUS_WORKERS:?run under scripts/cluster.sh run --citus N}"

t0=$SECONDS
q <<'SQL' >/dev/null || { bad "set-up"; exit 1; }
SET client_min_messages = warning;
CREATE EXTENSION bismarck;
SELECT setseed(0.25);
-- two classes, label noise: y = 1 when a linear score beats uniform noise
CREATE TABLE bin_local AS
  SELECT i AS id, x, (x[1] - 2 * x[2] + x[3] - 0.5 * x[4] + 0.2 * x[7] + 0.3 > (random() * 2 - 1) * 1.5)::int AS y
    FROM (SELECT i, ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 20) WHERE i > 0) AS x
            FROM generate_series(1, 250000) i) s;
CREATE TABLE bin_test AS SELECT * FROM bin_local WHERE id > 200000;
DELETE FROM bin_local WHERE id > 200000;
CREATE TABLE bin (LIKE bin_local);
SELECT create_distributed_table('bin', 'id');
INSERT INTO bin SELECT * FROM bin_local;
-- three classes drawn from a softmax of linear scores, and a noisy linear target
CREATE TABLE multi_local AS
  SELECT id, x, CASE WHEN r < e1 / (e1 + e2 + e3) THEN 'a' WHEN r < (e1 + e2) / (e1 + e2 + e3) THEN 'b' ELSE 'c' END AS c,
         3 * x[1] - x[2] + 0.5 * x[5] + random() - 0.5 AS v
    FROM (SELECT id, x, random() AS r, exp(2 * (x[1] + x[2])) AS e1, exp(2 * (x[3] - x[1])) AS e2, exp(2 * x[4]) AS e3
            FROM (SELECT i AS id, ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 10) WHERE i > 0) AS x
                    FROM generate_series(1, 250000) i) s) t;
CREATE TABLE multi_test AS SELECT * FROM multi_local WHERE id > 200000;
DELETE FROM multi_local WHERE id > 200000;
CREATE TABLE multi (LIKE multi_local);
SELECT create_distributed_table('multi', 'id');
INSERT INTO multi SELECT * FROM multi_local;
-- ratings of 300 users x 200 items
CREATE TABLE ratings_local AS
  SELECT u, i, least(5, greatest(1, 3 + 2 * sin(u) * cos(i) + random() - 0.5)) AS v
    FROM generate_series(0, 299) u, generate_series(0, 199) i WHERE random() < 0.5;
CREATE TABLE ratings (LIKE ratings_local);
SELECT create_distributed_table('ratings', 'u');
INSERT INTO ratings SELECT * FROM ratings_local;
ANALYZE;
SQL
echo "set-up: data in $((SECONDS - t0)) s"

# train MODEL FUNCTION SOURCE ARGS: trains, prints nothing; a failure is a FAIL line
train() {
  local model=$1 fn=$2 src=$3 args=$4 out
  if ! out=$(q -c "SELECT model FROM bismarck.$fn('$model', '$src', $args, seed => 7)" 2>&1); then
    bad "training $model ($fn on $src): $out"
    return 1
  fi
}
accuracy() {  # accuracy MODEL TABLE LABEL: on a local test table, by value
  q -c "SELECT round(avg((bismarck.predict(bismarck.model('$1'), x) = $3::text)::int), 5) FROM $2"
}

# 1. logistic regression and SVM: default options, and parallelism => 'model_averaging'
t0=$SECONDS
for fn in logistic svm; do
  train "${fn}_local" "train_$fn" bin_local "features => 'x', label => 'y'"
  train "${fn}_dist" "train_$fn" bin "features => 'x', label => 'y'"
  train "${fn}_dist_ma" "train_$fn" bin "features => 'x', label => 'y', parallelism => 'model_averaging'"
  l=$(accuracy "${fn}_local" bin_test y)
  within "train_$fn, default options: test accuracy" "$(accuracy "${fn}_dist" bin_test y)" "$l" 0.005
  within "train_$fn, model_averaging: test accuracy" "$(accuracy "${fn}_dist_ma" bin_test y)" "$l" 0.005
done
echo "two classes: $((SECONDS - t0)) s"

# 2. three classes (multinomial) and linear regression
t0=$SECONDS
train mc_local train_logistic multi_local "features => 'x', label => 'c'"
train mc_dist train_logistic multi "features => 'x', label => 'c'"
within "train_logistic, 3 classes: test accuracy" "$(accuracy mc_dist multi_test c)" "$(accuracy mc_local multi_test c)" 0.005
train reg_local train_linear_regression multi_local "features => 'x', label => 'v'"
train reg_dist train_linear_regression multi "features => 'x', label => 'v'"
r2() { q -c "SELECT round(r2::numeric, 5) FROM bismarck.evaluate('$1', 'multi_test')"; }
within "train_linear_regression: test R2" "$(r2 reg_dist)" "$(r2 reg_local)" 0.01
echo "three classes, regression: $((SECONDS - t0)) s"

# 3. matrix factorization on ratings distributed by user
t0=$SECONDS
train lmf_local train_lmf ratings_local "row_column => 'u', column_column => 'i', value_column => 'v'"
train lmf_dist train_lmf ratings "row_column => 'u', column_column => 'i', value_column => 'v'"
rmse() { q -c "SELECT round(rmse::numeric, 4) FROM bismarck.evaluate('$1', 'ratings_local')"; }
d=$(rmse lmf_dist) l=$(rmse lmf_local)
if awk -v d="$d" -v l="$l" 'BEGIN { exit !(d != "" && l != "" && d <= 1.05 * l) }'; then
  ok "train_lmf: RMSE distributed $d, local $l (within 5 %)"
else
  # Known gap: epoch_combine averages every parameter weighted by the rows each shard saw, so a
  # user's factors, which only the shard holding the user's ratings moves, keep 1/shards of the
  # move. Needs a combine weighted by each factor's own updates (see the branch's report).
  echo "xfail train_lmf: RMSE distributed $d, local $l (not within 5 %: model averaging dilutes per-user factors)"
fi
echo "factorization: $((SECONDS - t0)) s"

# 4. where the queries ran: the epoch aggregate as worker_partial_agg on the workers' shards, and
#    no query that brings rows to the coordinator
log=$(q 2>&1 <<'SQL'
SET citus.log_remote_commands = on;
SELECT model FROM bismarck.train_logistic('logged', 'bin', features => 'x', label => 'y', epochs => 2, seed => 7);
SQL
)
shards=$(q -c "SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'bin'::regclass")
epochs=$(grep -c "issuing SELECT pg_catalog.worker_partial_agg('bismarck.logistic_epoch(" <<<"$log")
on_all=1
for w in "${workers[@]}"; do
  grep -A1 "worker_partial_agg('bismarck.logistic_epoch(" <<<"$log" | grep "on server postgres@$w " >/dev/null || on_all=0
done
# 2 epochs + the final loss over the whole copy, one shard query per shard each
full=$(grep "worker_partial_agg('bismarck.logistic_epoch(" <<<"$log" | grep -vc "ctid OPERATOR")
if ((full == 3 * shards && on_all)); then
  ok "epochs ran as worker_partial_agg on the $shards shards, on every worker ($epochs shard queries)"
else
  bad "epochs: $full full-scan shard queries (want $((3 * shards))), on every worker: $on_all"
fi
# every remote SELECT that reads a shard of the source or of the scratch copy aggregates, groups,
# or partitions in place; a plain row fetch (what "pull to coordinator" runs) is a failure
pulls=$(grep -E "issuing (SELECT|WITH)" <<<"$log" | grep -E "FROM (public\.bin|bismarck_work\.train)_[^ ]*[0-9] " |
  grep -vE "worker_partial_agg|worker_partition_query_result|GROUP BY|count\(\*\)" || true)
copies=$(grep -c "issuing COPY" <<<"$log")
if [[ -z $pulls && $copies -eq 0 ]]; then
  ok "no training query pulled rows to the coordinator"
else
  bad "rows pulled to the coordinator: $(head -c 600 <<<"$pulls") (COPY commands: $copies)"
fi

# 5. prediction by name in a query over the distributed table, and the catalog after drop_model
by_name=$(q -c "SELECT round(avg((bismarck.predict('logistic_dist', x) = y::text)::int), 5) FROM bin" 2>&1)
by_value=$(q -c "SELECT round(avg((bismarck.predict(bismarck.model('logistic_dist'), x) = y::text)::int), 5) FROM bin_local")
if [[ $by_name == "$by_value" ]]; then
  ok "bismarck.predict('logistic_dist', x) over the distributed table: accuracy $by_name, as by value"
else
  bad "prediction by name over the distributed table: '$by_name', by value on the local copy: '$by_value'"
fi
out=$(q 2>&1 <<'SQL'
SELECT bismarck.drop_model('logged');
SELECT bismarck.predict('logged', x) FROM bin LIMIT 1;
SQL
)
if grep -q 'model "logged" does not exist' <<<"$out"; then
  ok "a dropped model is gone from queries over the distributed table"
else
  bad "after drop_model: $out"
fi

# 6. a cancel mid-training leaves nothing on any node
out=$(q 2>&1 <<'SQL'
SET statement_timeout = '2s';
SELECT model FROM bismarck.train_logistic('cancelled', 'bin', features => 'x', label => 'y', epochs => 10000, tolerance => 0);
SQL
)
left=$(q -c "SELECT (SELECT count(*) FROM bismarck.models WHERE name = 'cancelled') +
                    (SELECT count(*) FROM bismarck.training_log WHERE model = 'cancelled') +
                    (SELECT count(*) FROM pg_tables WHERE schemaname = 'bismarck_work') +
                    (SELECT count(*) FROM pg_dist_partition WHERE logicalrelid::text LIKE 'bismarck_work.%')")
for w in "${workers[@]}"; do
  left=$((left + $(q -h "${w%:*}" -p "${w##*:}" -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'bismarck_work'")))
done
if grep -q 'canceling statement due to statement timeout' <<<"$out" && [[ $left == 0 ]]; then
  ok "a training cancelled mid-way left no model, log row or scratch table on any node"
else
  bad "cancel: '$out'; objects left: $left"
fi

# 7. shared memory is refused on a distributed table, with the mode to use
out=$(q -c "SELECT model FROM bismarck.train_svm('sm', 'bin', features => 'x', label => 'y', parallelism => 'shared_memory')" 2>&1)
if grep -q "cannot train on distributed table" <<<"$out"; then
  ok "parallelism => 'shared_memory' on a distributed table: refused, pointing to model_averaging"
else
  bad "shared_memory on a distributed table: $out"
fi
