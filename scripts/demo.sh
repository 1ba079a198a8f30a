#!/usr/bin/env bash
# make demo, inside the throw-away cluster: real data from Debian packages, split 80/20 with a
# seed, trained and evaluated in the database with default options, next to scikit-learn's
# result on the same split.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(mktemp -d /tmp/bismarck-demo.XXXXXX)
trap 'rm -rf "$data"' EXIT
echo "== exporting breast_cancer, digits, heart_scale and MovieLens (scikit-learn, liblinear, dslabs)"
/usr/bin/python3 scripts/demo_data.py "$data" >/dev/null
chmod -R a+rX "$data"  # the server (user postgres) reads the files with COPY

psql -X -q -v ON_ERROR_STOP=1 -v data="$data" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS bismarck;
CREATE TABLE classification (dataset text, id int, split text, label int, x float8[]);
CREATE TABLE ratings (user_id int, movie_id int, rating float8, split text);
\set bc :data '/breast_cancer.csv'
\set dg :data '/digits.csv'
\set hs :data '/heart_scale.csv'
\set ml :data '/movielens.csv'
\set bl :data '/baselines.csv'
CREATE TEMP TABLE load (id int, split text, label int, x float8[]);
COPY load FROM :'bc' CSV HEADER;
INSERT INTO classification SELECT 'breast_cancer', * FROM load;
TRUNCATE load;
COPY load FROM :'dg' CSV HEADER;
INSERT INTO classification SELECT 'digits (<5)', * FROM load;
TRUNCATE load;
COPY load FROM :'hs' CSV HEADER;
INSERT INTO classification SELECT 'heart_scale', * FROM load;
COPY ratings FROM :'ml' CSV HEADER;
CREATE TABLE baselines (dataset text, model text, metric text, value float8);
COPY baselines FROM :'bl' CSV HEADER;
UPDATE baselines SET dataset = 'digits (<5)' WHERE dataset = 'digits';

CREATE TABLE results (dataset text, model text, epochs int, seconds float8, metric text,
                      bismarck float8, sklearn float8);
DO $$
DECLARE
    d text;
    m text;
    t record;
    e record;
BEGIN
    FOR d IN SELECT DISTINCT dataset FROM classification ORDER BY 1 LOOP
        EXECUTE format('CREATE TABLE %I AS SELECT id, label, x FROM classification WHERE dataset = %L AND split = ''train''', d || '_train', d);
        EXECUTE format('CREATE TABLE %I AS SELECT id, label, x FROM classification WHERE dataset = %L AND split = ''test''', d || '_test', d);
        FOREACH m IN ARRAY ARRAY['logistic', 'svm'] LOOP
            EXECUTE format('SELECT * FROM bismarck.train_%s(%L, %L, features => ''x'', label => ''label'', seed => 42)',
                           m, d || ' ' || m, quote_ident(d || '_train')) INTO t;
            SELECT * INTO e FROM bismarck.evaluate(d || ' ' || m, quote_ident(d || '_test')::regclass);
            INSERT INTO results VALUES (d, m, t.epochs, t.seconds, 'accuracy', e.accuracy,
                (SELECT value FROM baselines b WHERE b.dataset = d AND b.model = m AND b.metric = 'accuracy'));
        END LOOP;
    END LOOP;
    CREATE TABLE movielens_train AS SELECT user_id, movie_id, rating FROM ratings WHERE split = 'train';
    CREATE TABLE movielens_test AS SELECT user_id, movie_id, rating FROM ratings WHERE split = 'test';
    SELECT * INTO t FROM bismarck.train_lmf('movielens lmf', 'movielens_train', row_column => 'user_id',
        column_column => 'movie_id', value_column => 'rating', rank => 20, seed => 42);
    SELECT * INTO e FROM bismarck.evaluate('movielens lmf', 'movielens_test');
    INSERT INTO results VALUES ('movielens', 'lmf rank 20', t.epochs, t.seconds, 'rmse', e.rmse,
        (SELECT value FROM baselines WHERE dataset = 'movielens' AND model = 'biases' AND metric = 'rmse'));
END $$;

\echo
\echo 'Held-out 20 % of each data set; bismarck with default options, scikit-learn on the same split'
\echo '(LogisticRegression and LinearSVC after StandardScaler; for MovieLens, regularised user + movie biases).'
\echo
SELECT dataset, model, epochs, round(seconds::numeric, 2) AS seconds, metric,
       round(bismarck::numeric, 4) AS bismarck, round(sklearn::numeric, 4) AS "scikit-learn"
  FROM results ORDER BY dataset, model;

-- The quality bar, checked on every run (make test runs the demo too).
DO $$
DECLARE bad text;
BEGIN
    SELECT string_agg(dataset || ' ' || model, ', ') INTO bad FROM results
     WHERE (metric = 'accuracy' AND bismarck < sklearn - 0.01) OR (metric = 'rmse' AND bismarck > 0.90);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'quality check failed for %', bad;
    END IF;
END $$;
\echo 'quality check passed: every accuracy within 1 point of scikit-learn, MovieLens RMSE at most 0.90'
\echo

\echo 'Scoring inside a query: the five breast_cancer test rows the model is least sure of'
SELECT id, label, bismarck.predict('breast_cancer logistic', x) AS predicted,
       round(bismarck.predict_proba('breast_cancer logistic', x)::numeric, 3) AS probability
  FROM breast_cancer_test
 ORDER BY abs(bismarck.predict_proba('breast_cancer logistic', x) - 0.5) LIMIT 5;

\echo 'Top 5 movies for user 42 (not yet rated by them)'
SELECT * FROM bismarck.recommend('movielens lmf', 42, k => 5);

\echo 'The catalog'
SELECT name, task, dimension, epochs, round(loss::numeric, 4) AS loss, owner FROM bismarck.models ORDER BY name;
SQL
