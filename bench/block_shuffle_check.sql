-- Functional checks of the block_shuffle TABLESAMPLE method (every row once, seeded order,
-- runs, visibility, rescans, errors, parallel plans). Once bench/block_shuffle.sql is part of
-- the install script this can become a pg_regress test; for now:
--   PGBIN=$P/usr/lib/postgresql/15/bin scripts/cluster.sh run -- psql -X -q -f bench/block_shuffle_check.sql
\set ON_ERROR_STOP 1
CREATE EXTENSION IF NOT EXISTS bismarck;
\i bench/block_shuffle.sql
CREATE TABLE t AS SELECT i, repeat('x', 200) AS pad FROM generate_series(1, 20000) i;
SELECT pg_relation_size('t') / 8192 AS pages;
-- every row exactly once
SELECT count(*), count(DISTINCT i), sum(i) = (SELECT sum(i) FROM t) AS same_sum FROM t TABLESAMPLE bismarck.block_shuffle(42, 1);
-- order: pages in random order, rows in a page in order
CREATE TEMP TABLE o1 AS SELECT row_number() OVER () AS pos, i, ctid AS tid FROM t TABLESAMPLE bismarck.block_shuffle(42, 1);
CREATE TEMP TABLE o2 AS SELECT row_number() OVER () AS pos, i FROM t TABLESAMPLE bismarck.block_shuffle(42, 1);
CREATE TEMP TABLE o3 AS SELECT row_number() OVER () AS pos, i FROM t TABLESAMPLE bismarck.block_shuffle(43, 1);
CREATE TEMP TABLE o4 AS SELECT row_number() OVER () AS pos, i FROM t TABLESAMPLE bismarck.block_shuffle(42, 1) REPEATABLE (7);
SELECT (SELECT count(*) FROM o1 JOIN o2 USING (pos, i)) AS same_seed_same_pos,
       (SELECT count(*) FROM o1 JOIN o3 USING (pos, i)) AS other_seed_same_pos,
       (SELECT count(*) FROM o1 JOIN o4 USING (pos, i)) AS repeatable_same_pos;
SELECT (tid::text::point)[0]::int AS page, min(pos), max(pos) FROM o1 GROUP BY 1 ORDER BY min(pos) LIMIT 5;
-- runs of 16 pages: consecutive pages within a run
SELECT string_agg(p::text, ',' ORDER BY first) FROM (SELECT (ctid::text::point)[0]::int AS p, min(pos) AS first FROM (SELECT ctid, row_number() OVER () AS pos FROM t TABLESAMPLE bismarck.block_shuffle(42, 16)) s GROUP BY 1 ORDER BY 2 LIMIT 40) s3;
-- default run length (0) is 16
SELECT (SELECT array_agg(i) FROM (SELECT i FROM t TABLESAMPLE bismarck.block_shuffle(5, 0) LIMIT 2000) a) = (SELECT array_agg(i) FROM (SELECT i FROM t TABLESAMPLE bismarck.block_shuffle(5, 1) LIMIT 2000) b) AS default_is_1;
-- visibility: deleted rows are not returned; a concurrent uncommitted insert is not seen
DELETE FROM t WHERE i % 10 = 0;
SELECT count(*), count(DISTINCT i) FROM t TABLESAMPLE bismarck.block_shuffle(1, 3);
VACUUM t;
SELECT count(*), count(DISTINCT i) FROM t TABLESAMPLE bismarck.block_shuffle(1, 3);
INSERT INTO t SELECT i, 'new' FROM generate_series(20001, 20100) i;
SELECT count(*), count(DISTINCT i) FROM t TABLESAMPLE bismarck.block_shuffle(1, 3);
-- errors
\set ON_ERROR_STOP 0
SELECT count(*) FROM t TABLESAMPLE bismarck.block_shuffle(1, -1);
SELECT count(*) FROM t TABLESAMPLE bismarck.block_shuffle(NULL, 1);
\set ON_ERROR_STOP 1
-- empty table, one-page table, huge run
CREATE TABLE e (i int);
SELECT count(*) FROM e TABLESAMPLE bismarck.block_shuffle(1, 0);
INSERT INTO e VALUES (1), (2);
SELECT array_agg(i) FROM e TABLESAMPLE bismarck.block_shuffle(1, 1000000);
-- rescan: the inner side of a nested loop is rescanned; every rescan gives the same order
SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_material = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM generate_series(1,3) g, LATERAL (SELECT array_agg(i) AS a FROM (SELECT i FROM t TABLESAMPLE bismarck.block_shuffle(9, 2) LIMIT 50) s) x;
SELECT count(DISTINCT a) FROM generate_series(1,3) g, LATERAL (SELECT array_agg(i) AS a FROM (SELECT i FROM t TABLESAMPLE bismarck.block_shuffle(9, 2) LIMIT 50 + 0*g) s) x;
SELECT count(DISTINCT a) FROM generate_series(1,3) g, LATERAL (SELECT array_agg(i) AS a FROM (SELECT i FROM t TABLESAMPLE bismarck.block_shuffle(g, 2) LIMIT 50) s) x;
RESET enable_hashjoin; RESET enable_mergejoin; RESET enable_material;
-- parallel plans
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT sum(i) FROM t;
EXPLAIN (COSTS OFF) SELECT sum(i) FROM t TABLESAMPLE bismarck.block_shuffle(1, 0);
SET force_parallel_mode = on;
EXPLAIN (COSTS OFF, VERBOSE) SELECT sum(i) FROM t TABLESAMPLE bismarck.block_shuffle(1, 0);
SELECT (SELECT array_agg(i) FROM (SELECT i FROM t TABLESAMPLE bismarck.block_shuffle(5, 1)) a) = (SELECT array_agg(i) FROM (SELECT i FROM t TABLESAMPLE bismarck.block_shuffle(5, 1)) b) AS same_in_worker;
