-- Faults: a cancel, a timeout or an error at any point of a training run leaves no model, no log
-- row and no scratch table; a failed replace keeps the old model intact; long runs, many runs and
-- many errors in a row keep the backend's memory flat.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
CREATE SCHEMA flt;
-- What a run may leave behind (models of this test are named f_...; f_keep is meant to stay).
CREATE FUNCTION flt.leftovers() RETURNS text LANGUAGE sql AS $$
    SELECT format('models %s, log rows %s, work tables %s',
                  (SELECT count(*) FROM bismarck.model_store WHERE name LIKE 'f\_%' AND name <> 'f_keep'),
                  (SELECT count(*) FROM bismarck.log_store WHERE model LIKE 'f\_%' AND model <> 'f_keep'),
                  (SELECT count(*) FROM pg_class WHERE relnamespace = 'bismarck_work'::regnamespace)) $$;
-- Private (anonymous) resident memory of this backend in kB: VmRSS without the shared buffers
-- the backend happened to touch.
CREATE FUNCTION flt.anon_kb() RETURNS bigint LANGUAGE sql AS $$
    SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'),
                         'RssAnon:\s+(\d+)'))[1]::bigint $$;
-- The model as stored, and its log, to show that a failed replace leaves both as they were.
CREATE FUNCTION flt.fingerprint(m text) RETURNS text LANGUAGE sql AS $$
    SELECT md5(s.state::text) || ' ' || s.epochs || ' epochs, log '
           || (SELECT string_agg(epoch || ':' || loss, ',' ORDER BY epoch)
                 FROM bismarck.log_store WHERE model = m)
      FROM bismarck.model_store s WHERE s.name = m $$;

-- A source that stops at its n-th row read: flt.tick() counts the rows read through the view
-- flt.trapped, and at row flt.at sleeps (so that statement_timeout cancels there) or fails.
-- With 4,000 rows the driver reads them in this order: the statistics scan (rows 1-4000), then
-- either the shuffled copy (4001-8000; epochs read the copy) or, with shuffle => 'never' and a
-- given step size, each epoch (epoch k: 4000k+1 - 4000(k+1)) and the final loss scan.
CREATE TABLE flt.base AS
SELECT i, ARRAY[sin(i), cos(i), (i % 13)::float8 / 13] AS x, (sin(i) + cos(3 * i) > 0)::int AS y
  FROM generate_series(1, 4000) i;
CREATE FUNCTION flt.tick() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n bigint := current_setting('flt.count')::bigint + 1;
BEGIN
    PERFORM set_config('flt.count', n::text, false);
    IF n = current_setting('flt.at')::bigint THEN
        IF current_setting('flt.action') = 'sleep' THEN
            PERFORM pg_sleep(60);
        ELSE
            RAISE EXCEPTION 'the source failed at row %', n;
        END IF;
    END IF;
    RETURN true;
END $$;
CREATE VIEW flt.trapped AS SELECT x, y FROM flt.base WHERE flt.tick();
SET flt.count = 0;
SET flt.at = 0;
SET flt.action = 'sleep';
-- the view reads every row once per scan
SELECT count(*) AS rows, current_setting('flt.count') AS rows_read FROM flt.trapped;

-- 1. Cancels at chosen points: the statistics scan, the shuffle, an epoch, the final loss scan.
SET statement_timeout = '500ms';
SET flt.count = 0; SET flt.at = 2000;
SELECT * FROM bismarck.train_logistic('f_stats', 'flt.trapped', 'x', 'y', seed => 1);
SELECT flt.leftovers();
SET flt.count = 0; SET flt.at = 6000;
SELECT * FROM bismarck.train_logistic('f_shuffle', 'flt.trapped', 'x', 'y', seed => 1);
SELECT flt.leftovers();
SET flt.count = 0; SET flt.at = 10000;
SELECT * FROM bismarck.train_logistic('f_epoch', 'flt.trapped', 'x', 'y', seed => 1,
                                      shuffle => 'never', step_size => 0.1, epochs => 3);
SELECT flt.leftovers();
SET flt.count = 0; SET flt.at = 18000;
SELECT * FROM bismarck.train_svm('f_final', 'flt.trapped', 'x', 'y', seed => 1,
                                 shuffle => 'never', step_size => 0.1, epochs => 3, tolerance => 0);
SELECT flt.leftovers();
-- the same run, not cancelled, reads 5 x 4000 rows and stores the model
RESET statement_timeout;
SET flt.count = 0; SET flt.at = 0;
SELECT model, epochs FROM bismarck.train_svm('f_final', 'flt.trapped', 'x', 'y', seed => 1,
                                             shuffle => 'never', step_size => 0.1, epochs => 3, tolerance => 0);
SELECT current_setting('flt.count') AS rows_read, flt.leftovers();
SELECT bismarck.drop_model('f_final');

-- 2. Errors at the same points (a failing source) leave nothing either.
SET flt.action = 'error';
SET flt.count = 0; SET flt.at = 6000;
SELECT * FROM bismarck.train_logistic('f_err', 'flt.trapped', 'x', 'y', seed => 1);
SET flt.count = 0; SET flt.at = 10000;
SELECT * FROM bismarck.train_logistic('f_err', 'flt.trapped', 'x', 'y', seed => 1,
                                      shuffle => 'never', step_size => 0.1);
SELECT flt.leftovers();

-- 3. A replace that fails keeps the old model and its log, whatever fails and wherever.
SET flt.count = 0; SET flt.at = 0;
SELECT model, epochs FROM bismarck.train_logistic('f_keep', 'flt.trapped', 'x', 'y', seed => 1, epochs => 3);
SELECT flt.fingerprint('f_keep') AS before \gset
SET flt.count = 0; SET flt.at = 10000;
SELECT * FROM bismarck.train_logistic('f_keep', 'flt.trapped', 'x', 'y', seed => 2, replace => true,
                                      shuffle => 'never', step_size => 0.1);
SELECT flt.fingerprint('f_keep') = :'before' AS intact_after_error;
SET flt.action = 'sleep';
SET statement_timeout = '500ms';
SET flt.count = 0; SET flt.at = 14000;
SELECT * FROM bismarck.train_logistic('f_keep', 'flt.trapped', 'x', 'y', seed => 2, replace => true,
                                      shuffle => 'never', step_size => 0.1);
RESET statement_timeout;
SELECT flt.fingerprint('f_keep') = :'before' AS intact_after_cancel;
SET flt.count = 0; SET flt.at = 0;
SELECT * FROM bismarck.train_logistic('f_keep', 'flt.base', 'x', 'y', seed => 2, replace => true,
                                      step_size => 1e300, standardize => false);
SELECT * FROM bismarck.train_logistic('f_keep', 'flt.base', 'x', 'nope', replace => true);
SELECT flt.fingerprint('f_keep') = :'before' AS intact_after_divergence_and_bad_column;
-- a replace inside a transaction that is rolled back
BEGIN;
SELECT model, epochs FROM bismarck.train_logistic('f_keep', 'flt.base', 'x', 'y', seed => 2, epochs => 2, replace => true);
SELECT flt.fingerprint('f_keep') = :'before' AS replaced_inside;
ROLLBACK;
SELECT flt.fingerprint('f_keep') = :'before' AS intact_after_rollback;

-- 4. Cancelled while writing the catalog: another session holds a lock that blocks writes to
-- the model store (not reads), so the run waits in its final write, and is cancelled there.
\setenv BISMARCK_FAULTS_DB :DBNAME
\! psql -X -q -d "$BISMARCK_FAULTS_DB" -c "BEGIN; LOCK TABLE bismarck.model_store IN SHARE MODE; SELECT pg_sleep(60); COMMIT;" >/dev/null 2>&1 &
CREATE FUNCTION flt.wait_for_lock(held boolean) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..3000 LOOP
        IF EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'bismarck.model_store'::regclass
                      AND mode = 'ShareLock' AND granted) = held THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
    RETURN false;
END $$;
SELECT flt.wait_for_lock(true) AS locked;
-- reads go on: predictions, the catalog views
SELECT bismarck.predict('f_keep', ARRAY[0.5, 0.5, 0.5]::float8[]) IS NOT NULL AS predicts;
-- a new model: the wait is in the final write (lock_timeout says it was waiting for a lock)
SET lock_timeout = '200ms';
SELECT * FROM bismarck.train_logistic('f_write', 'flt.base', 'x', 'y', seed => 1, epochs => 2);
SELECT flt.leftovers();
-- a replace, cancelled there: the old model stays
SELECT * FROM bismarck.train_logistic('f_keep', 'flt.base', 'x', 'y', seed => 2, epochs => 2, replace => true);
RESET lock_timeout;
SET statement_timeout = '500ms';
SELECT * FROM bismarck.train_svm('f_write', 'flt.base', 'x', 'y', seed => 1, epochs => 2);
RESET statement_timeout;
SELECT flt.fingerprint('f_keep') = :'before' AS intact_after_cancel_in_write;
SELECT flt.leftovers();
SELECT count(*) AS lock_holders_cancelled FROM (
    SELECT pg_cancel_backend(pid) FROM pg_locks
     WHERE relation = 'bismarck.model_store'::regclass AND mode = 'ShareLock' AND granted) c;
SELECT flt.wait_for_lock(false) AS unlocked;

-- 5. Timeouts at many points of runs on a bigger table that would not finish for hours.
CREATE TABLE flt.big AS
SELECT ARRAY[sin(i), cos(i), sin(2 * i), cos(5 * i), (i % 17)::float8 / 17, (i % 5)::float8] AS x,
       (sin(i) + cos(7 * i) > 0) AS y, i % 400 AS u, i % 311 AS m, (i % 5)::float8 AS r
  FROM generate_series(1, 60000) i;
SET statement_timeout = '1ms';
SELECT * FROM bismarck.train_logistic('f_t', 'flt.big', 'x', 'y', epochs => 100000, tolerance => 0);
RESET statement_timeout;
SELECT flt.leftovers();
SET statement_timeout = '20ms';
SELECT * FROM bismarck.train_logistic('f_t', 'flt.big', 'x', 'y', epochs => 100000, tolerance => 0);
RESET statement_timeout;
SELECT flt.leftovers();
SET statement_timeout = '60ms';
SELECT * FROM bismarck.train_logistic('f_t', 'flt.big', 'x', 'y', epochs => 100000, tolerance => 0);
RESET statement_timeout;
SELECT flt.leftovers();
SET statement_timeout = '150ms';
SELECT * FROM bismarck.train_logistic('f_t', 'flt.big', 'x', 'y', epochs => 100000, tolerance => 0);
RESET statement_timeout;
SELECT flt.leftovers();
SET statement_timeout = '300ms';
SELECT * FROM bismarck.train_svm('f_t', 'flt.big', 'x', 'y', epochs => 100000, tolerance => 0, shuffle => 'every_epoch');
RESET statement_timeout;
SELECT flt.leftovers();
SET statement_timeout = '400ms';
SELECT * FROM bismarck.train_logistic('f_t', 'flt.big', 'x', 'y', epochs => 100000, tolerance => 0,
                                      parallelism => 'shared_memory', workers => 2);
RESET statement_timeout;
SELECT flt.leftovers();
SET statement_timeout = '400ms';
SELECT * FROM bismarck.train_logistic('f_t', 'flt.big', 'x', 'y', epochs => 100000, tolerance => 0,
                                      parallelism => 'model_averaging', workers => 2);
RESET statement_timeout;
SELECT flt.leftovers();
SET statement_timeout = '400ms';
SELECT * FROM bismarck.train_lmf('f_t', 'flt.big', 'u', 'm', 'r', epochs => 100000, tolerance => 0,
                                 parallelism => 'shared_memory_locked', workers => 2);
RESET statement_timeout;
SELECT flt.leftovers();
SELECT 1 AS still_alive;

-- 6. Memory stays flat: 200 epochs in one run, 40 runs in a row, 300 errors in a row and
-- 200,000 predictions by name, each measured after a warm-up run of the same kind.
SELECT count(*) FROM bismarck.train_logistic('f_mem', 'flt.base', 'x', 'y', epochs => 5, seed => 1, tolerance => 0);
SELECT flt.anon_kb() AS kb0 \gset
SELECT epochs FROM bismarck.train_logistic('f_mem', 'flt.base', 'x', 'y', epochs => 200, seed => 1,
                                           tolerance => 0, replace => true);
SELECT flt.anon_kb() AS kb1 \gset
SELECT (:kb1 - :kb0) / 1024 < 16 AS flat_over_200_epochs;
DO $$
BEGIN
    FOR i IN 1..40 LOOP
        PERFORM * FROM bismarck.train_svm('f_mem', 'flt.base', 'x', 'y', epochs => 3, seed => i, replace => true);
    END LOOP;
END $$;
SELECT flt.anon_kb() AS kb2 \gset
SELECT (:kb2 - :kb1) / 1024 < 16 AS flat_over_40_runs;
CREATE FUNCTION flt.errors(n int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    failed int := 0;
BEGIN
    FOR i IN 1..n LOOP
        BEGIN
            CASE i % 5
                WHEN 0 THEN PERFORM * FROM bismarck.train_logistic('f_mem', 'flt.base', 'x', 'nope');
                WHEN 1 THEN PERFORM * FROM bismarck.train_logistic('f_div', 'flt.base', 'x', 'y', step_size => 1e300, standardize => false, epochs => 2);
                WHEN 2 THEN PERFORM bismarck.predict('f_mem', ARRAY[1.0, 2.0]::float8[]);
                WHEN 3 THEN PERFORM bismarck.logistic_epoch(x, y, bismarck.logistic_init(2)) FROM flt.base;
                ELSE PERFORM ('{1:1}/' || i)::bismarck.sparsevec, 'beef'::bismarck.model_state;
            END CASE;
        EXCEPTION WHEN OTHERS THEN
            failed := failed + 1;
        END;
    END LOOP;
    RETURN failed;
END $$;
SELECT flt.errors(30) AS warm_up_errors;
SELECT flt.anon_kb() AS kb3 \gset
SELECT flt.errors(300) AS errors;
SELECT flt.anon_kb() AS kb4 \gset
SELECT (:kb4 - :kb3) / 1024 < 16 AS flat_over_300_errors;
SELECT count(bismarck.decision_function('f_mem', x)) FROM flt.base, generate_series(1, 50);
SELECT flt.anon_kb() AS kb5 \gset
SELECT (:kb5 - :kb4) / 1024 < 16 AS flat_over_200000_predictions;
-- Scoring by value with a state computed row by row (the first weight starts at hex digit 521,
-- after the 260 bytes of the state's header that follow its length word): the memory a state lives in is reused for
-- the next row's state, so the same address does not mean the same model (the answers must
-- alternate), and one model after another keeps memory flat (peak memory, here).
CREATE FUNCTION flt.hwm_kb() RETURNS bigint LANGUAGE sql AS $$
    SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'),
                         'VmHWM:\s+(\d+)'))[1]::bigint $$;
SELECT string_agg(bismarck.decision_function(
           overlay(bismarck.logistic_init(3)::text placing w FROM 521 FOR 16)::bismarck.model_state,
           ARRAY[1, 0, 0]::float8[])::text, ' ') AS alternating
  FROM (SELECT CASE WHEN g % 2 = 0 THEN '000000000000f03f' ELSE '000000000000f0bf' END AS w
          FROM generate_series(0, 5) g) s;
SELECT count(bismarck.decision_function(bismarck.logistic_init(1000, 0.1 + (g % 2) * 0.1),
                                        array_fill(1::float8, ARRAY[1000])))
  FROM generate_series(1, 100) g;
SELECT flt.hwm_kb() AS hwm0 \gset
SELECT count(bismarck.decision_function(bismarck.logistic_init(1000, 0.1 + (g % 2) * 0.1),
                                        array_fill(1::float8, ARRAY[1000])))
  FROM generate_series(1, 30000) g;
SELECT (flt.hwm_kb() - :hwm0) / 1024 < 32 AS flat_over_30000_models;
SELECT count(bismarck.decision_function(CASE WHEN g % 2 = 0 THEN 'f_mem' ELSE 'f_keep' END,
                                        ARRAY[1, 0, 0]::float8[]))
  FROM generate_series(1, 3000) g;
SELECT (flt.hwm_kb() - :hwm0) / 1024 < 32 AS flat_over_3000_models_by_name;
SELECT bismarck.drop_model('f_mem'), bismarck.drop_model('f_keep');
SELECT flt.leftovers();
DROP SCHEMA flt CASCADE;
SELECT 1 AS still_alive;
