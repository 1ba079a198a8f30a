-- Linear SVM: training, decision function, evaluation; sparse features.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT setseed(0.17);
CREATE TABLE svm_data AS
SELECT i, ARRAY[random() * 4 - 2, random() * 4 - 2, random()] AS x, random() AS noise
  FROM generate_series(1, 1500) i;
ALTER TABLE svm_data ADD COLUMN y boolean;
UPDATE svm_data SET y = x[1] - 2 * x[2] + 0.5 + (noise - 0.5) > 0;
CREATE TABLE svm_train AS SELECT * FROM svm_data WHERE i % 4 <> 0;
CREATE TABLE svm_test AS SELECT * FROM svm_data WHERE i % 4 = 0;
SELECT model, task, rows, dimension, epochs, round(loss::numeric, 2) AS loss
  FROM bismarck.train_svm('svm', 'svm_train', features => 'x', label => 'y', seed => 11);
SELECT round(accuracy::numeric, 2) AS accuracy, log_loss IS NULL AS no_log_loss,
       roc_auc > 0.95 AS separates
  FROM bismarck.evaluate('svm', 'svm_test');
-- the hinge: most training rows end outside the margin
SELECT avg((abs(bismarck.decision_function('svm', x)) >= 1)::int) > 0.5 AS mostly_outside_margin FROM svm_train;
-- sparse rows: the same data as bismarck.sparsevec
CREATE TABLE svm_sparse AS SELECT i, x::bismarck.sparsevec AS x, y FROM svm_train;
SELECT dimension, rows FROM bismarck.train_svm('svm_sparse', 'svm_sparse', 'x', 'y', seed => 11);
SELECT round(avg((bismarck.predict('svm_sparse', x::bismarck.sparsevec)::boolean = y)::int), 2) >= 0.85 AS sparse_accurate
  FROM svm_test;
SELECT options->>'sparse' AS sparse, options->>'standardize' AS standardize FROM bismarck.models WHERE name = 'svm_sparse';
-- predict_proba needs a logistic model
SELECT bismarck.predict_proba('svm', ARRAY[1, 2, 3]::float8[]);
-- sparse features are scaled (not centred) like dense ones are standardised: as accurate
SELECT abs((SELECT accuracy FROM bismarck.evaluate('svm', 'svm_test')) -
           avg((bismarck.predict('svm_sparse', x::bismarck.sparsevec)::boolean = y)::int)) <= 0.01
       AS sparse_as_accurate_as_dense
  FROM svm_test;
