-- Nothing a user does reaches what it may not: every identifier that reaches dynamic SQL is
-- quoted, the source is read with the caller's privileges, a model belongs to the role that
-- trained it, users cannot write the catalog, the views show each role only its models, no
-- function is SECURITY DEFINER, and nothing on a user's search_path runs while the extension
-- writes the catalog as the stores' owner.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
-- Roles are cluster-wide: drop leftovers of an interrupted run, and drop them again at the end.
DROP ROLE IF EXISTS bismarck_test_a;
DROP ROLE IF EXISTS bismarck_test_b;
CREATE ROLE bismarck_test_a;
CREATE ROLE bismarck_test_b;
CREATE SCHEMA sec;
GRANT USAGE ON SCHEMA sec TO bismarck_test_a, bismarck_test_b;
CREATE SCHEMA sec_b AUTHORIZATION bismarck_test_b;
-- Runs a statement and tells its SQLSTATE and message (or 'ok'), whoever runs it.
CREATE FUNCTION sec.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text; msg text;
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN state || ': ' || msg;
END $$;

-- 1. Names are data, never SQL. Table y is on the search_path, so an unquoted name that
-- smuggled "DROP TABLE y" into a query would drop it.
SET search_path = sec, public;
CREATE TABLE y (i int);
CREATE TABLE "x""; DROP TABLE y; --" AS
SELECT i, ARRAY[(i % 7)::float8, (i % 3)::float8 - 1] AS "f"" x; DROP TABLE y; --",
       (i % 7 > 3) AS "l'); DROP TABLE y; --"
  FROM generate_series(1, 70) i;
SELECT model, task, rows, dimension
  FROM bismarck.train_logistic('m"; DROP TABLE y; --', 'sec."x""; DROP TABLE y; --"',
                               features => 'f" x; DROP TABLE y; --',
                               label => 'l''); DROP TABLE y; --', epochs => 3, seed => 1);
SELECT model, task, rows, dimension
  FROM bismarck.train_svm('m''); DROP TABLE y; --', '"x""; DROP TABLE y; --"',
                          features => 'f" x; DROP TABLE y; --',
                          label => 'l''); DROP TABLE y; --', epochs => 3, seed => 1,
                          shuffle => 'every_epoch');
SELECT name, source, columns FROM bismarck.models WHERE name LIKE '%DROP TABLE y%' ORDER BY name;
SELECT count(*) AS scored, count(bismarck.predict('m"; DROP TABLE y; --', "f"" x; DROP TABLE y; --")) AS predicted
  FROM "x""; DROP TABLE y; --";
SELECT rows, accuracy IS NOT NULL AS evaluated
  FROM bismarck.evaluate('m''); DROP TABLE y; --', '"x""; DROP TABLE y; --"');
SELECT bismarck.shuffle('"x""; DROP TABLE y; --"', 'sec.";DROP TABLE y; --"', seed => 3) AS shuffled;
SELECT count(*) FROM sec.";DROP TABLE y; --";
-- a factorization with hostile column names, and recommend's query over them
CREATE TABLE "r""; DROP TABLE y; --" AS
SELECT u AS "u""; DROP TABLE y; --", m AS "m; DROP TABLE y", (u + m) % 5 + 1.0 AS "v"""
  FROM generate_series(0, 9) u, generate_series(0, 7) m WHERE (u * m) % 3 <> 1;
SELECT model, task, rows
  FROM bismarck.train_lmf('lmf"; DROP TABLE y; --', '"r""; DROP TABLE y; --"',
                          'u"; DROP TABLE y; --', 'm; DROP TABLE y', 'v"', rank => 2, epochs => 2, seed => 1);
SELECT count(*) AS recommended FROM bismarck.recommend('lmf"; DROP TABLE y; --', 2, k => 3);
-- a name that does not exist is an error naming it, not a query
SELECT bismarck.predict('x''; DROP TABLE y; --', ARRAY[1.0, 2.0]::float8[]);
SELECT bismarck.drop_model('x''; DROP TABLE y; --') AS dropped;
SELECT to_regclass('sec.y') IS NOT NULL AS y_still_exists;
RESET search_path;

-- 2. Training reads the source with the caller's privileges.
CREATE TABLE sec.data_a AS
SELECT i, ARRAY[(i % 10)::float8, (i % 4)::float8] AS x, (i % 10 >= 5) AS y
  FROM generate_series(1, 80) i;
GRANT SELECT ON sec.data_a TO bismarck_test_a;
CREATE TABLE sec.ratings_a AS
SELECT u, m, ((u * 3 + m) % 5)::float8 AS r FROM generate_series(0, 5) u, generate_series(0, 5) m;
GRANT SELECT ON sec.ratings_a TO bismarck_test_a;
SET ROLE bismarck_test_b;
SELECT sec.try($$SELECT * FROM bismarck.train_logistic('secb_model', 'sec.data_a', 'x', 'y')$$);
SELECT sec.try($$SELECT * FROM bismarck.train_svm('secb_model', 'sec.data_a', 'x', 'y', shuffle => 'never')$$);
SELECT sec.try($$SELECT * FROM bismarck.train_lmf('secb_model', 'sec.ratings_a', 'u', 'm', 'r')$$);
SELECT sec.try($$SELECT bismarck.shuffle('sec.data_a', 'sec_b.copy')$$);
SELECT sec.try($$SELECT * FROM bismarck.evaluate('whatever', 'sec.data_a')$$);
RESET ROLE;
-- row-level security applies to training as to any query of the caller
CREATE TABLE sec.rls AS SELECT * FROM sec.data_a;
ALTER TABLE sec.rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY first_half ON sec.rls FOR SELECT USING (i <= 40);
GRANT SELECT ON sec.rls TO bismarck_test_b;
SET ROLE bismarck_test_b;
SELECT model, rows FROM bismarck.train_logistic('secb_rls', 'sec.rls', 'x', 'y', epochs => 2, seed => 1);
-- and evaluation reads the table with the caller's privileges too
SELECT sec.try($$SELECT * FROM bismarck.evaluate('secb_rls', 'sec.data_a')$$);
SELECT bismarck.drop_model('secb_rls') AS dropped;
RESET ROLE;

-- 3. A model belongs to the role that trained it.
SET ROLE bismarck_test_a;
SELECT model, rows FROM bismarck.train_logistic('sec_a', 'sec.data_a', 'x', 'y', epochs => 4, seed => 1);
SELECT model, rows FROM bismarck.train_lmf('sec_a_lmf', 'sec.ratings_a', 'u', 'm', 'r', rank => 2, epochs => 2, seed => 1);
SELECT name, owner FROM bismarck.models ORDER BY name;
SELECT bismarck.predict('sec_a', ARRAY[9.0, 1.0]::float8[]) AS a_predicts;
RESET ROLE;
SELECT bismarck.predict('sec_a', ARRAY[9.0, 1.0]::float8[]) AS superuser_predicts;
SET ROLE bismarck_test_b;
-- B may not use it, see it, replace it, drop it or share it
SELECT sec.try($$SELECT bismarck.predict('sec_a', ARRAY[9.0, 1.0]::float8[])$$);
SELECT sec.try($$SELECT bismarck.predict_proba('sec_a', ARRAY[9.0, 1.0]::float8[])$$);
SELECT sec.try($$SELECT bismarck.decision_function('sec_a', ARRAY[9.0, 1.0]::float8[])$$);
SELECT sec.try($$SELECT bismarck.model('sec_a')$$);
SELECT sec.try($$SELECT bismarck.predict('sec_a_lmf', 1, 2)$$);
SELECT sec.try($$SELECT * FROM bismarck.recommend('sec_a_lmf', 1)$$);
SELECT name FROM bismarck.models;
SELECT count(*) AS log_rows FROM bismarck.training_log;
SELECT sec.try($$SELECT * FROM bismarck.train_logistic('sec_a', 'sec.rls', 'x', 'y', replace => true)$$);
SELECT sec.try($$SELECT * FROM bismarck.train_logistic('sec_a', 'sec.rls', 'x', 'y')$$);
SELECT sec.try($$SELECT bismarck.drop_model('sec_a')$$);
SELECT sec.try($$SELECT bismarck.grant_model('sec_a', 'bismarck_test_b')$$);
-- once A grants it, B may use it, and sees it; still not replace, drop or share it
RESET ROLE;
SET ROLE bismarck_test_a;
SELECT bismarck.grant_model('sec_a', 'bismarck_test_b');
RESET ROLE;
SET ROLE bismarck_test_b;
SELECT bismarck.predict('sec_a', ARRAY[9.0, 1.0]::float8[]) AS b_predicts,
       bismarck.predict(bismarck.model('sec_a'), ARRAY[9.0, 1.0]::float8[]) AS b_by_value;
SELECT name, owner FROM bismarck.models;
SELECT count(*) AS log_rows FROM bismarck.training_log;
SELECT sec.try($$SELECT bismarck.predict('sec_a_lmf', 1, 2)$$) AS lmf_still_private;
SELECT sec.try($$SELECT * FROM bismarck.train_logistic('sec_a', 'sec.rls', 'x', 'y', replace => true)$$);
SELECT sec.try($$SELECT bismarck.drop_model('sec_a')$$);
SELECT sec.try($$SELECT bismarck.grant_model('sec_a', 'bismarck_test_b', revoke => true)$$);
RESET ROLE;
-- the model is A's, unchanged
SELECT name, owner, epochs, rows_used FROM bismarck.models WHERE name = 'sec_a';
-- revoked, B is shut out again
SET ROLE bismarck_test_a;
SELECT bismarck.grant_model('sec_a', 'bismarck_test_b', revoke => true);
RESET ROLE;
SET ROLE bismarck_test_b;
SELECT sec.try($$SELECT bismarck.predict('sec_a', ARRAY[9.0, 1.0]::float8[])$$);
SELECT count(*) AS models_b_sees FROM bismarck.models;

-- 4. Users cannot touch the stores directly, whatever they own.
SELECT sec.try($$SELECT count(*) FROM bismarck.model_store$$);
SELECT sec.try($$INSERT INTO bismarck.model_store SELECT * FROM bismarck.model_store$$);
SELECT sec.try($$UPDATE bismarck.model_store SET owner = 'bismarck_test_b'::regrole$$);
SELECT sec.try($$DELETE FROM bismarck.model_store$$);
SELECT sec.try($$TRUNCATE bismarck.model_store$$);
SELECT sec.try($$INSERT INTO bismarck.log_store (model, epoch, step_size, seconds, rows_seen, parallelism, workers, owner) VALUES ('sec_a', 99, 1, 1, 1, 'serial', 0, 1)$$);
SELECT sec.try($$UPDATE bismarck.log_store SET loss = 0$$);
SELECT sec.try($$DELETE FROM bismarck.log_store$$);
SELECT sec.try($$INSERT INTO bismarck.grant_store VALUES ('sec_a', 0)$$);
SELECT sec.try($$DELETE FROM bismarck.grant_store$$);
SELECT sec.try($$UPDATE bismarck.models SET name = 'x'$$);
SELECT sec.try($$DELETE FROM bismarck.training_log$$);
RESET ROLE;
SET ROLE bismarck_test_a;
SELECT sec.try($$UPDATE bismarck.model_store SET owner = 'bismarck_test_a'::regrole$$) AS owner_too;
SELECT sec.try($$DELETE FROM bismarck.log_store$$) AS owner_too;
RESET ROLE;

-- 5. The views are security barriers: a cheap, leaky function in B's WHERE clause sees only
-- the rows B may see (A's models are not printed).
SET ROLE bismarck_test_b;
SELECT model, rows FROM bismarck.train_logistic('secb_own', 'sec.rls', 'x', 'y', epochs => 2, seed => 1);
CREATE FUNCTION sec_b.leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
    RAISE WARNING 'leaked %', $1;
    RETURN true;
END $$;
SELECT name FROM bismarck.models WHERE sec_b.leak(name);
SELECT DISTINCT model FROM bismarck.training_log WHERE sec_b.leak(model || ' epoch ' || epoch);
RESET ROLE;
SELECT relname, reloptions FROM pg_class
 WHERE relnamespace = 'bismarck'::regnamespace AND relkind = 'v' ORDER BY 1;

-- 6. No function of the extension is SECURITY DEFINER (there are many functions).
SELECT count(*) > 50 AS many_functions,
       count(*) FILTER (WHERE prosecdef) AS security_definer
  FROM pg_proc WHERE pronamespace = 'bismarck'::regnamespace;

-- 7. B's own operators, first on B's search_path, are picked up by B's queries, but never by
-- the queries that read and write the catalog as the stores' owner. `=`(oid, integer) would be
-- an exact match for the catalog's `grantee = 0` even behind pg_catalog.
SET ROLE bismarck_test_b;
CREATE FUNCTION sec_b.evil_texteq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE WARNING 'evil text = ran as %', current_user;
    RETURN $1 OPERATOR(pg_catalog.=) $2;
END $$;
CREATE OPERATOR sec_b.= (LEFTARG = text, RIGHTARG = text, FUNCTION = sec_b.evil_texteq);
CREATE FUNCTION sec_b.evil_oideq(oid, integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE WARNING 'evil oid = ran as %', current_user;
    RETURN $1 OPERATOR(pg_catalog.=) $2::oid;
END $$;
CREATE OPERATOR sec_b.= (LEFTARG = oid, RIGHTARG = integer, FUNCTION = sec_b.evil_oideq);
CREATE FUNCTION sec_b.evil_field(jsonb, text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RAISE WARNING 'evil ->> ran as %', current_user;
    RETURN $1 OPERATOR(pg_catalog.->>) $2;
END $$;
CREATE OPERATOR sec_b.->> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = sec_b.evil_field);
SET search_path = sec_b, pg_catalog, sec;
-- they work: B's own query calls each of them
SELECT 'a'::text = 'a' AS texteq, 0::oid = 0 AS oideq, '{"k": "v"}'::jsonb ->> 'k' AS field;
-- the catalog's queries do not (no warning below)
SELECT model, rows FROM bismarck.train_logistic('secb_evil', 'sec.rls', 'x', 'y', epochs => 2, seed => 1);
SELECT model, rows FROM bismarck.train_logistic('secb_evil', 'sec.rls', 'x', 'y', epochs => 2, seed => 1, replace => true);
SELECT bismarck.predict('secb_evil', ARRAY[9.0, 1.0]::float8[]) AS predicted;
SELECT bismarck.model('secb_evil') IS NOT NULL AS loaded;
SELECT bismarck.grant_model('secb_evil', 'bismarck_test_a');
SELECT bismarck.grant_model('secb_evil', 'bismarck_test_a', revoke => true);
SELECT sec.try($$SELECT bismarck.predict('sec_a', ARRAY[1.0, 1.0]::float8[])$$) AS not_granted;
SELECT sec.try($$SELECT bismarck.drop_model('sec_a')$$) AS not_owner;
SELECT rows, accuracy IS NOT NULL AS evaluated FROM bismarck.evaluate('secb_evil', 'sec.rls');
SELECT bismarck.drop_model('secb_evil') AS dropped;
RESET ROLE;
-- what the pinned search_path prevents: the catalog's own queries, run by hand by its owner
-- with B's search_path, would run B's operators with the owner's rights
SELECT (SELECT name FROM bismarck.model_store ORDER BY name LIMIT 1) = 'x' AS name_eq,
       (SELECT owner FROM bismarck.model_store ORDER BY name LIMIT 1) = 0 AS owner_eq;
RESET search_path;

-- A role that owns models cannot be dropped: its models would be left to an owner that no
-- longer exists. A superuser reassigns them first, as REASSIGN OWNED does for objects.
CREATE ROLE bismarck_test_c;
SET ROLE bismarck_test_c;
CREATE TEMP TABLE c_data AS SELECT ARRAY[i::float8] AS x, i % 2 AS y FROM generate_series(1, 100) i;
SELECT model FROM bismarck.train_logistic('sec_c', 'c_data', 'x', 'y', seed => 1, epochs => 2);
DROP TABLE c_data;
SELECT bismarck.reassign_models('bismarck_test_c', 'bismarck_test_b');
RESET ROLE;
DROP ROLE bismarck_test_c;
SELECT bismarck.reassign_models('bismarck_test_c', 'bismarck_test_b') AS reassigned;
DROP ROLE bismarck_test_c;
SELECT name, owner FROM bismarck.models WHERE name = 'sec_c';

-- Clean up: models, then everything the roles own or were granted, then the roles.
SELECT name, bismarck.drop_model(name) FROM bismarck.models
 WHERE name LIKE '%DROP TABLE y%' OR name LIKE 'sec%' ORDER BY name;
SELECT count(*) AS models_left FROM bismarck.model_store
 WHERE name LIKE '%DROP TABLE y%' OR name LIKE 'sec%';
SELECT count(*) AS log_rows_left FROM bismarck.log_store
 WHERE model LIKE '%DROP TABLE y%' OR model LIKE 'sec%';
SELECT count(*) AS work_tables FROM pg_class WHERE relnamespace = 'bismarck_work'::regnamespace;
DROP SCHEMA sec CASCADE;
DROP OWNED BY bismarck_test_a, bismarck_test_b;
DROP ROLE bismarck_test_a;
DROP ROLE bismarck_test_b;
