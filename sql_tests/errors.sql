-- Every user error is an ERROR with a SQLSTATE and a message naming the culprit; the session
-- stays usable and nothing is left in the catalog.
SET client_min_messages = warning;
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE TABLE e_ok AS SELECT ARRAY[i::float8, (i % 7)::float8] AS x, i % 2 AS y FROM generate_series(1, 50) i;
-- missing table and columns, wrong types
SELECT * FROM bismarck.train_logistic('e', 'no_such_table', 'x', 'y');
SELECT * FROM bismarck.train_logistic('e', 'e_ok', 'nope', 'y');
SELECT * FROM bismarck.train_logistic('e', 'e_ok', 'x', 'nope');
CREATE TABLE e_types AS SELECT '{"a": 1}'::jsonb AS j, ARRAY[1.0, 2.0]::float8[] AS x,
    point(1, 2) AS pt, 'a'::text AS t, i % 2 AS y FROM generate_series(1, 4) i;
SELECT * FROM bismarck.train_logistic('e', 'e_types', 'j', 'y');
SELECT * FROM bismarck.train_logistic('e', 'e_types', 'x', 'pt');
SELECT * FROM bismarck.train_linear_regression('e', 'e_types', 'x', 't');
SELECT * FROM bismarck.train_logistic('e', 'e_types', 'x', 'x');
-- ragged, multi-dimensional, NaN features
CREATE TABLE e_ragged AS SELECT CASE WHEN i = 30 THEN ARRAY[1.0, 2.0, 3.0] ELSE ARRAY[i::float8, 1.0] END AS x, i % 2 AS y
  FROM generate_series(1, 40) i;
SELECT * FROM bismarck.train_logistic('e', 'e_ragged', 'x', 'y');
CREATE TABLE e_2d AS SELECT ARRAY[[1.0, 2.0], [3.0, 4.0]]::float8[] AS x, 1 AS y;
SELECT * FROM bismarck.train_logistic('e', 'e_2d', 'x', 'y');
-- an error inside the driver's own queries comes without them as CONTEXT
\set SHOW_CONTEXT errors
SELECT * FROM bismarck.train_logistic('e', 'e_2d', 'x', 'y');
\set SHOW_CONTEXT never
CREATE TABLE e_nan AS SELECT ARRAY[1.0, CASE WHEN i = 5 THEN 'NaN'::float8 ELSE i END] AS x, i % 2 AS y FROM generate_series(1, 10) i;
SELECT * FROM bismarck.train_logistic('e', 'e_nan', 'x', 'y');
-- one class only, more classes than a classifier may have, empty table, NULLs
CREATE TABLE e_many AS SELECT ARRAY[i::float8] AS x, i AS y FROM generate_series(1, 1001) i;
SELECT * FROM bismarck.train_logistic('e', 'e_many', 'x', 'y');
CREATE TABLE e_one AS SELECT ARRAY[i::float8] AS x, 1 AS y FROM generate_series(1, 10) i;
SELECT * FROM bismarck.train_logistic('e', 'e_one', 'x', 'y');
CREATE TABLE e_empty (x float8[], y int);
SELECT * FROM bismarck.train_logistic('e', 'e_empty', 'x', 'y');
CREATE TABLE e_nulls AS SELECT CASE WHEN i % 10 = 0 THEN NULL ELSE ARRAY[i::float8, 1] END AS x, i % 2 AS y FROM generate_series(1, 100) i;
SELECT rows, skipped FROM bismarck.train_logistic('e_nulls', 'e_nulls', 'x', 'y', seed => 1);
SELECT * FROM bismarck.train_logistic('e_nulls2', 'e_nulls', 'x', 'y', on_null => 'error');
-- bad options
SELECT * FROM bismarck.train_logistic('e', 'e_ok', 'x', 'y', epochs => 0);
SELECT * FROM bismarck.train_logistic('e', 'e_ok', 'x', 'y', step_size => -1);
SELECT * FROM bismarck.train_logistic('e', 'e_ok', 'x', 'y', step_size => 'fast');
SELECT * FROM bismarck.train_logistic('e', 'e_ok', 'x', 'y', l2 => -0.1);
SELECT * FROM bismarck.train_logistic('e', 'e_ok', 'x', 'y', shuffle => 'sometimes');
SELECT * FROM bismarck.train_logistic('e', 'e_ok', 'x', 'y', parallelism => 'gpu');
SELECT * FROM bismarck.train_lmf('e', 'e_ok', 'x', 'y', 'y', rank => 0);
-- model names
SELECT * FROM bismarck.train_logistic('', 'e_ok', 'x', 'y');
SELECT * FROM bismarck.train_logistic(repeat('m', 64), 'e_ok', 'x', 'y');
-- divergence: a huge constant step is stopped within the epoch, nothing stored
SELECT * FROM bismarck.train_logistic('e_div', 'e_ok', 'x', 'y', step_size => 1e300, standardize => false, seed => 1);
-- predicting with the wrong dimension, an unknown model, the wrong task
SELECT bismarck.predict('e_nulls', ARRAY[1.0, 2.0, 3.0]::float8[]);
SELECT bismarck.predict('no_model', ARRAY[1.0]::float8[]);
SELECT bismarck.predict('e_nulls', 1, 2);
SELECT * FROM bismarck.recommend('e_nulls', 1);
-- LMF ids
CREATE TABLE e_ids AS SELECT i - 3 AS u, i AS m, 1.0 AS r FROM generate_series(1, 10) i;
SELECT * FROM bismarck.train_lmf('e', 'e_ids', 'u', 'm', 'r');
CREATE TABLE e_big AS SELECT 2000000000 AS u, 1 AS m, 1.0 AS r;
SELECT * FROM bismarck.train_lmf('e', 'e_big', 'u', 'm', 'r');
-- a hand-made state that is not a model; labels a hand-written epoch cannot take
SELECT 'deadbeef'::bismarck.model_state;
SELECT bismarck.logistic_epoch(x, y, bismarck.svm_init(2)) FROM e_ok;
SELECT bismarck.logistic_epoch(x, y, bismarck.logistic_init(3)) FROM e_ok;
SELECT bismarck.logistic_epoch(x, y + 1, bismarck.logistic_init(2)) FROM e_ok;
SELECT bismarck.logistic_epoch(x, y + 2, bismarck.logistic_init(2, classes => 3)) FROM e_ok;
SELECT bismarck.logistic_init(2, classes => 1);
-- nothing but the one good model reached the catalog, and the session is fine
SELECT name FROM bismarck.models ORDER BY name;
SELECT count(*) AS log_rows FROM bismarck.training_log WHERE model <> 'e_nulls';
SELECT relname FROM pg_class WHERE relnamespace = 'bismarck_work'::regnamespace;
SELECT 1 AS still_alive;
