-- Logistic regression end to end: train, the catalog, prediction in queries, evaluation,
-- reproducibility, replace, hand-written epochs, drop.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT setseed(0.42);
-- 2,000 rows, 5 features with different scales, labels from a noisy linear rule
CREATE TABLE lr_data AS
SELECT i, ARRAY[random() * 2 - 1, 100 * random(), random() - 0.5, random(), 3 * random()] AS x,
       random() AS noise
  FROM generate_series(1, 2000) i;
ALTER TABLE lr_data ADD COLUMN y int;
UPDATE lr_data SET y = (2 * x[1] + 0.03 * x[2] - 4 * x[3] - 1.5 + 0.6 * (noise - 0.5) > 0)::int;
CREATE TABLE lr_train AS SELECT * FROM lr_data WHERE i % 5 <> 0;
CREATE TABLE lr_test AS SELECT * FROM lr_data WHERE i % 5 = 0;
SELECT model, task, rows, skipped, dimension, epochs, round(loss::numeric, 3) AS loss,
       step_size, converged, parallelism
  FROM bismarck.train_logistic('lr', 'lr_train', features => 'x', label => 'y', seed => 7);
-- the catalog row and one log row per epoch
SELECT name, task, source, columns, dimension, rows_used, epochs, round(loss::numeric, 3) AS loss,
       options->>'shuffle' AS shuffle, options->>'standardize' AS standardize, owner
  FROM bismarck.models WHERE name = 'lr';
SELECT count(*) AS epochs_logged, min(epoch), max(epoch), bool_and(rows = 1600) AS all_rows,
       bool_and(seconds >= 0) AS timed
  FROM bismarck.training_log WHERE model = 'lr';
-- the loss goes down
SELECT bool_and(loss <= prev + 1e-9) AS loss_never_rises
  FROM (SELECT loss, lag(loss) OVER (ORDER BY epoch) AS prev
          FROM bismarck.training_log WHERE model = 'lr') s WHERE prev IS NOT NULL;
-- prediction in a query: accuracy on held-out rows, probabilities, decision function
SELECT round(avg((bismarck.predict('lr', x) = y::text)::int), 3) AS test_accuracy FROM lr_test;
SELECT bool_and(bismarck.predict_proba('lr', x) BETWEEN 0 AND 1) AS probabilities,
       bool_and((bismarck.decision_function('lr', x) > 0) = (bismarck.predict('lr', x) = '1')) AS consistent,
       bool_and(abs(bismarck.predict_proba('lr', x) - 1 / (1 + exp(-bismarck.decision_function('lr', x)))) < 1e-12) AS sigmoid
  FROM lr_test;
-- float4[] features score the same
SELECT bool_and(abs(bismarck.decision_function('lr', x::float4[]) - bismarck.decision_function('lr', x)) < 1e-4) AS float4_ok
  FROM lr_test;
-- the value-taking form (IMMUTABLE) gives the same answers
SELECT bool_and(bismarck.predict_proba(m.state, x) = bismarck.predict_proba('lr', x)) AS by_value
  FROM lr_test, bismarck.models m WHERE m.name = 'lr';
SELECT provolatile, proparallel FROM pg_proc
 WHERE proname = 'predict_proba' AND pg_get_function_arguments(oid) LIKE 'model bismarck.model_state, features double precision[]';
-- coefficients are in raw feature units: the scaler is folded in
SELECT bool_and(abs(bismarck.decision_function('lr', x) -
                    ((SELECT sum(c * v) FROM unnest(m.coefficients, x) AS u(c, v)) + m.intercept)) < 1e-9) AS folded
  FROM lr_test, bismarck.models m WHERE m.name = 'lr';
SELECT round(rows::numeric) AS rows, round(accuracy::numeric, 3) AS accuracy,
       round(precision::numeric, 3) AS precision, round(recall::numeric, 3) AS recall,
       round(f1::numeric, 3) AS f1, round(log_loss::numeric, 3) AS log_loss,
       round(roc_auc::numeric, 3) AS roc_auc, rmse, mae
  FROM bismarck.evaluate('lr', 'lr_test');
-- serial training with a seed is reproducible bit for bit
SELECT loss FROM bismarck.train_logistic('lr_again', 'lr_train', features => 'x', label => 'y', seed => 7) \gset
SELECT (SELECT state::text FROM bismarck.models WHERE name = 'lr') =
       (SELECT state::text FROM bismarck.models WHERE name = 'lr_again') AS bit_for_bit;
-- an existing name is an error unless replace => true
SELECT * FROM bismarck.train_logistic('lr', 'lr_train', features => 'x', label => 'y');
SELECT epochs FROM bismarck.train_logistic('lr', 'lr_train', features => 'x', label => 'y',
                                           epochs => 3, tolerance => 0, replace => true);
SELECT count(*) AS log_rows_after_replace FROM bismarck.training_log WHERE model = 'lr';
-- boolean labels, a fixed step size, L1: the two noise features end far below the signal
ALTER TABLE lr_train ADD COLUMN yb boolean;
UPDATE lr_train SET yb = y = 1;
SELECT step_size, dimension FROM bismarck.train_logistic('lr_bool', 'lr_train', features => 'x', label => 'yb',
       step_size => 0.05, l1 => 0.02, seed => 1);
SELECT abs(coefficients[4]) < abs(coefficients[1]) / 5 AND abs(coefficients[5]) < abs(coefficients[1]) / 5 AS noise_small
  FROM bismarck.models WHERE name = 'lr_bool';
SELECT round(avg((bismarck.predict('lr_bool', x)::boolean = (y = 1))::int), 2) >= 0.9 AS accurate FROM lr_test;
-- without standardisation the raw scales (x[2] is 100 times larger) need a smaller step
SELECT epochs FROM bismarck.train_logistic('lr_raw', 'lr_train', 'x', 'y', standardize => false, seed => 1, epochs => 5, tolerance => 0);
SELECT options->>'standardize' AS standardize, coefficients = (SELECT coefficients FROM bismarck.models WHERE name = 'lr_raw') AS raw_weights
  FROM bismarck.models WHERE name = 'lr_raw';
-- labels -1/1: predict answers in the same convention
CREATE TABLE lr_pm AS SELECT x, CASE WHEN y = 1 THEN 1 ELSE -1 END AS y FROM lr_train;
SELECT epochs FROM bismarck.train_logistic('lr_pm', 'lr_pm', 'x', 'y', seed => 3);
SELECT array_agg(DISTINCT bismarck.predict('lr_pm', x) ORDER BY bismarck.predict('lr_pm', x)) AS classes FROM lr_test;
-- a hand-written epoch with the public aggregate
WITH e1 AS (SELECT bismarck.logistic_epoch(ARRAY[x[1], x[3]], y::float8, bismarck.logistic_init(2, 0.05)) AS s FROM lr_train),
     e2 AS (SELECT bismarck.logistic_epoch(ARRAY[x[1], x[3]], y::float8, (SELECT s FROM e1)) AS s FROM lr_train)
SELECT round(bismarck.epoch_loss((SELECT s FROM e1))::numeric, 4) AS first_epoch_loss,
       bismarck.epoch_rows((SELECT s FROM e2)) AS rows,
       bismarck.epoch_loss((SELECT s FROM e2)) < bismarck.epoch_loss((SELECT s FROM e1)) AS improves;
-- the state's text form round-trips exactly
SELECT state::text::bismarck.model_state::text = state::text AS text_round_trip
  FROM bismarck.models WHERE name = 'lr';
SELECT bismarck.drop_model('lr_again'), bismarck.drop_model('lr_again');
SELECT count(*) FROM bismarck.training_log WHERE model = 'lr_again';
-- training changes planner settings for its own queries only: the caller's transaction gets them back
BEGIN;
SET LOCAL max_parallel_workers_per_gather = 3;
SELECT epochs FROM bismarck.train_logistic('lr_settings', 'lr_train', 'x', 'y', epochs => 1,
                                           parallelism => 'shared_memory', workers => 2);
SELECT current_setting('synchronize_seqscans') AS sync_scans,
       current_setting('max_parallel_workers_per_gather') AS workers_per_gather,
       current_setting('parallel_setup_cost') AS setup_cost;
SELECT bismarck.shuffle('lr_train', 'lr_train_shuffled', seed => 1) AS shuffled_rows;
SELECT current_setting('synchronize_seqscans') AS sync_scans,
       current_setting('max_parallel_workers_per_gather') AS workers_per_gather;
COMMIT;
-- a time budget stops after the epoch that reaches it and keeps the model trained so far
SELECT epochs < 50 AS stopped_early, converged FROM bismarck.train_logistic('lr_budget', 'lr_train', 'x', 'y',
       seed => 1, epochs => 50, tolerance => 0, max_seconds => 0.000001);
SELECT round(accuracy::numeric, 1) >= 0.9 AS still_a_model FROM bismarck.evaluate('lr_budget', 'lr_test');
-- warm start: one more epoch from the trained model starts where it ended
SELECT round(loss::numeric, 3) <= (SELECT round(loss::numeric, 3) + 0.005 FROM bismarck.models WHERE name = 'lr') AS starts_trained
  FROM bismarck.train_logistic('lr_warm', 'lr_train', 'x', 'y', seed => 2, epochs => 1, init_model => 'lr');
SELECT (SELECT loss FROM bismarck.models WHERE name = 'lr_warm') < t.loss AS better_than_a_cold_epoch
  FROM bismarck.train_logistic('lr_cold', 'lr_train', 'x', 'y', seed => 2, epochs => 1) t;
SELECT * FROM bismarck.train_logistic('lr_warm2', 'lr_train', 'x', 'y', epochs => 1, init_model => 'lr_pm_nope');
SELECT * FROM bismarck.train_svm('lr_warm3', 'lr_train', 'x', 'y', epochs => 1, init_model => 'lr');
-- a validation split: its loss logged every epoch, training stops when it stops improving, and
-- the model kept is the one that did best on it
SELECT validation_loss IS NOT NULL AS has_validation_loss, epochs <= 100 AS stopped
  FROM bismarck.train_logistic('lr_val', 'lr_train', 'x', 'y', seed => 1, epochs => 100,
                               validation => 0.2, patience => 3);
SELECT count(*) = count(validation_loss) AS every_epoch_validated,
       round(min(validation_loss)::numeric, 6) = (SELECT round(validation_loss::numeric, 6) FROM
           bismarck.train_logistic('lr_val', 'lr_train', 'x', 'y', seed => 1, epochs => 100,
                                   validation => 0.2, patience => 3, replace => true)) AS best_kept
  FROM bismarck.training_log WHERE model = 'lr_val';
ALTER TABLE lr_train ADD COLUMN held_out boolean;
UPDATE lr_train SET held_out = random() < 0.25;
SELECT rows < 1600 AS trained_on_the_rest, validation_loss IS NOT NULL AS validated
  FROM bismarck.train_logistic('lr_valcol', 'lr_train', 'x', 'y', seed => 1, epochs => 5,
                               validation_column => 'held_out', shuffle => 'never');
SELECT * FROM bismarck.train_logistic('lr_val2', 'lr_train', 'x', 'y', validation => 0.9);
SELECT * FROM bismarck.train_logistic('lr_val3', 'lr_train', 'x', 'y', validation_column => 'y');
SELECT * FROM bismarck.train_logistic('lr_val4', 'lr_train', 'x', 'y', validation => 0.1, shuffle => 'never');
-- class_weight => 'balanced': on a table with one positive row in fifty, the rare class is found
-- more often (higher recall) than without weights
CREATE TABLE lr_rare AS SELECT x, (x[1] + 0.8 * x[2] <= 1.6)::int AS y FROM lr_train;
SELECT round(avg(y), 2) AS positives FROM lr_rare;
SELECT model FROM bismarck.train_logistic('lr_plain', 'lr_rare', 'x', 'y', seed => 1);
SELECT model FROM bismarck.train_logistic('lr_balanced', 'lr_rare', 'x', 'y', seed => 1, class_weight => 'balanced');
SELECT (SELECT recall FROM bismarck.evaluate('lr_balanced', 'lr_rare')) >
       (SELECT recall FROM bismarck.evaluate('lr_plain', 'lr_rare')) AS rare_class_found_more;
SELECT * FROM bismarck.train_logistic('lr_cw', 'lr_rare', 'x', 'y', class_weight => 'heavy');
-- a prediction runs after a query's own filters: a view over a table that also holds rows of
-- another dimension is evaluated and filtered on without meeting them
CREATE TABLE lr_mixed AS
    SELECT 'lr' AS kind, x, y FROM lr_test
    UNION ALL SELECT 'other', ARRAY[1.0, 2.0]::float8[], 0 FROM generate_series(1, 50);
CREATE VIEW lr_only AS SELECT x, y FROM lr_mixed WHERE kind = 'lr';
SELECT rows FROM bismarck.evaluate('lr', 'lr_only');
SELECT count(*) > 0 AS filtered FROM lr_mixed WHERE kind = 'lr' AND bismarck.predict('lr', x) = '1';
