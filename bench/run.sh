#!/usr/bin/env bash
# bismarck benchmarks: the driver, run inside a throw-away cluster.
#
#   make bench                     # full size (about half an hour on 2 cores)
#   make bench QUICK=1             # small sizes, a few minutes
#   QUICK=1 ./scripts/cluster.sh run --conf 'max_parallel_workers_per_gather = 2' --huge-pages -- ./bench/run.sh
#
# Generates the data sets inside the database with seeded generators (bench/datasets.sql), then
# measures, with ratios always taken between figures measured side by side in this same run:
#   1. physical limit  epoch time of LR, SVM, LMF vs a bare scan of the same table
#   2. peers           scikit-learn on the same rows (bench/peers.py) vs bismarck in place
#   3. data order      clustered vs shuffled once vs shuffled every epoch: loss per epoch and time
#   4. parallelism     serial, shared_memory, shared_memory_locked, model_averaging; 1 and 2 workers
#   5. scale           seconds per epoch and peak backend memory at 3 sizes
#   6. prediction      scoring every row of the largest table vs a bare scan
# Raw figures go to bench/results/raw/*.csv; bench/report.py turns them into
# bench/results/report.md and the PNG plots next to it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
out=${BENCH_OUT:-$here/results}  # BENCH_OUT: write the results elsewhere
raw=$out/raw
PY=${PYTHON:-/usr/bin/python3}
[[ -n "${PGHOST:-}" ]] || { echo "bench: run me inside scripts/cluster.sh run -- (PGHOST is not set)" >&2; exit 2; }

QUICK=${QUICK:-}
[[ "$QUICK" == 0 ]] && QUICK=
if [[ -n "$QUICK" ]]; then
  MODE=quick
  N_DENSE=100000 N_SPARSE=8000 SPARSE_DIM=41000 USERS=3020 MOVIES=1950 RATINGS=250000
  SCALES="1 2 4" REPS=3 TRAIN_REPS=3 EPOCHS=10 PAR_EPOCHS=8 SCALE_EPOCHS=3
else
  MODE=full
  N_DENSE=581012 N_SPARSE=16000 SPARSE_DIM=41000 USERS=6040 MOVIES=3900 RATINGS=1000209
  SCALES="1 4 16" REPS=5 TRAIN_REPS=3 EPOCHS=20 PAR_EPOCHS=10 SCALE_EPOCHS=3
fi
N_DENSE_TEST=$((N_DENSE / 5)) N_SPARSE_TEST=$((N_SPARSE / 4))
RANK=20
export REPS

rm -rf "$raw"
mkdir -p "$raw"
started=$(date +%s.%N)
log() { printf '[bench %6.1fs] %s\n' "$(echo "$(date +%s.%N) - $started" | bc)" "$*" >&2; }

psql_q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
# The installed library (a new backend loads whatever is installed when it starts).
library() {
  local so
  so="$(pg_config --pkglibdir)/bismarck.so"
  echo "$(md5sum "$so" | cut -c1-12), installed $(date -r "$so" -u +%H:%M:%S)"
}

# measurements.csv: section,dataset,item,metric,value
echo "section,dataset,item,metric,value" >"$raw/measurements.csv"
rec() { echo "$1,\"$2\",\"$3\",$4,$5" >>"$raw/measurements.csv"; }

SERIAL="SET max_parallel_workers_per_gather = 0; SET synchronize_seqscans = off;"
parallel() {  # the settings of a forced parallel plan with $1 workers
  echo "SET max_parallel_workers_per_gather = $1; SET parallel_setup_cost = 0;
        SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
        SET parallel_leader_participation = on; SET synchronize_seqscans = off;"
}

# timeset SECTION DATASET SETUP name1 query1 [name2 query2 ...]
# One session: SETUP, each query once to warm up, then REPS rounds running the queries one after
# the other (side by side), timed with \timing. Records the median, min and max of each.
timeset() {
  local section=$1 dataset=$2 setup=$3
  shift 3
  local names=() queries=() script i r
  while (($#)); do names+=("$1"); queries+=("$2"); shift 2; done
  script="$setup"$'\n'
  for i in "${!queries[@]}"; do script+="${queries[$i]};"$'\n'; done
  script+='\timing on'$'\n'
  for ((r = 0; r < REPS; r++)); do
    for i in "${!queries[@]}"; do script+="\\echo @@${names[$i]}"$'\n'"${queries[$i]};"$'\n'; done
  done
  psql_q <<<"$script" | awk -v sec="$section" -v ds="$dataset" -v out="$raw/measurements.csv" '
    /^@@/ { name = substr($0, 3); next }
    /^Time: / { t[name] = t[name] " " $2 / 1000; if (!(name in seen)) { seen[name] = 1; order[++n] = name } }
    END {
      for (k = 1; k <= n; k++) {
        m = split(substr(t[order[k]], 2), v, " ")
        for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (v[b] < v[a]) { x = v[a]; v[a] = v[b]; v[b] = x }
        q = "\""
        printf "%s,%s,%s,median_s,%.6f\n", sec, q ds q, q order[k] q, v[int((m + 1) / 2)] >> out
        printf "%s,%s,%s,min_s,%.6f\n%s,%s,%s,max_s,%.6f\n", sec, q ds q, q order[k] q, v[1], sec, q ds q, q order[k] q, v[m] >> out
        printf "    %-28s %-42s %8.4f s\n", ds, order[k], v[int((m + 1) / 2)] > "/dev/stderr"
      }
    }' 
}

# train SECTION DATASET CONFIG WORKERS RUN MODEL TASK SQL [SCAN [PWORKERS]]
# Runs one training call in a fresh session (\timing for the wall time) and reads the backend's
# peak memory afterwards. One line of runs.csv; the epochs are in bismarck.training_log. With
# SCAN, that bare scan is timed (serial) in the same session just before and just after the
# call, so that an epoch and a scan are compared under the same conditions; with PWORKERS too,
# the same scan is also timed there with a forced parallel plan of PWORKERS workers.
# DOT (optional): a second serial query timed the same way (section 1: the C dot-product scan).
echo "model,section,dataset,config,workers,run,task,wall_s,vmhwm_kb,rss_anon_kb,rss_shmem_kb,scan_before_s,scan_after_s,pscan_before_s,pscan_after_s,dot_before_s,dot_after_s" >"$raw/runs.csv"
train() {
  local section=$1 dataset=$2 config=$3 workers=$4 run=$5 model=$6 task=$7 sql=$8 scan=${9:-} pw=${10:-} dot=${11:-}
  local o times mem scanned="" pscanned="" dotted="" wall before after pbefore pafter dbefore dafter
  # untimed first: a fresh backend's first scan also maps the shared buffers it touches
  timed_scan() { printf 'BEGIN; %s\n%s;\n\\timing on\n%s;\n\\timing off\nCOMMIT;' "$1" "${2:-$scan}" "${2:-$scan}"; }
  [[ -n $scan ]] && scanned=$(timed_scan "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL synchronize_seqscans = off;")
  [[ -n $pw ]] && pscanned=$(timed_scan "$(parallel "$pw" | sed 's/SET /SET LOCAL /g')")
  [[ -n $dot ]] && dotted=$(timed_scan "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL synchronize_seqscans = off;" "$dot")
  o=$(psql_q <<EOF
SET client_min_messages = warning;
\\echo @@before
${scanned}
\\echo @@pbefore
${pscanned}
\\echo @@dbefore
${dotted}
\\echo @@train
\\timing on
$sql;
\\timing off
\\echo @@after
${scanned}
\\echo @@pafter
${pscanned}
\\echo @@dafter
${dotted}
SELECT 'MEM', (regexp_match(s, 'VmHWM:\s+(\d+)'))[1], (regexp_match(s, 'RssAnon:\s+(\d+)'))[1],
       (regexp_match(s, 'RssShmem:\s+(\d+)'))[1]
  FROM pg_read_file('/proc/' || pg_backend_pid() || '/status') AS s;
EOF
)
  # the last Time: after each marker (the measured statement is the last one timed there)
  times=$(awk '/^@@/ { k = substr($0, 3) } /^Time: / { t[k] = $2 / 1000 }
               END { printf "%s,%s,%s,%s,%s,%s,%s", t["train"], t["before"], t["after"], t["pbefore"], t["pafter"],
                     t["dbefore"], t["dafter"] }' <<<"$o")
  mem=$(grep '^MEM|' <<<"$o" | cut -d'|' -f2- | tr '|' ',')
  IFS=, read -r wall before after pbefore pafter dbefore dafter <<<"$times"
  echo "$model,$section,\"$dataset\",\"$config\",$workers,$run,$task,$wall,$mem,$before,$after,$pbefore,$pafter,$dbefore,$dafter" >>"$raw/runs.csv"
  printf '    %-40s %8.3f s  (%s)%s%s\n' "$model" "$wall" "$(grep "^$model|" <<<"$o" | cut -d'|' -f6,7,10-12)" \
    "${scan:+  scans ${before} s, ${after} s}" "${pw:+, parallel ${pbefore} s, ${pafter} s}" >&2
}

# The fresh-session peak memory of a bare scan (the baseline of the training runs' figures).
scan_memory() {  # DATASET TABLE QUERY
  local mem
  mem=$(psql_q -c "$SERIAL" -c "$3" -c "SELECT (regexp_match(s, 'VmHWM:\s+(\d+)'))[1] || ',' ||
      (regexp_match(s, 'RssAnon:\s+(\d+)'))[1] || ',' || (regexp_match(s, 'RssShmem:\s+(\d+)'))[1]
      FROM pg_read_file('/proc/' || pg_backend_pid() || '/status') AS s" | tail -1)
  IFS=, read -r hwm anon shm <<<"$mem"
  rec scale "$1" bare_scan vmhwm_kb "$hwm"; rec scale "$1" bare_scan rss_anon_kb "$anon"
  rec scale "$1" bare_scan rss_shmem_kb "$shm"
}

opts() { echo "seed => $1, tolerance => 0, replace => true"; }
step_of() { psql_q -c "SELECT (options->>'step_size')::float8 FROM bismarck.models WHERE name = '$1'"; }

###################################################################################### setup
# The build and install that `make bench` just ran leave a 1-minute load average of 1 or more:
# wait (two minutes at most) for it to settle, so that the load recorded at the start says
# whether other processes compete for the cores.
for _ in $(seq 24); do
  awk '{ exit !($1 < 0.3) }' /proc/loadavg && break
  sleep 5
done
log "mode $MODE: dense $N_DENSE x 54, sparse $N_SPARSE x $SPARSE_DIM, ratings $RATINGS ($USERS x $MOVIES), scale x{$SCALES}"
{
  echo "mode=$MODE"
  echo "command=${QUICK:+QUICK=$QUICK }./scripts/cluster.sh run --conf 'max_parallel_workers_per_gather = 2' --huge-pages -- ./bench/run.sh (make bench${QUICK:+ QUICK=$QUICK})"
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
  echo "cores=$(nproc)"
  echo "memory_gb=$(awk '/MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "library_start=$(library)"
  echo "commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD -- src sql 2>/dev/null || echo ' (src/sql modified)')"
  echo "python=$($PY -c 'import sys, sklearn; print(sys.version.split()[0], "scikit-learn", sklearn.__version__)')"
  echo "sizes=dense $N_DENSE (test $N_DENSE_TEST), sparse $N_SPARSE x $SPARSE_DIM (test $N_SPARSE_TEST), ratings $RATINGS ($USERS users x $MOVIES movies), scale x$(echo $SCALES | tr ' ' ',')"
  echo "reps=$REPS timed runs per query, $TRAIN_REPS training runs per configuration"
  echo "epochs=$EPOCHS (peers, data order), $PAR_EPOCHS (parallelism), $SCALE_EPOCHS (scale)"
  echo "epochs_main=$EPOCHS"
  echo "epochs_parallel=$PAR_EPOCHS"
} >"$raw/machine.txt"

psql_q -c "DROP EXTENSION IF EXISTS bismarck CASCADE" -c "CREATE EXTENSION bismarck" >/dev/null
psql_q -f "$here/datasets.sql" 2>/dev/null
psql_q -c "SELECT 'postgres=' || current_setting('server_version') || E'\nbismarck=' || bismarck.version() ||
  E'\nsettings=shared_buffers ' || current_setting('shared_buffers') || ', work_mem ' || current_setting('work_mem') ||
  ', max_parallel_workers_per_gather ' || current_setting('max_parallel_workers_per_gather') ||
  ', max_parallel_workers ' || current_setting('max_parallel_workers') ||
  ', huge_pages ' || current_setting('huge_pages')" >>"$raw/machine.txt"

gen() {  # DATASET SQL
  local t0 t1
  t0=$(date +%s.%N)
  psql_q -c "SET client_min_messages = warning" -c "$2" >/dev/null
  t1=$(date +%s.%N)
  rec data "$1" generate seconds "$(echo "$t1 - $t0" | bc)"
}
log "generating data sets"
gen dense "SELECT bench.make_dense('dense', $N_DENSE, 0.11)"
gen dense_test "SELECT bench.make_dense('dense_test', $N_DENSE_TEST, 0.12)"
gen dense_clustered "CREATE TABLE dense_clustered AS SELECT * FROM dense ORDER BY label, id"
gen sparse "SELECT bench.make_sparse('sparse', $N_SPARSE, $SPARSE_DIM, 0.21)"
gen sparse_test "SELECT bench.make_sparse('sparse_test', $N_SPARSE_TEST, $SPARSE_DIM, 0.22)"
gen ratings "SELECT bench.make_ratings('ratings', $USERS, $MOVIES, $RATINGS, 0.31)"
scale_tables=()
for s in $SCALES; do
  if [[ $s == 1 ]]; then scale_tables+=(dense); continue; fi
  gen "dense_x$s" "SELECT bench.make_dense('dense_x$s', $((N_DENSE * s)), 0.$((40 + s)))"
  scale_tables+=("dense_x$s")
done
largest=${scale_tables[-1]}
tables="dense dense_test dense_clustered sparse sparse_test ratings ${scale_tables[*]:1}"
for t in $tables; do psql_q -c "VACUUM ANALYZE $t"; done
psql_q -c "SELECT t, n, pg_total_relation_size(t::regclass), pg_relation_size(t::regclass)
             FROM (VALUES $(for t in $tables; do printf "('%s', (SELECT count(*) FROM %s))," "$t" "$t"; done | sed 's/,$//')) v(t, n)" |
  while IFS='|' read -r t n total heap; do
    rec data "$t" table rows "$n"; rec data "$t" table bytes "$total"; rec data "$t" table heap_bytes "$heap"
  done
psql_q -c "SELECT avg(bismarck.nnz(x)) FROM sparse" | { read -r v; rec data sparse table avg_nnz "$v"; }
log "data ready"

# Step sizes: 'auto' calibrates on a sample of the shuffled copy. Runs with shuffle => 'never'
# (which would calibrate on the table's first rows as stored; before commit ccb3b5b they failed)
# and runs compared with each other pass the step that 'auto' picked here.
log "step sizes chosen by 'auto' (1 epoch, shuffle once)"
train calibrate dense once 0 1 cal_lr_dense logistic \
  "SELECT * FROM bismarck.train_logistic('cal_lr_dense', 'dense', 'x', 'label', epochs => 1, $(opts 1))"
train calibrate dense once 0 1 cal_svm_dense svm \
  "SELECT * FROM bismarck.train_svm('cal_svm_dense', 'dense', 'x', 'label', epochs => 1, $(opts 1))"
train calibrate sparse once 0 1 cal_lr_sparse logistic \
  "SELECT * FROM bismarck.train_logistic('cal_lr_sparse', 'sparse', 'x', 'label', epochs => 1, $(opts 1))"
train calibrate sparse once 0 1 cal_svm_sparse svm \
  "SELECT * FROM bismarck.train_svm('cal_svm_sparse', 'sparse', 'x', 'label', epochs => 1, $(opts 1))"
train calibrate ratings once 0 1 cal_lmf_ratings lmf \
  "SELECT * FROM bismarck.train_lmf('cal_lmf_ratings', 'ratings', 'user_id', 'movie_id', 'rating', rank => $RANK, epochs => 1, $(opts 1))"
a_lr_dense=$(step_of cal_lr_dense) a_svm_dense=$(step_of cal_svm_dense)
a_lr_sparse=$(step_of cal_lr_sparse) a_svm_sparse=$(step_of cal_svm_sparse) a_lmf=$(step_of cal_lmf_ratings)
for v in a_lr_dense a_svm_dense a_lr_sparse a_svm_sparse a_lmf; do rec calibrate all "$v" step_size "${!v}"; done

################################################################# 1. physical limit
log "1. physical limit: the training driver's epochs (shuffle never: the same table as the scans; LR also in block order)"
scan_dense="SELECT sum(x[54]) FROM dense"
scan_sparse="SELECT sum(cardinality(ARRAY[x])) FROM sparse"
scan_ratings="SELECT sum(user_id + movie_id + rating) FROM ratings"
dot_dense="SELECT sum(bench.dot(array_fill(0.001::float8, ARRAY[54]), x)) FROM dense"
for r in $(seq 1 "$TRAIN_REPS"); do
  train limit dense serial 0 "$r" "pl_lr_dense_$r" logistic \
    "SELECT * FROM bismarck.train_logistic('pl_lr_dense_$r', 'dense', 'x', 'label', epochs => 5, shuffle => 'never', step_size => $a_lr_dense, $(opts $r))" \
    "$scan_dense" "" "$dot_dense"
  train limit dense serial 0 "$r" "pl_svm_dense_$r" svm \
    "SELECT * FROM bismarck.train_svm('pl_svm_dense_$r', 'dense', 'x', 'label', epochs => 5, shuffle => 'never', step_size => $a_svm_dense, $(opts $r))" \
    "$scan_dense" "" "$dot_dense"
  train limit sparse serial 0 "$r" "pl_lr_sparse_$r" logistic \
    "SELECT * FROM bismarck.train_logistic('pl_lr_sparse_$r', 'sparse', 'x', 'label', epochs => 5, shuffle => 'never', step_size => $a_lr_sparse, $(opts $r))" \
    "$scan_sparse"
  train limit sparse serial 0 "$r" "pl_svm_sparse_$r" svm \
    "SELECT * FROM bismarck.train_svm('pl_svm_sparse_$r', 'sparse', 'x', 'label', epochs => 5, shuffle => 'never', step_size => $a_svm_sparse, $(opts $r))" \
    "$scan_sparse"
  train limit ratings serial 0 "$r" "pl_lmf_ratings_$r" lmf \
    "SELECT * FROM bismarck.train_lmf('pl_lmf_ratings_$r', 'ratings', 'user_id', 'movie_id', 'rating', rank => $RANK, epochs => 5, shuffle => 'never', step_size => $a_lmf, $(opts $r))" \
    "$scan_ratings"
done
# After the runs above: block order keeps a table of at most half of shared_buffers in them
# (src/shuffle/block_order.cpp), after which every scan of `dense` finds its pages there.
for r in $(seq 1 "$TRAIN_REPS"); do
  train limit dense blocks 0 "$r" "pl_lr_dense_blocks_$r" logistic \
    "SELECT * FROM bismarck.train_logistic('pl_lr_dense_blocks_$r', 'dense', 'x', 'label', epochs => 5, shuffle => 'blocks', step_size => $a_lr_dense, $(opts $r))" \
    "$scan_dense" "" "$dot_dense"
done

log "1. physical limit: hand-written epochs vs bare scans, side by side"
state() { echo "(SELECT state FROM bismarck.models WHERE name = '$1')"; }
dense_queries=(
  "bare scan: sum(x[54])" "SELECT sum(x[54]) FROM dense"
  "C dot-product scan" "SELECT sum(bench.dot(array_fill(0.001::float8, ARRAY[54]), x)) FROM dense"
  "C dot-product scan, next row prefetched" "SELECT sum(bench.dot_prefetch(array_fill(0.001::float8, ARRAY[54]), x)) FROM dense"
  "decision_function scan (by value)" "SELECT sum(bismarck.decision_function(bismarck.logistic_init(54), x)) FROM dense"
  "LR epoch (hand-written)" "SELECT bismarck.epoch_loss(bismarck.logistic_epoch(x, label, $(state pl_lr_dense_1))) FROM dense"
  "SVM epoch (hand-written)" "SELECT bismarck.epoch_loss(bismarck.svm_epoch(x, label, $(state pl_svm_dense_1))) FROM dense"
)
timeset limit dense "$SERIAL" "${dense_queries[@]}" \
  "SQL sum over elements (unnest)" "SELECT sum(v) FROM dense, unnest(x) AS v"
for w in 1 2; do
  timeset limit "dense (parallel $w)" "$(parallel $w)" "${dense_queries[@]}"
done
sparse_init="bismarck.logistic_init($SPARSE_DIM)"
# nnz() reads only the first TOAST chunk of a value; ARRAY[x] detoasts it whole, as an epoch must.
timeset limit sparse "$SERIAL" \
  "bare scan: sum(cardinality(ARRAY[x]))" "SELECT sum(cardinality(ARRAY[x])) FROM sparse" \
  "header-only scan: sum(nnz(x))" "SELECT sum(bismarck.nnz(x)) FROM sparse" \
  "C dot-product scan" "SELECT sum(bismarck.decision_function($sparse_init, x)) FROM sparse" \
  "LR epoch (hand-written)" "SELECT bismarck.epoch_loss(bismarck.logistic_epoch(x, label, $(state pl_lr_sparse_1))) FROM sparse" \
  "SVM epoch (hand-written)" "SELECT bismarck.epoch_loss(bismarck.svm_epoch(x, label, $(state pl_svm_sparse_1))) FROM sparse"
lmf_init="bismarck.lmf_init($USERS, $MOVIES, $RANK, 0.01)"
for w in 0 2; do
  if ((w == 0)); then setup=$SERIAL ds=ratings; else setup=$(parallel $w) ds="ratings (parallel $w)"; fi
  timeset limit "$ds" "$setup" \
    "bare scan: sum(user+movie+rating)" "SELECT sum(user_id + movie_id + rating) FROM ratings" \
    "LMF epoch (hand-written)" "SELECT bismarck.epoch_loss(bismarck.lmf_epoch(user_id, movie_id, rating, $lmf_init)) FROM ratings"
done

######################################################################### 2. peers
log "2. peers: bismarck with its default options, in place"
timeset peers dense "$SERIAL" "bismarck.shuffle (copy in a random order)" \
  "SELECT bismarck.shuffle('dense', 'dense_shuffled_' || (extract(epoch FROM clock_timestamp()) * 1e6)::bigint, seed => 1)"
psql_q <<<"SELECT format('DROP TABLE %I', relname) FROM pg_class WHERE relname LIKE 'dense_shuffled_%' AND relkind = 'r' \gexec" >/dev/null
# Default options (no epochs, tolerance or shuffle given): what a user who types the shortest call
# gets, on the table as generated and on the same rows stored sorted by label.
for ds in dense dense_clustered sparse; do
  test_table=$([[ $ds == dense_clustered ]] && echo dense_test || echo "${ds}_test")
  for r in $(seq 1 "$TRAIN_REPS"); do
    train peers "$ds" "defaults" 0 "$r" "peer_lr_${ds}_$r" logistic \
      "SELECT * FROM bismarck.train_logistic('peer_lr_${ds}_$r', '$ds', 'x', 'label', seed => $r, replace => true)"
    train peers "$ds" "defaults" 0 "$r" "peer_svm_${ds}_$r" svm \
      "SELECT * FROM bismarck.train_svm('peer_svm_${ds}_$r', '$ds', 'x', 'label', seed => $r, replace => true)"
  done
  for m in lr svm; do
    psql_q -c "$SERIAL" -c "SELECT avg((bismarck.predict('peer_${m}_${ds}_1', x) = label::text)::int) FROM ${test_table}" | tail -1 |
      { read -r a; rec peers "$ds" "bismarck $m" test_accuracy "$a"; }
    psql_q -c "$SERIAL" -c "SELECT avg((bismarck.predict('peer_${m}_${ds}_1', x) = label::text)::int) FROM ${ds}" | tail -1 |
      { read -r a; rec peers "$ds" "bismarck $m" train_accuracy "$a"; }
  done
done
log "2. peers: scikit-learn (export with COPY, load, train)"
"$PY" "$here/peers.py" --out "$raw/peers.csv" --epochs "$EPOCHS" --reps "$TRAIN_REPS" \
  --sparse-dim "$SPARSE_DIM" >&2

###################################################################### 3. data order
log "3. data order: clustered by label vs shuffled once vs every epoch ($EPOCHS epochs, fixed step)"
for m in lr svm; do
  fn=$([[ $m == lr ]] && echo train_logistic || echo train_svm)
  task=$([[ $m == lr ]] && echo logistic || echo svm)
  a=$(step_of "peer_${m}_dense_1")
  for order in never once blocks every_epoch; do
    train order dense_clustered "$order" 0 1 "order_${m}_$order" "$task" \
      "SELECT * FROM bismarck.$fn('order_${m}_$order', 'dense_clustered', 'x', 'label', epochs => $EPOCHS, step_size => $a, shuffle => '$order', $(opts 7))"
  done
  rec order dense_clustered "$m" step_size "$a"
done

##################################################################### 4. parallelism
# Every run times the bare scan of its table serially and with a forced parallel plan of the
# run's worker count (2 for serial runs) in its own session, just before and after training: the
# parallel speed-up of a bare scan is measured side by side with the epochs' speed-ups.
log "4. parallelism ($PAR_EPOCHS epochs, shuffle once, fixed step; bare scans around every run)"
for m in lr lmf; do
  if [[ $m == lr ]]; then
    ds=dense task=logistic a=$(step_of peer_lr_dense_1) scan=$scan_dense
    call() { echo "SELECT * FROM bismarck.train_logistic('$1', 'dense', 'x', 'label', epochs => $PAR_EPOCHS, step_size => $a, $2)"; }
  else
    ds=ratings task=lmf a=$a_lmf scan=$scan_ratings
    call() { echo "SELECT * FROM bismarck.train_lmf('$1', 'ratings', 'user_id', 'movie_id', 'rating', rank => $RANK, epochs => $PAR_EPOCHS, step_size => $a, $2)"; }
  fi
  for r in $(seq 1 "$TRAIN_REPS"); do
    train parallel "$ds" serial 0 "$r" "par_${m}_serial_0_$r" "$task" "$(call "par_${m}_serial_0_$r" "$(opts $r)")" "$scan" 2
    for p in shared_memory shared_memory_locked model_averaging; do
      for w in 1 2; do
        train parallel "$ds" "$p" "$w" "$r" "par_${m}_${p}_${w}_$r" "$task" \
          "$(call "par_${m}_${p}_${w}_$r" "parallelism => '$p', workers => $w, $(opts $r)")" "$scan" "$w"
      done
    done
    if [[ $m == lr ]]; then  # the paper's Hogwild: every row updates the shared model
      for w in 1 2; do
        train parallel "$ds" "shared_memory, per-row (batch 1)" "$w" "$r" "par_${m}_shared_memory_row_${w}_$r" "$task" \
          "$(call "par_${m}_shared_memory_row_${w}_$r" "parallelism => 'shared_memory', batch => 1, workers => $w, $(opts $r)")" "$scan" "$w"
      done
    fi
  done
done

########################################################################### 5. scale
log "5. scale: ${scale_tables[*]} ($SCALE_EPOCHS epochs, shuffle never)"
for t in "${scale_tables[@]}"; do
  timeset scale "$t" "$SERIAL" "bare scan: sum(x[54])" "SELECT sum(x[54]) FROM $t"
  timeset scale "$t" "$(parallel 2)" "bare scan (parallel 2): sum(x[54])" "SELECT sum(x[54]) FROM $t"
  scan_memory "$t" "$t" "SELECT sum(x[54]) FROM $t"
  for r in $(seq 1 "$TRAIN_REPS"); do
    train scale "$t" serial 0 "$r" "scale_lr_${t}_serial_$r" logistic \
      "SELECT * FROM bismarck.train_logistic('scale_lr_${t}_serial_$r', '$t', 'x', 'label', epochs => $SCALE_EPOCHS, shuffle => 'never', step_size => $a_lr_dense, $(opts $r))" \
      "SELECT sum(x[54]) FROM $t"
    train scale "$t" shared_memory 2 "$r" "scale_lr_${t}_shared_memory_$r" logistic \
      "SELECT * FROM bismarck.train_logistic('scale_lr_${t}_shared_memory_$r', '$t', 'x', 'label', epochs => $SCALE_EPOCHS, shuffle => 'never', step_size => $a_lr_dense, parallelism => 'shared_memory', workers => 2, $(opts $r))"
  done
  # Shuffle once (the default below 100,000 rows): its scratch copy and sort are part of the peak.
  train scale "$t" "serial shuffle once" 0 1 "scale_lr_${t}_once_1" logistic \
    "SELECT * FROM bismarck.train_logistic('scale_lr_${t}_once_1', '$t', 'x', 'label', epochs => $SCALE_EPOCHS, shuffle => 'once', $(opts 1))"
done

###################################################################### 6. prediction
log "6. prediction: every row of $largest"
for w in 0 2; do
  if ((w == 0)); then setup=$SERIAL ds=$largest; else setup=$(parallel $w) ds="$largest (parallel $w)"; fi
  timeset predict "$ds" "$setup" \
    "bare scan: sum(x[54])" "SELECT sum(x[54]) FROM $largest" \
    "bare C dot product, weights a constant array" "SELECT sum(bench.dot((SELECT coefficients FROM bismarck.models WHERE name = 'peer_svm_dense_1'), x)) FROM $largest" \
    "predict_proba(LR model by name, x)" "SELECT sum(bismarck.predict_proba('peer_lr_dense_1', x)) FROM $largest" \
    "decision_function(SVM model by name, x)" "SELECT sum(bismarck.decision_function('peer_svm_dense_1', x)) FROM $largest" \
    "predict(LR model by name, x): class" "SELECT sum(bismarck.predict('peer_lr_dense_1', x)::int) FROM $largest"
done

##################################################################### export, report
psql_q -c "\\copy (SELECT model, epoch, loss, step_size, seconds, rows, parallelism, workers FROM bismarck.training_log ORDER BY model, epoch) TO '$raw/training_log.csv' CSV HEADER"
psql_q -c "\\copy (SELECT name, task, epochs, loss, seconds, options FROM bismarck.models ORDER BY name) TO '$raw/models.csv' CSV HEADER"
echo "total_seconds=$(echo "$(date +%s.%N) - $started" | bc)" >>"$raw/machine.txt"
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$raw/machine.txt"
echo "library_end=$(library)" >>"$raw/machine.txt"
# 7. the engine alone: cache-line contention of a dense model shared by two threads
contention=$root/build/cmake/contention
if [[ ! -x $contention ]]; then
  cmake -S "$root" -B "$root/build/cmake" -DCMAKE_BUILD_TYPE=Release >/dev/null &&
    cmake --build "$root/build/cmake" --target contention >/dev/null
fi
log "7. contention (engine alone, no PostgreSQL)"
"$contention" "$N_DENSE" 54 >"$raw/contention.txt" || true
log "writing the report"
"$PY" "$here/report.py" "$out"
{
  echo
  echo "## 7. Cache-line contention of a shared dense model (the engine alone)"
  echo
  echo "\`build/cmake/contention $N_DENSE 54\` (bench/contention.cpp): the engine's logistic step on"
  echo "in-memory rows, one thread against two threads updating one model through relaxed atomics."
  echo "'batch 1' is per-row Hogwild; 'batch N' is the \`batch => N\` option of the shared-memory mode"
  echo "(each thread steps a private copy and adds what it moved to the shared model with atomic adds"
  echo "every N rows; the default for dense rows is 32). Median of five runs."
  echo
  echo '```'
  cat "$raw/contention.txt"
  echo '```'
} >>"$out/report.md"
log "done: $out/report.md"
