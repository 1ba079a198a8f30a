-- The SQL the block_shuffle TABLESAMPLE method needs (to go into the extension's install script;
-- the bench loads it by hand after CREATE EXTENSION bismarck).
CREATE OR REPLACE FUNCTION bismarck.block_shuffle(internal) RETURNS tsm_handler
    AS '$libdir/bismarck', 'bismarck_block_shuffle_handler' LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bismarck.block_shuffle(internal) IS
    'TABLESAMPLE method: every row once, pages visited in a seeded random order of runs of consecutive pages; arguments (seed bigint, pages_per_run integer, 0 = default 1)';
