CREATE FUNCTION probe_sfunc(bytea, float8[], float8, bytea) RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION probe_combine(bytea, bytea) RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C PARALLEL SAFE;
CREATE AGGREGATE probe_agg(float8[], float8, bytea) (SFUNC = probe_sfunc, STYPE = bytea, COMBINEFUNC = probe_combine, PARALLEL = SAFE);
