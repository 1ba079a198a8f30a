-- The C++/PostgreSQL error boundary: every failure becomes a clean ERROR with a SQLSTATE,
-- and the session stays usable after each. The test hook is created here, never by the extension.
CREATE FUNCTION pg_temp.raise(kind text) RETURNS int
    AS '$libdir/bismarck', 'bismarck_test_raise' LANGUAGE C STRICT;
-- Runs raise(kind) and reports the SQLSTATE, message and hint of what it raised.
CREATE FUNCTION pg_temp.try(kind text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text; msg text; hint text;
BEGIN
    PERFORM pg_temp.raise(kind);
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
    RETURN state || ': ' || msg || coalesce(nullif(' (hint: ' || hint || ')', ' (hint: )'), '');
END $$;
-- Resident memory of this backend, in MB.
CREATE FUNCTION pg_temp.rss_mb() RETURNS bigint LANGUAGE sql AS $$
    SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'),
                         'VmRSS:\s+(\d+)'))[1]::bigint / 1024 $$;
SELECT pg_temp.raise('none');
-- a std::runtime_error thrown five frames deep, with vectors alive in each frame
SELECT pg_temp.raise('runtime');
SELECT 1 AS still_alive;
SELECT kind, pg_temp.try(kind)
  FROM unnest(ARRAY['runtime', 'bad_alloc', 'invalid', 'diverged', 'unknown', 'postgres']) kind;
-- a PostgreSQL error raised while C++ objects own 8 MB: caught 200 times, the memory comes back
SELECT pg_temp.rss_mb() AS before \gset
SELECT count(*) FROM generate_series(1, 200) g WHERE pg_temp.try('postgres') LIKE '22012:%';
SELECT pg_temp.rss_mb() - :before < 100 AS no_leak;
SELECT 1 AS still_alive;
