#!/usr/bin/python3
"""bismarck.progress across sessions, cancels, subtransactions, restarts and crashes.

Run inside a throw-away cluster with this checkout installed (see notes/contract.md):

    P=/tmp/progress-pg; scripts/pginstall.sh $P; make install DESTDIR=$P
    PGBIN=$P/usr/lib/postgresql/15/bin scripts/cluster.sh run -- /usr/bin/python3 tests/progress/progress_test.py

Uses psql through subprocess (no driver needed). Needs root or the postgres user for the restart
(pg_ctl) and the crash (kill -9 of a backend). Prints one line per check, exits 1 on a failure.
"""
import os
import signal
import struct
import subprocess
import sys
import time

PGBIN = os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")
PGDATA = os.environ["BISMARCK_PGDATA"]
LOG = os.environ.get("BISMARCK_SERVER_LOG", "/dev/null")
HANDLE_FILE = os.path.join(PGDATA, "pg_stat_tmp", "bismarck_progress")
ROWS = int(os.environ.get("PROGRESS_ROWS", "300000"))
failures = 0


def psql(sql, user=None, check=True):
    env = dict(os.environ)
    if user:
        env["PGUSER"] = user
    r = subprocess.run([os.path.join(PGBIN, "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1",
                        "-F", "|", "-c", sql], capture_output=True, text=True, env=env)
    if check and r.returncode != 0:
        raise RuntimeError(f"psql failed: {sql}\n{r.stderr}")
    return r.stdout.strip()


def background(sql, user=None):
    """A session running `sql`; returns (process, pid of its backend)."""
    env = dict(os.environ)
    if user:
        env["PGUSER"] = user
    p = subprocess.Popen([os.path.join(PGBIN, "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1",
                          "-c", "SELECT pg_backend_pid()", "-c", sql],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    pid = int(p.stdout.readline().strip())
    return p, pid


class Session:
    """One psql process kept open: a query costs a round trip instead of a new connection, so
    that a poll can catch an epoch of a few tens of milliseconds more than once."""

    def __init__(self):
        self.p = subprocess.Popen([os.path.join(PGBIN, "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1",
                                   "-F", "|"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)

    def query(self, sql):
        self.p.stdin.write(sql + ";\n\\echo @@end\n")
        self.p.stdin.flush()
        lines = []
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError(f"psql session ended: {sql}\n{self.p.stderr.read()}")
            if line.rstrip("\n") == "@@end":
                return "\n".join(lines)
            lines.append(line.rstrip("\n"))

    def close(self):
        self.p.stdin.close()
        self.p.wait()


COLS = ("pid, model, phase, coalesce(epoch, 0), epochs, rows_done, coalesce(rows_total, 0), "
        "coalesce(loss::text, ''), coalesce(remaining_seconds::text, ''), parallelism, "
        "coalesce(workers, -1), elapsed_seconds")


def progress(user=None, where="true", session=None):
    sql = f"SELECT {COLS} FROM bismarck.progress WHERE {where}"
    out = session.query(sql) if session else psql(sql, user=user)
    rows = []
    for line in out.splitlines():
        f = line.split("|")
        rows.append(dict(pid=int(f[0]), model=f[1], phase=f[2], epoch=int(f[3]),
                         epochs=int(f[4]) if f[4] else None,
                         rows_done=int(f[5]) if f[5] else None, rows_total=int(f[6]),
                         loss=f[7], remaining=f[8], parallelism=f[9], workers=int(f[10]),
                         elapsed=f[11]))
    return rows


def check(ok, what):
    global failures
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        failures += 1


def wait_for(pred, timeout=60.0, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


def as_postgres(cmd):
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True)


def published_handle():
    try:
        with open(HANDLE_FILE, "rb") as f:
            magic, token, handle, n_slots = struct.unpack("<QQIi", f.read(24))
            return handle
    except FileNotFoundError:
        return None


def wait_server():
    return wait_for(lambda: subprocess.run([os.path.join(PGBIN, "pg_isready"), "-q"]).returncode == 0
                    and psql("SELECT 1", check=False) == "1", timeout=60)


def train_sql(model, epochs=30, extra=""):
    return (f"SELECT model, epochs, workers FROM bismarck.train_logistic('{model}', 't', 'x', 'y', "
            f"epochs => {epochs}, tolerance => 0, replace => true{extra})")


def setup():
    psql("CREATE EXTENSION IF NOT EXISTS bismarck")
    psql("DROP TABLE IF EXISTS t")
    psql(f"""CREATE TABLE t AS
             SELECT x, (x[1] + x[2] - x[3] + 0.3 * random() > 0.6) AS y
               FROM (SELECT (SELECT array_agg(random()) FROM generate_series(1, 20) WHERE i > 0) AS x
                       FROM generate_series(1, {ROWS}) AS i) AS s""")
    psql("ALTER TABLE t SET (parallel_workers = 1)")
    psql("VACUUM ANALYZE t")
    psql("DROP ROLE IF EXISTS alice; DROP ROLE IF EXISTS bob; CREATE ROLE alice LOGIN; "
         "CREATE ROLE bob LOGIN IN ROLE pg_read_all_stats")


def test_serial_and_cancel():
    check(progress() == [], "nothing is shown before any training")
    p, pid = background(train_sql("serial_lr"))
    seen = []

    def grew():
        last = {}
        for r in seen:
            if r["phase"] != "epochs":
                continue
            if r["epoch"] in last and r["rows_done"] > last[r["epoch"]]:
                return True
            last[r["epoch"]] = r["rows_done"]
        return False

    session = Session()

    def poll():
        rows = progress(where=f"pid = {pid}", session=session)
        if rows:
            seen.append(rows[0])
        epochs = {r["epoch"] for r in seen if r["phase"] == "epochs"}
        # an epoch can take less than two polls: keep polling until one was caught twice
        return (len(epochs) >= 4 and grew()) or len(epochs) >= 25

    wait_for(poll, timeout=120, step=0.005)
    session.close()
    phases = [r["phase"] for r in seen]
    check(any(r["model"] == "serial_lr" for r in seen), "the training's model is shown with its pid")
    check("epochs" in phases, f"phases seen in order: {sorted(set(phases), key=phases.index)}")
    epochs = [r["epoch"] for r in seen if r["phase"] == "epochs"]
    check(epochs == sorted(epochs) and len(set(epochs)) >= 4, f"epochs increase: {sorted(set(epochs))}")
    same = {}
    increasing = False
    for r in seen:
        if r["phase"] != "epochs":
            continue
        if r["epoch"] in same and r["rows_done"] > same[r["epoch"]]:
            increasing = True
        same[r["epoch"]] = r["rows_done"]
    check(increasing, "rows_done grows within an epoch")
    check(all(r["rows_total"] == ROWS for r in seen if r["phase"] == "epochs"),
          f"rows_total is the epoch's {ROWS} rows")
    check(all(r["rows_done"] <= ROWS for r in seen), "rows_done never exceeds rows_total")
    check(any(r["loss"] != "" for r in seen if r["epoch"] >= 2), "the last epoch's loss is shown")
    check(any(r["remaining"] != "" for r in seen if r["epoch"] >= 2), "a remaining time is estimated")
    check(all(r["epochs"] == 30 and r["parallelism"] == "serial" for r in seen),
          "epochs planned and parallelism are shown")
    print("      sample:", seen[-1])

    # Another role sees the training but not its model; pg_read_all_stats sees everything.
    other = psql(f"SELECT pid, model IS NULL, phase IS NULL, username FROM bismarck.progress "
                 f"WHERE pid = {pid}", user="alice")
    check(other == f"{pid}|t|t|postgres", f"another role sees pid and user only: {other!r}")
    stats = psql(f"SELECT model FROM bismarck.progress WHERE pid = {pid}", user="bob")
    check(stats == "serial_lr", "a pg_read_all_stats member sees the model")

    psql(f"SELECT pg_cancel_backend({pid})")
    _, err = p.communicate(timeout=60)
    check("canceling statement" in err, "the training was canceled")
    check(wait_for(lambda: progress(where=f"pid = {pid}") == [], timeout=5) is not None,
          "a canceled training's slot disappears")


def test_parallel():
    # Without the leader's participation every row is a worker's: rows_done > 0 proves that the
    # workers' rows are counted. (force_parallel_mode: without the leader, one worker's plan costs
    # what the serial plan costs, and the planner would take the serial one.)
    p, pid = background("SET parallel_leader_participation = off; SET force_parallel_mode = on; " +
                        train_sql("parallel_lr", epochs=20,
                                  extra=", parallelism => 'shared_memory', workers => 1"))
    seen = []

    def poll():
        rows = progress(where=f"pid = {pid}")
        if rows:
            seen.append(rows[0])
        return p.poll() is not None

    wait_for(poll, timeout=300, step=0.05)
    out, err = p.communicate(timeout=60)
    check(p.returncode == 0 and "(shared_memory, 1 workers)" in err,
          f"the parallel training finished, its epochs run by 1 worker: {err.strip()[-80:]!r}")
    ep = [r for r in seen if r["phase"] == "epochs"]
    check(all(r["workers"] == 1 and r["parallelism"] == "shared_memory" for r in ep),
          "parallelism 'shared_memory' and 1 worker are shown")
    best = max((r["rows_done"] for r in ep), default=0)
    check(best > ROWS // 4, f"the workers' rows are counted (leader not participating): max "
                            f"rows_done {best} of {ROWS}")
    check(progress(where=f"pid = {pid}") == [], "a finished training's slot is released")


def test_subtransaction():
    # A training inside a subtransaction that aborts (the error is caught): the slot goes with
    # the subtransaction, while the transaction itself goes on.
    sql = ("BEGIN; DO $$ BEGIN PERFORM * FROM bismarck.train_logistic('sub_lr', 't', 'x', 'y', "
           "epochs => 1000, tolerance => 0, replace => true); "
           "EXCEPTION WHEN query_canceled THEN RAISE NOTICE 'caught'; END $$; "
           "SELECT pg_sleep(4); COMMIT;")
    p, pid = background(sql)
    check(wait_for(lambda: progress(where=f"pid = {pid} AND phase = 'epochs'"), timeout=120)
          is not None, "the training in a subtransaction is shown")
    psql(f"SELECT pg_cancel_backend({pid})")
    time.sleep(1.0)
    alive = p.poll() is None
    check(alive and progress(where=f"pid = {pid}") == [],
          "its slot is gone while the transaction still runs (subtransaction abort)")
    p.communicate(timeout=60)


def test_terminate():
    p, pid = background(train_sql("term_lr"))
    check(wait_for(lambda: progress(where=f"pid = {pid}"), timeout=60) is not None,
          "a training to terminate is shown")
    psql(f"SELECT pg_terminate_backend({pid})")
    p.communicate(timeout=60)
    check(wait_for(lambda: progress(where=f"pid = {pid}") == [], timeout=5) is not None,
          "a terminated backend's slot disappears (FATAL)")


def test_restart():
    before = published_handle()
    r = as_postgres([os.path.join(PGBIN, "pg_ctl"), "-D", PGDATA, "-l", LOG, "-m", "fast", "-w",
                     "restart"])
    check(r.returncode == 0, "pg_ctl restart")
    wait_server()
    print(f"      handle file after restart: {'present' if os.path.exists(HANDLE_FILE) else 'absent'}"
          f" (handle before {before})")
    check(progress() == [], "nothing is shown after a restart (the stale handle is not used)")
    p, pid = background(train_sql("restart_lr", epochs=5))
    check(wait_for(lambda: progress(where=f"pid = {pid} AND model = 'restart_lr'"), timeout=60)
          is not None, "a training after a restart is shown (the stale handle was replaced)")
    after = published_handle()
    check(after is not None and after != before, f"a new segment was published ({before} -> {after})")
    p.communicate(timeout=120)


def test_crash():
    before = published_handle()
    p, pid = background(train_sql("crash_lr"))
    check(wait_for(lambda: progress(where=f"pid = {pid} AND phase = 'epochs'"), timeout=60)
          is not None, "a training to kill is shown")
    os.kill(pid, signal.SIGKILL)
    p.communicate(timeout=60)
    time.sleep(1.0)
    wait_server()
    check(progress() == [], "nothing stale is shown after kill -9 and the crash restart")
    p, pid = background(train_sql("after_crash_lr", epochs=3))
    check(wait_for(lambda: progress(where=f"pid = {pid}"), timeout=60) is not None,
          "a training after the crash restart is shown")
    check(published_handle() != before, "a new segment was published after the crash")
    out, _ = p.communicate(timeout=120)
    check(progress() == [], "and its slot is released when it ends")


def main():
    setup()
    test_serial_and_cancel()
    test_parallel()
    test_subtransaction()
    test_terminate()
    test_restart()
    test_crash()
    print(f"{'FAILED' if failures else 'PASSED'}: {failures} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
