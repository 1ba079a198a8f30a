#!/usr/bin/python3
"""Run by add_rows_overhead.sh inside a throw-away cluster: epochs with and without add_rows."""
import os
import statistics
import subprocess

ROWS = 300000
RUNS = int(os.environ.get("RUNS", "41"))
setup = f"""CREATE EXTENSION bismarck;
CREATE TABLE t AS SELECT x, (x[1] + x[2] - x[3] > 0.6)::int::float8 AS y
  FROM (SELECT (SELECT array_agg(random()) FROM generate_series(1, 20) WHERE i > 0) AS x
          FROM generate_series(1, {ROWS}) AS i) AS s;
VACUUM ANALYZE t;
"""
# The transition function must be called logistic_step and its aggregate live in schema bismarck.
for v in ("withrows", "norows"):
    setup += f"""CREATE SCHEMA {v};
CREATE FUNCTION {v}.logistic_step(bismarck.model_state, double precision[], double precision,
                                  bismarck.model_state)
    RETURNS bismarck.model_state AS '$libdir/bismarck_{v}', 'bismarck_linear_step'
    LANGUAGE C PARALLEL SAFE;
CREATE AGGREGATE bismarck.logistic_epoch_{v}(double precision[], double precision,
                                             bismarck.model_state) (
    SFUNC = {v}.logistic_step, STYPE = bismarck.model_state,
    COMBINEFUNC = bismarck.epoch_combine, PARALLEL = SAFE);
"""
subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"], input=setup, text=True, check=True)

aggs = ("logistic_epoch_withrows", "logistic_epoch_norows")
lines = ["SET max_parallel_workers_per_gather = 0;", "SELECT pg_backend_pid() AS pid \\gset",
         "\\setenv PID :pid", "SELECT bismarck.logistic_init(20) AS s \\gset"]
lines += [f"SELECT bismarck.{a}(x, y, :'s') IS NULL FROM t;" for a in aggs]  # warm up
for r in range(RUNS):
    for k in range(2):
        a = aggs[(r + k) % 2]
        lines += [f"\\echo RUN {a}", "\\! cut -d' ' -f1 /proc/$PID/schedstat",
                  f"SELECT bismarck.{a}(x, y, :'s') IS NULL FROM t;",
                  "\\! cut -d' ' -f1 /proc/$PID/schedstat"]
out = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1"], input="\n".join(lines) + "\n",
                     capture_output=True, text=True, check=True).stdout.split("\n")
ms = {a: [] for a in aggs}
for i, line in enumerate(out):
    if line.startswith("RUN "):
        ms[line[4:]].append((int(out[i + 3]) - int(out[i + 1])) / 1e6)
w, wo = ms[aggs[0]], ms[aggs[1]]
print(f"backend CPU ms per epoch ({ROWS} rows x 20 features), alternated in one session")
print("with add_rows   :", " ".join(f"{v:.1f}" for v in w))
print("without add_rows:", " ".join(f"{v:.1f}" for v in wo))
for n in (5, RUNS):
    a, b = statistics.median(w[:n]), statistics.median(wo[:n])
    print(f"medians of {n} runs: with {a:.2f} ms, without {b:.2f} ms, difference {a - b:+.2f} ms "
          f"= {(a - b) / ROWS * 1e6:+.2f} ns/row ({(a / b - 1) * 100:+.2f} %)")
