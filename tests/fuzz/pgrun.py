"""Small helpers shared by the fuzz and concurrency tests: psql in a subprocess, and the server log.

No driver is needed: every statement goes through `psql` (the environment names the server:
PGHOST, PGPORT, PGUSER, as scripts/cluster.sh exports them), and the server log is the file
$BISMARCK_SERVER_LOG when it is set.
"""
import os
import re
import subprocess
import time

PSQL = os.environ.get("PSQL", "psql")

# What a crashed backend leaves in the server log (the postmaster's report of the death and the
# restart of every other session), and what a client sees of it.
CRASH_LOG = re.compile(
    r"terminated by signal|server process \(PID \d+\) was terminated|PANIC:|TRAP:"
    r"|all server processes terminated|was terminated by exception")
CRASH_CLIENT = re.compile(
    r"server closed the connection unexpectedly|connection to server was lost"
    r"|terminating connection because of crash of another server process"
    r"|the database system is in recovery mode")


def psql(db, sql=None, file=None, timeout=600, stop_on_error=False, quiet_output=False,
         extra=()):
    """Runs psql on `db` with `sql` (on stdin) or `file`; returns (rc, stdout, stderr)."""
    cmd = [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=%d" % (1 if stop_on_error else 0), "-d", db]
    if quiet_output:
        cmd += ["-o", os.devnull]
    if file:
        cmd += ["-f", file]
    cmd += list(extra)
    try:
        p = subprocess.run(cmd, input=sql, capture_output=True, text=True, timeout=timeout,
                           errors="replace")
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return None, out, err + "\n(psql timed out after %d s)" % timeout


def query(db, sql, timeout=600):
    """The unaligned, tuples-only output of `sql`, stopping at the first error (raises)."""
    rc, out, err = psql(db, sql, stop_on_error=True, timeout=timeout, extra=["-A", "-t"])
    if rc != 0:
        raise RuntimeError("psql failed (%s): %s\n%s" % (rc, sql[:500], err[-2000:]))
    return out


def alive(db="postgres", wait=0.0):
    """Whether the server answers a query, trying for up to `wait` seconds."""
    deadline = time.time() + wait
    while True:
        rc, out, _ = psql(db, "SELECT 'alive'", timeout=30, extra=["-A", "-t"])
        if rc == 0 and "alive" in out:
            return True
        if time.time() >= deadline:
            return False
        time.sleep(0.5)


class ServerLog:
    """Reads what the server log gained since the last look."""

    def __init__(self):
        self.path = os.environ.get("BISMARCK_SERVER_LOG")
        self.offset = 0
        if self.path and os.path.exists(self.path):
            self.offset = os.path.getsize(self.path)

    def available(self):
        return bool(self.path) and os.path.exists(self.path)

    def new_text(self):
        if not self.available():
            return ""
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        return data.decode(errors="replace")

    def crashes(self):
        """Lines of the new log text that report a crashed backend."""
        return [line for line in self.new_text().splitlines() if CRASH_LOG.search(line)]
