-- bismarck 0.1.0: the whole SQL surface in one file.
\echo Use "CREATE EXTENSION bismarck" to load this file. \quit

-- The schema belongs to the extension, so DROP EXTENSION removes it with everything in it.
CREATE SCHEMA bismarck;

CREATE FUNCTION bismarck.version() RETURNS text
    AS 'MODULE_PATHNAME', 'bismarck_version' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bismarck.version() IS 'version of the bismarck library';

-- Sparse vectors
-- bismarck.sparsevec: a sparse float8 vector, text form '{index:value,...}/dim' with 1-based
-- indices (as pgvector's sparsevec). Stored as dim, nnz, then 0-based indices and values; every
-- input path rejects out-of-range, unsorted or duplicate indices and non-finite values, and
-- drops explicit zeros.
CREATE TYPE bismarck.sparsevec;

CREATE FUNCTION bismarck.sparsevec_in(cstring, oid, integer) RETURNS bismarck.sparsevec
    AS 'MODULE_PATHNAME', 'bismarck_sparsevec_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bismarck.sparsevec_out(bismarck.sparsevec) RETURNS cstring
    AS 'MODULE_PATHNAME', 'bismarck_sparsevec_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bismarck.sparsevec_recv(internal, oid, integer) RETURNS bismarck.sparsevec
    AS 'MODULE_PATHNAME', 'bismarck_sparsevec_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bismarck.sparsevec_send(bismarck.sparsevec) RETURNS bytea
    AS 'MODULE_PATHNAME', 'bismarck_sparsevec_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE bismarck.sparsevec (
    INPUT = bismarck.sparsevec_in,
    OUTPUT = bismarck.sparsevec_out,
    RECEIVE = bismarck.sparsevec_recv,
    SEND = bismarck.sparsevec_send,
    STORAGE = extended,
    ALIGNMENT = double,
    INTERNALLENGTH = VARIABLE
);
COMMENT ON TYPE bismarck.sparsevec IS
    'sparse float8 vector, text form {index:value,...}/dim with 1-based indices';
COMMENT ON FUNCTION bismarck.sparsevec_in(cstring, oid, integer) IS
    'text input of bismarck.sparsevec';
COMMENT ON FUNCTION bismarck.sparsevec_out(bismarck.sparsevec) IS
    'text output of bismarck.sparsevec (values printed exactly)';
COMMENT ON FUNCTION bismarck.sparsevec_recv(internal, oid, integer) IS
    'binary input of bismarck.sparsevec';
COMMENT ON FUNCTION bismarck.sparsevec_send(bismarck.sparsevec) IS
    'binary output of bismarck.sparsevec';

CREATE FUNCTION bismarck.sparsevec(indices integer[], vals double precision[], dim integer)
    RETURNS bismarck.sparsevec
    AS 'MODULE_PATHNAME', 'bismarck_sparsevec_construct' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bismarck.sparsevec(integer[], double precision[], integer) IS
    'sparse vector of dimension dim with vals at the 1-based, strictly increasing indices (zeros dropped)';

CREATE FUNCTION bismarck.array_to_sparsevec(double precision[]) RETURNS bismarck.sparsevec
    AS 'MODULE_PATHNAME', 'bismarck_array_to_sparsevec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bismarck.array_to_sparsevec(double precision[]) IS
    'sparse form of a dense float8[] (zeros dropped, dimension = array length)';

CREATE FUNCTION bismarck.sparsevec_to_array(bismarck.sparsevec) RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'bismarck_sparsevec_to_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bismarck.sparsevec_to_array(bismarck.sparsevec) IS
    'dense float8[] of a sparse vector (dims() elements)';

CREATE FUNCTION bismarck.dims(bismarck.sparsevec) RETURNS integer
    AS 'MODULE_PATHNAME', 'bismarck_sparsevec_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bismarck.dims(bismarck.sparsevec) IS 'dimension of a sparse vector';

CREATE FUNCTION bismarck.nnz(bismarck.sparsevec) RETURNS integer
    AS 'MODULE_PATHNAME', 'bismarck_sparsevec_nnz' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bismarck.nnz(bismarck.sparsevec) IS
    'number of stored (non-zero) elements of a sparse vector';

CREATE CAST (double precision[] AS bismarck.sparsevec)
    WITH FUNCTION bismarck.array_to_sparsevec(double precision[]) AS ASSIGNMENT;
COMMENT ON CAST (double precision[] AS bismarck.sparsevec) IS
    'dense float8[] to sparse vector (zeros dropped)';
CREATE CAST (bismarck.sparsevec AS double precision[])
    WITH FUNCTION bismarck.sparsevec_to_array(bismarck.sparsevec);
COMMENT ON CAST (bismarck.sparsevec AS double precision[]) IS
    'sparse vector to dense float8[] (explicit: it can be large)';

-- Step sizes: a positive number, or 'auto' (calibrated on a sample of the shuffled data).
CREATE TYPE bismarck.step_size;
CREATE FUNCTION bismarck.step_size_in(cstring) RETURNS bismarck.step_size
    AS 'MODULE_PATHNAME', 'bismarck_step_size_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bismarck.step_size_out(bismarck.step_size) RETURNS cstring
    AS 'MODULE_PATHNAME', 'bismarck_step_size_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE bismarck.step_size (
    INPUT = bismarck.step_size_in, OUTPUT = bismarck.step_size_out,
    INTERNALLENGTH = 8, PASSEDBYVALUE, ALIGNMENT = double);
CREATE FUNCTION bismarck.step_size(double precision) RETURNS bismarck.step_size
    AS 'MODULE_PATHNAME', 'bismarck_step_size_from_float8' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bismarck.step_size(numeric) RETURNS bismarck.step_size
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN bismarck.step_size($1::double precision);
CREATE CAST (double precision AS bismarck.step_size)
    WITH FUNCTION bismarck.step_size(double precision) AS IMPLICIT;
CREATE CAST (numeric AS bismarck.step_size) WITH FUNCTION bismarck.step_size(numeric) AS IMPLICIT;
CREATE FUNCTION bismarck.step_size(integer) RETURNS bismarck.step_size
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN bismarck.step_size($1::double precision);
CREATE CAST (integer AS bismarck.step_size) WITH FUNCTION bismarck.step_size(integer) AS IMPLICIT;
COMMENT ON TYPE bismarck.step_size IS 'a positive step size, or ''auto''';

-- Model states: one value that is the epoch aggregate's state, the model passed from epoch to
-- epoch, and the stored model. Its text form is exact hex, so partial states survive a trip
-- between nodes of a distributed engine bit for bit.
CREATE TYPE bismarck.model_state;
CREATE FUNCTION bismarck.model_state_in(cstring) RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bismarck.model_state_out(bismarck.model_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'bismarck_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bismarck.model_state_recv(internal) RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bismarck.model_state_send(bismarck.model_state) RETURNS bytea
    AS 'MODULE_PATHNAME', 'bismarck_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE bismarck.model_state (
    INPUT = bismarck.model_state_in, OUTPUT = bismarck.model_state_out,
    RECEIVE = bismarck.model_state_recv, SEND = bismarck.model_state_send,
    INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = extended);
COMMENT ON TYPE bismarck.model_state IS 'a bismarck model: parameters, scaler and options';

-- Starting states for hand-written epochs, and what a state tells.
CREATE FUNCTION bismarck.logistic_init(dim integer, step_size double precision DEFAULT 0.1,
        l2 double precision DEFAULT 0, l1 double precision DEFAULT 0)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_linear_init' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bismarck.svm_init(dim integer, step_size double precision DEFAULT 0.1,
        l2 double precision DEFAULT 0, l1 double precision DEFAULT 0)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_linear_init' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bismarck.lmf_init(n_rows bigint, n_cols bigint, rank integer,
        step_size double precision DEFAULT 0.01, l2 double precision DEFAULT 0.05,
        mean double precision DEFAULT 0, seed bigint DEFAULT 42)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_lmf_init' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bismarck.with_step_size(state bismarck.model_state, step_size double precision)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_with_step_size' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bismarck.epoch_loss(state bismarck.model_state) RETURNS double precision
    AS 'MODULE_PATHNAME', 'bismarck_epoch_loss' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bismarck.epoch_rows(state bismarck.model_state) RETURNS bigint
    AS 'MODULE_PATHNAME', 'bismarck_epoch_rows' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bismarck.coefficients(state bismarck.model_state) RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'bismarck_coefficients' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bismarck.intercept(state bismarck.model_state) RETURNS double precision
    AS 'MODULE_PATHNAME', 'bismarck_intercept' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bismarck.epoch_loss(bismarck.model_state) IS
    'mean loss, over the rows of the epoch that produced this state, of the model the epoch started from';
COMMENT ON FUNCTION bismarck.coefficients(bismarck.model_state) IS
    'weights of a linear model in the units of the raw features (the scaler folded in)';

-- The epoch aggregates: one call over a table is one epoch of incremental gradient descent.
-- The last argument is the model to start from; the result is the model after the epoch.
CREATE FUNCTION bismarck.epoch_combine(bismarck.model_state, bismarck.model_state)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_epoch_combine' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION bismarck.logistic_step(bismarck.model_state, double precision[], double precision, bismarck.model_state)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_linear_step' LANGUAGE C PARALLEL SAFE;
CREATE AGGREGATE bismarck.logistic_epoch(features double precision[], label double precision, model bismarck.model_state) (
    SFUNC = bismarck.logistic_step, STYPE = bismarck.model_state,
    COMBINEFUNC = bismarck.epoch_combine, PARALLEL = SAFE);
CREATE FUNCTION bismarck.logistic_step(bismarck.model_state, real[], double precision, bismarck.model_state)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_linear_step' LANGUAGE C PARALLEL SAFE;
CREATE AGGREGATE bismarck.logistic_epoch(features real[], label double precision, model bismarck.model_state) (
    SFUNC = bismarck.logistic_step, STYPE = bismarck.model_state,
    COMBINEFUNC = bismarck.epoch_combine, PARALLEL = SAFE);
CREATE FUNCTION bismarck.logistic_step(bismarck.model_state, bismarck.sparsevec, double precision, bismarck.model_state)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_linear_step' LANGUAGE C PARALLEL SAFE;
CREATE AGGREGATE bismarck.logistic_epoch(features bismarck.sparsevec, label double precision, model bismarck.model_state) (
    SFUNC = bismarck.logistic_step, STYPE = bismarck.model_state,
    COMBINEFUNC = bismarck.epoch_combine, PARALLEL = SAFE);
CREATE FUNCTION bismarck.svm_step(bismarck.model_state, double precision[], double precision, bismarck.model_state)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_linear_step' LANGUAGE C PARALLEL SAFE;
CREATE AGGREGATE bismarck.svm_epoch(features double precision[], label double precision, model bismarck.model_state) (
    SFUNC = bismarck.svm_step, STYPE = bismarck.model_state,
    COMBINEFUNC = bismarck.epoch_combine, PARALLEL = SAFE);
CREATE FUNCTION bismarck.svm_step(bismarck.model_state, real[], double precision, bismarck.model_state)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_linear_step' LANGUAGE C PARALLEL SAFE;
CREATE AGGREGATE bismarck.svm_epoch(features real[], label double precision, model bismarck.model_state) (
    SFUNC = bismarck.svm_step, STYPE = bismarck.model_state,
    COMBINEFUNC = bismarck.epoch_combine, PARALLEL = SAFE);
CREATE FUNCTION bismarck.svm_step(bismarck.model_state, bismarck.sparsevec, double precision, bismarck.model_state)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_linear_step' LANGUAGE C PARALLEL SAFE;
CREATE AGGREGATE bismarck.svm_epoch(features bismarck.sparsevec, label double precision, model bismarck.model_state) (
    SFUNC = bismarck.svm_step, STYPE = bismarck.model_state,
    COMBINEFUNC = bismarck.epoch_combine, PARALLEL = SAFE);
CREATE FUNCTION bismarck.lmf_step(bismarck.model_state, bigint, bigint, double precision, bismarck.model_state)
    RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_lmf_step' LANGUAGE C PARALLEL SAFE;
CREATE AGGREGATE bismarck.lmf_epoch(row_id bigint, col_id bigint, value double precision, model bismarck.model_state) (
    SFUNC = bismarck.lmf_step, STYPE = bismarck.model_state,
    COMBINEFUNC = bismarck.epoch_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE bismarck.logistic_epoch(double precision[], double precision, bismarck.model_state) IS
    'one epoch of logistic regression over the rows aggregated (labels 0/1 or -1/1)';
COMMENT ON AGGREGATE bismarck.svm_epoch(double precision[], double precision, bismarck.model_state) IS
    'one epoch of a linear SVM over the rows aggregated (labels 0/1 or -1/1)';
COMMENT ON AGGREGATE bismarck.lmf_epoch(bigint, bigint, double precision, bismarck.model_state) IS
    'one epoch of low-rank matrix factorization over the cells aggregated';

-- Per-coordinate means and spreads of a dense feature column (the training driver's scaler).
CREATE FUNCTION bismarck.feature_stats_step(double precision[], double precision[])
    RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'bismarck_feature_stats_step' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION bismarck.feature_stats_step(double precision[], real[])
    RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'bismarck_feature_stats_step' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION bismarck.feature_stats_combine(double precision[], double precision[])
    RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'bismarck_feature_stats_combine' LANGUAGE C PARALLEL SAFE;
CREATE AGGREGATE bismarck.feature_stats(double precision[]) (
    SFUNC = bismarck.feature_stats_step, STYPE = double precision[],
    COMBINEFUNC = bismarck.feature_stats_combine, PARALLEL = SAFE);
CREATE AGGREGATE bismarck.feature_stats(real[]) (
    SFUNC = bismarck.feature_stats_step, STYPE = double precision[],
    COMBINEFUNC = bismarck.feature_stats_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE bismarck.feature_stats(double precision[]) IS
    'array [n, dim, mean_1..mean_dim, m2_1..m2_dim] of a dense feature column';

-- The catalog. Users have no privileges on the stores: the extension's functions write them,
-- and users read them through the views below, which show the models they own or were granted.
CREATE TABLE bismarck.model_store (
    name text PRIMARY KEY,
    task text NOT NULL,
    source text NOT NULL,
    columns text[] NOT NULL,
    dimension bigint NOT NULL,
    rows_used bigint NOT NULL,
    rows_skipped bigint NOT NULL,
    options jsonb NOT NULL,
    epochs integer NOT NULL,
    loss double precision,
    seconds double precision NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    owner oid NOT NULL,
    state bismarck.model_state NOT NULL
);
CREATE TABLE bismarck.log_store (
    model text NOT NULL,
    epoch integer NOT NULL,
    loss double precision,
    step_size double precision NOT NULL,
    seconds double precision NOT NULL,
    rows_seen bigint NOT NULL,
    parallelism text NOT NULL,
    workers integer NOT NULL,
    logged_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    owner oid NOT NULL,
    PRIMARY KEY (model, epoch)
);
CREATE TABLE bismarck.grant_store (
    model text NOT NULL REFERENCES bismarck.model_store (name) ON DELETE CASCADE,
    grantee oid NOT NULL,  -- 0: PUBLIC
    PRIMARY KEY (model, grantee)
);
REVOKE ALL ON bismarck.model_store, bismarck.log_store, bismarck.grant_store FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('bismarck.model_store', '');
SELECT pg_catalog.pg_extension_config_dump('bismarck.log_store', '');
SELECT pg_catalog.pg_extension_config_dump('bismarck.grant_store', '');

-- Both views are security barriers: a user's cheap function in a WHERE clause must not run on
-- the rows of models the user may not see (a leaky function would print their names and states).
CREATE VIEW bismarck.models WITH (security_barrier) AS
    SELECT m.name, m.task, m.source, m.columns, m.dimension, m.rows_used, m.rows_skipped,
           m.options, m.epochs, m.loss, m.seconds, m.created_at,
           m.owner::regrole AS owner,
           bismarck.coefficients(m.state) AS coefficients,
           bismarck.intercept(m.state) AS intercept,
           m.state
      FROM bismarck.model_store m
     WHERE pg_catalog.pg_has_role(m.owner, 'USAGE')
        OR EXISTS (SELECT 1 FROM bismarck.grant_store g
                    WHERE g.model = m.name
                      AND (g.grantee = 0 OR pg_catalog.pg_has_role(g.grantee, 'USAGE')));
COMMENT ON VIEW bismarck.models IS 'the models you own or were granted: one row per model';
CREATE VIEW bismarck.training_log WITH (security_barrier) AS
    SELECT l.model, l.epoch, l.loss, l.step_size, l.seconds, l.rows_seen AS rows,
           l.parallelism, l.workers, l.logged_at
      FROM bismarck.log_store l
     WHERE pg_catalog.pg_has_role(l.owner, 'USAGE');
COMMENT ON VIEW bismarck.training_log IS
    'one row per epoch of each training run: loss of the model the epoch started from';
GRANT SELECT ON bismarck.models, bismarck.training_log TO PUBLIC;
GRANT USAGE ON SCHEMA bismarck TO PUBLIC;

-- Scratch space for training runs: each run's shuffled copy lives here, owned by the caller,
-- for the duration of the run's transaction only (it is created and dropped inside it).
CREATE SCHEMA bismarck_work;
GRANT USAGE, CREATE ON SCHEMA bismarck_work TO PUBLIC;

-- Training. Every function takes the same options after its own leading arguments.
CREATE FUNCTION bismarck.train_logistic(
        model text, source regclass, features text, label text,
        epochs integer DEFAULT 20, step_size bismarck.step_size DEFAULT 'auto',
        decay double precision DEFAULT 0.95, l2 double precision DEFAULT 0.0001,
        l1 double precision DEFAULT 0, tolerance double precision DEFAULT 0.0001,
        shuffle text DEFAULT 'once', parallelism text DEFAULT 'serial',
        workers integer DEFAULT NULL, seed bigint DEFAULT NULL,
        on_null text DEFAULT 'skip', replace boolean DEFAULT false,
        standardize boolean DEFAULT true, batch integer DEFAULT NULL)
    RETURNS TABLE (model text, task text, rows bigint, skipped bigint, dimension bigint,
                   epochs integer, loss double precision, step_size double precision,
                   seconds double precision, converged boolean, parallelism text,
                   workers integer)
    AS 'MODULE_PATHNAME', 'bismarck_train_linear' LANGUAGE C VOLATILE;
CREATE FUNCTION bismarck.train_svm(
        model text, source regclass, features text, label text,
        epochs integer DEFAULT 20, step_size bismarck.step_size DEFAULT 'auto',
        decay double precision DEFAULT 0.95, l2 double precision DEFAULT 0.01,
        l1 double precision DEFAULT 0, tolerance double precision DEFAULT 0.0001,
        shuffle text DEFAULT 'once', parallelism text DEFAULT 'serial',
        workers integer DEFAULT NULL, seed bigint DEFAULT NULL,
        on_null text DEFAULT 'skip', replace boolean DEFAULT false,
        standardize boolean DEFAULT true, batch integer DEFAULT NULL)
    RETURNS TABLE (model text, task text, rows bigint, skipped bigint, dimension bigint,
                   epochs integer, loss double precision, step_size double precision,
                   seconds double precision, converged boolean, parallelism text,
                   workers integer)
    AS 'MODULE_PATHNAME', 'bismarck_train_linear' LANGUAGE C VOLATILE;
CREATE FUNCTION bismarck.train_lmf(
        model text, source regclass, row_column text, column_column text, value_column text,
        rank integer DEFAULT 10,
        epochs integer DEFAULT 20, step_size bismarck.step_size DEFAULT 'auto',
        decay double precision DEFAULT 0.9, l2 double precision DEFAULT 0.1,
        l1 double precision DEFAULT 0, tolerance double precision DEFAULT 0.0001,
        shuffle text DEFAULT 'once', parallelism text DEFAULT 'serial',
        workers integer DEFAULT NULL, seed bigint DEFAULT NULL,
        on_null text DEFAULT 'skip', replace boolean DEFAULT false,
        max_norm double precision DEFAULT 0)
    RETURNS TABLE (model text, task text, rows bigint, skipped bigint, dimension bigint,
                   epochs integer, loss double precision, step_size double precision,
                   seconds double precision, converged boolean, parallelism text,
                   workers integer)
    AS 'MODULE_PATHNAME', 'bismarck_train_lmf' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION bismarck.train_logistic IS 'train a logistic regression model by IGD';
COMMENT ON FUNCTION bismarck.train_svm IS 'train a linear SVM by IGD';
COMMENT ON FUNCTION bismarck.train_lmf IS 'train a low-rank matrix factorization by IGD';

-- Prediction, by model name (loaded once per query) or by value (IMMUTABLE).
CREATE FUNCTION bismarck.model(name text) RETURNS bismarck.model_state
    AS 'MODULE_PATHNAME', 'bismarck_model_state' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bismarck.predict(model text, features double precision[]) RETURNS integer
    AS 'MODULE_PATHNAME', 'bismarck_predict_class' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION bismarck.predict_proba(model text, features double precision[]) RETURNS double precision
    AS 'MODULE_PATHNAME', 'bismarck_predict_proba' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION bismarck.decision_function(model text, features double precision[]) RETURNS double precision
    AS 'MODULE_PATHNAME', 'bismarck_decision_function' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION bismarck.predict(model text, features real[]) RETURNS integer
    AS 'MODULE_PATHNAME', 'bismarck_predict_class' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION bismarck.predict_proba(model text, features real[]) RETURNS double precision
    AS 'MODULE_PATHNAME', 'bismarck_predict_proba' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION bismarck.decision_function(model text, features real[]) RETURNS double precision
    AS 'MODULE_PATHNAME', 'bismarck_decision_function' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION bismarck.predict(model text, features bismarck.sparsevec) RETURNS integer
    AS 'MODULE_PATHNAME', 'bismarck_predict_class' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION bismarck.predict_proba(model text, features bismarck.sparsevec) RETURNS double precision
    AS 'MODULE_PATHNAME', 'bismarck_predict_proba' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION bismarck.decision_function(model text, features bismarck.sparsevec) RETURNS double precision
    AS 'MODULE_PATHNAME', 'bismarck_decision_function' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION bismarck.predict(model text, row_id bigint, col_id bigint) RETURNS double precision
    AS 'MODULE_PATHNAME', 'bismarck_predict_cell' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION bismarck.predict(model bismarck.model_state, features double precision[]) RETURNS integer
    AS 'MODULE_PATHNAME', 'bismarck_predict_class' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION bismarck.predict_proba(model bismarck.model_state, features double precision[]) RETURNS double precision
    AS 'MODULE_PATHNAME', 'bismarck_predict_proba' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION bismarck.decision_function(model bismarck.model_state, features double precision[]) RETURNS double precision
    AS 'MODULE_PATHNAME', 'bismarck_decision_function' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION bismarck.predict(model bismarck.model_state, features real[]) RETURNS integer
    AS 'MODULE_PATHNAME', 'bismarck_predict_class' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION bismarck.predict_proba(model bismarck.model_state, features real[]) RETURNS double precision
    AS 'MODULE_PATHNAME', 'bismarck_predict_proba' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION bismarck.decision_function(model bismarck.model_state, features real[]) RETURNS double precision
    AS 'MODULE_PATHNAME', 'bismarck_decision_function' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION bismarck.predict(model bismarck.model_state, features bismarck.sparsevec) RETURNS integer
    AS 'MODULE_PATHNAME', 'bismarck_predict_class' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION bismarck.predict_proba(model bismarck.model_state, features bismarck.sparsevec) RETURNS double precision
    AS 'MODULE_PATHNAME', 'bismarck_predict_proba' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION bismarck.decision_function(model bismarck.model_state, features bismarck.sparsevec) RETURNS double precision
    AS 'MODULE_PATHNAME', 'bismarck_decision_function' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION bismarck.predict(model bismarck.model_state, row_id bigint, col_id bigint) RETURNS double precision
    AS 'MODULE_PATHNAME', 'bismarck_predict_cell' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION bismarck.recommend(model text, row_id bigint, k integer DEFAULT 10,
        exclude_seen boolean DEFAULT true)
    RETURNS TABLE (col_id bigint, score double precision)
    AS 'MODULE_PATHNAME', 'bismarck_recommend' LANGUAGE C STABLE;
COMMENT ON FUNCTION bismarck.recommend IS
    'the k columns with the highest predicted values for a row, best first';

-- Catalog management.
CREATE FUNCTION bismarck.drop_model(name text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'bismarck_drop_model' LANGUAGE C VOLATILE STRICT;
CREATE FUNCTION bismarck.grant_model(name text, grantee regrole, revoke boolean DEFAULT false)
    RETURNS void
    AS 'MODULE_PATHNAME', 'bismarck_grant_model' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION bismarck.drop_model IS 'drop a model you own; false if it does not exist';
COMMENT ON FUNCTION bismarck.grant_model IS 'let a role use (not replace) a model you own';

-- A physically shuffled copy of a table, reproducible for a seed.
CREATE FUNCTION bismarck.shuffle(source regclass, target text, seed bigint DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'bismarck_shuffle' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION bismarck.shuffle IS
    'create table target as the rows of source in a random order fixed by seed; returns the row count';

-- Evaluation of a model on a table: classifiers get accuracy, precision, recall, F1, log loss
-- (logistic only) and ROC AUC; factorizations get RMSE and MAE. Columns default to the ones the
-- model was trained on. Runs with the caller's privileges; every identifier is quoted.
CREATE FUNCTION bismarck.evaluate(model text, source regclass,
        features text DEFAULT NULL, label text DEFAULT NULL,
        row_column text DEFAULT NULL, column_column text DEFAULT NULL,
        value_column text DEFAULT NULL)
    RETURNS TABLE (rows bigint, accuracy double precision, "precision" double precision,
                   recall double precision, f1 double precision, log_loss double precision,
                   roc_auc double precision, rmse double precision, mae double precision)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m record;
    lbl_type oid;
    pos_expr text;
    q text;
BEGIN
    SELECT name, task, columns INTO m FROM bismarck.models WHERE name = evaluate.model;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist', evaluate.model
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT name FROM bismarck.models lists the models you may use.';
    END IF;
    IF m.task = 'lmf' THEN
        q := format('SELECT count(*)::int8, NULL::float8, NULL::float8, NULL::float8, NULL::float8, '
                    'NULL::float8, NULL::float8, sqrt(avg(e * e))::float8, avg(abs(e))::float8 '
                    'FROM (SELECT bismarck.predict(%L::text, (%I)::int8, (%I)::int8) - (%I)::float8 AS e '
                    'FROM %s WHERE %I IS NOT NULL AND %I IS NOT NULL AND %I IS NOT NULL) s',
                    m.name, coalesce(row_column, m.columns[1]), coalesce(column_column, m.columns[2]),
                    coalesce(value_column, m.columns[3]), source,
                    coalesce(row_column, m.columns[1]), coalesce(column_column, m.columns[2]),
                    coalesce(value_column, m.columns[3]));
        RETURN QUERY EXECUTE q;
        RETURN;
    END IF;
    features := coalesce(features, m.columns[1]);
    label := coalesce(label, m.columns[2]);
    SELECT atttypid INTO lbl_type FROM pg_attribute
     WHERE attrelid = source AND attname = label AND attnum > 0 AND NOT attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'label column "%" of relation % does not exist', label, source
            USING ERRCODE = 'undefined_column';
    END IF;
    pos_expr := CASE WHEN lbl_type = 'boolean'::regtype THEN format('(%I)', label)
                     ELSE format('((%I)::float8 = 1)', label) END;
    q := format($q$
        WITH s AS (
            SELECT %s AS pos, bismarck.decision_function(%L::text, %I) AS z
              FROM %s WHERE %I IS NOT NULL AND %I IS NOT NULL),
        r AS (
            SELECT pos, z, rank() OVER (ORDER BY z) + (count(*) OVER (PARTITION BY z) - 1) / 2.0 AS rk
              FROM s),
        c AS (
            SELECT count(*) AS n,
                   count(*) FILTER (WHERE pos) AS npos,
                   count(*) FILTER (WHERE NOT pos) AS nneg,
                   count(*) FILTER (WHERE z > 0 AND pos) AS tp,
                   count(*) FILTER (WHERE z > 0 AND NOT pos) AS fp,
                   count(*) FILTER (WHERE z <= 0 AND pos) AS fn,
                   count(*) FILTER (WHERE (z > 0) = pos) AS correct,
                   avg(greatest(CASE WHEN pos THEN -z ELSE z END, 0) + ln(1 + exp(-abs(z)))) AS ll,
                   sum(rk) FILTER (WHERE pos) AS rank_sum
              FROM r)
        SELECT n::int8, correct::float8 / nullif(n, 0),
               tp::float8 / nullif(tp + fp, 0),
               tp::float8 / nullif(tp + fn, 0),
               (2.0 * tp / nullif(2 * tp + fp + fn, 0))::float8,
               CASE WHEN %L = 'logistic' THEN ll::float8 END,
               ((rank_sum - npos * (npos + 1) / 2.0) / nullif(npos * nneg, 0))::float8,
               NULL::float8, NULL::float8
          FROM c $q$,
        pos_expr, m.name, features, source, features, label, m.task);
    RETURN QUERY EXECUTE q;
END
$$;
COMMENT ON FUNCTION bismarck.evaluate IS
    'metrics of a model on a table: accuracy, precision, recall, F1, log loss, ROC AUC; RMSE, MAE';

-- bismarck.progress: the trainings running now, from any session (issue 14).
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
COMMENT ON VIEW bismarck.progress IS 'trainings running now, from any session';
GRANT SELECT ON bismarck.progress TO PUBLIC;
