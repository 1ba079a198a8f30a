-- bismarck.sparsevec: text and binary round trips, casts, the constructor, and every error.

-- Text input and output.
SELECT '{1:1.5,3:2}/5'::bismarck.sparsevec;
SELECT '{}/5'::bismarck.sparsevec AS empty;
SELECT ' { 1 : 1.5 , +3 : -2e-3 } / 5 '::bismarck.sparsevec AS spaces;
SELECT '{1:0,2:3,4:-0}/4'::bismarck.sparsevec AS zeros_dropped;
SELECT '{1:0}/1'::bismarck.sparsevec AS all_zero;
SELECT '{100000000:1}/100000000'::bismarck.sparsevec AS largest;
SELECT '{1:1e-310}/1'::bismarck.sparsevec AS subnormal;
-- Values print exactly (shortest round-trip digits), whatever extra_float_digits says.
SELECT '{1:0.1,2:1e300,3:-1.7976931348623157e308,4:5e-324,5:123456789.123456789,6:1e-7}/6'::bismarck.sparsevec AS exact;
SET extra_float_digits = -15;
SELECT '{1:0.1,2:0.30000000000000004}/2'::bismarck.sparsevec AS exact_despite_setting;
RESET extra_float_digits;
SELECT (bismarck.sparsevec_to_array('{1:0.1,2:0.30000000000000004}/2'))
       = ARRAY[0.1, 0.30000000000000004]::float8[] AS values_exact;
SELECT bismarck.dims('{1:1.5,3:2}/5'), bismarck.nnz('{1:1.5,3:2}/5'),
       bismarck.dims('{}/7'), bismarck.nnz('{}/7');

-- Casts both ways and the constructor.
SELECT '{0,1.5,0,-2}'::float8[]::bismarck.sparsevec AS from_array;
SELECT '[0:2]={1,0,3}'::float8[]::bismarck.sparsevec AS lower_bound_ignored;
SELECT '{2:1.5,4:-2}/5'::bismarck.sparsevec::float8[] AS to_array;
SELECT bismarck.sparsevec_to_array('{}/3') AS empty_to_array;
SELECT bismarck.array_to_sparsevec('{0,0,0}') AS all_zero_array;
SELECT bismarck.sparsevec(ARRAY[1,3], ARRAY[1.5,2], 5) AS constructed;
SELECT bismarck.sparsevec('{}', '{}', 3) AS constructed_empty;
SELECT bismarck.sparsevec(ARRAY[1,2,3], ARRAY[0,2,0], 3) AS constructed_zeros;
SELECT bismarck.sparsevec(NULL, ARRAY[1.0], 3) IS NULL AS strict;

CREATE TEMP TABLE sv (id int PRIMARY KEY, v bismarck.sparsevec);
INSERT INTO sv VALUES
    (1, '{1:1.5,3:2}/5'),
    (2, '{}/1'),
    (3, ARRAY[1, 0, -2.25]::float8[]),   -- assignment cast
    (4, '{1:0.1,2:-1e-300,100000000:1.7976931348623157e308}/100000000'),
    (5, (SELECT bismarck.array_to_sparsevec(array_agg(CASE WHEN i % 3 = 0 THEN 0 ELSE i / 8.0e0 END))
           FROM generate_series(1, 100000) i));
SELECT id, bismarck.dims(v), bismarck.nnz(v), length(v::text) AS text_length FROM sv ORDER BY id;
-- The large value is stored out of line and compressed; dims/nnz read only its header.
SELECT pg_column_size(v) < bismarck.nnz(v) * 12 AS compressed FROM sv WHERE id = 5;
-- Text round trip of every value, and back and forth through float8[].
-- (Not through float8[] for the 10^8-dimensional one: that would be an 800 MB array.)
SELECT id, v::text::bismarck.sparsevec::text = v::text AS text_round_trip,
       CASE WHEN bismarck.dims(v) <= 100000
            THEN v::float8[]::bismarck.sparsevec::text = v::text END AS array_round_trip
  FROM sv ORDER BY id;
SELECT array_length(a, 1) AS dense_length, (SELECT sum(x) FROM unnest(a) x) AS dense_sum,
       (SELECT sum(CASE WHEN i % 3 = 0 THEN 0 ELSE i / 8.0e0 END)
          FROM generate_series(1, 100000) i) AS expected_sum
  FROM (SELECT v::float8[] AS a FROM sv WHERE id = 5) d;

-- Binary round trip through COPY (the send format is shown for one value).
SELECT bismarck.sparsevec_send('{2:1.5,4:-2}/5');
DO $$ BEGIN
    EXECUTE format('COPY sv TO %L (FORMAT binary)',
                   current_setting('data_directory') || '/sparsevec_test.bin');
END $$;
CREATE TEMP TABLE sv_copy (LIKE sv);
COPY sv_copy FROM 'sparsevec_test.bin' (FORMAT binary);
SELECT id, c.v::text = s.v::text AS binary_round_trip FROM sv s JOIN sv_copy c USING (id) ORDER BY id;

-- Crafted binary values: a COPY file with one row holding `payload` as its only field.
CREATE TEMP TABLE sv_crafted (v bismarck.sparsevec);
CREATE FUNCTION pg_temp.crafted(payload bytea) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    lo oid;
BEGIN
    lo := lo_from_bytea(0, '\x5047434f50590aff0d0a00'::bytea      -- signature
                           || '\x00000000 00000000'::bytea         -- flags, no header extension
                           || '\x0001'::bytea || int4send(length(payload)) || payload
                           || '\xffff'::bytea);                    -- trailer
    PERFORM lo_export(lo, 'sparsevec_crafted.bin');
    PERFORM lo_unlink(lo);
    TRUNCATE sv_crafted;
END $$;
-- valid: dim 5, nnz 3, indices 0,2,4, values 1.5, 0 (dropped), -2
SELECT pg_temp.crafted('\x00000005 00000003 00000000 00000000 00000002 00000004
                          3ff8000000000000 0000000000000000 c000000000000000');
COPY sv_crafted FROM 'sparsevec_crafted.bin' (FORMAT binary);
SELECT v, bismarck.nnz(v) FROM sv_crafted;
-- truncated header
SELECT pg_temp.crafted('\x00000005 00000001');
COPY sv_crafted FROM 'sparsevec_crafted.bin' (FORMAT binary);
-- dimension 0, negative, too large
SELECT pg_temp.crafted('\x00000000 00000000 00000000');
COPY sv_crafted FROM 'sparsevec_crafted.bin' (FORMAT binary);
SELECT pg_temp.crafted('\xffffffff 00000000 00000000');
COPY sv_crafted FROM 'sparsevec_crafted.bin' (FORMAT binary);
SELECT pg_temp.crafted('\x05f5e101 00000000 00000000');
COPY sv_crafted FROM 'sparsevec_crafted.bin' (FORMAT binary);
-- reserved field set
SELECT pg_temp.crafted('\x00000005 00000000 00000001');
COPY sv_crafted FROM 'sparsevec_crafted.bin' (FORMAT binary);
-- nnz negative, larger than dim, and huge with no data behind it
SELECT pg_temp.crafted('\x00000005 ffffffff 00000000');
COPY sv_crafted FROM 'sparsevec_crafted.bin' (FORMAT binary);
SELECT pg_temp.crafted('\x00000002 00000003 00000000 00000000 00000001 00000002
                          3ff0000000000000 3ff0000000000000 3ff0000000000000');
COPY sv_crafted FROM 'sparsevec_crafted.bin' (FORMAT binary);
SELECT pg_temp.crafted('\x05f5e100 05f5e100 00000000 00000000');
COPY sv_crafted FROM 'sparsevec_crafted.bin' (FORMAT binary);
-- index out of range (0-based 5 in dim 5), negative, unsorted, duplicate
SELECT pg_temp.crafted('\x00000005 00000001 00000000 00000005 3ff0000000000000');
COPY sv_crafted FROM 'sparsevec_crafted.bin' (FORMAT binary);
SELECT pg_temp.crafted('\x00000005 00000001 00000000 ffffffff 3ff0000000000000');
COPY sv_crafted FROM 'sparsevec_crafted.bin' (FORMAT binary);
SELECT pg_temp.crafted('\x00000005 00000002 00000000 00000003 00000001
                          3ff0000000000000 3ff0000000000000');
COPY sv_crafted FROM 'sparsevec_crafted.bin' (FORMAT binary);
SELECT pg_temp.crafted('\x00000005 00000002 00000000 00000001 00000001
                          3ff0000000000000 3ff0000000000000');
COPY sv_crafted FROM 'sparsevec_crafted.bin' (FORMAT binary);
-- NaN, Infinity, -Infinity
SELECT pg_temp.crafted('\x00000005 00000001 00000000 00000002 7ff8000000000000');
COPY sv_crafted FROM 'sparsevec_crafted.bin' (FORMAT binary);
SELECT pg_temp.crafted('\x00000005 00000001 00000000 00000002 7ff0000000000000');
COPY sv_crafted FROM 'sparsevec_crafted.bin' (FORMAT binary);
SELECT pg_temp.crafted('\x00000005 00000001 00000000 00000002 fff0000000000000');
COPY sv_crafted FROM 'sparsevec_crafted.bin' (FORMAT binary);
-- trailing bytes after a valid value
SELECT pg_temp.crafted('\x00000005 00000000 00000000 00');
COPY sv_crafted FROM 'sparsevec_crafted.bin' (FORMAT binary);
SELECT count(*) AS rows_after_errors FROM sv_crafted;

-- Text syntax errors: each names what was expected, where, and what was found.
SELECT ''::bismarck.sparsevec;
SELECT '[1,2]'::bismarck.sparsevec;
SELECT '{1:2}'::bismarck.sparsevec;
SELECT '{1:2}/'::bismarck.sparsevec;
SELECT '{1:2}/5x'::bismarck.sparsevec;
SELECT '{1:2}/5/6'::bismarck.sparsevec;
SELECT '{1:2}/5.0'::bismarck.sparsevec;
SELECT '{1:2} x /5'::bismarck.sparsevec;
SELECT '{1:2,}/5'::bismarck.sparsevec;
SELECT '{,}/5'::bismarck.sparsevec;
SELECT '{1 2}/5'::bismarck.sparsevec;
SELECT '{1:}/5'::bismarck.sparsevec;
SELECT '{1:abc}/5'::bismarck.sparsevec;
SELECT '{1:2 3:4}/5'::bismarck.sparsevec;
SELECT '{a:1}/5'::bismarck.sparsevec;
SELECT '{1.5:1}/5'::bismarck.sparsevec;
SELECT '{1/2:3}/5'::bismarck.sparsevec;
SELECT '{1:2'::bismarck.sparsevec;
SELECT '{1:1.5e}/5'::bismarck.sparsevec;
SELECT '{1:2,2:3é}/5'::bismarck.sparsevec;
SELECT ('{1:' || repeat('x', 300) || '}/5')::bismarck.sparsevec;
-- Dimensions.
SELECT '{}/0'::bismarck.sparsevec;
SELECT '{}/-1'::bismarck.sparsevec;
SELECT '{}/100000001'::bismarck.sparsevec;
SELECT '{}/99999999999999999999999'::bismarck.sparsevec;
-- Indices: out of range, unsorted, duplicate (also when one of them is zero).
SELECT '{0:1}/5'::bismarck.sparsevec;
SELECT '{6:1}/5'::bismarck.sparsevec;
SELECT '{-1:1}/5'::bismarck.sparsevec;
SELECT '{99999999999999999999:1}/5'::bismarck.sparsevec;
SELECT '{3:1,2:1}/5'::bismarck.sparsevec;
SELECT '{2:1,2:1}/5'::bismarck.sparsevec;
SELECT '{2:0,2:1}/5'::bismarck.sparsevec;
-- Values: not finite, out of the range of float8.
SELECT '{1:1,2:NaN}/5'::bismarck.sparsevec;
SELECT '{2:Infinity}/5'::bismarck.sparsevec;
SELECT '{2:-inf}/5'::bismarck.sparsevec;
SELECT '{2:1e400}/5'::bismarck.sparsevec;
SELECT '{2:-1e-400}/5'::bismarck.sparsevec;
-- A long hostile input fails fast without allocating for all its elements.
SELECT ('{' || repeat('1:1,', 1000000) || '1:1}/5')::bismarck.sparsevec;

-- Constructor errors.
SELECT bismarck.sparsevec(ARRAY[1], ARRAY[1.0], 0);
SELECT bismarck.sparsevec(ARRAY[1], ARRAY[1.0], 100000001);
SELECT bismarck.sparsevec(ARRAY[[1,2],[3,4]], ARRAY[1.0,2,3,4], 5);
SELECT bismarck.sparsevec(ARRAY[1,2], ARRAY[[1.0,2]], 5);
SELECT bismarck.sparsevec(ARRAY[1,2], ARRAY[1.0], 5);
SELECT bismarck.sparsevec(ARRAY[1,NULL], ARRAY[1.0,2], 5);
SELECT bismarck.sparsevec(ARRAY[1,2], ARRAY[1.0,NULL], 5);
SELECT bismarck.sparsevec(ARRAY[1,6], ARRAY[1.0,2], 5);
SELECT bismarck.sparsevec(ARRAY[0], ARRAY[1.0], 5);
SELECT bismarck.sparsevec(ARRAY[2,1], ARRAY[1.0,2], 5);
SELECT bismarck.sparsevec(ARRAY[2,2], ARRAY[1.0,2], 5);
SELECT bismarck.sparsevec(ARRAY[1,2], ARRAY[1.0,'NaN'], 5);
-- Cast errors.
SELECT '{}'::float8[]::bismarck.sparsevec;
SELECT '{{1,2},{3,4}}'::float8[]::bismarck.sparsevec;
SELECT '{1,NULL,3}'::float8[]::bismarck.sparsevec;
SELECT '{1,NaN}'::float8[]::bismarck.sparsevec;
SELECT '{1,2,-Infinity}'::float8[]::bismarck.sparsevec;

-- The SQLSTATE of each kind of error.
CREATE FUNCTION pg_temp.sqlstate(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
SELECT pg_temp.sqlstate(statement), statement FROM (VALUES
    ($$SELECT '{1:2}/5'::bismarck.sparsevec$$),
    ($$SELECT '{1:2'::bismarck.sparsevec$$),
    ($$SELECT '{}/0'::bismarck.sparsevec$$),
    ($$SELECT '{6:1}/5'::bismarck.sparsevec$$),
    ($$SELECT '{2:1,1:1}/5'::bismarck.sparsevec$$),
    ($$SELECT '{1:NaN}/5'::bismarck.sparsevec$$),
    ($$SELECT '{1:1e400}/5'::bismarck.sparsevec$$),
    ($$SELECT bismarck.sparsevec(ARRAY[1], ARRAY[1.0], 0)$$),
    ($$SELECT bismarck.sparsevec(ARRAY[1,2], ARRAY[1.0], 5)$$),
    ($$SELECT bismarck.sparsevec(ARRAY[NULL::int], ARRAY[1.0], 5)$$),
    ($$SELECT '{{1}}'::float8[]::bismarck.sparsevec$$)
) s(statement);
SELECT pg_temp.crafted('\x00000005 00000000 00000001');
SELECT pg_temp.sqlstate($$COPY sv_crafted FROM 'sparsevec_crafted.bin' (FORMAT binary)$$) AS binary_format;
