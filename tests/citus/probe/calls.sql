\set ON_ERROR_STOP 0
\pset pager off
CREATE EXTENSION bismarck;
CREATE EXTENSION probe;
SELECT run_command_on_workers($$SELECT count(*) FROM pg_extension WHERE extname = 'probe'$$);
SET citus.shard_count = 2;
CREATE TABLE s (id bigint, x float8[], y float8);
SELECT create_distributed_table('s', 'id');
INSERT INTO s SELECT i, ARRAY[i, 1.0], i % 2 FROM generate_series(1, 100) i;
SELECT shardid, nodeport FROM pg_dist_shard_placement p JOIN pg_dist_shard USING (shardid) WHERE logicalrelid = 's'::regclass;
SELECT oid, 'probe_agg'::regproc, 'probe_sfunc'::regproc::oid, 'probe_combine'::regproc::oid FROM pg_proc WHERE proname = 'probe_agg';
SELECT run_command_on_workers($$SELECT string_agg(oid::text || '=' || proname, ',') FROM pg_proc WHERE proname IN ('probe_agg','probe_sfunc','probe_combine','worker_partial_agg','worker_partial_agg_sfunc','coord_combine_agg')$$);
SELECT string_agg(oid::text || '=' || proname, ',') FROM pg_proc WHERE proname IN ('worker_partial_agg','coord_combine_agg','coord_combine_agg_sfunc');
\echo === probe_agg on a distributed table (2 shards)
SELECT length(probe_agg(x, y, '\x0102'::bytea)::text) FROM s;
\echo === the same, local table (plain PostgreSQL) for comparison
CREATE TABLE l AS SELECT * FROM s;
SELECT length(probe_agg(x, y, '\x0102'::bytea)::text) FROM l;
