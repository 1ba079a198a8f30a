\set ON_ERROR_STOP 0
\pset pager off
\timing on
CREATE EXTENSION bismarck;
CREATE EXTENSION probe;
CREATE TABLE t (id bigint, x float8[], y float8);
SELECT create_distributed_table('t', 'id');
SELECT setseed(0.42);
INSERT INTO t SELECT i, x, CASE WHEN (x[1] - 2*x[2] + x[3] - 0.5*x[4] + 0.3) > random()*2-1 THEN 1 ELSE 0 END
  FROM (SELECT i, ARRAY(SELECT random()*2-1 FROM generate_series(1,10) WHERE i > 0) x FROM generate_series(1,200000) i) s;
CREATE TABLE tl AS SELECT * FROM t;  -- local copy
\echo === sizes of a state as text
SELECT n, octet_length(bismarck.logistic_init(n)::text) AS text_bytes, pg_column_size(bismarck.logistic_init(n)) AS binary_bytes
  FROM unnest(ARRAY[10, 54, 1000]) n;
SELECT octet_length(bismarck.lmf_init(1000, 1000, 10)::text) AS lmf_1000x1000_r10_text_bytes;
\echo === 1. literal state written by hand: plans and pushes down?
SET citus.log_remote_commands = on;
SELECT format('SELECT bismarck.epoch_rows(bismarck.logistic_epoch(x, y, %L::bismarck.model_state)) FROM t', bismarck.logistic_init(10, 0.1)::text) AS q \gset
SELECT left(:'q', 120);
:q;
RESET citus.log_remote_commands;
\echo === 2. SQL function with $1 (generic plan)
CREATE FUNCTION epoch_sql(m bismarck.model_state) RETURNS bismarck.model_state LANGUAGE sql AS
  $$ SELECT bismarck.logistic_epoch(x, y, m) FROM t $$;
SELECT bismarck.epoch_rows(epoch_sql(bismarck.logistic_init(10, 0.1)));
\echo === 3. plpgsql static SQL with a variable, forced generic plan
CREATE FUNCTION epoch_plpgsql(m bismarck.model_state) RETURNS bismarck.model_state LANGUAGE plpgsql AS
  $$ DECLARE r bismarck.model_state; BEGIN SELECT bismarck.logistic_epoch(x, y, m) INTO r FROM t; RETURN r; END $$;
SET plan_cache_mode = force_generic_plan;
SELECT bismarck.epoch_rows(epoch_plpgsql(bismarck.logistic_init(10, 0.1)));
SET plan_cache_mode = force_custom_plan;
SELECT bismarck.epoch_rows(epoch_plpgsql(bismarck.logistic_init(10, 0.1)));
RESET plan_cache_mode;
\echo === 4. plpgsql EXECUTE ... USING (one-shot plan with parameters)
CREATE FUNCTION epoch_exec(m bismarck.model_state) RETURNS bismarck.model_state LANGUAGE plpgsql AS
  $$ DECLARE r bismarck.model_state; BEGIN EXECUTE 'SELECT bismarck.logistic_epoch(x, y, $1) FROM t' INTO r USING m; RETURN r; END $$;
SELECT bismarck.epoch_rows(epoch_exec(bismarck.logistic_init(10, 0.1)));
\echo === 4b. plain probe aggregate through the same generic-plan SQL function (is it the parameter, not bismarck?)
CREATE FUNCTION probe_sql(m bytea) RETURNS bytea LANGUAGE sql AS $$ SELECT probe_agg(x, y, m) FROM t $$;
SET client_min_messages = warning;
SELECT length(probe_sql('\x01'::bytea)::text);
RESET client_min_messages;
\echo === 5. client-side PREPARE with $1
PREPARE p(bismarck.model_state) AS SELECT bismarck.logistic_epoch(x, y, $1) FROM t;
EXECUTE p(bismarck.logistic_init(10, 0.1));
\echo === 6. the driver on a distributed table
SELECT * FROM bismarck.train_logistic('m_dist', 't', features => 'x', label => 'y', epochs => 2);
\echo === 7. a reference table of model states, read on the workers
SELECT * FROM bismarck.train_logistic('m_local', 'tl', features => 'x', label => 'y', epochs => 3);
CREATE TABLE model_ref (name text PRIMARY KEY, state bismarck.model_state);
INSERT INTO model_ref SELECT 'm', bismarck.model('m_local');
SELECT create_reference_table('model_ref');
SELECT create_reference_table('bismarck.model_store');
SET citus.log_remote_commands = on;
SELECT count(*) FILTER (WHERE bismarck.predict((SELECT state FROM model_ref WHERE name = 'm'), x)::float8 = y)::float8 / count(*) AS accuracy FROM t;
CREATE FUNCTION ref_state(n text) RETURNS bismarck.model_state LANGUAGE sql STABLE AS $$ SELECT state FROM model_ref WHERE name = n $$;
SELECT count(*) FILTER (WHERE bismarck.predict(ref_state('m'), x)::float8 = y)::float8 / count(*) AS accuracy_via_function FROM t;
SELECT count(*) FILTER (WHERE bismarck.predict('m_local', x)::float8 = y)::float8 / count(*) AS accuracy_by_name FROM t;
RESET citus.log_remote_commands;
SELECT run_command_on_workers($$SELECT octet_length(state::text) FROM model_ref WHERE name = 'm'$$);
\echo === 8. cost of the state copied into ROW(...) on every row: probe_agg over t with constants of growing size
SET client_min_messages = warning;
SELECT n, (SELECT length(probe_agg(x, y, decode(repeat('ab', n), 'hex'))::text) FROM t) FROM unnest(ARRAY[1]) n;
SELECT length(probe_agg(x, y, decode(repeat('ab', 1), 'hex'))::text) FROM t;
SELECT length(probe_agg(x, y, decode(repeat('ab', 1000), 'hex'))::text) FROM t;
SELECT length(probe_agg(x, y, decode(repeat('ab', 100000), 'hex'))::text) FROM t;
SELECT length(probe_agg(x, y, decode(repeat('ab', 1), 'hex'))::text) FROM tl;
SELECT length(probe_agg(x, y, decode(repeat('ab', 100000), 'hex'))::text) FROM tl;
SELECT count(*) FROM t;
SELECT sum(x[10]) FROM t;
