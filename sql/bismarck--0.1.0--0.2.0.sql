-- bismarck 0.1.0 -> 0.2.0: updates an installed 0.1.0 in place.
-- This script is also the tail of the 0.2.0 install script, which the Makefile builds as
-- sql/bismarck--0.1.0.sql (minus its CREATE SCHEMA) followed by this file, so every statement
-- here must also run, and change the same things, on top of a fresh 0.1.0 surface whose schema
-- CREATE EXTENSION made.
\echo Use "ALTER EXTENSION bismarck UPDATE TO '0.2.0'" to load this file. \quit

-- The extension's schema. 0.1.0's control file named no schema and its script created schema
-- bismarck as a member of the extension, so pg_extension.extnamespace (what \dx shows) was the
-- schema current at CREATE EXTENSION, usually public. 0.2.0's control file says
-- schema = bismarck: CREATE EXTENSION creates the schema before the script runs and records it
-- as the extension's schema; PostgreSQL does not let that schema be a member of the extension
-- (it would contain the extension that owns it). An installed 0.1.0 is brought to exactly that
-- state: the schema leaves the extension's members, and the extension moves to it (catalog
-- updates: no command moves a non-relocatable extension; ALTER EXTENSION UPDATE runs this as
-- a superuser, as the extension is not trusted). In a fresh install each step changes nothing.
-- CREATE EXTENSION also takes a schema bismarck that exists already; one that a non-superuser
-- made beforehand would let its owner drop and replace the extension's functions. Refused.
DO $$
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_namespace n
              JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner WHERE n.nspname = 'bismarck') THEN
        RAISE EXCEPTION 'schema bismarck is owned by a role that is not a superuser'
            USING HINT = 'Drop or rename that schema, or make a superuser its owner, then create the extension.';
    END IF;
END
$$;

DO $$
DECLARE
    ext oid := (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'bismarck');
    nsp oid := 'bismarck'::regnamespace;
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_depend
                WHERE classid = 'pg_catalog.pg_namespace'::regclass AND objid = nsp
                  AND refclassid = 'pg_catalog.pg_extension'::regclass AND refobjid = ext
                  AND deptype = 'e') THEN
        ALTER EXTENSION bismarck DROP SCHEMA bismarck;
    END IF;
    UPDATE pg_catalog.pg_depend SET refobjid = nsp
     WHERE classid = 'pg_catalog.pg_extension'::regclass AND objid = ext
       AND refclassid = 'pg_catalog.pg_namespace'::regclass AND deptype = 'n'
       AND refobjid <> nsp;
    UPDATE pg_catalog.pg_extension SET extnamespace = nsp WHERE oid = ext AND extnamespace <> nsp;
END
$$;

-- ---- Model states: format 2 ----------------------------------------------------------------
-- A state now carries its class labels and their type, so prediction by value and by name agree.
-- The library reads format 1 (0.1.0) states wherever they come from; the catalog's are
-- rewritten here, with the negative class label 0.1.0 kept in the catalog's options.
CREATE FUNCTION bismarck.upgrade_state(state bismarck.model_state, negative_label integer DEFAULT 0)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_upgrade_state' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION bismarck.upgrade_state(bismarck.model_state, integer) IS
    'a model state in the current format; for a bismarck 0.1.0 two-class state, negative_label (0 or -1) is its negative class';
UPDATE bismarck.model_store
   SET state = bismarck.upgrade_state(state, coalesce((options->>'label_low')::integer, 0)),
       options = options - 'label_low';

-- ---- Starting states for hand-written epochs -------------------------------------------------
DROP FUNCTION bismarck.logistic_init(integer, double precision, double precision, double precision);
DROP FUNCTION bismarck.svm_init(integer, double precision, double precision, double precision);
CREATE FUNCTION bismarck.logistic_init(dim integer, step_size double precision DEFAULT 0.1,
        l2 double precision DEFAULT 0, l1 double precision DEFAULT 0, classes integer DEFAULT 2)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_logistic_init' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bismarck.svm_init(dim integer, step_size double precision DEFAULT 0.1,
        l2 double precision DEFAULT 0, l1 double precision DEFAULT 0, classes integer DEFAULT 2)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_svm_init' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bismarck.linear_regression_init(dim integer, step_size double precision DEFAULT 0.01,
        l2 double precision DEFAULT 0, l1 double precision DEFAULT 0)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_linear_regression_init' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bismarck.logistic_init(integer, double precision, double precision, double precision, integer) IS
    'a zero logistic regression model over dim features (multinomial for classes > 2), for hand-written epochs';
COMMENT ON FUNCTION bismarck.svm_init(integer, double precision, double precision, double precision, integer) IS
    'a zero linear SVM over dim features (Crammer-Singer for classes > 2), for hand-written epochs';
COMMENT ON FUNCTION bismarck.linear_regression_init(integer, double precision, double precision, double precision) IS
    'a zero linear regression model over dim features, for hand-written epochs';

-- ---- The epoch aggregates: one C function per SQL function ----------------------------------
-- Every trainer's step function, for each feature type: 0.1.0's logistic and svm steps get their
-- own C symbols; linear regression's step and epoch aggregate are new.
DO $$
DECLARE
    trainer text;
    features text;
BEGIN
    FOREACH trainer IN ARRAY ARRAY['logistic', 'svm', 'linear_regression'] LOOP
        FOREACH features IN ARRAY ARRAY['double precision[]', 'real[]', 'bismarck.sparsevec'] LOOP
            EXECUTE format('CREATE OR REPLACE FUNCTION bismarck.%s_step(bismarck.model_state, %s, '
                           'double precision, bismarck.model_state) RETURNS bismarck.model_state '
                           'AS %L, %L LANGUAGE C PARALLEL SAFE',
                           trainer, features, 'MODULE_PATHNAME', 'bismarck_' || trainer || '_step');
            IF trainer = 'linear_regression' THEN
                EXECUTE format('CREATE AGGREGATE bismarck.%s_epoch(features %s, label double precision, '
                               'model bismarck.model_state) (SFUNC = bismarck.%s_step, '
                               'STYPE = bismarck.model_state, COMBINEFUNC = bismarck.epoch_combine, '
                               'PARALLEL = SAFE)', trainer, features, trainer);
            END IF;
        END LOOP;
    END LOOP;
END
$$;
COMMENT ON AGGREGATE bismarck.logistic_epoch(double precision[], double precision, bismarck.model_state) IS
    'one epoch of logistic regression over the rows aggregated (labels 0/1 or -1/1; class indices 0..k-1 for a multinomial state)';
COMMENT ON AGGREGATE bismarck.svm_epoch(double precision[], double precision, bismarck.model_state) IS
    'one epoch of a linear SVM over the rows aggregated (labels 0/1 or -1/1; class indices 0..k-1 for a multiclass state)';
COMMENT ON AGGREGATE bismarck.linear_regression_epoch(double precision[], double precision, bismarck.model_state) IS
    'one epoch of linear regression (squared loss) over the rows aggregated';

-- ---- Training: one result type for every train_* ---------------------------------------------
CREATE TYPE bismarck.training_result AS (
    model text, task text, rows bigint, skipped bigint, dimension bigint, classes integer,
    epochs integer, loss double precision, validation_loss double precision,
    step_size double precision, seconds double precision, converged boolean,
    parallelism text, workers integer);
COMMENT ON TYPE bismarck.training_result IS
    'what every bismarck.train_* function returns: one row describing the trained model';

DROP FUNCTION bismarck.train_logistic(text, regclass, text, text, integer, bismarck.step_size,
    double precision, double precision, double precision, double precision, text, text, integer,
    bigint, text, boolean, boolean, integer);
DROP FUNCTION bismarck.train_svm(text, regclass, text, text, integer, bismarck.step_size,
    double precision, double precision, double precision, double precision, text, text, integer,
    bigint, text, boolean, boolean, integer);
DROP FUNCTION bismarck.train_lmf(text, regclass, text, text, text, integer, integer,
    bismarck.step_size, double precision, double precision, double precision, double precision,
    text, text, integer, bigint, text, boolean, double precision);

-- Options are read by name, so every function lists the ones it takes in the same words. For the
-- logistic and linear regression, l2 NULL is 1 / (number of training rows), scikit-learn's
-- default (C = 1, or alpha = 1 for Ridge); the SVM keeps 0.1.0's 0.01 (SGD on the hinge converges
-- like 1 / (l2 steps), too slowly for a smaller l2); epochs NULL is enough for about 1,000,000
-- steps (3 to 1000; 20 to 1000 without averaging) and the tolerance is 1e-5; the iterates are
-- averaged from the second epoch on (average => true) with Bottou's per-row step decay, so the
-- per-epoch decay is 1; shuffle 'auto' reads a large table's pages in a random order every
-- epoch ('blocks') and shuffles anything else once.
CREATE FUNCTION bismarck.train_lmf(
        model text, source regclass, row_column text, column_column text, value_column text,
        rank integer DEFAULT 10,
        epochs integer DEFAULT 20, step_size bismarck.step_size DEFAULT 'auto',
        decay double precision DEFAULT 0.9, l2 double precision DEFAULT 0.1,
        l1 double precision DEFAULT 0, tolerance double precision DEFAULT 0.0001,
        patience integer DEFAULT 5,
        shuffle text DEFAULT 'once', parallelism text DEFAULT 'serial',
        workers integer DEFAULT NULL, seed bigint DEFAULT NULL,
        on_null text DEFAULT 'skip', replace boolean DEFAULT false,
        max_norm double precision DEFAULT 0, max_seconds double precision DEFAULT NULL,
        validation double precision DEFAULT NULL, validation_column text DEFAULT NULL)
    RETURNS SETOF bismarck.training_result
    AS 'MODULE_PATHNAME', 'bismarck_train_lmf' LANGUAGE C VOLATILE ROWS 1;
-- The three linear trainers take the same options, written once here; each comes with source
-- regclass (a table, view or materialized view) and source text (a table's name, read as
-- regclass reads it, or a query: 'SELECT ...', 'WITH ...', 'VALUES ...', 'TABLE ...', one SELECT
-- that writes nothing, run with the caller's privileges). An unknown literal resolves to the text
-- form (PostgreSQL prefers the string category); a regclass value to the other.
DO $$
DECLARE
    t record;
    source text;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('logistic', 'NULL'), ('svm', '0.01'),
                                   ('linear_regression', 'NULL')) AS v(trainer, l2) LOOP
        FOREACH source IN ARRAY ARRAY['regclass', 'text'] LOOP
            EXECUTE format($f$
                CREATE FUNCTION bismarck.train_%s(
                    model text, source %s, features text, label text,
                    epochs integer DEFAULT NULL, step_size bismarck.step_size DEFAULT 'auto',
                    decay double precision DEFAULT 1, l2 double precision DEFAULT %s,
                    l1 double precision DEFAULT 0, tolerance double precision DEFAULT 0.00001,
                    patience integer DEFAULT 5,
                    shuffle text DEFAULT 'auto', parallelism text DEFAULT 'serial',
                    workers integer DEFAULT NULL, seed bigint DEFAULT NULL,
                    on_null text DEFAULT 'skip', replace boolean DEFAULT false,
                    standardize boolean DEFAULT true, batch integer DEFAULT NULL,
                    average boolean DEFAULT true, max_seconds double precision DEFAULT NULL,
                    init_model text DEFAULT NULL, validation double precision DEFAULT NULL,
                    validation_column text DEFAULT NULL, exclude text DEFAULT NULL,
                    max_categories integer DEFAULT 100, class_weight text DEFAULT NULL)
                RETURNS SETOF bismarck.training_result
                AS %L, %L LANGUAGE C VOLATILE ROWS 1 $f$,
                t.trainer, source, t.l2, 'MODULE_PATHNAME', 'bismarck_train_' || t.trainer);
        END LOOP;
    END LOOP;
END
$$;
DO $$
DECLARE
    source text;
    args text;
BEGIN
    FOREACH source IN ARRAY ARRAY['regclass', 'text'] LOOP
        args := format('text, %s, text, text, integer, bismarck.step_size, double precision, '
                       'double precision, double precision, double precision, integer, text, text, '
                       'integer, bigint, text, boolean, boolean, integer, boolean, double precision, text, '
                       'double precision, text, text, integer, text', source);
        EXECUTE format('COMMENT ON FUNCTION bismarck.train_logistic(%s) IS %L', args,
                       'train logistic regression by IGD: two classes (binary) or more (multinomial); labels boolean, numbers or text');
        EXECUTE format('COMMENT ON FUNCTION bismarck.train_svm(%s) IS %L', args,
                       'train a linear SVM by IGD: two classes (hinge) or more (Crammer-Singer); labels boolean, numbers or text');
        EXECUTE format('COMMENT ON FUNCTION bismarck.train_linear_regression(%s) IS %L', args,
                       'train linear regression by IGD: squared loss, l2 (ridge), l1 (lasso) or both (elastic net)');
    END LOOP;
END
$$;
COMMENT ON FUNCTION bismarck.train_lmf IS 'train a low-rank matrix factorization by IGD';

-- ---- Features from ordinary tables (issue 11) ------------------------------------------------
-- features => 'x' (one array or sparsevec column), 'age, income, state' (a list of columns,
-- identifiers as SQL reads them) or '*' (every column but the label, minus exclude). Numbers and
-- booleans are one feature each, text-like and enum columns one-hot categories (the
-- max_categories most frequent ones), numeric arrays one feature per element. The transform
-- (vocabularies, means imputed under on_null => 'impute') is stored in the model state, and
-- training turns each row into its feature vector with encode_features.
CREATE FUNCTION bismarck.encode_features(transform bytea, VARIADIC "any")
    RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'bismarck_encode_features' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION bismarck.encode_features(bytea, "any") IS
    'the feature vector of the values given, one per column of a feature transform (what training runs on each row)';
CREATE FUNCTION bismarck.feature_names(state bismarck.model_state) RETURNS text[]
    AS 'MODULE_PATHNAME', 'bismarck_feature_names' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bismarck.feature_names(bismarck.model_state) IS
    'the name of each feature of a linear model (age, x[3], state=CA), in the order of its coefficients';
CREATE FUNCTION bismarck.weights(model text)
    RETURNS TABLE (feature text, category text, class text, weight double precision)
    AS 'MODULE_PATHNAME', 'bismarck_weights' LANGUAGE C STABLE STRICT;
CREATE FUNCTION bismarck.weights(model bismarck.model_state)
    RETURNS TABLE (feature text, category text, class text, weight double precision)
    AS 'MODULE_PATHNAME', 'bismarck_weights' LANGUAGE C IMMUTABLE STRICT;
COMMENT ON FUNCTION bismarck.weights(text) IS
    'every weight of a linear model in raw feature units: feature name, category (one-hot), class (multiclass), weight; then the intercepts';
COMMENT ON FUNCTION bismarck.weights(bismarck.model_state) IS
    'every weight of a linear model in raw feature units: feature name, category (one-hot), class (multiclass), weight; then the intercepts';
-- The catalog view, with the feature names at the end.
CREATE OR REPLACE VIEW bismarck.models WITH (security_barrier) AS
    SELECT m.name, m.task, m.source, m.columns, m.dimension, m.rows_used, m.rows_skipped,
           m.options, m.epochs, m.loss, m.seconds, m.created_at,
           m.owner::regrole AS owner,
           bismarck.coefficients(m.state) AS coefficients,
           bismarck.intercept(m.state) AS intercept,
           m.state,
           bismarck.feature_names(m.state) AS features
      FROM bismarck.model_store m
     WHERE pg_catalog.pg_has_role(m.owner, 'USAGE')
        OR EXISTS (SELECT 1 FROM bismarck.grant_store g
                    WHERE g.model = m.name
                      AND (g.grantee = 0 OR pg_catalog.pg_has_role(g.grantee, 'USAGE')));


-- ---- Prediction: the class as the training data had it ---------------------------------------
DROP FUNCTION bismarck.predict(text, double precision[]);
DROP FUNCTION bismarck.predict(text, real[]);
DROP FUNCTION bismarck.predict(text, bismarck.sparsevec);
DROP FUNCTION bismarck.predict(bismarck.model_state, double precision[]);
DROP FUNCTION bismarck.predict(bismarck.model_state, real[]);
DROP FUNCTION bismarck.predict(bismarck.model_state, bismarck.sparsevec);

-- Every feature type a model takes, by name (STABLE: the catalog is read once per query) and by
-- value (IMMUTABLE).
DO $$
DECLARE
    features text;
    model text;
    volatility text;
BEGIN
    -- record: a row of any table or query, its columns matched to the model's by name
    FOREACH features IN ARRAY ARRAY['double precision[]', 'real[]', 'smallint[]', 'integer[]',
                                    'bigint[]', 'numeric[]', 'bismarck.sparsevec', 'record'] LOOP
        FOREACH model IN ARRAY ARRAY['text', 'bismarck.model_state'] LOOP
            volatility := CASE model WHEN 'text' THEN 'STABLE' ELSE 'IMMUTABLE' END;
            EXECUTE format('CREATE FUNCTION bismarck.predict(model %s, features %s) RETURNS text '
                           'AS %L, %L LANGUAGE C %s PARALLEL SAFE',
                           model, features, 'MODULE_PATHNAME', 'bismarck_predict', volatility);
            EXECUTE format('CREATE OR REPLACE FUNCTION bismarck.predict_proba(model %s, features %s) '
                           'RETURNS double precision AS %L, %L LANGUAGE C %s PARALLEL SAFE',
                           model, features, 'MODULE_PATHNAME', 'bismarck_predict_proba', volatility);
            EXECUTE format('CREATE OR REPLACE FUNCTION bismarck.decision_function(model %s, features %s) '
                           'RETURNS double precision AS %L, %L LANGUAGE C %s PARALLEL SAFE',
                           model, features, 'MODULE_PATHNAME', 'bismarck_decision_function', volatility);
            EXECUTE format('CREATE FUNCTION bismarck.predict_probabilities(model %s, features %s) '
                           'RETURNS double precision[] AS %L, %L LANGUAGE C %s PARALLEL SAFE',
                           model, features, 'MODULE_PATHNAME', 'bismarck_predict_probabilities', volatility);
            EXECUTE format('COMMENT ON FUNCTION bismarck.predict(%s, %s) IS %L', model, features,
                           'the class a linear model predicts for the features, as the training data had it (text); a regression''s value');
            EXECUTE format('COMMENT ON FUNCTION bismarck.predict_proba(%s, %s) IS %L', model, features,
                           'logistic models: P(second class) for two classes, else the probability of the predicted class');
            EXECUTE format('COMMENT ON FUNCTION bismarck.decision_function(%s, %s) IS %L', model, features,
                           'w·x + b of a two-class model (positive: the second class) or a regression''s predicted value');
            EXECUTE format('COMMENT ON FUNCTION bismarck.predict_probabilities(%s, %s) IS %L', model, features,
                           'logistic models: the probability of every class, in the order of bismarck.classes(model)');
        END LOOP;
    END LOOP;
END
$$;
CREATE FUNCTION bismarck.classes(model text) RETURNS text[]
    AS 'MODULE_PATHNAME', 'bismarck_classes' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bismarck.classes(model bismarck.model_state) RETURNS text[]
    AS 'MODULE_PATHNAME', 'bismarck_classes' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bismarck.classes(text) IS
    'the classes of a classifier as its training data had them, sorted; NULL for other models';
COMMENT ON FUNCTION bismarck.classes(bismarck.model_state) IS
    'the classes of a classifier as its training data had them, sorted; NULL for other models';
COMMENT ON FUNCTION bismarck.predict(text, bigint, bigint) IS
    'the predicted value of a cell of a factorization, within the range of the training values';
COMMENT ON FUNCTION bismarck.predict(bismarck.model_state, bigint, bigint) IS
    'the predicted value of a cell of a factorization, within the range of the training values';
COMMENT ON FUNCTION bismarck.model(text) IS 'the stored model_state of a model you may use';

DROP FUNCTION bismarck.recommend(text, bigint, integer, boolean);
CREATE FUNCTION bismarck.recommend(model text, row_id bigint, k integer DEFAULT 10,
        exclude_seen boolean DEFAULT true, min_ratings integer DEFAULT 5)
    RETURNS TABLE (col_id bigint, score double precision)
    AS 'MODULE_PATHNAME', 'bismarck_recommend' LANGUAGE C STABLE;
COMMENT ON FUNCTION bismarck.recommend IS
    'the k columns with the highest predicted values for a row, best first, among columns with at least min_ratings ratings';

-- ---- Evaluation of every kind of model --------------------------------------------------------
-- Two classes: accuracy, precision / recall / F1 of the second class, log loss (logistic; the
-- probability clipped to [1e-15, 1 - 1e-15] as scikit-learn does), ROC AUC. More classes:
-- accuracy, macro-averaged precision / recall / F1, log loss (multinomial). Every classifier:
-- the confusion matrix as {"actual": {"predicted": rows}}. Regressions and factorizations: RMSE,
-- MAE, R². Columns default to the ones the model was trained on. Runs with the caller's
-- privileges; every identifier is quoted.
DROP FUNCTION bismarck.evaluate(text, regclass, text, text, text, text, text);
CREATE FUNCTION bismarck.evaluate(model text, source regclass,
        features text DEFAULT NULL, label text DEFAULT NULL,
        row_column text DEFAULT NULL, column_column text DEFAULT NULL,
        value_column text DEFAULT NULL)
    RETURNS TABLE (rows bigint, accuracy double precision, "precision" double precision,
                   recall double precision, f1 double precision, log_loss double precision,
                   roc_auc double precision, rmse double precision, mae double precision,
                   r2 double precision, confusion jsonb)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m record;
    cls text[];
    lbl_array text;
    q text;
    fx text;      -- the features argument of predict: a column, or the whole row
    fwhere text;  -- rows whose features are there
BEGIN
    SELECT name, task, columns, options INTO m FROM bismarck.models WHERE name = evaluate.model;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist', evaluate.model
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT name FROM bismarck.models lists the models you may use.';
    END IF;
    IF m.task = 'lmf' THEN
        q := format($q$
            WITH s AS (SELECT bismarck.predict(%L::text, (%I)::int8, (%I)::int8) AS p, (%I)::float8 AS v
                         FROM %s WHERE %I IS NOT NULL AND %I IS NOT NULL AND %I IS NOT NULL)
            SELECT count(*)::int8, NULL::float8, NULL::float8, NULL::float8, NULL::float8,
                   NULL::float8, NULL::float8, sqrt(avg((p - v) ^ 2))::float8, avg(abs(p - v))::float8,
                   (1 - sum((p - v) ^ 2) / nullif(sum((v - (SELECT avg(v) FROM s)) ^ 2), 0))::float8,
                   NULL::jsonb
              FROM s $q$,
            m.name, coalesce(row_column, m.columns[1]), coalesce(column_column, m.columns[2]),
            coalesce(value_column, m.columns[3]), source,
            coalesce(row_column, m.columns[1]), coalesce(column_column, m.columns[2]),
            coalesce(value_column, m.columns[3]));
        RETURN QUERY EXECUTE q;
        RETURN;
    END IF;
    features := coalesce(features, m.columns[1]);
    label := coalesce(label, m.columns[2]);
    IF m.options->>'features' = 'columns' AND evaluate.features IS NOT DISTINCT FROM m.columns[1] THEN
        -- a model of several columns: predict from the whole row, columns matched by name
        fx := 'bismarck_row';
        fwhere := 'true';
    ELSE
        fx := quote_ident(features);
        fwhere := format('%I IS NOT NULL', features);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = source AND attname = label
                      AND attnum > 0 AND NOT attisdropped) THEN
        RAISE EXCEPTION 'label column "%" of relation % does not exist', label, source
            USING ERRCODE = 'undefined_column';
    END IF;
    IF fx <> 'bismarck_row' AND NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = source AND attname = features
                      AND attnum > 0 AND NOT attisdropped) THEN
        RAISE EXCEPTION 'features column "%" of relation % does not exist', features, source
            USING ERRCODE = 'undefined_column';
    END IF;
    cls := bismarck.classes(m.name);
    -- the label's array type, to match test labels to classes as training did (typed: 2.0 and
    -- 2.00 are one numeric class; bpchar without the length plain "character" implies)
    SELECT CASE WHEN atttypid = 'bpchar'::regtype THEN 'pg_catalog.bpchar'
                ELSE format_type(atttypid, NULL) END || '[]'
      INTO lbl_array FROM pg_attribute
     WHERE attrelid = source AND attname = label AND attnum > 0 AND NOT attisdropped;
    IF cls IS NULL THEN  -- a regression
        q := format($q$
            WITH s AS (SELECT bismarck.decision_function(%L::text, %s) AS p, (%I)::float8 AS v
                         FROM %s AS bismarck_row WHERE %s AND %I IS NOT NULL)
            SELECT count(p)::int8, NULL::float8, NULL::float8, NULL::float8, NULL::float8,
                   NULL::float8, NULL::float8, sqrt(avg((p - v) ^ 2))::float8, avg(abs(p - v))::float8,
                   (1 - sum((p - v) ^ 2) / nullif(sum((v - (SELECT avg(v) FROM s)) ^ 2), 0))::float8,
                   NULL::jsonb
              FROM s WHERE p IS NOT NULL $q$,
            m.name, fx, label, source, fwhere, label);
        RETURN QUERY EXECUTE q;
        RETURN;
    END IF;
    -- classifiers: one scoring pass; per-class counts from it
    q := format($q$
        WITH s AS (
            SELECT coalesce((%L::text[])[array_position(%L::%s, %I)], (%I)::text) AS actual,
                   bismarck.predict(%L::text, %s) AS predicted,
                   CASE WHEN %L IN ('logistic', 'multinomial')
                        THEN (bismarck.predict_probabilities(%L::text, %s))[array_position(%L::%s, %I)] END AS p_true,
                   CASE WHEN cardinality(%L::text[]) = 2
                        THEN bismarck.decision_function(%L::text, %s) END AS z
              FROM %s AS bismarck_row WHERE %s AND %I IS NOT NULL),
        scored AS (SELECT * FROM s WHERE predicted IS NOT NULL),
        per_class AS (
            SELECT c,
                   count(*) FILTER (WHERE predicted = c AND actual = c) AS tp,
                   count(*) FILTER (WHERE predicted = c AND actual <> c) AS fp,
                   count(*) FILTER (WHERE predicted <> c AND actual = c) AS fn
              FROM unnest(%L::text[]) AS c CROSS JOIN scored GROUP BY c),
        macro AS (
            SELECT avg(coalesce(tp::float8 / nullif(tp + fp, 0), 0)) AS p,
                   avg(coalesce(tp::float8 / nullif(tp + fn, 0), 0)) AS r,
                   avg(coalesce(2.0 * tp / nullif(2 * tp + fp + fn, 0), 0)) AS f
              FROM per_class),
        second AS (
            SELECT tp::float8 / nullif(tp + fp, 0) AS p, tp::float8 / nullif(tp + fn, 0) AS r,
                   (2.0 * tp / nullif(2 * tp + fp + fn, 0))::float8 AS f
              FROM per_class WHERE c = (%L::text[])[2]),
        ranked AS (
            SELECT actual = (%L::text[])[2] AS pos,
                   rank() OVER (ORDER BY z) + (count(*) OVER (PARTITION BY z) - 1) / 2.0 AS rk
              FROM scored WHERE z IS NOT NULL),
        auc AS (
            SELECT (sum(rk) FILTER (WHERE pos) - count(*) FILTER (WHERE pos) * (count(*) FILTER (WHERE pos) + 1) / 2.0)
                   / nullif(count(*) FILTER (WHERE pos) * count(*) FILTER (WHERE NOT pos), 0) AS v
              FROM ranked),
        confusion AS (
            SELECT jsonb_object_agg(actual, row_counts) AS j
              FROM (SELECT actual, jsonb_object_agg(predicted, n) AS row_counts
                      FROM (SELECT actual, predicted, count(*) AS n FROM scored GROUP BY 1, 2) c
                     GROUP BY actual) a)
        SELECT (SELECT count(*) FROM scored)::int8,
               (SELECT avg((predicted = actual)::int) FROM scored)::float8,
               CASE WHEN cardinality(%L::text[]) = 2 THEN (SELECT p FROM second) ELSE (SELECT p FROM macro) END::float8,
               CASE WHEN cardinality(%L::text[]) = 2 THEN (SELECT r FROM second) ELSE (SELECT r FROM macro) END::float8,
               CASE WHEN cardinality(%L::text[]) = 2 THEN (SELECT f FROM second) ELSE (SELECT f FROM macro) END::float8,
               (SELECT avg(-ln(least(greatest(p_true, 1e-15), 1 - 1e-15))) FROM scored WHERE p_true IS NOT NULL)::float8,
               (SELECT v FROM auc)::float8,
               NULL::float8, NULL::float8, NULL::float8,
               (SELECT j FROM confusion) $q$,
        cls, cls, lbl_array, label, label, m.name, fx,
        m.task, m.name, fx, cls, lbl_array, label,
        cls, m.name, fx,
        source, fwhere, label,
        cls, cls, cls, cls, cls, cls);
    RETURN QUERY EXECUTE q;
END
$$;
COMMENT ON FUNCTION bismarck.evaluate IS
    'metrics of a model on a table: accuracy, precision, recall, F1, log loss, ROC AUC and a confusion matrix; RMSE, MAE, R²';

-- ---- Live progress of the trainings running now ----------------------------------------------
CREATE FUNCTION bismarck.progress_rows()
    RETURNS TABLE (pid integer, database name, username name, model text, task text, phase text,
                   epoch integer, epochs integer, rows_done bigint, rows_total bigint,
                   loss double precision, elapsed_seconds double precision,
                   remaining_seconds double precision, parallelism text, workers integer,
                   started_at timestamp with time zone)
    AS 'MODULE_PATHNAME', 'bismarck_progress_rows' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION bismarck.progress_rows() IS
    'one row per training running now; the details only of your own trainings unless you have pg_read_all_stats';
CREATE VIEW bismarck.progress WITH (security_barrier) AS SELECT * FROM bismarck.progress_rows();
COMMENT ON VIEW bismarck.progress IS
    'trainings running now, from any session: phase, epoch, rows done in this epoch, loss, elapsed and remaining seconds';
GRANT SELECT ON bismarck.progress TO PUBLIC;

-- ---- A comment on every function, aggregate, type, table and view --------------------------
COMMENT ON FUNCTION bismarck.step_size_in(cstring) IS 'text input of bismarck.step_size: a positive number or ''auto''';
COMMENT ON FUNCTION bismarck.step_size_out(bismarck.step_size) IS 'text output of bismarck.step_size';
COMMENT ON FUNCTION bismarck.step_size(double precision) IS 'a step size from a number (implicit cast)';
COMMENT ON FUNCTION bismarck.step_size(numeric) IS 'a step size from a number (implicit cast)';
COMMENT ON FUNCTION bismarck.step_size(integer) IS 'a step size from a number (implicit cast)';
COMMENT ON FUNCTION bismarck.model_state_in(cstring) IS 'text input of bismarck.model_state: exact hex, validated';
COMMENT ON FUNCTION bismarck.model_state_out(bismarck.model_state) IS 'text output of bismarck.model_state: exact hex';
COMMENT ON FUNCTION bismarck.model_state_recv(internal) IS 'binary input of bismarck.model_state, validated';
COMMENT ON FUNCTION bismarck.model_state_send(bismarck.model_state) IS 'binary output of bismarck.model_state';
COMMENT ON FUNCTION bismarck.lmf_init(bigint, bigint, integer, double precision, double precision, double precision, bigint) IS
    'a factorization of an n_rows x n_cols matrix with small seeded random factors, for hand-written epochs';
COMMENT ON FUNCTION bismarck.with_step_size(bismarck.model_state, double precision) IS
    'the same model state with another step size, for the next hand-written epoch';
COMMENT ON FUNCTION bismarck.epoch_rows(bismarck.model_state) IS 'rows the epoch that produced this state stepped on';
COMMENT ON FUNCTION bismarck.intercept(bismarck.model_state) IS
    'the intercept of a one-output linear model in the units of the raw features; NULL for multiclass models';
COMMENT ON FUNCTION bismarck.epoch_combine(bismarck.model_state, bismarck.model_state) IS
    'combine function of the epoch aggregates: averages partial models weighted by rows (model averaging), sums counters';
COMMENT ON FUNCTION bismarck.lmf_step(bismarck.model_state, bigint, bigint, double precision, bismarck.model_state) IS
    'transition function of bismarck.lmf_epoch: one gradient step on one observed cell';
COMMENT ON FUNCTION bismarck.feature_stats_step(double precision[], double precision[]) IS 'transition function of bismarck.feature_stats';
COMMENT ON FUNCTION bismarck.feature_stats_step(double precision[], real[]) IS 'transition function of bismarck.feature_stats';
COMMENT ON FUNCTION bismarck.feature_stats_combine(double precision[], double precision[]) IS 'combine function of bismarck.feature_stats (Chan''s formula)';
COMMENT ON AGGREGATE bismarck.feature_stats(real[]) IS
    'array [n, dim, mean_1..mean_dim, m2_1..m2_dim] of a dense feature column';
COMMENT ON AGGREGATE bismarck.logistic_epoch(real[], double precision, bismarck.model_state) IS
    'one epoch of logistic regression over the rows aggregated (float4 features)';
COMMENT ON AGGREGATE bismarck.logistic_epoch(bismarck.sparsevec, double precision, bismarck.model_state) IS
    'one epoch of logistic regression over the rows aggregated (sparse features)';
COMMENT ON AGGREGATE bismarck.svm_epoch(real[], double precision, bismarck.model_state) IS
    'one epoch of a linear SVM over the rows aggregated (float4 features)';
COMMENT ON AGGREGATE bismarck.svm_epoch(bismarck.sparsevec, double precision, bismarck.model_state) IS
    'one epoch of a linear SVM over the rows aggregated (sparse features)';
COMMENT ON AGGREGATE bismarck.linear_regression_epoch(real[], double precision, bismarck.model_state) IS
    'one epoch of linear regression over the rows aggregated (float4 features)';
COMMENT ON AGGREGATE bismarck.linear_regression_epoch(bismarck.sparsevec, double precision, bismarck.model_state) IS
    'one epoch of linear regression over the rows aggregated (sparse features)';
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = 'bismarck'::regnamespace
                AND p.proname IN ('logistic_step', 'svm_step', 'linear_regression_step') LOOP
        EXECUTE format('COMMENT ON FUNCTION %s IS %L', f,
                       'transition function of the matching bismarck.*_epoch aggregate: one gradient step on one row (the state is validated, whoever calls it)');
    END LOOP;
END
$$;
COMMENT ON TABLE bismarck.model_store IS 'the models (read them through bismarck.models; written only by the extension''s functions)';
COMMENT ON TABLE bismarck.log_store IS 'one row per epoch of each training run (read it through bismarck.training_log)';
COMMENT ON TABLE bismarck.grant_store IS 'the roles a model is shared with (bismarck.grant_model)';

-- ---- Roles that own models --------------------------------------------------------------------
-- A role that owns models holds SELECT on this empty table, so that DROP ROLE refuses to drop it
-- ("privileges for table bismarck.model_owners") instead of leaving models whose owner no longer
-- exists. The extension grants and revokes it as models are saved and dropped.
CREATE TABLE bismarck.model_owners (nothing boolean);
REVOKE ALL ON bismarck.model_owners FROM PUBLIC;
COMMENT ON TABLE bismarck.model_owners IS
    'roles that own models hold SELECT here, so that DROP ROLE refuses them; see bismarck.reassign_models';
DO $$
DECLARE
    r text;
BEGIN
    FOR r IN SELECT DISTINCT a.rolname FROM bismarck.model_store m JOIN pg_catalog.pg_roles a ON a.oid = m.owner
              WHERE m.owner <> (SELECT relowner FROM pg_catalog.pg_class WHERE oid = 'bismarck.model_store'::regclass) LOOP
        EXECUTE format('GRANT SELECT ON bismarck.model_owners TO %I', r);
    END LOOP;
END
$$;
-- Ownership moves as REASSIGN OWNED moves objects (superusers only).
CREATE FUNCTION bismarck.reassign_models(old_owner regrole, new_owner regrole) RETURNS bigint
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'permission denied to reassign the models of %', old_owner
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A superuser reassigns models, as with REASSIGN OWNED.';
    END IF;
    UPDATE bismarck.model_store SET owner = new_owner WHERE owner = old_owner;
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE bismarck.log_store SET owner = new_owner WHERE owner = old_owner;
    EXECUTE format('REVOKE SELECT ON bismarck.model_owners FROM %s', old_owner);
    IF n > 0 AND new_owner::oid <> (SELECT relowner FROM pg_class WHERE oid = 'bismarck.model_store'::regclass) THEN
        EXECUTE format('GRANT SELECT ON bismarck.model_owners TO %s', new_owner);
    END IF;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION bismarck.reassign_models(regrole, regrole) FROM PUBLIC;
COMMENT ON FUNCTION bismarck.reassign_models(regrole, regrole) IS
    'give every model of old_owner to new_owner (superusers), so that old_owner can be dropped';

-- ---- Sparse features are scaled ---------------------------------------------------------------
CREATE FUNCTION bismarck.sparse_stats_step(double precision[], bismarck.sparsevec)
    RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'bismarck_sparse_stats_step' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION bismarck.sparse_stats_combine(double precision[], double precision[])
    RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'bismarck_sparse_stats_combine' LANGUAGE C PARALLEL SAFE;
CREATE AGGREGATE bismarck.sparse_stats(bismarck.sparsevec) (
    SFUNC = bismarck.sparse_stats_step, STYPE = double precision[],
    COMBINEFUNC = bismarck.sparse_stats_combine, PARALLEL = SAFE);
COMMENT ON FUNCTION bismarck.sparse_stats_step(double precision[], bismarck.sparsevec) IS 'transition function of bismarck.sparse_stats';
COMMENT ON FUNCTION bismarck.sparse_stats_combine(double precision[], double precision[]) IS 'combine function of bismarck.sparse_stats';
COMMENT ON AGGREGATE bismarck.sparse_stats(bismarck.sparsevec) IS
    'array [n, dim, maxabs_1..maxabs_dim] of a sparse feature column (the training driver''s scaler)';

-- ---- Shuffling without a copy (CorgiPile) ----------------------------------------------------
CREATE FUNCTION bismarck.block_shuffle(internal) RETURNS tsm_handler
    AS 'MODULE_PATHNAME', 'bismarck_block_shuffle_handler' LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bismarck.block_shuffle(internal) IS
    'TABLESAMPLE method: every row once, pages visited in a seeded random order of runs of consecutive pages; arguments (seed bigint, pages_per_run integer, 0 = default 1)';

-- ---- The validation loss of each epoch ------------------------------------------------------
ALTER TABLE bismarck.log_store ADD COLUMN validation_loss double precision;
CREATE OR REPLACE VIEW bismarck.training_log WITH (security_barrier) AS
    SELECT l.model, l.epoch, l.loss, l.step_size, l.seconds, l.rows_seen AS rows,
           l.parallelism, l.workers, l.logged_at, l.validation_loss
      FROM bismarck.log_store l
     WHERE pg_catalog.pg_has_role(l.owner, 'USAGE');
COMMENT ON VIEW bismarck.training_log IS
    'one row per epoch of each training run: its loss, and the loss on the validation rows when there are some';

-- ---- The cost of a prediction ------------------------------------------------------------------
-- A dot product per row is dearer than the comparisons a query filters its rows with: the
-- planner must run those first (a prediction in a WHERE clause, or in a CTE the planner inlines,
-- would otherwise meet the rows a view or a join filters out, e.g. of another dimension).
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = 'bismarck'::regnamespace
                AND p.proname IN ('predict', 'predict_proba', 'decision_function',
                                  'predict_probabilities') LOOP
        EXECUTE format('ALTER FUNCTION %s COST 100', f);
    END LOOP;
END
$$;

COMMENT ON SCHEMA bismarck_work IS 'scratch space of training runs (shuffled copies)';
