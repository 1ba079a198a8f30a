#!/usr/bin/env bash
# The upgrade test (make test runs it): the 0.1.0 release, built from its commit, is installed in
# a private PostgreSQL tree and trains models in a throw-away cluster; then this checkout is
# installed over it while the server runs, ALTER EXTENSION bismarck UPDATE runs while another
# session is training, and everything stored before must predict the same afterwards:
#
#   - by name: predict, predict_proba, decision_function, predict(model, row, col), recommend;
#   - by value: 0.1.0 states that a user copied into a column of type bismarck.model_state;
#   - class predictions compare as text ('0', '1', '-1': 0.2.0 returns the class as text),
#     numbers within 1e-12 relative;
#   - \dx shows the new version and schema bismarck, a new model trains;
#   - the updated database has the same extension as a fresh install (pg_dump --binary-upgrade
#     --schema-only of both, which lists every member object with its definition, comment and
#     privileges, compared after removing OIDs and transaction ids).
#
# Prints one line per check ("ok ..." or "FAIL ..."), then "upgrade: N passed, N failed"; exits
# non-zero on a failure. OLD=<commit> tests another release.
set -uo pipefail
cd "$(dirname "$0")/.."
OLD=${OLD:-e5d9e93}

if [[ "${1:-}" != --inside ]]; then
  set -e
  mkdir -p build
  src=build/v0.1.0
  want=$(git rev-parse "$OLD")
  if [[ "$(cat "$src/.commit" 2>/dev/null)" != "$want" || ! -f "$src/bismarck.so" ]]; then
    echo "upgrade: building the release at $OLD in $src"
    rm -rf "$src" && mkdir -p "$src"
    git archive "$OLD" | tar -x -C "$src"
    nice -n 10 make -C "$src" -s -j2 >build/upgrade-old-build.log 2>&1 ||
      { cat build/upgrade-old-build.log; exit 1; }
    echo "$want" >"$src/.commit"
  fi
  nice -n 10 make -s -j2 all >build/upgrade-new-build.log 2>&1 || { cat build/upgrade-new-build.log; exit 1; }
  tree=$(mktemp -d /tmp/bismarck-upgrade.XXXXXX)
  trap 'rm -rf "$tree"' EXIT
  scripts/pginstall.sh "$tree" >/dev/null
  make -C "$src" -s install DESTDIR="$tree" >/dev/null
  set +e
  PGBIN=$tree/usr/lib/postgresql/15/bin scripts/cluster.sh run -- "$0" --inside "$tree"
  exit $?
fi

# ---- inside the cluster (PGHOST etc. set by cluster.sh); the private tree holds 0.1.0 ----
tree=$2
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
tmp=$(mktemp -d /tmp/bismarck-upgrade-run.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
# check DESCRIPTION SQL: the query returns one value; an empty one is success, else the detail
check() {
  local out
  if out=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -d old -c "$2" 2>&1) && [[ -z "$out" ]]; then
    ok "$1"
  else
    fail "$1: $out"
  fi
}
sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }

psql -X -q -c 'CREATE DATABASE old' -c 'CREATE DATABASE fresh' || exit 1

# ---- 0.1.0: data, four models, their predictions by name and by value ----
# Every prediction, by name and by value; class predictions kept as text. The same query runs
# before and after the update (not as a view: a view using 0.1.0's predict blocks the update).
predictions=$(cat <<'SQL'
SELECT 'predict', m, b.i::text, bismarck.predict(m, b.x)::text, NULL
  FROM unnest(ARRAY['lr01', 'lrpm', 'svm']) m, u.bin b WHERE b.i <= 300
UNION ALL
SELECT 'predict_proba', m, b.i::text, NULL, bismarck.predict_proba(m, b.x)
  FROM unnest(ARRAY['lr01', 'lrpm']) m, u.bin b WHERE b.i <= 300
UNION ALL
SELECT 'decision_function', m, b.i::text, NULL, bismarck.decision_function(m, b.x)
  FROM unnest(ARRAY['lr01', 'lrpm', 'svm']) m, u.bin b WHERE b.i <= 300
UNION ALL
SELECT 'predict cell', 'lmf', r || ',' || c, NULL, bismarck.predict('lmf', r, c)
  FROM generate_series(0, 59, 7) r, generate_series(0, 39, 3) c
UNION ALL
SELECT 'recommend', 'lmf', r || ',' || k.col_id, NULL, k.score
  FROM generate_series(0, 59, 11) r, LATERAL bismarck.recommend('lmf', r, k => 5) k
UNION ALL
SELECT 'by value: predict', s.name, b.i::text, bismarck.predict(s.state, b.x)::text, NULL
  FROM u.saved s, u.bin b WHERE s.name <> 'lmf' AND b.i <= 300
UNION ALL
SELECT 'by value: predict_proba', s.name, b.i::text, NULL, bismarck.predict_proba(s.state, b.x)
  FROM u.saved s, u.bin b WHERE s.name IN ('lr01', 'lrpm') AND b.i <= 300
UNION ALL
SELECT 'by value: decision_function', s.name, b.i::text, NULL, bismarck.decision_function(s.state, b.x)
  FROM u.saved s, u.bin b WHERE s.name <> 'lmf' AND b.i <= 300
UNION ALL
SELECT 'by value: predict cell', 'lmf', r || ',' || c, NULL, bismarck.predict(s.state, r, c)
  FROM u.saved s, generate_series(0, 59, 7) r, generate_series(0, 39, 3) c WHERE s.name = 'lmf';
SQL
)

if ! sql -d old >"$tmp/setup.log" 2>&1 <<SQL; then
SET client_min_messages = warning;
CREATE EXTENSION bismarck;
CREATE SCHEMA u;  -- the user's objects, left out of the schema comparison
SELECT setseed(0.42);
CREATE TABLE u.bin AS
SELECT i, ARRAY[random() * 2 - 1, random() * 2 - 1, random() * 2 - 1] AS x
  FROM generate_series(1, 2000) i;
ALTER TABLE u.bin ADD COLUMN y01 int, ADD COLUMN ypm int;
UPDATE u.bin SET y01 = (x[1] - 2 * x[2] + 0.5 * x[3] + 0.3 * (random() - 0.5) > 0)::int;
UPDATE u.bin SET ypm = 2 * y01 - 1;
CREATE TABLE u.ratings AS
SELECT r AS user_id, c AS movie_id, 3 + sin(r) * cos(c) + 0.1 * random() AS rating
  FROM generate_series(0, 59) r, generate_series(0, 39) c WHERE random() < 0.5;
-- a table long enough for a training of several seconds, run while the extension is updated
CREATE TABLE u.big AS SELECT x, y01 FROM u.bin, generate_series(1, 100);

SELECT model FROM bismarck.train_logistic('lr01', 'u.bin', 'x', 'y01', epochs => 5, seed => 1);
SELECT model FROM bismarck.train_logistic('lrpm', 'u.bin', 'x', 'ypm', epochs => 5, seed => 1);
SELECT model FROM bismarck.train_svm('svm', 'u.bin', 'x', 'ypm', epochs => 5, seed => 1);
SELECT model FROM bismarck.train_lmf('lmf', 'u.ratings', 'user_id', 'movie_id', 'rating',
                                     rank => 4, epochs => 5, seed => 1);

-- a user's own copies of the states, by value
CREATE TABLE u.saved (name text PRIMARY KEY, state bismarck.model_state);
INSERT INTO u.saved SELECT n, bismarck.model(n) FROM unnest(ARRAY['lr01', 'lrpm', 'svm', 'lmf']) n;

-- every prediction, by name and by value; class predictions kept as text
CREATE TABLE u.before (form text, model text, key text, class text, value float8);
INSERT INTO u.before
$predictions
CREATE TABLE u.models_before AS SELECT name, task, dimension FROM bismarck.models;
SQL
  cat "$tmp/setup.log"
  fail "0.1.0: set-up and training"
  echo "upgrade: $passed passed, $failed failed"
  exit 1
fi
check "0.1.0 installed (\\dx: 0.1.0 in schema public), four models trained" \
  "SELECT 'got ' || extversion || ' in ' || extnamespace::regnamespace || ', ' || (SELECT count(*) FROM u.models_before) || ' models'
     FROM pg_extension WHERE extname = 'bismarck'
      AND NOT (extversion = '0.1.0' AND extnamespace = 'public'::regnamespace
               AND (SELECT count(*) FROM u.models_before) = 4)"

# ---- a training in progress in another session, the new files installed, the update ----
PGAPPNAME=upgrade_long_training psql -X -A -t -d old -c \
  "SELECT 'long training: ' || epochs || ' epochs, ' || round(seconds::numeric, 1) || ' s'
     FROM bismarck.train_logistic('long', 'u.big', 'x', 'y01', epochs => 40, tolerance => 0, seed => 2)" \
  >"$tmp/long.out" 2>&1 &
long_pid=$!
for _ in $(seq 100); do
  running=$(sql -d old -c "SELECT count(*) FROM pg_stat_activity
                            WHERE application_name = 'upgrade_long_training' AND state = 'active'")
  [[ "$running" == 1 ]] && break
  sleep 0.1
done
sleep 1
make -s install DESTDIR="$tree" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "installing this checkout"; }
training_during=$(sql -d old -c "SELECT count(*) FROM pg_stat_activity
                                 WHERE application_name = 'upgrade_long_training' AND state = 'active'")
start=$(date +%s%N)
update_out=$(timeout 300 psql -X -q -v ON_ERROR_STOP=1 -d old -c 'ALTER EXTENSION bismarck UPDATE' 2>&1)
update_rc=$?
update_ms=$(( ($(date +%s%N) - start) / 1000000 ))
training_after=$(sql -d old -c "SELECT count(*) FROM pg_stat_activity
                                WHERE application_name = 'upgrade_long_training' AND state = 'active'")
wait "$long_pid"
long_rc=$?
echo "     update while training: training running at the update's start: $training_during," \
  "update: exit $update_rc after ${update_ms} ms${update_out:+ ($update_out)}," \
  "training still running when the update returned: $training_after; $(tr '\n' ' ' <"$tmp/long.out")(exit $long_rc)"
if [[ $update_rc -ne 0 ]]; then
  # a clear refusal is acceptable; then the update must succeed once the training is over
  update_out=$(psql -X -q -v ON_ERROR_STOP=1 -d old -c 'ALTER EXTENSION bismarck UPDATE' 2>&1)
  update_rc=$?
fi
if [[ $update_rc -eq 0 ]]; then ok "ALTER EXTENSION bismarck UPDATE (while another session trained)"
else fail "ALTER EXTENSION bismarck UPDATE: $update_out"; fi
# the concurrent training either stored a working model or failed cleanly, leaving nothing
if [[ $long_rc -eq 0 ]]; then
  check "the training that ran during the update stored its model, which predicts" \
    "SELECT 'no model or no prediction' WHERE NOT EXISTS (SELECT FROM bismarck.models WHERE name = 'long')
        OR (SELECT bismarck.predict('long', x) FROM u.bin LIMIT 1) IS NULL"
else
  check "the training that failed during the update ($(grep -m1 ERROR "$tmp/long.out")) left nothing" \
    "SELECT 'left: model ' || (SELECT count(*) FROM bismarck.models WHERE name = 'long')
            || ', log ' || (SELECT count(*) FROM bismarck.training_log WHERE model = 'long')
      WHERE EXISTS (SELECT FROM bismarck.models WHERE name = 'long')
         OR EXISTS (SELECT FROM bismarck.training_log WHERE model = 'long')"
fi

# ---- after the update ----
check "\\dx: version 0.2.0 in schema bismarck; the new library is loaded" \
  "SELECT 'got ' || extversion || ' in ' || extnamespace::regnamespace || ', library ' || bismarck.version()
     FROM pg_extension WHERE extname = 'bismarck'
      AND NOT (extversion = '0.2.0' AND extnamespace = 'bismarck'::regnamespace AND bismarck.version() = '0.2.0')"
check "every model stored by 0.1.0 is still in the catalog" \
  "SELECT string_agg(b.name, ', ') FROM u.models_before b
    WHERE NOT EXISTS (SELECT FROM bismarck.models m WHERE m.name = b.name AND m.task = b.task
                                                    AND m.dimension = b.dimension)
   HAVING count(*) > 0"

sql -d old >"$tmp/after.log" 2>&1 <<SQL
CREATE TABLE u.after (form text, model text, key text, class text, value float8);
INSERT INTO u.after
$predictions
SQL
if [[ $? -ne 0 ]]; then
  fail "predicting after the update: $(grep -m3 -E 'ERROR|DETAIL|HINT' "$tmp/after.log" | tr '\n' ' ')"
else
  # one check per (form, model): same keys, class text equal, numbers within 1e-12 relative
  while IFS='|' read -r form model n bad example classes; do
    if [[ "$bad" == 0 ]]; then ok "$form $model: $n predictions equal${classes:+ (classes $classes)}"
    else fail "$form $model: $bad of $n differ, e.g. $example"; fi
  done < <(sql -d old -c "
    SELECT form, model, count(*), count(*) FILTER (WHERE NOT same),
           coalesce(min(detail) FILTER (WHERE NOT same), ''),
           string_agg(DISTINCT aclass, ',')
      FROM (SELECT form, model, a.class AS aclass,
                   b.key IS NOT NULL AND a.key IS NOT NULL
                   AND b.class IS NOT DISTINCT FROM a.class
                   AND (b.value IS NULL AND a.value IS NULL
                        OR abs(b.value - a.value) <= 1e-12 * greatest(abs(b.value), abs(a.value))) AS same,
                   key || ': ' || coalesce(b.class, b.value::text, 'none') || ' -> '
                   || coalesce(a.class, a.value::text, 'none') AS detail
              FROM u.before b FULL JOIN u.after a USING (form, model, key)) x
     GROUP BY 1, 2 ORDER BY 1, 2")
fi

check "a new model trains after the update" \
  "SELECT 'trained ' || model FROM bismarck.train_logistic('new_lr', 'u.bin', 'x', 'y01', epochs => 3, seed => 1)
    WHERE model IS DISTINCT FROM 'new_lr'"
check "the new model predicts" \
  "SELECT count(*) || ' NULL predictions' FROM u.bin WHERE bismarck.predict('new_lr', x)::text IS NULL
   HAVING count(*) > 0"

# ---- the updated extension is the fresh one ----
if sql -d fresh -c 'CREATE EXTENSION bismarck' >"$tmp/fresh.log" 2>&1; then
  for d in old fresh; do
    # OIDs, transaction ids and the dump's random \restrict key differ between any two databases
    pg_dump --binary-upgrade --schema-only --exclude-schema=u -d "$d" 2>"$tmp/dump-$d.err" |
      grep -vE '^\\(un)?restrict |binary_upgrade_set_|relfrozenxid|^WHERE oid = ' |
      sed -E "s/(binary_upgrade_create_empty_extension\('bismarck', [^{]*)'\{[0-9,]*\}'/\1'{oids}'/" \
        >"$tmp/schema-$d.sql"
  done
  if [[ -s "$tmp/schema-fresh.sql" ]] && diff -u "$tmp/schema-fresh.sql" "$tmp/schema-old.sql" >"$tmp/schema.diff"; then
    ok "updated 0.1.0 and fresh 0.2.0: identical (pg_dump --binary-upgrade -s, $(grep -c 'ALTER EXTENSION bismarck ADD' "$tmp/schema-fresh.sql") member objects)"
  else
    fail "updated 0.1.0 and fresh 0.2.0 differ (- fresh, + updated):"
    head -60 "$tmp/schema.diff" "$tmp/dump-old.err" "$tmp/dump-fresh.err"
  fi
else
  fail "CREATE EXTENSION bismarck (fresh 0.2.0): $(cat "$tmp/fresh.log")"
fi

echo "upgrade: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
