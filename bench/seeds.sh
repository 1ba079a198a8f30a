#!/usr/bin/env bash
# Held-out accuracy of train_logistic and train_svm with default options at five seeds, on the
# demo's splits of breast_cancer, digits and heart_scale (scikit-learn's exact solvers: the
# demo's baselines.csv); fails when a seed is more than 0.5 points below. make test runs it.
# Runs inside a cluster:
#   ./scripts/cluster.sh run -- ./bench/seeds.sh
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(mktemp -d /tmp/bismarck-seeds.XXXXXX)
trap 'rm -rf "$data"' EXIT
/usr/bin/python3 scripts/demo_data.py "$data" >/dev/null
chmod -R a+rX "$data"
psql -X -q -v ON_ERROR_STOP=1 -v data="$data" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS bismarck;
CREATE TEMP TABLE d (dataset text, id int, split text, label int, x float8[]);
CREATE TEMP TABLE load (id int, split text, label int, x float8[]);
\set f :data '/digits.csv'
COPY load FROM :'f' CSV HEADER;
INSERT INTO d SELECT 'digits', * FROM load; TRUNCATE load;
\set f :data '/breast_cancer.csv'
COPY load FROM :'f' CSV HEADER;
INSERT INTO d SELECT 'breast_cancer', * FROM load; TRUNCATE load;
\set f :data '/heart_scale.csv'
COPY load FROM :'f' CSV HEADER;
INSERT INTO d SELECT 'heart_scale', * FROM load;
CREATE TEMP TABLE baselines (dataset text, model text, metric text, value float8);
\set f :data '/baselines.csv'
COPY baselines FROM :'f' CSV HEADER;
CREATE TABLE seeds_train AS SELECT * FROM d WHERE split = 'train';
CREATE TABLE seeds_test AS SELECT * FROM d WHERE split = 'test';
CREATE TEMP TABLE runs (dataset text, model text, seed int, epochs int, accuracy float8);
DO $$
DECLARE ds text; m text; s int; t record; e record;
BEGIN
    FOR ds IN SELECT DISTINCT dataset FROM d ORDER BY 1 LOOP
        EXECUTE format('CREATE TEMP VIEW tr AS SELECT label, x FROM seeds_train WHERE dataset = %L', ds);
        EXECUTE format('CREATE TEMP VIEW te AS SELECT label, x FROM seeds_test WHERE dataset = %L', ds);
        FOREACH m IN ARRAY ARRAY['logistic', 'svm'] LOOP
            FOR s IN 1..5 LOOP
                EXECUTE format('SELECT * FROM bismarck.train_%s(%L, ''tr''::regclass, ''x'', ''label'', seed => %s)',
                               m, 'seeds_' || ds || '_' || m || s, s) INTO t;
                EXECUTE format('SELECT * FROM bismarck.evaluate(%L, ''te''::regclass)',
                               'seeds_' || ds || '_' || m || s) INTO e;
                INSERT INTO runs VALUES (ds, m, s, t.epochs, e.accuracy);
            END LOOP;
        END LOOP;
        DROP VIEW te; DROP VIEW tr;
    END LOOP;
END $$;
SELECT r.dataset, r.model, string_agg(round(r.accuracy::numeric, 4)::text, ' ' ORDER BY r.seed) AS seeds_1_to_5,
       round(max(b.value)::numeric, 4) AS "scikit-learn",
       round(((max(b.value) - min(r.accuracy)) * 100)::numeric, 2) AS "worst gap (pp)"
  FROM runs r JOIN baselines b ON b.dataset = r.dataset AND b.metric = 'accuracy'
   AND b.model = CASE WHEN r.model = 'logistic' THEN 'logistic'
                      WHEN r.dataset = 'digits' THEN 'svm_crammer_singer' ELSE 'svm' END
 GROUP BY 1, 2 ORDER BY 1, 2;
-- the bar (issue 13): every seed within 0.5 points of scikit-learn's exact solver
DO $$
DECLARE bad text;
BEGIN
    SELECT string_agg(format('%s %s seed %s: %s', r.dataset, r.model, r.seed, round(r.accuracy::numeric, 4)), ', ')
      INTO bad
      FROM runs r JOIN baselines b ON b.dataset = r.dataset AND b.metric = 'accuracy'
       AND b.model = CASE WHEN r.model = 'logistic' THEN 'logistic'
                          WHEN r.dataset = 'digits' THEN 'svm_crammer_singer' ELSE 'svm' END
     WHERE r.accuracy < b.value - 0.005;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'five seeds: more than 0.5 points below scikit-learn: %', bad;
    END IF;
END $$;
\echo 'five seeds: every seed within 0.5 points of scikit-learn (or above it)'
DROP TABLE seeds_train, seeds_test;
SELECT count(bismarck.drop_model(name)) AS dropped FROM bismarck.models WHERE name LIKE 'seeds\_%';
SQL
