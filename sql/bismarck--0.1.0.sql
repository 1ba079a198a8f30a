-- bismarck 0.1.0: the whole SQL surface in one file.
\echo Use "CREATE EXTENSION bismarck" to load this file. \quit

-- The schema belongs to the extension, so DROP EXTENSION removes it with everything in it.
CREATE SCHEMA bismarck;

CREATE FUNCTION bismarck.version() RETURNS text
    AS 'MODULE_PATHNAME', 'bismarck_version' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bismarck.version() IS 'version of the bismarck library';
