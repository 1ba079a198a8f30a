-- Features from ordinary tables (issue 11): one array column, a list of columns, '*' minus
-- exclude; numbers, booleans, one-hot categories, arrays mixed with scalars; NULLs skipped and
-- counted or imputed (and the imputation replayed at prediction); prediction from a row of any
-- table or query, columns matched by name; weights with names; a query as the source.
SET client_min_messages = warning;
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE TYPE f_color AS ENUM ('red', 'green', 'blue');
CREATE TABLE f_cust (id int, split text, age int, income numeric, state varchar(2),
                     "Home Town" text, vip boolean, color f_color, code char(3), x float8[],
                     churn boolean);
INSERT INTO f_cust
SELECT g, CASE WHEN g % 5 = 0 THEN 'test' ELSE 'train' END,
       20 + g % 50, 1000 + (g * 37) % 5000, (ARRAY['CA', 'NY', 'TX', 'WA'])[1 + g % 4],
       'town ' || g % 3, g % 3 = 0, (ARRAY['red', 'green', 'blue'])[1 + g % 3]::f_color,
       (ARRAY['a', 'bb', 'ccc'])[1 + g % 3], ARRAY[g % 7, (g * 13) % 11]::float8[],
       (20 + g % 50) + ((g * 37) % 5000) / 100.0 + CASE g % 4 WHEN 0 THEN 20 ELSE 0 END
           + (g % 7) > 63
  FROM generate_series(1, 2000) g;
-- NULLs: in a number, a category, an array element, a whole array
UPDATE f_cust SET age = NULL WHERE id % 97 = 0;
UPDATE f_cust SET state = NULL WHERE id % 89 = 0;
UPDATE f_cust SET x[2] = NULL WHERE id % 83 = 0;
UPDATE f_cust SET x = NULL WHERE id % 79 = 0;
CREATE TABLE f_train AS SELECT * FROM f_cust WHERE split = 'train';
CREATE TABLE f_test AS SELECT * FROM f_cust WHERE split = 'test';
SELECT count(*) FILTER (WHERE age IS NULL OR state IS NULL OR x IS NULL OR array_position(x, NULL) IS NOT NULL) AS rows_with_nulls
  FROM f_train;

-- a list of columns (a quoted name keeps its case), arrays and scalars mixed; NULLs anywhere
-- skipped and counted (NULL array elements too)
SELECT model, task, rows, skipped, dimension, classes
  FROM bismarck.train_logistic('f_list', 'f_train',
         features => 'age, income, state, "Home Town", vip, color, code, x', label => 'churn', seed => 1);
SELECT features, columns, options->>'features' AS form FROM bismarck.models WHERE name = 'f_list';
SELECT round(accuracy::numeric, 2) >= 0.9 AS accurate, rows FROM bismarck.evaluate('f_list', 'f_test');
-- '*' minus exclude, NULLs imputed: no row skipped; 'missing' is a category of its own
SELECT model, rows, skipped, dimension
  FROM bismarck.train_logistic('f_star', 'f_train', features => '*', exclude => 'id, split',
                               label => 'churn', on_null => 'impute', seed => 1);
SELECT features FROM bismarck.models WHERE name = 'f_star';
-- weights: one row per weight in raw units, the category of one-hot features, then the intercept
SELECT feature, category, class, weight <> 0 AS nonzero FROM bismarck.weights('f_star');
-- they are the coefficients of bismarck.models, and predict's decision function
SELECT (SELECT array_agg(weight ORDER BY ord) FROM bismarck.weights('f_star') WITH ORDINALITY w(f, c, k, weight, ord)
         WHERE f <> '(intercept)') = coefficients AS same_as_coefficients,
       (SELECT weight FROM bismarck.weights('f_star') WHERE feature = '(intercept)') = intercept AS same_intercept
  FROM bismarck.models WHERE name = 'f_star';
SELECT bool_and(abs(bismarck.decision_function('f_star', c) -
                    ((SELECT sum(w.weight * CASE
                                 WHEN w.feature = '(intercept)' THEN 1
                                 WHEN w.feature = 'age' THEN c.age
                                 WHEN w.feature = 'income' THEN c.income
                                 WHEN w.feature = 'vip' THEN c.vip::int
                                 WHEN w.feature = 'x[1]' THEN c.x[1]
                                 WHEN w.feature = 'x[2]' THEN c.x[2]
                                 WHEN w.category IS NOT NULL THEN
                                     (CASE w.feature WHEN 'state' THEN c.state::text WHEN 'Home Town' THEN c."Home Town"
                                                     WHEN 'color' THEN c.color::text WHEN 'code' THEN c.code::text END
                                      = w.category)::int
                               END)
                        FROM bismarck.weights('f_star') w))) < 1e-9) AS weights_reproduce_scores
  FROM f_test c WHERE age IS NOT NULL AND state IS NOT NULL AND x IS NOT NULL AND x[2] IS NOT NULL;

-- imputation replayed at prediction bit for bit: a row with NULLs scores exactly as the same
-- row with the training means (and the 'missing' category) filled in by hand
WITH means AS (SELECT avg(age::float8) AS age, avg(x[1]::float8) AS x1, avg(x[2]::float8) AS x2 FROM f_train)
SELECT bismarck.decision_function('f_star', n) = bismarck.decision_function('f_star', f) AS bit_for_bit,
       bismarck.predict('f_star', n) = bismarck.predict('f_star', f) AS same_class
  FROM (SELECT NULL::int AS age, 3000 AS income, NULL::text AS state, 'town 1' AS "Home Town", true AS vip,
               'red'::f_color AS color, 'a' AS code, NULL::float8[] AS x) n,
       (SELECT m.age, 3000 AS income, 'missing' AS state, 'town 1' AS "Home Town", true AS vip,
               'red'::f_color AS color, 'a' AS code, ARRAY[m.x1, m.x2] AS x FROM means m) f;
-- ... and the same for a NULL array element
WITH means AS (SELECT avg(x[2]::float8) AS x2 FROM f_train)
SELECT bismarck.decision_function('f_star', n) = bismarck.decision_function('f_star', f) AS element_bit_for_bit
  FROM (SELECT 30 AS age, 3000 AS income, 'CA' AS state, 'town 1' AS "Home Town", true AS vip,
               'red'::f_color AS color, 'a' AS code, ARRAY[2, NULL]::float8[] AS x) n,
       (SELECT 30 AS age, 3000 AS income, 'CA' AS state, 'town 1' AS "Home Town", true AS vip,
               'red'::f_color AS color, 'a' AS code, ARRAY[2, m.x2] AS x FROM means m) f;
-- under on_null => 'skip' a row with a NULL predicts NULL (the query goes on)
SELECT count(*) AS rows, count(bismarck.predict('f_list', c)) AS predicted,
       count(*) FILTER (WHERE age IS NULL OR state IS NULL OR x IS NULL OR array_position(x, NULL) IS NOT NULL) AS with_nulls
  FROM f_test c;
-- an unseen category is all zeros: two unseen states score the same, as if the state's
-- weights were 0
SELECT bismarck.decision_function('f_star', a) = bismarck.decision_function('f_star', b) AS unseen_alike,
       bismarck.decision_function('f_star', a) <> bismarck.decision_function('f_star', c) AS seen_differs
  FROM (SELECT 30 AS age, 3000 AS income, 'ZZ' AS state, 'town 1' AS "Home Town", true AS vip, 'red'::f_color AS color, 'a' AS code, ARRAY[1, 2]::float8[] AS x) a,
       (SELECT 30 AS age, 3000 AS income, 'QQ' AS state, 'town 1' AS "Home Town", true AS vip, 'red'::f_color AS color, 'a' AS code, ARRAY[1, 2]::float8[] AS x) b,
       (SELECT 30 AS age, 3000 AS income, 'CA' AS state, 'town 1' AS "Home Town", true AS vip, 'red'::f_color AS color, 'a' AS code, ARRAY[1, 2]::float8[] AS x) c;

-- prediction from rows: of a table, in a JOIN, from a subquery with other columns; by name and
-- by value agree
CREATE TABLE f_owner (id int, owner text);
INSERT INTO f_owner SELECT id, 'o' || id % 3 FROM f_test;
SELECT o.owner, count(*), sum((bismarck.predict('f_star', c) = c.churn::text)::int) AS correct
  FROM f_test c JOIN f_owner o USING (id) GROUP BY 1 ORDER BY 1;
SELECT count(*) FILTER (WHERE bismarck.predict('f_star', s) IS DISTINCT FROM bismarck.predict(bismarck.model('f_star'), s)) AS by_value_differs,
       count(*) FILTER (WHERE bismarck.predict_proba('f_star', s) IS DISTINCT FROM bismarck.predict_proba((SELECT bismarck.model('f_star')), s)) AS proba_differs
  FROM (SELECT c.*, o.owner FROM f_test c JOIN f_owner o USING (id)) s;
-- several models named per row: each one loaded once per query
SELECT m.name, count(bismarck.predict(m.name, c)) FROM f_test c CROSS JOIN (VALUES ('f_star'), ('f_list')) m(name)
 GROUP BY 1 ORDER BY 1;
-- the row's columns by name, in any order, any numeric type for a number
SELECT bismarck.predict('f_star', r) AS reordered
  FROM (SELECT ARRAY[1, 2]::int[] AS x, 'a' AS code, 'red'::f_color AS color, true AS vip, 'town 1' AS "Home Town",
               'CA'::text AS state, 3000.5::float4 AS income, 30::bigint AS age, 'extra' AS ignored) r;
-- a missing column, a column of the wrong kind
SELECT bismarck.predict('f_star', r) FROM (SELECT 30 AS age) r;
SELECT bismarck.predict('f_star', r)
  FROM (SELECT 'thirty' AS age, 3000 AS income, 'CA' AS state, 'town 1' AS "Home Town", true AS vip, 'red'::f_color AS color, 'a' AS code, ARRAY[1, 2]::float8[] AS x) r;
-- a model of one array column predicts from a row too
SELECT model, dimension FROM bismarck.train_logistic('f_array', 'f_train', features => 'x', label => 'churn', seed => 1);
SELECT count(*) FILTER (WHERE bismarck.predict('f_array', c) IS DISTINCT FROM bismarck.predict('f_array', c.x)) AS row_and_array_differ
  FROM f_test c;
SELECT feature, class FROM bismarck.weights('f_array');

-- integer and numeric arrays, one column each; a regression and a multiclass model from '*'
CREATE TABLE f_num AS SELECT g AS id, ARRAY[g % 5, g % 3]::int[] AS xi, ARRAY[g % 5, g % 3]::numeric[] AS xn,
       (g % 5) * 2.0 - (g % 3) + (g % 7) / 10.0 AS y, (ARRAY['p', 'q', 'r'])[1 + g % 3] AS k
  FROM generate_series(1, 600) g;
SELECT model, task, dimension FROM bismarck.train_linear_regression('f_xi', 'f_num', features => 'xi', label => 'y', seed => 1);
SELECT model, task, dimension FROM bismarck.train_linear_regression('f_xn', 'f_num', features => 'xn', label => 'y', seed => 1);
SELECT model, task, dimension, classes FROM bismarck.train_logistic('f_mc', 'f_num', features => '*', exclude => 'id, y, xn', label => 'k', seed => 1);
SELECT feature, class, round(weight::numeric, 1) <> 0 AS nonzero FROM bismarck.weights('f_mc') ORDER BY class, feature;
SELECT round(r2::numeric, 2) AS r2 FROM bismarck.evaluate('f_xi', 'f_num');
SELECT model, task, dimension FROM bismarck.train_linear_regression('f_reg', 'f_num', features => '*',
         exclude => 'id, xn', label => 'y', on_null => 'impute', seed => 1);
SELECT feature, category FROM bismarck.weights('f_reg');
SELECT round(r2::numeric, 2) AS r2, rows FROM bismarck.evaluate('f_reg', 'f_num');

-- a query as the source (run with the caller's privileges), views and materialized views
SELECT model, rows, skipped FROM bismarck.train_logistic('f_query',
         'SELECT age, income, state, churn FROM f_cust WHERE split = ''train'' AND age > 25', features => '*',
         label => 'churn', seed => 1);
SELECT source FROM bismarck.models WHERE name = 'f_query';
CREATE VIEW f_view AS SELECT * FROM f_train WHERE age > 25;
CREATE MATERIALIZED VIEW f_matview AS SELECT * FROM f_train WHERE age > 25;
SELECT model, rows, skipped FROM bismarck.train_logistic('f_view', 'f_view', features => 'age, income, state', label => 'churn', seed => 1);
SELECT model, rows, skipped FROM bismarck.train_logistic('f_matview', 'f_matview', features => 'age, income, state', label => 'churn', seed => 1);
SELECT model, rows FROM bismarck.train_logistic('f_regclass', 'f_train'::regclass, features => 'age', label => 'churn', seed => 1);

-- max_categories: the most frequent are kept, with a NOTICE (shown here by a run that then
-- stops at its one-class label, before any epoch prints its timing); a million distinct values
-- are counted in SQL (spilling to disk if need be), never held in memory
SET client_min_messages = notice;
SELECT * FROM bismarck.train_logistic('f_capped', 'SELECT state, "Home Town", true AS y FROM f_train',
         features => 'state, "Home Town"', label => 'y', max_categories => 2);
SET client_min_messages = warning;
SELECT model, dimension FROM bismarck.train_logistic('f_capped', 'f_train', features => 'age, "Home Town", state',
         label => 'churn', max_categories => 2, seed => 1, epochs => 1);
SELECT feature, category FROM bismarck.weights('f_capped');
CREATE TABLE f_wide AS SELECT g % 2 = 0 AS y, md5(g::text) AS t, (g % 10)::float8 AS v FROM generate_series(1, 1000000) g;
SET client_min_messages = notice;
SELECT * FROM bismarck.train_logistic('f_wide', 'SELECT t, true AS y FROM f_wide', features => 't', label => 'y');
SET client_min_messages = warning;
SELECT model, rows, dimension FROM bismarck.train_logistic('f_wide', 'f_wide', features => 't, v', label => 'y',
         epochs => 1, shuffle => 'never', seed => 1);

-- bad input: nothing is stored
SELECT count(*) AS models_before FROM bismarck.models;
SELECT * FROM bismarck.train_logistic('f_bad', 'f_train', features => 'age, nope', label => 'churn');
SELECT * FROM bismarck.train_logistic('f_bad', 'f_train', features => 'age, churn', label => 'churn');
SELECT * FROM bismarck.train_logistic('f_bad', 'f_train', features => '*', exclude => 'nope', label => 'churn');
SELECT * FROM bismarck.train_logistic('f_bad', 'f_train', features => 'age, age', label => 'churn');
SELECT * FROM bismarck.train_logistic('f_bad', 'f_train', features => 'age,, income', label => 'churn');
CREATE TABLE f_types AS SELECT '{"a": 1}'::jsonb AS j, point(1, 2) AS pt, ARRAY['a', 'b'] AS words,
       '\x00'::bytea AS b, i AS n, i % 2 = 0 AS y FROM generate_series(1, 10) i;
SELECT * FROM bismarck.train_logistic('f_bad', 'f_types', features => 'n, j', label => 'y');
SELECT * FROM bismarck.train_logistic('f_bad', 'f_types', features => 'pt', label => 'y');
SELECT * FROM bismarck.train_logistic('f_bad', 'f_types', features => '*', label => 'y');
SELECT * FROM bismarck.train_logistic('f_bad', 'f_types', features => 'n, words', label => 'y');
SELECT * FROM bismarck.train_logistic('f_bad', 'f_types', features => 'b', label => 'y');
SELECT * FROM bismarck.train_logistic('f_bad', 'f_train', features => '*', exclude => 'id, split, age, income, state, "Home Town", vip, color, code, x', label => 'churn');
-- a source query that writes, or is not one SELECT
SELECT * FROM bismarck.train_logistic('f_bad', 'WITH d AS (DELETE FROM f_train RETURNING *) SELECT * FROM d', features => '*', label => 'churn');
SELECT * FROM bismarck.train_logistic('f_bad', 'SELECT * INTO f_copy FROM f_train', features => '*', label => 'churn');
SELECT * FROM bismarck.train_logistic('f_bad', 'SELECT * FROM f_train FOR UPDATE', features => 'age', label => 'churn');
SELECT * FROM bismarck.train_logistic('f_bad', 'SELECT 1 AS age, true AS churn; DELETE FROM f_train', features => 'age', label => 'churn');
SELECT * FROM bismarck.train_logistic('f_bad', 'DELETE FROM f_train', features => 'age', label => 'churn');
SELECT * FROM bismarck.train_logistic('f_bad', 'f_train', features => 'age', label => 'churn', max_categories => 0);
SELECT * FROM bismarck.train_lmf('f_bad', 'f_train', 'id', 'age', 'income', on_null => 'impute');
SELECT count(*) AS rows_left FROM f_train;
SELECT count(*) AS models_after FROM bismarck.models;
