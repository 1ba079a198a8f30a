-- Linear regression (squared loss) end to end: coefficients in raw units, R², ridge, lasso,
-- elastic net, prediction as text and as a number, label types, errors, every parallelism mode,
-- sparse rows, reproducibility, hand-written epochs.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT setseed(0.61);
-- 3,000 rows: y = 3 x1 - 0.05 x2 + 4 x3 + 2 + noise; x2 is on a scale 100 times larger, x4 is
-- irrelevant
CREATE TABLE reg_data AS
SELECT i, ARRAY[random() * 2 - 1, 100 * random(), random() - 0.5, random()] AS x,
       random() + random() + random() - 1.5 AS noise
  FROM generate_series(1, 3000) i;
ALTER TABLE reg_data ADD COLUMN y float8;
UPDATE reg_data SET y = 3 * x[1] - 0.05 * x[2] + 4 * x[3] + 2 + 0.2 * noise;
CREATE TABLE reg_train AS SELECT * FROM reg_data WHERE i % 4 <> 0;
CREATE TABLE reg_test AS SELECT * FROM reg_data WHERE i % 4 = 0;

SELECT model, task, rows, skipped, dimension, classes, epochs, parallelism
  FROM bismarck.train_linear_regression('reg', 'reg_train', features => 'x', label => 'y', seed => 3);
SELECT name, task, columns, options->>'l2' = (1.0 / 2250)::float8::text AS default_l2,
       options->>'standardize' AS standardize
  FROM bismarck.models WHERE name = 'reg';
-- the coefficients in raw units, close to the truth (3, -0.05, 4, 0; intercept 2)
SELECT round(coefficients[1]::numeric, 1) AS c1, round(coefficients[2]::numeric, 2) AS c2,
       round(coefficients[3]::numeric, 1) AS c3, round(coefficients[4]::numeric, 1) AS c4,
       round(intercept::numeric, 1) AS intercept,
       abs(coefficients[1] - 3) < 0.05 AND abs(coefficients[2] + 0.05) < 0.001 AND
       abs(coefficients[3] - 4) < 0.05 AND abs(coefficients[4]) < 0.05 AND abs(intercept - 2) < 0.05 AS close_to_truth
  FROM bismarck.models WHERE name = 'reg';
SELECT bismarck.coefficients(state) = coefficients AND bismarck.intercept(state) = intercept AS same_by_function,
       bismarck.classes(state) IS NULL AS no_classes
  FROM bismarck.models WHERE name = 'reg';
-- prediction: decision_function is the value, w . x + b in raw units; predict is the same value as text
SELECT bool_and(abs(bismarck.decision_function('reg', x) -
                    ((SELECT sum(c * v) FROM unnest(m.coefficients, x) AS u(c, v)) + m.intercept)) < 1e-9) AS folded,
       bool_and(pg_typeof(bismarck.predict('reg', x)) = 'text'::regtype) AS predict_is_text,
       bool_and(bismarck.predict('reg', x) = bismarck.decision_function('reg', x)::text) AS predict_is_value_text,
       bool_and(bismarck.predict('reg', x)::float8 = bismarck.decision_function('reg', x)) AS round_trips,
       bool_and(bismarck.predict(m.state, x) = bismarck.predict('reg', x)) AS by_value_agrees,
       bool_and(bismarck.decision_function(m.state, x) = bismarck.decision_function('reg', x)) AS by_value_score_agrees
  FROM reg_test, bismarck.models m WHERE m.name = 'reg';
-- evaluate: RMSE, MAE and R² as computed by hand; no classification metrics
SELECT rows, round(rmse::numeric, 2) AS rmse, round(mae::numeric, 2) AS mae, round(r2::numeric, 3) AS r2,
       accuracy, precision, recall, f1, log_loss, roc_auc, confusion
  FROM bismarck.evaluate('reg', 'reg_test');
SELECT abs(e.r2 - h.r2) < 1e-12 AS r2_by_hand, abs(e.rmse - h.rmse) < 1e-12 AS rmse_by_hand,
       abs(e.mae - h.mae) < 1e-12 AS mae_by_hand, e.r2 > 0.99 AS fits
  FROM bismarck.evaluate('reg', 'reg_test') e,
       (SELECT 1 - sum((p - y) ^ 2) / sum((y - (SELECT avg(y) FROM reg_test)) ^ 2) AS r2,
               sqrt(avg((p - y) ^ 2)) AS rmse, avg(abs(p - y)) AS mae
          FROM (SELECT bismarck.decision_function('reg', x) AS p, y FROM reg_test) s) h;
-- the RMSE is the noise's (0.2 * sd of a sum of three uniforms = 0.1)
SELECT rmse BETWEEN 0.09 AND 0.11 AS rmse_is_noise FROM bismarck.evaluate('reg', 'reg_test');
-- only classifiers have probabilities
\set VERBOSITY default
SELECT bismarck.predict_proba('reg', ARRAY[1, 2, 3, 4]::float8[]);
SELECT bismarck.predict_probabilities('reg', ARRAY[1, 2, 3, 4]::float8[]);
\set VERBOSITY terse
-- serial training with a seed is reproducible bit for bit
SELECT epochs FROM bismarck.train_linear_regression('reg_again', 'reg_train', 'x', 'y', seed => 3);
SELECT (SELECT md5(state::text) FROM bismarck.models WHERE name = 'reg') =
       (SELECT md5(state::text) FROM bismarck.models WHERE name = 'reg_again') AS bit_for_bit;
-- another seed, another shuffle: not the same bits, nearly the same model
SELECT epochs FROM bismarck.train_linear_regression('reg_seed4', 'reg_train', 'x', 'y', seed => 4);
SELECT a.state::text <> b.state::text AS other_bits,
       (SELECT max(abs(u - v)) FROM unnest(a.coefficients, b.coefficients) AS c(u, v)) < 0.05 AS same_model
  FROM bismarck.models a, bismarck.models b WHERE a.name = 'reg' AND b.name = 'reg_seed4';

-- ---- regularisation --------------------------------------------------------------------------
-- ridge: a large l2 shrinks the coefficients (standardised features: by about 1 / (1 + l2))
SELECT epochs FROM bismarck.train_linear_regression('reg_ridge', 'reg_train', 'x', 'y', seed => 3, l2 => 1);
SELECT sqrt((SELECT sum(c ^ 2) FROM unnest(r.coefficients) c)) < 0.6 * sqrt((SELECT sum(c ^ 2) FROM unnest(o.coefficients) c)) AS norm_shrinks,
       abs(r.coefficients[1] / o.coefficients[1] - 0.5) < 0.05 AND abs(r.coefficients[3] / o.coefficients[3] - 0.5) < 0.05 AS halved,
       (r.options->>'l2')::float8 = 1 AS l2_stored
  FROM bismarck.models r, bismarck.models o WHERE r.name = 'reg_ridge' AND o.name = 'reg';
-- lasso: l1 makes the irrelevant feature exactly zero and keeps the others
SELECT epochs > 0 AS trained FROM bismarck.train_linear_regression('reg_lasso', 'reg_train', 'x', 'y', seed => 3, l1 => 0.3);
SELECT coefficients[4] AS irrelevant, coefficients[1] > 2 AND coefficients[2] < -0.03 AND coefficients[3] > 2 AS relevant_kept,
       (options->>'l1')::float8 = 0.3 AS l1_stored
  FROM bismarck.models WHERE name = 'reg_lasso';
-- elastic net: both
SELECT epochs > 0 AS trained FROM bismarck.train_linear_regression('reg_enet', 'reg_train', 'x', 'y', seed => 3, l1 => 0.1, l2 => 0.1);
SELECT (options->>'l1')::float8 = 0.1 AND (options->>'l2')::float8 = 0.1 AS both_stored,
       abs(coefficients[4]) < 0.01 AS irrelevant_small,
       coefficients[1] BETWEEN 2 AND (SELECT coefficients[1] FROM bismarck.models WHERE name = 'reg') AS shrunk_not_killed
  FROM bismarck.models WHERE name = 'reg_enet';
SELECT round(r2::numeric, 2) > 0.95 AS enet_fits FROM bismarck.evaluate('reg_enet', 'reg_test');

-- ---- label types: integer, numeric, real ----------------------------------------------------
CREATE TABLE reg_types AS
SELECT x, round(10 * y)::int AS y_int, round(y::numeric, 3) AS y_numeric, y::real AS y_real FROM reg_train;
SELECT epochs > 0 AS trained FROM bismarck.train_linear_regression('reg_int', 'reg_types', 'x', 'y_int', seed => 3);
SELECT epochs > 0 AS trained FROM bismarck.train_linear_regression('reg_numeric', 'reg_types', 'x', 'y_numeric', seed => 3);
SELECT epochs > 0 AS trained FROM bismarck.train_linear_regression('reg_real', 'reg_types', 'x', 'y_real', seed => 3);
SELECT name, task, columns[2] AS label,
       round((coefficients[1] / CASE name WHEN 'reg_int' THEN 10 ELSE 1 END)::numeric, 1) AS c1,
       round((intercept / CASE name WHEN 'reg_int' THEN 10 ELSE 1 END)::numeric, 1) AS intercept
  FROM bismarck.models WHERE name IN ('reg_int', 'reg_numeric', 'reg_real') ORDER BY 1;
SELECT round(r2::numeric, 2) AS r2_int FROM bismarck.evaluate('reg_int', 'reg_types');
SELECT round(r2::numeric, 2) AS r2_numeric FROM bismarck.evaluate('reg_numeric', 'reg_types');
SELECT round(r2::numeric, 2) AS r2_real FROM bismarck.evaluate('reg_real', 'reg_types');
-- an integer label still predicts a real value
SELECT bool_and(bismarck.predict('reg_int', x)::float8 = bismarck.decision_function('reg_int', x)) AS int_model_predicts_values,
       count(DISTINCT bismarck.predict('reg_int', x)) > 100 AS not_classes
  FROM reg_test;

-- ---- errors: nothing is stored ------------------------------------------------------------------
\set VERBOSITY default
CREATE TABLE reg_bad AS SELECT x, y::text AS t, y, CASE WHEN i = 7 THEN 'NaN'::float8 ELSE y END AS y_nan,
                               CASE WHEN i = 9 THEN 'Infinity'::numeric ELSE y::numeric END AS y_inf,
                               y > 0 AS yb
  FROM reg_train;
SELECT * FROM bismarck.train_linear_regression('e_text', 'reg_bad', 'x', 't');
SELECT * FROM bismarck.train_linear_regression('e_bool', 'reg_bad', 'x', 'yb');
SELECT * FROM bismarck.train_linear_regression('e_nan', 'reg_bad', 'x', 'y_nan');
SELECT * FROM bismarck.train_linear_regression('e_inf', 'reg_bad', 'x', 'y_inf');
-- a real target is not a class label
SELECT * FROM bismarck.train_logistic('e_classes', 'reg_bad', 'x', 'y');
\set VERBOSITY terse
-- NULL labels are skipped and counted
CREATE TABLE reg_nulls AS SELECT x, CASE WHEN i % 9 = 0 THEN NULL ELSE y END AS y FROM reg_train;
SELECT rows, skipped FROM bismarck.train_linear_regression('reg_nulls', 'reg_nulls', 'x', 'y', seed => 3);
SELECT * FROM bismarck.train_linear_regression('e_nulls', 'reg_nulls', 'x', 'y', on_null => 'error');
SELECT name FROM bismarck.models WHERE name LIKE 'e\_%';

-- ---- every parallelism mode fits as well as serial -------------------------------------------
-- workers, not the leader, scan (as parallel.sql does); 5 epochs each, against 5 serial epochs
SET parallel_leader_participation = off;
SELECT epochs FROM bismarck.train_linear_regression('reg_serial5', 'reg_train', 'x', 'y', seed => 3, epochs => 5, tolerance => 0);
SELECT r2 AS serial_r2 FROM bismarck.evaluate('reg_serial5', 'reg_test') \gset
SELECT p.mode, t.task, t.epochs, t.workers > 0 AS workers_ran, t.parallelism = p.mode AS reported
  FROM unnest(ARRAY['shared_memory', 'shared_memory_locked', 'model_averaging']) AS p(mode),
       LATERAL bismarck.train_linear_regression('reg_' || p.mode, 'reg_train', 'x', 'y', seed => 3, epochs => 5,
                                                tolerance => 0, parallelism => p.mode, workers => 2) t
 ORDER BY 1;
SELECT m.name, abs(e.r2 - :serial_r2) < 0.005 AS as_good_as_serial, e.r2 > 0.99 AS fits
  FROM bismarck.models m, LATERAL bismarck.evaluate(m.name, 'reg_test') e
 WHERE m.name IN ('reg_shared_memory', 'reg_shared_memory_locked', 'reg_model_averaging') ORDER BY 1;
SELECT model, bool_and(workers > 0) AS workers_every_epoch
  FROM bismarck.training_log WHERE model IN ('reg_shared_memory', 'reg_shared_memory_locked', 'reg_model_averaging')
 GROUP BY 1 ORDER BY 1;

-- ---- sparse rows: 50 features, 3 non-zeros a row, 4 of them in the target ---------------------
-- one index in each of 1-16, 17-33, 34-50, so they are distinct and in order (the split is by
-- i % 5, which leaves every index in the training rows)
CREATE TABLE reg_sparse_data AS
SELECT i, 1 + (i * 7) % 16 AS j1, 17 + (i * 11) % 17 AS j2, 34 + (i * 13) % 17 AS j3,
       random() * 2 - 1 AS v1, random() * 2 - 1 AS v2, random() * 2 - 1 AS v3, random() - 0.5 AS noise
  FROM generate_series(1, 4000) i;
-- the true weights: w5 = 2, w10 = -3, w20 = 1.5, w40 = 4; the intercept 1
CREATE FUNCTION reg_w(j int) RETURNS float8 LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE j WHEN 5 THEN 2 WHEN 10 THEN -3 WHEN 20 THEN 1.5 WHEN 40 THEN 4 ELSE 0 END::float8 $$;
CREATE TABLE reg_sparse AS
SELECT i, format('{%s:%s,%s:%s,%s:%s}/50', j1, v1, j2, v2, j3, v3)::bismarck.sparsevec AS x,
       1 + reg_w(j1) * v1 + reg_w(j2) * v2 + reg_w(j3) * v3 + 0.1 * noise AS y
  FROM reg_sparse_data;
CREATE TABLE reg_sparse_train AS SELECT * FROM reg_sparse WHERE i % 5 <> 0;
CREATE TABLE reg_sparse_test AS SELECT * FROM reg_sparse WHERE i % 5 = 0;
SELECT count(DISTINCT j) AS indices_in_training FROM reg_sparse_data, LATERAL (VALUES (j1), (j2), (j3)) v(j) WHERE i % 5 <> 0;
SELECT task, dimension, rows
  FROM bismarck.train_linear_regression('reg_sparse', 'reg_sparse_train', 'x', 'y', seed => 3);
SELECT options->>'sparse' AS sparse,
       round(coefficients[5]::numeric, 1) AS w5, round(coefficients[10]::numeric, 1) AS w10,
       round(coefficients[20]::numeric, 1) AS w20, round(coefficients[40]::numeric, 1) AS w40,
       round(intercept::numeric, 1) AS intercept,
       (SELECT max(abs(c - reg_w(j::int))) FROM unnest(coefficients) WITH ORDINALITY u(c, j)) < 0.1 AS all_close
  FROM bismarck.models WHERE name = 'reg_sparse';
SELECT round(r2::numeric, 2) >= 0.99 AS sparse_fits FROM bismarck.evaluate('reg_sparse', 'reg_sparse_test');
SELECT bool_and(bismarck.predict('reg_sparse', x) = bismarck.decision_function('reg_sparse', x)::text) AS predict_is_value_text
  FROM reg_sparse_test;
-- sparse rows in shared memory (per-row Hogwild) and model averaging
SELECT p.mode, t.workers > 0 AS workers_ran
  FROM unnest(ARRAY['shared_memory', 'model_averaging']) AS p(mode),
       LATERAL bismarck.train_linear_regression('reg_sparse_' || p.mode, 'reg_sparse_train', 'x', 'y', seed => 3,
                                                parallelism => p.mode, workers => 2, epochs => 5, tolerance => 0) t
 ORDER BY 1;
SELECT m.name, e.r2 > 0.98 AS fits
  FROM bismarck.models m, LATERAL bismarck.evaluate(m.name, 'reg_sparse_test') e
 WHERE m.name IN ('reg_sparse_shared_memory', 'reg_sparse_model_averaging') ORDER BY 1;
RESET parallel_leader_participation;

-- ---- hand-written epochs ------------------------------------------------------------------------
-- with a negligible step the progressive loss is the loss at zero: mean(y^2) / 2
SELECT round(bismarck.epoch_loss(bismarck.linear_regression_epoch(ARRAY[x[1], x[3]], y, bismarck.linear_regression_init(2, 1e-12)))::numeric, 6) =
       round((SELECT avg(y ^ 2) / 2 FROM reg_train)::numeric, 6) AS loss_at_zero
  FROM reg_train;
-- three epochs on x1, x3, x4 against y without x2's part (x2's raw scale needs standardising)
CREATE TABLE reg_hand AS SELECT ARRAY[x[1], x[3], x[4]] AS x, y + 0.05 * x[2] AS y FROM reg_train;
WITH e1 AS (SELECT bismarck.linear_regression_epoch(x, y, bismarck.linear_regression_init(3, 0.05)) AS s FROM reg_hand),
     e2 AS (SELECT bismarck.linear_regression_epoch(x, y, (SELECT s FROM e1)) AS s FROM reg_hand),
     e3 AS (SELECT bismarck.linear_regression_epoch(x, y, (SELECT s FROM e2)) AS s FROM reg_hand)
SELECT bismarck.epoch_rows((SELECT s FROM e3)) AS rows,
       bismarck.epoch_loss((SELECT s FROM e2)) < bismarck.epoch_loss((SELECT s FROM e1)) AS improves,
       (SELECT max(abs(c - t)) FROM unnest(bismarck.coefficients((SELECT s FROM e3)), ARRAY[3, 4, 0]) u(c, t)) < 0.2 AS coefficients_close,
       abs(bismarck.intercept((SELECT s FROM e3)) - 2) < 0.2 AS intercept_close,
       bismarck.classes((SELECT s FROM e3)) IS NULL AS no_classes,
       (SELECT bool_and(bismarck.predict((SELECT s FROM e3), ARRAY[x[1], x[3], x[4]]) =
                        bismarck.decision_function((SELECT s FROM e3), ARRAY[x[1], x[3], x[4]])::text) FROM reg_test) AS predicts_values;
-- a NaN label in a hand-written epoch
SELECT bismarck.linear_regression_epoch(x, 'NaN'::float8, bismarck.linear_regression_init(4)) FROM reg_train;
-- the regression state is an epoch of linear_regression_epoch only
SELECT bismarck.logistic_epoch(x, y, bismarck.linear_regression_init(4)) FROM reg_train;
SELECT bismarck.linear_regression_init(0);
SELECT 1 AS still_alive;
