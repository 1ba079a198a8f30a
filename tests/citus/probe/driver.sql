\set ON_ERROR_STOP 0
\pset pager off
\timing on
CREATE EXTENSION bismarck;
CREATE EXTENSION probe;
CREATE TABLE t (id bigint, x float8[], y float8);
SELECT create_distributed_table('t', 'id');
INSERT INTO t SELECT i, ARRAY(SELECT random()*2-1 FROM generate_series(1,10) WHERE i > 0), i % 2 FROM generate_series(1,200000) i;
SET citus.log_remote_commands = on;
\echo === driver, default options
SELECT model, rows, epochs FROM bismarck.train_logistic('m1', 't', features => 'x', label => 'y', epochs => 1);
\echo === driver, shuffle never
SELECT model, rows, epochs FROM bismarck.train_logistic('m2', 't', features => 'x', label => 'y', epochs => 1, shuffle => 'never');
RESET citus.log_remote_commands;
\echo === nested read of a reference table inside a shard query, with the GUC as a function attribute
CREATE TABLE model_ref (name text PRIMARY KEY, state bismarck.model_state);
INSERT INTO model_ref VALUES ('m', bismarck.logistic_init(10));
SELECT create_reference_table('model_ref');
CREATE FUNCTION ref_state(n text) RETURNS bismarck.model_state LANGUAGE sql STABLE
  SET citus.allow_nested_distributed_execution = on AS $$ SELECT state FROM model_ref WHERE name = n $$;
SELECT count(bismarck.predict(ref_state('m'), x)) FROM t;
\echo === per-row ROW() copy of an incompressible 400 kB constant
SELECT string_agg(md5(i::text), '') AS h FROM generate_series(1, 25000) i \gset
SELECT octet_length(decode(:'h', 'hex'));
SET client_min_messages = warning;
SELECT length(probe_agg(x, y, '\x01'::bytea)::text) FROM t;
SELECT length(probe_agg(x, y, decode(:'h', 'hex'))::text) FROM t;
SELECT length(probe_agg(x, y, '\x01'::bytea)::text) FROM t;
SELECT length(probe_agg(x, y, decode(:'h', 'hex'))::text) FROM t;
