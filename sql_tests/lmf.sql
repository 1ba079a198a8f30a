-- Low-rank matrix factorization: a rank-2 matrix with noise is recovered, cells are predicted
-- in queries, unseen rows and columns fall back to what is known, recommend ranks columns.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT setseed(0.5);
CREATE TABLE lmf_u AS SELECT u, random() * 2 - 1 AS a, random() * 2 - 1 AS b FROM generate_series(0, 79) u;
CREATE TABLE lmf_m AS SELECT m, random() * 2 - 1 AS a, random() * 2 - 1 AS b FROM generate_series(0, 59) m;
CREATE TABLE lmf_cells AS
SELECT u.u AS user_id, m.m AS item_id, 3 + 1.5 * (u.a * m.a + u.b * m.b) + 0.1 * (random() - 0.5) AS rating,
       random() < 0.7 AS train
  FROM lmf_u u, lmf_m m WHERE random() < 0.5;
CREATE TABLE lmf_train AS SELECT user_id, item_id, rating FROM lmf_cells WHERE train;
CREATE TABLE lmf_test AS SELECT user_id, item_id, rating FROM lmf_cells WHERE NOT train;
SELECT model, task, dimension, epochs
  FROM bismarck.train_lmf('mf', 'lmf_train', row_column => 'user_id', column_column => 'item_id',
                          value_column => 'rating', rank => 2, epochs => 60, l2 => 0.001,
                          step_size => 0.05, decay => 0.97, seed => 5);
-- the held-out RMSE is far below the spread of the ratings
SELECT rmse < 0.25 AS recovered, rmse < (SELECT stddev(rating) FROM lmf_test) / 3 AS beats_mean
  FROM bismarck.evaluate('mf', 'lmf_test');
SELECT bool_and(abs(bismarck.predict('mf', user_id, item_id) - rating) < 1) AS close
  FROM lmf_test;
-- unseen ids: predicted from the global mean and the known bias, never an error
SELECT round(bismarck.predict('mf', 100000, 100000)::numeric, 6) =
       round((SELECT avg(rating) FROM lmf_train)::numeric, 6) AS unseen_is_mean,
       bismarck.predict('mf', -1, 0) IS NOT NULL AS negative_id_ok;
-- recommend: k columns, best first, none the row has already rated
SELECT count(*) AS k, bool_and(col_id NOT IN (SELECT item_id FROM lmf_train WHERE user_id = 3)) AS unseen_only
  FROM bismarck.recommend('mf', 3, k => 5);
SELECT count(*) AS with_seen FROM bismarck.recommend('mf', 3, k => 1000, exclude_seen => false);
SELECT (array_agg(score ORDER BY score DESC) = array_agg(score)) AS sorted
  FROM bismarck.recommend('mf', 3, k => 10);
SELECT * FROM bismarck.recommend('mf', 999, k => 5);
-- the default options (auto step size) also learn the structure
SELECT step_size > 0 AS calibrated FROM bismarck.train_lmf('mf_auto', 'lmf_train', 'user_id', 'item_id', 'rating', rank => 2, seed => 5);
SELECT rmse < (SELECT stddev(rating) FROM lmf_test) AS learns FROM bismarck.evaluate('mf_auto', 'lmf_test');
