-- Multiclass classification: multinomial logistic regression (train_logistic on 3+ classes) and
-- the Crammer-Singer SVM (train_svm on 3+ classes). Labels text, integer and boolean come back
-- from predict as they were; probabilities, classes(), evaluate, every parallelism mode, sparse
-- rows, hand-written epochs and the errors.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT setseed(0.25);
-- 3,000 rows, 3 text classes from noisy linear scores (apple: x2, banana: -x1-x2, cherry: x1);
-- x[3] is irrelevant and on a larger scale. Rows are inserted in no particular class order.
CREATE TABLE mc_data AS
SELECT i, ARRAY[random() * 4 - 2, random() * 4 - 2, 10 * random()] AS x,
       random() - 0.5 AS n1, random() - 0.5 AS n2, random() - 0.5 AS n3
  FROM generate_series(1, 3000) i;
ALTER TABLE mc_data ADD COLUMN fruit text, ADD COLUMN oracle text;
UPDATE mc_data SET
    fruit = CASE WHEN x[1] + n1 >= greatest(x[2] + n2, -x[1] - x[2] + n3) THEN 'cherry'
                 WHEN x[2] + n2 >= -x[1] - x[2] + n3 THEN 'apple' ELSE 'banana' END,
    -- the noiseless rule: the best a linear model can hope to do
    oracle = CASE WHEN x[1] >= greatest(x[2], -x[1] - x[2]) THEN 'cherry'
                  WHEN x[2] >= -x[1] - x[2] THEN 'apple' ELSE 'banana' END;
CREATE TABLE mc_train AS SELECT * FROM mc_data WHERE i % 4 <> 0;
CREATE TABLE mc_test AS SELECT * FROM mc_data WHERE i % 4 = 0;
SELECT fruit, count(*) FROM mc_train GROUP BY 1 ORDER BY 1;
-- the bound: a majority-class guess scores ~0.38, the noiseless rule ~0.92
SELECT (SELECT round(avg((oracle = fruit)::int), 3) FROM mc_test) AS oracle_accuracy,
       (SELECT round(max(n)::numeric / sum(n), 3) FROM (SELECT count(*) AS n FROM mc_test GROUP BY fruit) c) AS majority_accuracy;
SELECT avg((oracle = fruit)::int) AS oracle_acc FROM mc_test \gset

-- ---- multinomial logistic regression, text labels ---------------------------------------------
SELECT model, task, rows, skipped, dimension, classes, epochs, round(loss::numeric, 2) AS loss,
       parallelism
  FROM bismarck.train_logistic('mc', 'mc_train', features => 'x', label => 'fruit', seed => 5);
SELECT name, task, dimension, rows_used, options->>'l2' = (1.0 / 2250)::float8::text AS default_l2
  FROM bismarck.models WHERE name = 'mc';
-- classes sorted as text sorts; predict returns them as text
SELECT bismarck.classes('mc') AS classes,
       bismarck.classes('mc') = (SELECT array_agg(DISTINCT fruit ORDER BY fruit) FROM mc_train) AS sorted_as_sql;
SELECT pg_typeof(bismarck.predict('mc', x)) AS predict_type,
       array_agg(DISTINCT bismarck.predict('mc', x) ORDER BY bismarck.predict('mc', x)) AS predicted
  FROM mc_test GROUP BY 1;
-- held-out accuracy: within 3 points of the noiseless rule (far above the majority class)
SELECT avg((bismarck.predict('mc', x) = fruit)::int) > :oracle_acc - 0.03 AS near_oracle,
       avg((bismarck.predict('mc', x) = fruit)::int) > 0.85 AS above_085
  FROM mc_test;
-- probabilities: one per class, summing to 1; the argmax is predict; predict_proba is the max
SELECT bool_and(cardinality(p) = 3) AS three,
       bool_and((SELECT bool_and(v BETWEEN 0 AND 1) FROM unnest(p) v)) AS in_range,
       bool_and(abs((SELECT sum(v) FROM unnest(p) v) - 1) < 1e-12) AS sums_to_1,
       bool_and((bismarck.classes('mc'))[(SELECT o FROM unnest(p) WITH ORDINALITY u(v, o) ORDER BY v DESC LIMIT 1)]
                = bismarck.predict('mc', x)) AS argmax_is_predict,
       bool_and(bismarck.predict_proba('mc', x) = (SELECT max(v) FROM unnest(p) v)) AS proba_is_max,
       bool_and(bismarck.predict_proba('mc', x) > 1.0 / 3) AS proba_above_third
  FROM (SELECT x, bismarck.predict_probabilities('mc', x) AS p FROM mc_test) s;
-- the probabilities are a softmax of the raw-unit scores coefficients . x (+ the per-class bias)
SELECT array_ndims(coefficients) AS coef_dims, array_length(coefficients, 1) AS coef_rows,
       array_length(coefficients, 2) AS coef_cols,
       coefficients[3][1] > 0 AND coefficients[1][2] > 0 AS signs_follow_rule
  FROM bismarck.models WHERE name = 'mc';
-- by value and by name agree on every row
WITH s AS (SELECT bismarck.model('mc') AS m)
SELECT count(*) AS rows,
       bool_and(bismarck.predict(m, x) = bismarck.predict('mc', x)) AS predict_agrees,
       bool_and(bismarck.predict_probabilities(m, x) = bismarck.predict_probabilities('mc', x)) AS probabilities_agree,
       bool_and(bismarck.predict_proba(m, x) = bismarck.predict_proba('mc', x)) AS proba_agrees,
       bool_and(bismarck.classes(m) = bismarck.classes('mc')) AS classes_agree
  FROM mc_test CROSS JOIN s;
-- float4[] and numeric[] rows predict the same classes
SELECT bool_and(bismarck.predict('mc', x::float4[]) = bismarck.predict('mc', x)) AS float4_same,
       bool_and(bismarck.predict('mc', x::numeric[]) = bismarck.predict('mc', x)) AS numeric_same
  FROM mc_test;
-- evaluate: accuracy, macro F1 and log loss as computed by hand; the confusion matrix adds up
CREATE TABLE mc_scored AS
SELECT fruit AS actual, bismarck.predict('mc', x) AS predicted,
       (bismarck.predict_probabilities('mc', x))[array_position(bismarck.classes('mc'), fruit)] AS p_true
  FROM mc_test;
CREATE TABLE mc_eval AS SELECT * FROM bismarck.evaluate('mc', 'mc_test');
SELECT rows, round(accuracy::numeric, 3) AS accuracy, round(f1::numeric, 3) AS f1,
       round(log_loss::numeric, 2) AS log_loss, roc_auc, rmse, mae, r2
  FROM mc_eval;
SELECT e.accuracy = (SELECT avg((predicted = actual)::int)::float8 FROM mc_scored) AS accuracy_by_hand,
       abs(e.log_loss - (SELECT avg(-ln(p_true)) FROM mc_scored)) < 1e-9 AS log_loss_by_hand,
       abs(e.f1 - h.f1) < 1e-9 AS macro_f1_by_hand,
       abs(e.precision - h.p) < 1e-9 AS macro_precision_by_hand,
       abs(e.recall - h.r) < 1e-9 AS macro_recall_by_hand,
       e.f1 BETWEEN 0.8 AND 1 AS f1_in_range
  FROM mc_eval e,
       (SELECT avg(2.0 * tp / (2 * tp + fp + fn)) AS f1, avg(tp::float8 / (tp + fp)) AS p,
               avg(tp::float8 / (tp + fn)) AS r
          FROM (SELECT c, count(*) FILTER (WHERE predicted = c AND actual = c) AS tp,
                       count(*) FILTER (WHERE predicted = c AND actual <> c) AS fp,
                       count(*) FILTER (WHERE predicted <> c AND actual = c) AS fn
                  FROM unnest(ARRAY['apple', 'banana', 'cherry']) c, mc_scored GROUP BY c) pc) h;
SELECT (SELECT sum(n::int) FROM mc_eval, jsonb_each(confusion) a(actual, r), jsonb_each_text(r) p(predicted, n)) AS confusion_total,
       (SELECT sum(n::int) FROM mc_eval, jsonb_each(confusion) a(actual, r), jsonb_each_text(r) p(predicted, n)
         WHERE actual = predicted)::float8 / 750 = (SELECT accuracy FROM mc_eval) AS diagonal_is_accuracy,
       (SELECT bool_and(n::bigint = (SELECT count(*) FROM mc_scored s WHERE s.actual = a.actual AND s.predicted = p.predicted))
          FROM mc_eval, jsonb_each(confusion) a(actual, r), jsonb_each_text(r) p(predicted, n)) AS cells_by_hand,
       (SELECT array_agg(k ORDER BY k) FROM mc_eval, jsonb_object_keys(confusion) k) AS actual_classes;
-- serial training with a seed is reproducible bit for bit
SELECT epochs FROM bismarck.train_logistic('mc_again', 'mc_train', features => 'x', label => 'fruit', seed => 5);
SELECT md5(bismarck.model('mc')::text) = md5(bismarck.model('mc_again')::text) AS bit_for_bit;

-- ---- integer labels that are not 0..k-1: 7, 10, 30 (as text they would sort 10, 30, 7) ------
CREATE TABLE mc_int AS
SELECT i, x, CASE fruit WHEN 'apple' THEN 30 WHEN 'banana' THEN 7 ELSE 10 END AS y FROM mc_data;
CREATE TABLE mc_int_train AS SELECT * FROM mc_int WHERE i % 4 <> 0;
CREATE TABLE mc_int_test AS SELECT * FROM mc_int WHERE i % 4 = 0;
SELECT task, classes, rows FROM bismarck.train_logistic('mc_int', 'mc_int_train', 'x', 'y', seed => 5);
SELECT bismarck.classes('mc_int') AS classes;
SELECT array_agg(DISTINCT bismarck.predict('mc_int', x) ORDER BY bismarck.predict('mc_int', x)) AS predicted,
       avg((bismarck.predict('mc_int', x)::int = y)::int) > :oracle_acc - 0.03 AS near_oracle,
       -- the same problem with other names: the same predictions as the text model
       bool_and(bismarck.predict('mc_int', x) =
                CASE bismarck.predict('mc', x) WHEN 'apple' THEN '30' WHEN 'banana' THEN '7' ELSE '10' END) AS same_as_text_model
  FROM mc_int_test;
-- the probabilities follow classes() order: P(7) is the text model's P(banana)
SELECT bool_and(abs((bismarck.predict_probabilities('mc_int', x))[1] - (bismarck.predict_probabilities('mc', x))[2]) < 1e-9) AS p7_is_p_banana
  FROM mc_int_test;
SELECT rows, accuracy = (SELECT avg((bismarck.predict('mc_int', x)::int = y)::int)::float8 FROM mc_int_test) AS accuracy_by_hand,
       (SELECT array_agg(k ORDER BY k::int) FROM jsonb_object_keys(confusion) k) AS confusion_keys
  FROM bismarck.evaluate('mc_int', 'mc_int_test');

-- ---- booleans: two classes, logistic; predict says 'true' / 'false' ----------------------------
CREATE TABLE mc_bool AS SELECT i, x, x[1] - x[2] + n1 > 0 AS y FROM mc_data;
SELECT task, classes FROM bismarck.train_logistic('mc_bool', 'mc_bool', 'x', 'y', seed => 5);
SELECT bismarck.classes('mc_bool') AS classes,
       array_agg(DISTINCT bismarck.predict('mc_bool', x) ORDER BY bismarck.predict('mc_bool', x)) AS predicted,
       bool_and(bismarck.predict('mc_bool', x)::boolean = (bismarck.decision_function('mc_bool', x) > 0)) AS positive_is_true,
       bool_and(abs(bismarck.predict_proba('mc_bool', x) - (bismarck.predict_probabilities('mc_bool', x))[2]) < 1e-12) AS proba_is_p_true,
       avg((bismarck.predict('mc_bool', x)::boolean = y)::int) > 0.9 AS accurate
  FROM mc_bool;
SELECT round(accuracy::numeric, 2) >= 0.9 AS accurate, roc_auc > 0.95 AS separates,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(confusion) k) AS confusion_keys
  FROM bismarck.evaluate('mc_bool', 'mc_bool');

-- ---- an enum label: classes in the enum's order, not alphabetical ------------------------------
CREATE TYPE mc_size AS ENUM ('small', 'medium', 'large');
CREATE TABLE mc_enum AS
SELECT i, x, (CASE fruit WHEN 'apple' THEN 'large' WHEN 'banana' THEN 'small' ELSE 'medium' END)::mc_size AS size FROM mc_data;
SELECT task, classes FROM bismarck.train_logistic('mc_enum', 'mc_enum', 'x', 'size', seed => 5, epochs => 5);
SELECT bismarck.classes('mc_enum') AS classes,
       avg((bismarck.predict('mc_enum', x)::mc_size = size)::int) > :oracle_acc - 0.03 AS near_oracle
  FROM mc_enum;
SELECT accuracy = (SELECT avg((bismarck.predict('mc_enum', x)::mc_size = size)::int)::float8 FROM mc_enum) AS accuracy_by_hand
  FROM bismarck.evaluate('mc_enum', 'mc_enum');

-- ---- Crammer-Singer multiclass SVM -----------------------------------------------------------
SELECT model, task, rows, dimension, classes, epochs
  FROM bismarck.train_svm('mcs', 'mc_train', features => 'x', label => 'fruit', seed => 5);
SELECT bismarck.classes('mcs') AS classes,
       array_agg(DISTINCT bismarck.predict('mcs', x) ORDER BY bismarck.predict('mcs', x)) AS predicted,
       avg((bismarck.predict('mcs', x) = fruit)::int) > :oracle_acc - 0.03 AS near_oracle,
       bool_and(bismarck.predict(bismarck.model('mcs'), x) = bismarck.predict('mcs', x)) AS by_value_agrees
  FROM mc_test;
SELECT rows, accuracy = (SELECT avg((bismarck.predict('mcs', x) = fruit)::int)::float8 FROM mc_test) AS accuracy_by_hand,
       f1 BETWEEN 0.8 AND 1 AS f1_in_range, log_loss IS NULL AS no_log_loss, roc_auc IS NULL AS no_auc,
       (SELECT sum(n::int) FROM jsonb_each(confusion) a(actual, r), jsonb_each_text(r) p(predicted, n)) AS confusion_total
  FROM bismarck.evaluate('mcs', 'mc_test');
-- no probabilities: the errors name the model
\set VERBOSITY default
SELECT bismarck.predict_proba('mcs', ARRAY[1, 2, 3]::float8[]);
SELECT bismarck.predict_probabilities('mcs', ARRAY[1, 2, 3]::float8[]);
-- one score per class: decision_function is for two-class models and regressions
SELECT bismarck.decision_function('mc', ARRAY[1, 2, 3]::float8[]);
SELECT bismarck.decision_function('mcs', ARRAY[1, 2, 3]::float8[]);
\set VERBOSITY terse

-- ---- every parallelism mode trains a model as accurate as serial ------------------------------
-- workers, not the leader, scan (as parallel.sql does), so that the workers run on a small table;
-- 5 epochs each (a parallel epoch starts its workers anew), against serial runs of 5 epochs
SET parallel_leader_participation = off;
SELECT epochs FROM bismarck.train_logistic('mc_serial', 'mc_train', 'x', 'fruit', seed => 5, epochs => 5, tolerance => 0);
SELECT epochs FROM bismarck.train_svm('mcs_serial', 'mc_train', 'x', 'fruit', seed => 5, epochs => 5, tolerance => 0);
SELECT avg((bismarck.predict('mc_serial', x) = fruit)::int) AS lr_serial_acc,
       avg((bismarck.predict('mcs_serial', x) = fruit)::int) AS svm_serial_acc FROM mc_test \gset
SELECT p.mode, t.task, t.epochs, t.workers > 0 AS workers_ran, t.parallelism = p.mode AS reported
  FROM unnest(ARRAY['shared_memory', 'shared_memory_locked', 'model_averaging']) AS p(mode),
       LATERAL bismarck.train_logistic('mc_' || p.mode, 'mc_train', 'x', 'fruit', seed => 5, epochs => 5,
                                       tolerance => 0, parallelism => p.mode, workers => 2) t
 ORDER BY 1;
SELECT p.mode, t.task, t.epochs, t.workers > 0 AS workers_ran, t.parallelism = p.mode AS reported
  FROM unnest(ARRAY['shared_memory', 'model_averaging']) AS p(mode),
       LATERAL bismarck.train_svm('mcs_' || p.mode, 'mc_train', 'x', 'fruit', seed => 5, epochs => 5,
                                  tolerance => 0, parallelism => p.mode, workers => 2) t
 ORDER BY 1;
SELECT m.name, m.task,
       abs(avg((bismarck.predict(m.name, x) = fruit)::int) -
           CASE m.task WHEN 'multinomial' THEN :lr_serial_acc ELSE :svm_serial_acc END) <= 0.02 AS as_accurate,
       avg((bismarck.predict(m.name, x) = fruit)::int) > :oracle_acc - 0.03 AS near_oracle
  FROM bismarck.models m, mc_test
 WHERE m.name ~ '^mcs?_(shared|model)' GROUP BY m.name, m.task ORDER BY 1;
SELECT model, parallelism, count(*) AS epochs, bool_and(workers > 0) AS workers_every_epoch
  FROM bismarck.training_log WHERE model ~ '^mcs?_(shared|model)' GROUP BY 1, 2 ORDER BY 1;

-- ---- sparse rows ---------------------------------------------------------------------------
CREATE TABLE mc_sparse AS SELECT i, x::bismarck.sparsevec AS x, fruit FROM mc_train;
SELECT task, dimension, classes FROM bismarck.train_logistic('mc_sparse', 'mc_sparse', 'x', 'fruit', seed => 5);
SELECT task, dimension, classes FROM bismarck.train_svm('mcs_sparse', 'mc_sparse', 'x', 'fruit', seed => 5);
SELECT options->>'sparse' AS sparse FROM bismarck.models WHERE name = 'mc_sparse';
SELECT avg((bismarck.predict('mc_sparse', x::bismarck.sparsevec) = fruit)::int) > :oracle_acc - 0.05 AS lr_sparse_accurate,
       avg((bismarck.predict('mcs_sparse', x::bismarck.sparsevec) = fruit)::int) > :oracle_acc - 0.05 AS svm_sparse_accurate,
       bool_and(abs((SELECT sum(v) FROM unnest(bismarck.predict_probabilities('mc_sparse', x::bismarck.sparsevec)) v) - 1) < 1e-12) AS sums_to_1,
       -- a dense row and its sparse form score the same
       bool_and((SELECT bool_and(abs(s - d) < 1e-12)
                  FROM unnest(bismarck.predict_probabilities('mc_sparse', x::bismarck.sparsevec),
                              bismarck.predict_probabilities('mc_sparse', x)) u(s, d))) AS dense_same
  FROM mc_test;
SELECT (SELECT count(*) FROM bismarck.training_log WHERE model = 'mc_sparse') > 0 AS logged;
-- sparse rows in shared memory (per-row Hogwild)
SELECT task, workers > 0 AS workers_ran
  FROM bismarck.train_logistic('mc_sparse_sm', 'mc_sparse', 'x', 'fruit', seed => 5, epochs => 5,
                               tolerance => 0, parallelism => 'shared_memory', workers => 2);
SELECT avg((bismarck.predict('mc_sparse_sm', x::bismarck.sparsevec) = fruit)::int) > :oracle_acc - 0.05 AS sparse_parallel_accurate
  FROM mc_test;
RESET parallel_leader_participation;

-- ---- hand-written epochs: class indices 0..k-1 -------------------------------------------------
CREATE TABLE mc_idx AS
SELECT x, (array_position(ARRAY['apple', 'banana', 'cherry'], fruit) - 1)::float8 AS k FROM mc_train;
-- with a negligible step the progressive loss is the loss at zero: ln 3 (softmax) and 1 (hinge)
SELECT round(bismarck.epoch_loss(bismarck.logistic_epoch(ARRAY[x[1], x[2]], k, bismarck.logistic_init(2, 1e-12, 0, 0, classes => 3)))::numeric, 6) AS softmax_at_zero,
       round(ln(3)::numeric, 6) AS ln_3,
       round(bismarck.epoch_loss(bismarck.svm_epoch(ARRAY[x[1], x[2]], k, bismarck.svm_init(2, 1e-12, 0, 0, classes => 3)))::numeric, 6) AS hinge_at_zero
  FROM mc_idx;
WITH e1 AS (SELECT bismarck.logistic_epoch(ARRAY[x[1], x[2]], k, bismarck.logistic_init(2, 0.1, 0, 0, classes => 3)) AS s FROM mc_idx),
     e2 AS (SELECT bismarck.logistic_epoch(ARRAY[x[1], x[2]], k, (SELECT s FROM e1)) AS s FROM mc_idx)
SELECT bismarck.epoch_rows((SELECT s FROM e2)) AS rows,
       bismarck.epoch_loss((SELECT s FROM e1)) < ln(3) AS learns,
       bismarck.epoch_loss((SELECT s FROM e2)) < bismarck.epoch_loss((SELECT s FROM e1)) AS improves,
       bismarck.classes((SELECT s FROM e2)) AS classes,
       (SELECT avg((bismarck.predict((SELECT s FROM e2), ARRAY[x[1], x[2]]) =
                    (array_position(ARRAY['apple', 'banana', 'cherry'], fruit) - 1)::text)::int) > :oracle_acc - 0.03
          FROM mc_test) AS accurate,
       (SELECT bool_and(abs((SELECT sum(v) FROM unnest(bismarck.predict_probabilities((SELECT s FROM e2), ARRAY[x[1], x[2]])) v) - 1) < 1e-12)
          FROM mc_test) AS sums_to_1;
WITH e1 AS (SELECT bismarck.svm_epoch(ARRAY[x[1], x[2]], k, bismarck.svm_init(2, 0.1, 0, 0, classes => 3)) AS s FROM mc_idx),
     e2 AS (SELECT bismarck.svm_epoch(ARRAY[x[1], x[2]], k, (SELECT s FROM e1)) AS s FROM mc_idx)
SELECT bismarck.epoch_loss((SELECT s FROM e1)) < 1 AS learns,
       bismarck.epoch_loss((SELECT s FROM e2)) < bismarck.epoch_loss((SELECT s FROM e1)) AS improves,
       bismarck.classes((SELECT s FROM e2)) AS classes,
       (SELECT avg((bismarck.predict((SELECT s FROM e2), ARRAY[x[1], x[2]]) =
                    (array_position(ARRAY['apple', 'banana', 'cherry'], fruit) - 1)::text)::int) > :oracle_acc - 0.03
          FROM mc_test) AS accurate;
-- the multinomial state is an epoch of logistic_epoch, not svm_epoch
SELECT bismarck.svm_epoch(x, k, bismarck.logistic_init(3, classes => 3)) FROM mc_idx;
-- a label that is not a class index
\set VERBOSITY default
SELECT bismarck.logistic_epoch(x, k + 1, bismarck.logistic_init(3, classes => 3)) FROM mc_idx;
SELECT bismarck.logistic_epoch(x, 0.5, bismarck.logistic_init(3, classes => 3)) FROM mc_idx;
SELECT bismarck.logistic_epoch(x, -1, bismarck.logistic_init(3, classes => 3)) FROM mc_idx;
\set VERBOSITY terse
SELECT bismarck.logistic_init(3, classes => 1);
SELECT bismarck.logistic_init(3, classes => 1001);

-- ---- errors: nothing is stored ------------------------------------------------------------------
\set VERBOSITY default
CREATE TABLE mc_one AS SELECT x, 'apple'::text AS fruit FROM mc_train LIMIT 20;
SELECT * FROM bismarck.train_logistic('e_one', 'mc_one', 'x', 'fruit');
-- 1001 distinct labels: more than the limit, found without training
CREATE TABLE mc_many AS SELECT ARRAY[i::float8] AS x, 'c' || i AS label FROM generate_series(1, 1001) i;
SELECT * FROM bismarck.train_logistic('e_many', 'mc_many', 'x', 'label');
SELECT * FROM bismarck.train_svm('e_many', 'mc_many', 'x', 'label');
-- exactly 1000 is allowed
DELETE FROM mc_many WHERE label = 'c1001';
SELECT task, classes FROM bismarck.train_logistic('mc_1000', 'mc_many', 'x', 'label', epochs => 1, step_size => 0.1);
SELECT cardinality(bismarck.classes('mc_1000')) AS classes, (bismarck.classes('mc_1000'))[1:3] AS first_classes;
\set VERBOSITY terse
-- NULL labels are skipped and counted; on_null => 'error' refuses them
CREATE TABLE mc_nulls AS SELECT x, CASE WHEN i % 10 = 0 THEN NULL ELSE fruit END AS fruit FROM mc_train;
SELECT task, rows, skipped, classes FROM bismarck.train_logistic('mc_nulls', 'mc_nulls', 'x', 'fruit', seed => 5);
SELECT rows_used, rows_skipped FROM bismarck.models WHERE name = 'mc_nulls';
SELECT bismarck.classes('mc_nulls') AS classes_without_null;
SELECT * FROM bismarck.train_logistic('e_nulls', 'mc_nulls', 'x', 'fruit', on_null => 'error');
SELECT name FROM bismarck.models WHERE name LIKE 'e\_%';
SELECT 1 AS still_alive;
