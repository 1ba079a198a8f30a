\set ON_ERROR_STOP 0
\pset pager off
\timing on
CREATE EXTENSION bismarck;
CREATE TABLE t (id bigint, x float8[], y float8);
SELECT create_distributed_table('t', 'id');
SELECT setseed(0.42);
INSERT INTO t SELECT i, x, CASE WHEN (x[1] - 2*x[2] + x[3] - 0.5*x[4] + 0.3) > random()*2-1 THEN 1 ELSE 0 END
  FROM (SELECT i, ARRAY(SELECT random()*2-1 FROM generate_series(1,10) WHERE i > 0) x FROM generate_series(1,200000) i) s;
CREATE TABLE tl AS SELECT * FROM t ORDER BY id;
\echo === one epoch, distributed (32 shards, model averaging) and local (serial)
SELECT bismarck.epoch_rows(s), bismarck.epoch_loss(s), bismarck.coefficients(s) FROM (SELECT bismarck.logistic_epoch(x, y, bismarck.logistic_init(10, 0.1)) s FROM t) q;
SELECT bismarck.epoch_rows(s), bismarck.epoch_loss(s), bismarck.coefficients(s) FROM (SELECT bismarck.logistic_epoch(x, y, bismarck.logistic_init(10, 0.1)) s FROM tl) q;
\echo === ten epochs by hand, each with the previous model as a literal
SELECT bismarck.logistic_init(10, 0.1)::text AS m \gset
\o /dev/null
SELECT bismarck.logistic_epoch(x, y, :'m'::bismarck.model_state)::text AS m FROM t \gset
SELECT bismarck.logistic_epoch(x, y, :'m'::bismarck.model_state)::text AS m FROM t \gset
SELECT bismarck.logistic_epoch(x, y, :'m'::bismarck.model_state)::text AS m FROM t \gset
SELECT bismarck.logistic_epoch(x, y, :'m'::bismarck.model_state)::text AS m FROM t \gset
SELECT bismarck.logistic_epoch(x, y, :'m'::bismarck.model_state)::text AS m FROM t \gset
SELECT bismarck.logistic_epoch(x, y, :'m'::bismarck.model_state)::text AS m FROM t \gset
SELECT bismarck.logistic_epoch(x, y, :'m'::bismarck.model_state)::text AS m FROM t \gset
SELECT bismarck.logistic_epoch(x, y, :'m'::bismarck.model_state)::text AS m FROM t \gset
SELECT bismarck.logistic_epoch(x, y, :'m'::bismarck.model_state)::text AS m FROM t \gset
\o
SELECT bismarck.epoch_loss(s) AS loss_at_epoch_9_model, bismarck.coefficients(s) FROM (SELECT bismarck.logistic_epoch(x, y, :'m'::bismarck.model_state) s FROM t) q;
SELECT avg((bismarck.predict(:'m'::bismarck.model_state, x) = y)::int) AS accuracy FROM t;
SELECT * FROM bismarck.train_logistic('local10', 'tl', features => 'x', label => 'y', epochs => 10, step_size => 0.1, shuffle => 'never');
\echo === still refused
CREATE AGGREGATE my_epoch(float8[], float8, bismarck.model_state) (SFUNC = bismarck.logistic_step, STYPE = bismarck.model_state, COMBINEFUNC = bismarck.epoch_combine,
  INITCOND = :'m');
SELECT my_epoch(x, y, bismarck.logistic_init(10)) FROM t;
SELECT my_epoch(x, y, bismarck.logistic_init(10)) FROM tl;
SELECT bismarck.logistic_epoch(x, y, bismarck.logistic_init(10)) OVER () FROM tl LIMIT 1;
SELECT worker_partial_agg('my_epoch(float8[], float8, bismarck.model_state)'::regprocedure, ROW(x, y, bismarck.logistic_init(10))) FROM tl;
SELECT left(worker_partial_agg('bismarck.logistic_epoch(float8[], float8, bismarck.model_state)'::regprocedure, ROW(x, y, bismarck.logistic_init(10)))::text, 40) FROM tl;
SELECT coord_combine_agg('bismarck.logistic_epoch(float8[], float8, bismarck.model_state)'::regprocedure, 'abcd'::cstring, NULL::bismarck.model_state) ;
SELECT coord_combine_agg('my_epoch(float8[], float8, bismarck.model_state)'::regprocedure, :'m'::cstring, NULL::bismarck.model_state) ;
