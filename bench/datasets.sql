-- bismarck benchmarks: seeded data generators, run inside the database.
--
-- Each function creates (or replaces) one table from setseed() + random() on a serial plan, so
-- the same arguments give the same rows on every run. The shapes follow the data sets of the
-- Bismarck paper (Feng et al., SIGMOD 2012); the values are synthetic:
--
--   bench.make_dense(t, n, seed)           like Forest covertype: n x 54 float8[] (10 continuous
--                                          features on their own scales, a one-hot of 4 and a
--                                          one-hot of 40 categories), a 0/1 label from a hidden
--                                          linear model plus logistic noise (~85% separable)
--   bench.make_sparse(t, n, dim, seed)     like DBLife: bismarck.sparsevec rows, power-law row
--                                          lengths (~1% of dim on average) and power-law feature
--                                          frequencies, a 0/1 label from a hidden linear model
--   bench.make_ratings(t, users, movies, n, seed)
--                                          like MovieLens: n distinct (user_id, movie_id) cells
--                                          with power-law activity/popularity, 1..5 ratings from
--                                          hidden rank-20 factors + biases + noise
--
-- Columns: dense and sparse tables (id, x, label float8 0/1); ratings (user_id, movie_id bigint,
-- rating float8): the types the epoch aggregates take, so that no cast runs per row.
CREATE SCHEMA IF NOT EXISTS bench;

CREATE OR REPLACE FUNCTION bench.make_dense(tbl text, n bigint, seed float8) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE rows bigint;
BEGIN
  SET LOCAL max_parallel_workers_per_gather = 0;
  SET LOCAL synchronize_seqscans = off;
  PERFORM setseed(seed);
  EXECUTE format('DROP TABLE IF EXISTS %I', tbl);
  -- The hidden model w does not depend on the seed: train and test tables share it.
  EXECUTE format($q$
    CREATE TABLE %I AS
    SELECT i AS id, g.x, (g.z + ln(r.u) - ln(1 - r.u) > 0)::int::float8 AS label
    FROM (SELECT i, random() AS u,
                 1 + floor(4 * random() ^ 1.5)::int AS wa,    -- wilderness area, 4 values
                 1 + floor(40 * random() ^ 2.5)::int AS soil   -- soil type, 40 values, skewed
            FROM generate_series(1, %s) i) r,
    LATERAL (
      SELECT array_agg(v ORDER BY j) AS x, sum(c) + 0.4 AS z FROM (
        SELECT j,
          CASE WHEN j <= 10 THEN p.m[j] + p.sd[j] * e
               ELSE (CASE WHEN j <= 14 THEN j - 10 = r.wa ELSE j - 14 = r.soil END)::int END AS v,
          CASE WHEN j <= 10 THEN p.w[j] * e
               WHEN j <= 14 THEN (j - 10 = r.wa)::int * p.w[j]
               ELSE (j - 14 = r.soil)::int * p.w[j] END AS c
        FROM (SELECT j, CASE WHEN j <= 10 THEN sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) END AS e
                FROM generate_series(1, 54) j WHERE r.i > 0) s,
             (SELECT '{2960,155,14,270,46,2350,212,223,143,1980}'::float8[] AS m,
                     '{280,112,7.5,213,58,1560,27,20,38,1320}'::float8[] AS sd,
                     ARRAY(SELECT CASE WHEN k <= 10 THEN 1.5 * sin(k * 7.1) ELSE 1.2 * cos(k * 3.3) END
                             FROM generate_series(1, 54) k) AS w) p
      ) t
    ) g$q$, tbl, n);
  EXECUTE format('SELECT count(*) FROM %I', tbl) INTO rows;
  RETURN rows;
END $$;

CREATE OR REPLACE FUNCTION bench.make_sparse(tbl text, n bigint, dim int, seed float8) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE rows bigint;
BEGIN
  SET LOCAL max_parallel_workers_per_gather = 0;
  SET LOCAL synchronize_seqscans = off;
  PERFORM setseed(seed);
  EXECUTE format('DROP TABLE IF EXISTS %I', tbl);
  -- Row length: Pareto(alpha 2.5), mean ~1.35% of dim before duplicates are dropped (~1% after).
  -- Feature index: dim * u^3 (a few features in most rows, most features in few rows).
  -- Values: tf-idf-like, positive. Hidden weight of feature j: a fixed function of j for the
  -- 2000 most frequent features (about a third of a row's entries), 0 for the rest; the label
  -- is the sign of the hidden score plus logistic noise, thresholded at its median (balanced).
  EXECUTE format($q$
    CREATE TABLE %I AS
    WITH g AS MATERIALIZED (
    SELECT i, g.idx, g.val, g.z + ln(r.u) - ln(1 - r.u) AS z
    FROM (SELECT i, random() AS u,
                 least(%s / 4, ceil(%s * 0.0081 * random() ^ (-1 / 2.5)))::int AS k
            FROM generate_series(1, %s) i) r,
    LATERAL (
      SELECT array_agg(j ORDER BY j) AS idx, array_agg(v ORDER BY j) AS val,
             sum(v * sin(j * 12.9898 + 1.3)) FILTER (WHERE j <= 2000) AS z
      FROM (SELECT DISTINCT ON (j) j, v FROM (
              SELECT 1 + floor(%s * random() ^ 3)::int AS j, 0.2 + 0.8 * random() AS v
                FROM generate_series(1, r.k) WHERE r.i > 0) c
            ORDER BY j, v) d
    ) g)
    SELECT i AS id, bismarck.sparsevec(idx, val, %s) AS x,
           (z > (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY z) FROM g))::int::float8 AS label
      FROM g ORDER BY i$q$, tbl, dim, dim, n, dim, dim);
  EXECUTE format('SELECT count(*) FROM %I', tbl) INTO rows;
  RETURN rows;
END $$;

CREATE OR REPLACE FUNCTION bench.make_ratings(tbl text, users int, movies int, n bigint, seed float8)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE rows bigint;
BEGIN
  SET LOCAL max_parallel_workers_per_gather = 0;
  SET LOCAL synchronize_seqscans = off;
  PERFORM setseed(seed);
  EXECUTE format('DROP TABLE IF EXISTS %I', tbl);
  -- Hidden factors: rank 20, N(0, 0.35^2) entries, biases N(0, 0.5^2), noise N(0, 0.6^2)
  -- (Box-Muller normals): ratings spread about like MovieLens's (mean 3.6, sd ~1.1).
  CREATE TEMP TABLE bench_uf ON COMMIT DROP AS
    SELECT u AS id, 0.5 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS b,
           ARRAY(SELECT 0.35 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())
                   FROM generate_series(1, 20) WHERE u >= 0) AS f
      FROM generate_series(0, users - 1) u;
  CREATE TEMP TABLE bench_mf ON COMMIT DROP AS
    SELECT m AS id, 0.5 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS b,
           ARRAY(SELECT 0.35 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())
                   FROM generate_series(1, 20) WHERE m >= 0) AS f
      FROM generate_series(0, movies - 1) m;
  -- Candidate cells with skewed users and movies; the first n distinct ones in a random order.
  EXECUTE format($q$
    CREATE TABLE %I AS
    SELECT c.user_id, c.movie_id,
           least(5, greatest(1, round(3.58 + uf.b + mf.b
                 + (SELECT sum(a * b) FROM unnest(uf.f, mf.f) AS t(a, b))
                 + 0.6 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))))::float8 AS rating
    FROM (SELECT user_id, movie_id, min(h) AS h FROM (
            SELECT floor(%s * random() ^ 1.4)::bigint AS user_id,
                   floor(%s * random() ^ 2.2)::bigint AS movie_id, random() AS h
              FROM generate_series(1, (%s * 1.6)::bigint)) a
          GROUP BY user_id, movie_id ORDER BY min(h) LIMIT %s) c
    JOIN bench_uf uf ON uf.id = c.user_id
    JOIN bench_mf mf ON mf.id = c.movie_id
    ORDER BY c.h$q$, tbl, users, movies, n, n);
  EXECUTE format('SELECT count(*) FROM %I', tbl) INTO rows;
  RETURN rows;
END $$;


-- The baseline of the epoch and prediction benchmarks: a bare dot product of a row with a
-- constant weight array in C, nothing else (bismarck's library has the symbol; only this script
-- creates a SQL function for it). NULL when the installed library predates it.
DO $$ BEGIN
  CREATE OR REPLACE FUNCTION bench.dot(w float8[], x float8[]) RETURNS float8
    AS '$libdir/bismarck', 'bismarck_bench_dot' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
  -- the same, prefetching the next row of the scan as the epochs do
  CREATE OR REPLACE FUNCTION bench.dot_prefetch(w float8[], x float8[]) RETURNS float8
    AS '$libdir/bismarck', 'bismarck_bench_dot_prefetch' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
EXCEPTION WHEN undefined_function THEN
  RAISE WARNING 'bench.dot: %', SQLERRM;
END $$;
