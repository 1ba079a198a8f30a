-- shuffle(): a physically shuffled copy, the same for the same seed; the training options
-- shuffle => 'once' | 'never' | 'every_epoch'.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
CREATE TABLE "odd ""name""; DROP TABLE s_keep; --" AS SELECT g AS id, ARRAY[g::float8] AS x, g % 2 AS y FROM generate_series(1, 1000) g;
CREATE TABLE s_keep AS SELECT 1 AS one;
SELECT bismarck.shuffle('"odd ""name""; DROP TABLE s_keep; --"', 's_a', seed => 7);
SELECT bismarck.shuffle('"odd ""name""; DROP TABLE s_keep; --"', 's_b', seed => 7);
SELECT bismarck.shuffle('"odd ""name""; DROP TABLE s_keep; --"', 'public.s_c', seed => 8);
SELECT count(*) AS kept FROM s_keep;
-- same seed, same physical order; another seed, another order; every row once
SELECT (SELECT array_agg(id) FROM s_a) = (SELECT array_agg(id) FROM s_b) AS same_seed_same_order,
       (SELECT array_agg(id) FROM s_a) <> (SELECT array_agg(id) FROM s_c) AS other_seed_other_order,
       (SELECT array_agg(id ORDER BY id) FROM s_a) = (SELECT array_agg(g) FROM generate_series(1, 1000) g) AS a_permutation,
       (SELECT array_agg(id) FROM s_a) <> (SELECT array_agg(g) FROM generate_series(1, 1000) g) AS not_the_original;
SELECT bismarck.shuffle('s_a', 's_a', seed => 1);
SELECT bismarck.shuffle('no_such', 's_d');
-- the three orders train; 'every_epoch' re-shuffles with seed + epoch, 'never' reads the source
SELECT p.mode, t.rows, t.epochs
  FROM unnest(ARRAY['never', 'once', 'every_epoch']) AS p(mode),
       LATERAL bismarck.train_logistic('s_' || p.mode, '"odd ""name""; DROP TABLE s_keep; --"', 'x', 'y',
                                       shuffle => p.mode, epochs => 3, tolerance => 0, seed => 1) t
 ORDER BY 1;
SELECT name, options->>'shuffle' AS shuffle, source FROM bismarck.models WHERE name LIKE 's\_%' ORDER BY 1;
SELECT count(*) AS scratch_tables FROM pg_class WHERE relnamespace = 'bismarck_work'::regnamespace;
