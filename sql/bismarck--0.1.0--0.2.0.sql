-- bismarck 0.1.0 -> 0.2.0. Also the second half of a fresh 0.2.0 install (the Makefile builds
-- bismarck--0.2.0.sql as the 0.1.0 script followed by this one), so an updated database and a new
-- one are the same by construction.
\echo Use "ALTER EXTENSION bismarck UPDATE TO '0.2.0'" to load this file. \quit

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
CREATE OR REPLACE FUNCTION bismarck.logistic_step(bismarck.model_state, double precision[], double precision, bismarck.model_state)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_logistic_step' LANGUAGE C PARALLEL SAFE;
CREATE OR REPLACE FUNCTION bismarck.logistic_step(bismarck.model_state, real[], double precision, bismarck.model_state)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_logistic_step' LANGUAGE C PARALLEL SAFE;
CREATE OR REPLACE FUNCTION bismarck.logistic_step(bismarck.model_state, bismarck.sparsevec, double precision, bismarck.model_state)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_logistic_step' LANGUAGE C PARALLEL SAFE;
CREATE OR REPLACE FUNCTION bismarck.svm_step(bismarck.model_state, double precision[], double precision, bismarck.model_state)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_svm_step' LANGUAGE C PARALLEL SAFE;
CREATE OR REPLACE FUNCTION bismarck.svm_step(bismarck.model_state, real[], double precision, bismarck.model_state)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_svm_step' LANGUAGE C PARALLEL SAFE;
CREATE OR REPLACE FUNCTION bismarck.svm_step(bismarck.model_state, bismarck.sparsevec, double precision, bismarck.model_state)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_svm_step' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION bismarck.linear_regression_step(bismarck.model_state, double precision[], double precision, bismarck.model_state)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_linear_regression_step' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION bismarck.linear_regression_step(bismarck.model_state, real[], double precision, bismarck.model_state)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_linear_regression_step' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION bismarck.linear_regression_step(bismarck.model_state, bismarck.sparsevec, double precision, bismarck.model_state)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_linear_regression_step' LANGUAGE C PARALLEL SAFE;
CREATE AGGREGATE bismarck.linear_regression_epoch(features double precision[], label double precision, model bismarck.model_state) (
    SFUNC = bismarck.linear_regression_step, STYPE = bismarck.model_state,
    COMBINEFUNC = bismarck.epoch_combine, PARALLEL = SAFE);
CREATE AGGREGATE bismarck.linear_regression_epoch(features real[], label double precision, model bismarck.model_state) (
    SFUNC = bismarck.linear_regression_step, STYPE = bismarck.model_state,
    COMBINEFUNC = bismarck.epoch_combine, PARALLEL = SAFE);
CREATE AGGREGATE bismarck.linear_regression_epoch(features bismarck.sparsevec, label double precision, model bismarck.model_state) (
    SFUNC = bismarck.linear_regression_step, STYPE = bismarck.model_state,
    COMBINEFUNC = bismarck.epoch_combine, PARALLEL = SAFE);
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
-- like 1 / (l2 steps), too slowly for a smaller l2); epochs NULL is enough for about 50,000 steps (20 to 200); the iterates are
-- averaged from the second epoch on (average => true) with Bottou's per-row step decay, so the
-- per-epoch decay is 1.
CREATE FUNCTION bismarck.train_logistic(
        model text, source regclass, features text, label text,
        epochs integer DEFAULT NULL, step_size bismarck.step_size DEFAULT 'auto',
        decay double precision DEFAULT 1, l2 double precision DEFAULT NULL,
        l1 double precision DEFAULT 0, tolerance double precision DEFAULT 0.0001,
        patience integer DEFAULT 5,
        shuffle text DEFAULT 'once', parallelism text DEFAULT 'serial',
        workers integer DEFAULT NULL, seed bigint DEFAULT NULL,
        on_null text DEFAULT 'skip', replace boolean DEFAULT false,
        standardize boolean DEFAULT true, batch integer DEFAULT NULL,
        average boolean DEFAULT true, exclude text DEFAULT NULL,
        max_categories integer DEFAULT 100)
    RETURNS SETOF bismarck.training_result
    AS 'MODULE_PATHNAME', 'bismarck_train_logistic' LANGUAGE C VOLATILE ROWS 1;
CREATE FUNCTION bismarck.train_svm(
        model text, source regclass, features text, label text,
        epochs integer DEFAULT NULL, step_size bismarck.step_size DEFAULT 'auto',
        decay double precision DEFAULT 1, l2 double precision DEFAULT 0.01,
        l1 double precision DEFAULT 0, tolerance double precision DEFAULT 0.0001,
        patience integer DEFAULT 5,
        shuffle text DEFAULT 'once', parallelism text DEFAULT 'serial',
        workers integer DEFAULT NULL, seed bigint DEFAULT NULL,
        on_null text DEFAULT 'skip', replace boolean DEFAULT false,
        standardize boolean DEFAULT true, batch integer DEFAULT NULL,
        average boolean DEFAULT true, exclude text DEFAULT NULL,
        max_categories integer DEFAULT 100)
    RETURNS SETOF bismarck.training_result
    AS 'MODULE_PATHNAME', 'bismarck_train_svm' LANGUAGE C VOLATILE ROWS 1;
CREATE FUNCTION bismarck.train_linear_regression(
        model text, source regclass, features text, label text,
        epochs integer DEFAULT NULL, step_size bismarck.step_size DEFAULT 'auto',
        decay double precision DEFAULT 1, l2 double precision DEFAULT NULL,
        l1 double precision DEFAULT 0, tolerance double precision DEFAULT 0.0001,
        patience integer DEFAULT 5,
        shuffle text DEFAULT 'once', parallelism text DEFAULT 'serial',
        workers integer DEFAULT NULL, seed bigint DEFAULT NULL,
        on_null text DEFAULT 'skip', replace boolean DEFAULT false,
        standardize boolean DEFAULT true, batch integer DEFAULT NULL,
        average boolean DEFAULT true, exclude text DEFAULT NULL,
        max_categories integer DEFAULT 100)
    RETURNS SETOF bismarck.training_result
    AS 'MODULE_PATHNAME', 'bismarck_train_linear_regression' LANGUAGE C VOLATILE ROWS 1;
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
        max_norm double precision DEFAULT 0)
    RETURNS SETOF bismarck.training_result
    AS 'MODULE_PATHNAME', 'bismarck_train_lmf' LANGUAGE C VOLATILE ROWS 1;
-- The same with source text: a table's name (read as regclass reads it), or a query
-- ('SELECT ...', 'WITH ...', 'VALUES ...', 'TABLE ...'): one SELECT that writes nothing, run with the
-- caller's privileges. An unknown literal resolves to these (PostgreSQL prefers the string
-- category), so a table name in quotes and a query take the same path; a regclass value takes the
-- forms above.
CREATE FUNCTION bismarck.train_logistic(
        model text, source text, features text, label text,
        epochs integer DEFAULT NULL, step_size bismarck.step_size DEFAULT 'auto',
        decay double precision DEFAULT 1, l2 double precision DEFAULT NULL,
        l1 double precision DEFAULT 0, tolerance double precision DEFAULT 0.0001,
        patience integer DEFAULT 5,
        shuffle text DEFAULT 'once', parallelism text DEFAULT 'serial',
        workers integer DEFAULT NULL, seed bigint DEFAULT NULL,
        on_null text DEFAULT 'skip', replace boolean DEFAULT false,
        standardize boolean DEFAULT true, batch integer DEFAULT NULL,
        average boolean DEFAULT true, exclude text DEFAULT NULL,
        max_categories integer DEFAULT 100)
    RETURNS SETOF bismarck.training_result
    AS 'MODULE_PATHNAME', 'bismarck_train_logistic' LANGUAGE C VOLATILE ROWS 1;
CREATE FUNCTION bismarck.train_svm(
        model text, source text, features text, label text,
        epochs integer DEFAULT NULL, step_size bismarck.step_size DEFAULT 'auto',
        decay double precision DEFAULT 1, l2 double precision DEFAULT 0.01,
        l1 double precision DEFAULT 0, tolerance double precision DEFAULT 0.0001,
        patience integer DEFAULT 5,
        shuffle text DEFAULT 'once', parallelism text DEFAULT 'serial',
        workers integer DEFAULT NULL, seed bigint DEFAULT NULL,
        on_null text DEFAULT 'skip', replace boolean DEFAULT false,
        standardize boolean DEFAULT true, batch integer DEFAULT NULL,
        average boolean DEFAULT true, exclude text DEFAULT NULL,
        max_categories integer DEFAULT 100)
    RETURNS SETOF bismarck.training_result
    AS 'MODULE_PATHNAME', 'bismarck_train_svm' LANGUAGE C VOLATILE ROWS 1;
CREATE FUNCTION bismarck.train_linear_regression(
        model text, source text, features text, label text,
        epochs integer DEFAULT NULL, step_size bismarck.step_size DEFAULT 'auto',
        decay double precision DEFAULT 1, l2 double precision DEFAULT NULL,
        l1 double precision DEFAULT 0, tolerance double precision DEFAULT 0.0001,
        patience integer DEFAULT 5,
        shuffle text DEFAULT 'once', parallelism text DEFAULT 'serial',
        workers integer DEFAULT NULL, seed bigint DEFAULT NULL,
        on_null text DEFAULT 'skip', replace boolean DEFAULT false,
        standardize boolean DEFAULT true, batch integer DEFAULT NULL,
        average boolean DEFAULT true, exclude text DEFAULT NULL,
        max_categories integer DEFAULT 100)
    RETURNS SETOF bismarck.training_result
    AS 'MODULE_PATHNAME', 'bismarck_train_linear_regression' LANGUAGE C VOLATILE ROWS 1;
DO $$
DECLARE
    source text;
    args text;
BEGIN
    FOREACH source IN ARRAY ARRAY['regclass', 'text'] LOOP
        args := format('text, %s, text, text, integer, bismarck.step_size, double precision, '
                       'double precision, double precision, double precision, integer, text, text, '
                       'integer, bigint, text, boolean, boolean, integer, boolean, text, integer', source);
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
            SELECT (%I)::text AS actual, bismarck.predict(%L::text, %s) AS predicted,
                   CASE WHEN %L IN ('logistic', 'multinomial')
                        THEN (bismarck.predict_probabilities(%L::text, %s))[array_position(%L::text[], (%I)::text)] END AS p_true,
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
        label, m.name, fx,
        m.task, m.name, fx, cls, label,
        cls, m.name, fx,
        source, fwhere, label,
        cls, cls, cls, cls, cls, cls);
    RETURN QUERY EXECUTE q;
END
$$;
COMMENT ON FUNCTION bismarck.evaluate IS
    'metrics of a model on a table: accuracy, precision, recall, F1, log loss, ROC AUC and a confusion matrix; RMSE, MAE, R²';
