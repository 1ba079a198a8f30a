#!/usr/bin/env python3
"""Concurrency test of the bismarck extension.

  1. Four sessions train four different models at the same moment (released together from an
     advisory lock): each gets exactly the model it gets alone (serial training with a seed is
     reproducible bit for bit), and again with shared-memory and model-averaging epochs (each
     model is there and good).
  2. A race for one name: while role B trains model "race", role A trains a model of that name
     and commits first. B's run must fail with 42501 when it writes, and A's model stay A's.
  3. A backend terminated (pg_terminate_backend) or cancelled (pg_cancel_backend) in the middle
     of training, serial or with parallel workers, and one terminated while it waits to write the
     catalog: the server stays up, no backend crashed, and the catalog holds nothing of the run
     (no model, no log row, no scratch table, no leftover parallel worker).

    ./scripts/cluster.sh run -- /usr/bin/python3 tests/fuzz/concurrency.py [--library other.so]

The last line is "concurrency: N checks, F failed"; the exit status is 0 when F is 0.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgrun  # noqa: E402

DB = "bismarck_concurrency"
ROLE_A, ROLE_B = "bismarck_test_conc_a", "bismarck_test_conc_b"

SETUP = """
SET client_min_messages = warning;
CREATE EXTENSION bismarck;
CREATE TABLE dense AS
SELECT i, ARRAY[sin(i), cos(i), sin(2 * i), cos(5 * i), (i %% 17)::float8 / 17] AS x,
       (sin(i) + cos(7 * i) > 0) AS y
  FROM generate_series(1, 20000) i;
CREATE TABLE sparse AS
SELECT bismarck.sparsevec(ARRAY[1 + i %% 60, 61 + i %% 37], ARRAY[1.0, sin(i)], 100) AS x,
       (i %% 60 < 30)::int AS y
  FROM generate_series(1, 20000) i;
CREATE TABLE ratings AS
SELECT u, m, ((u * 7 + m * 3) %% 5 + 1)::float8 AS r
  FROM generate_series(0, 299) u, generate_series(0, 99) m WHERE (u * m) %% 3 <> 1;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%(a)s') THEN CREATE ROLE %(a)s; END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%(b)s') THEN CREATE ROLE %(b)s; END IF;
END $$;
-- a source that pauses once (when the session asks for it), at its 100th row
CREATE FUNCTION pause_at(i int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF i = 100 AND current_setting('conc.pause', true) = 'on' THEN
        PERFORM set_config('conc.pause', 'off', false);
        PERFORM pg_sleep(2);
    END IF;
    RETURN true;
END $$;
CREATE VIEW dense_pausing AS SELECT x, y FROM dense WHERE pause_at(i);
GRANT SELECT ON dense, dense_pausing TO %(a)s, %(b)s;
""" % {"a": ROLE_A, "b": ROLE_B}

# Four different models, each trained by one session.
RUNS = {
    "c_logistic": "bismarck.train_logistic('c_logistic', 'dense', 'x', 'y', epochs => 12, seed => 11, tolerance => 0%s)",
    "c_svm": "bismarck.train_svm('c_svm', 'dense', 'x', 'y', epochs => 12, seed => 12, tolerance => 0%s)",
    "c_sparse": "bismarck.train_logistic('c_sparse', 'sparse', 'x', 'y', epochs => 12, seed => 13, tolerance => 0%s)",
    "c_lmf": "bismarck.train_lmf('c_lmf', 'ratings', 'u', 'm', 'r', rank => 4, epochs => 12, seed => 14, tolerance => 0%s)",
}

checks = []


def check(name, ok, detail=""):
    checks.append(ok)
    print("concurrency: %s: %s%s" % (name, "ok" if ok else "FAILED", (" (%s)" % detail) if detail else ""),
          flush=True)
    return ok


def q(sql):
    return pgrun.query(DB, sql).strip()


def fingerprints(names):
    out = q("SELECT name || '|' || md5(state::text) || '|' || epochs || '|' || "
            "(SELECT count(*) FROM bismarck.log_store l WHERE l.model = s.name) "
            "FROM bismarck.model_store s WHERE name IN (%s) ORDER BY name" %
            ", ".join("'%s'" % n for n in names))
    return dict((line.split("|", 1)[0], line.split("|", 1)[1]) for line in out.splitlines())


def leftovers(name):
    return q("SELECT (SELECT count(*) FROM bismarck.model_store WHERE name = '%s') || ' models, ' || "
             "(SELECT count(*) FROM bismarck.log_store WHERE model = '%s') || ' log rows, ' || "
             "(SELECT count(*) FROM pg_class WHERE relnamespace = 'bismarck_work'::regnamespace) "
             "|| ' work tables'" % (name, name))


def background(sql, role=None):
    """A psql session running `sql` in the background; its output is collected at the end."""
    pre = "SET client_min_messages = warning;\n\\set VERBOSITY verbose\n\\set SHOW_CONTEXT never\n"
    if role:
        pre += "SET ROLE %s;\n" % role
    return subprocess.Popen([pgrun.PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", DB],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True), pre + sql


def start(sessions):
    for p, sql in sessions:
        p.stdin.write(sql)
        p.stdin.close()
        p.stdin = None  # (so that communicate() does not flush it)


def finish(p, timeout=300):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        err += "\n(timed out)"
    return p.returncode, out, err


def wait_for(sql, timeout=60):
    """Polls until `sql` returns 't'."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if q(sql) == "t":
            return True
        time.sleep(0.05)
    return False


def concurrent_training(log):
    names = sorted(RUNS)
    # alone, one after the other: the reference
    for name in names:
        q("SELECT count(*) FROM %s" % (RUNS[name] % ""))
    alone = fingerprints(names)
    q("SELECT bismarck.drop_model(name) FROM unnest(ARRAY[%s]) name" %
      ", ".join("'%s'" % n for n in names))
    for round_name, option in [("serial", ""), ("parallel", None)]:
        # all four at once: each session waits on an advisory lock that this one releases
        holder = subprocess.Popen([pgrun.PSQL, "-X", "-q", "-A", "-t", "-d", DB],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        holder.stdin.write("SELECT pg_advisory_lock(4242);\n")
        holder.stdin.flush()
        wait_for("SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 "
                 "AND granted")
        sessions = []
        for i, name in enumerate(names):
            opt = option
            if opt is None:
                opt = [", parallelism => 'shared_memory', workers => 2",
                       ", parallelism => 'model_averaging', workers => 2",
                       ", parallelism => 'shared_memory_locked', workers => 1",
                       ", parallelism => 'shared_memory', workers => 1"][i]
            sql = ("SELECT pg_advisory_lock_shared(4242);\n"
                   "SELECT count(*) FROM %s;\n" % (RUNS[name] % (opt + ", replace => true")))
            sessions.append(background(sql))
        start(sessions)
        waiting = wait_for("SELECT count(*) = 4 FROM pg_locks WHERE locktype = 'advisory' AND "
                           "objid = 4242 AND NOT granted")
        holder.stdin.write("SELECT pg_advisory_unlock(4242);\n")
        holder.stdin.close()
        holder.wait()
        results = [finish(p) for p, _ in sessions]
        failed = [(name, r[2].strip()[-300:]) for name, r in zip(names, results) if r[0] != 0]
        check("%s: four sessions trained at once" % round_name, waiting and not failed,
              "; ".join("%s: %s" % f for f in failed) if failed else "released together")
        together = fingerprints(names)
        if round_name == "serial":
            same = [n for n in names if together.get(n) == alone.get(n)]
            check("serial: each session got exactly the model it gets alone", len(same) == 4,
                  "%d of 4 identical" % len(same))
        else:
            quality = q("""
                SELECT round(avg((bismarck.predict('c_logistic', x)::boolean = y)::int), 2) > 0.7
                   AND round(avg((bismarck.predict('c_svm', x)::boolean = y)::int), 2) > 0.7
                  FROM dense""")
            lmf = q("SELECT rmse < 1.5 FROM bismarck.evaluate('c_lmf', 'ratings')")
            sparse = q("SELECT accuracy > 0.7 FROM bismarck.evaluate('c_sparse', 'sparse')")
            check("parallel: every model is there, with its log, and good",
                  len(together) == 4 and all(v.endswith("|12|12") for v in together.values())
                  and quality == "t" and lmf == "t" and sparse == "t",
                  "%d models, quality %s, lmf %s, sparse %s" % (len(together), quality, lmf, sparse))
        check("%s: no crash in the server log" % round_name, not log.crashes())
    q("SELECT bismarck.drop_model(name) FROM unnest(ARRAY[%s]) name" %
      ", ".join("'%s'" % n for n in names))


def name_race(log):
    # B starts a run of "race" and, past its check that the name is free, pauses in its first scan
    # of the source; meanwhile A trains "race" and commits.
    b, b_sql = background("SET conc.pause = on;\nSELECT count(*) FROM bismarck.train_logistic("
                          "'race', 'dense_pausing', 'x', 'y', epochs => 3, seed => 1);\n",
                          role=ROLE_B)
    start([(b, b_sql)])
    running = wait_for("SELECT count(*) = 1 FROM pg_stat_activity WHERE datname = current_database() "
                       "AND query LIKE '%train_logistic(''race''%' AND wait_event = 'PgSleep'")
    a_rc, _, a_err = pgrun.psql(DB, "SET ROLE %s; SET client_min_messages = warning;\n"
                                "SELECT count(*) FROM bismarck.train_logistic('race', 'dense', 'x', "
                                "'y', epochs => 2, seed => 2);" % ROLE_A, stop_on_error=True)
    b_still = q("SELECT count(*) = 1 FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE '%train_logistic(''race''%' AND state = 'active'")
    rc, _, err = finish(b)
    check("race: A committed its model while B was still training",
          running and a_rc == 0 and b_still == "t", a_err.strip()[-200:])
    check("race: B's run fails with 42501 when it writes",
          rc != 0 and "42501" in err and "permission denied to replace model" in err,
          err.strip().splitlines()[0][:200] if err.strip() else "B succeeded")
    owner = q("SELECT owner::regrole || ' ' || epochs || ' epochs, ' || (SELECT count(*) FROM "
              "bismarck.log_store WHERE model = 'race') || ' log rows' FROM bismarck.model_store "
              "WHERE name = 'race'")
    check("race: the model is A's, intact", owner == "%s 2 epochs, 2 log rows" % ROLE_A, owner)
    q("SELECT bismarck.drop_model('race')")
    check("race: no crash in the server log", not log.crashes())


def killed_mid_training(log):
    cases = [
        ("terminate", "serial", "bismarck.train_logistic('k_serial', 'dense', 'x', 'y', epochs => 100000, tolerance => 0)"),
        ("terminate", "shared memory",
         "bismarck.train_logistic('k_shm', 'dense', 'x', 'y', epochs => 100000, tolerance => 0, parallelism => 'shared_memory', workers => 2)"),
        ("terminate", "model averaging",
         "bismarck.train_svm('k_avg', 'dense', 'x', 'y', epochs => 100000, tolerance => 0, parallelism => 'model_averaging', workers => 2)"),
        ("terminate", "lmf locked",
         "bismarck.train_lmf('k_lmf', 'ratings', 'u', 'm', 'r', epochs => 100000, tolerance => 0, parallelism => 'shared_memory_locked', workers => 2)"),
        ("cancel", "shared memory",
         "bismarck.train_logistic('k_cancel', 'dense', 'x', 'y', epochs => 100000, tolerance => 0, parallelism => 'shared_memory', workers => 2)"),
    ]
    for how, label, call in cases:
        name = call.split("'")[1]
        p, sql = background("SELECT count(*) FROM %s;\n" % call)
        start([(p, sql)])
        running = wait_for("SELECT count(*) = 1 FROM pg_stat_activity WHERE datname = current_database() "
                           "AND backend_type = 'client backend' AND query LIKE '%%''%s''%%' "
                           "AND state = 'active' AND now() - query_start > interval '700 ms'" % name)
        fn = "pg_terminate_backend" if how == "terminate" else "pg_cancel_backend"
        q("SELECT %s(pid) FROM pg_stat_activity WHERE datname = current_database() AND "
          "backend_type = 'client backend' AND query LIKE '%%''%s''%%' AND pid <> pg_backend_pid()"
          % (fn, name))
        rc, _, err = finish(p)
        gone = wait_for("SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'parallel worker' "
                        "OR (query LIKE '%%''%s''%%' AND pid <> pg_backend_pid())" % name, timeout=30)
        left = leftovers(name)
        crashes = log.crashes()
        check("%s %s mid-training: server up, no crash, nothing left" % (how, label),
              running and rc != 0 and gone and pgrun.alive(DB) and not crashes
              and left == "0 models, 0 log rows, 0 work tables",
              "%s; %s" % (left, (crashes or [err.strip().splitlines()[-1] if err.strip() else ""])[0][:200]))


def killed_while_writing(log):
    # Another session blocks writes to the model store; the run trains, then waits to write.
    holder = subprocess.Popen([pgrun.PSQL, "-X", "-q", "-A", "-t", "-d", DB], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    holder.stdin.write("BEGIN; LOCK TABLE bismarck.model_store IN SHARE MODE;\n")
    holder.stdin.flush()
    wait_for("SELECT count(*) = 1 FROM pg_locks WHERE relation = 'bismarck.model_store'::regclass "
             "AND mode = 'ShareLock' AND granted")
    p, sql = background("SELECT count(*) FROM bismarck.train_logistic('k_write', 'dense', 'x', 'y', "
                        "epochs => 3);\n")
    start([(p, sql)])
    waiting = wait_for("SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE "
                       "'%''k_write''%' AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
    q("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%''k_write''%' "
      "AND pid <> pg_backend_pid()")
    rc, _, _ = finish(p)
    holder.stdin.write("COMMIT;\n")
    holder.stdin.close()
    holder.wait()
    left = leftovers("k_write")
    check("terminated while waiting to write the catalog: nothing left",
          waiting and rc != 0 and left == "0 models, 0 log rows, 0 work tables" and not log.crashes(),
          left)


def main():
    t0 = time.time()
    if not pgrun.alive():
        sys.exit("concurrency: no server (run it under ./scripts/cluster.sh run --)")
    log = pgrun.ServerLog()
    pgrun.query("postgres", "DROP DATABASE IF EXISTS %s;" % DB)
    pgrun.query("postgres", "CREATE DATABASE %s;" % DB)
    if len(sys.argv) == 3 and sys.argv[1] == "--library":  # another build, for this database only
        pgrun.query(DB, "CREATE EXTENSION bismarck; UPDATE pg_proc SET probin = '%s' WHERE "
                        "probin = '$libdir/bismarck';" % os.path.abspath(sys.argv[2]))
    pgrun.query(DB, SETUP.replace("CREATE EXTENSION bismarck;", "CREATE EXTENSION IF NOT EXISTS bismarck;"))
    log.new_text()
    concurrent_training(log)
    name_race(log)
    killed_mid_training(log)
    killed_while_writing(log)
    check("the catalog is consistent (no log rows without a model, no scratch tables)",
          q("SELECT (SELECT count(*) FROM bismarck.log_store l WHERE NOT EXISTS (SELECT 1 FROM "
            "bismarck.model_store m WHERE m.name = l.model)) = 0 AND (SELECT count(*) FROM "
            "pg_class WHERE relnamespace = 'bismarck_work'::regnamespace) = 0") == "t")
    failed = checks.count(False)
    if failed == 0:
        pgrun.psql("postgres", "DROP DATABASE IF EXISTS %s;\nDROP ROLE IF EXISTS %s;\n"
                   "DROP ROLE IF EXISTS %s;" % (DB, ROLE_A, ROLE_B))
    print("concurrency: %d checks, %d failed (%.0f s)" % (len(checks), failed, time.time() - t0))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
