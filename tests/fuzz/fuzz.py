#!/usr/bin/env python3
"""Fuzz test of the bismarck extension: no input crashes the server.

Calls every function of the extension (found in pg_proc, so new ones are fuzzed too) with random
and adversarial arguments: NULLs, empty, multi-dimensional and huge arrays, NaN and infinities,
extreme numbers, values of the wrong type through casts, odd and very long names, malformed
sparsevec and model_state text, model states made by mutating a valid state's bytes (header
fields set to edge values, flags and parallelism modes that do not fit, truncated or padded
bodies), binary COPY payloads for the receive functions, hand-written epoch aggregates with
states of the wrong task or dimension, aggregates declared around the extension's transition and
combine functions, training calls with random options, and the same under forced parallel plans
and as an unprivileged role. Each case is generated from (seed, case number) alone.

After each batch it checks that the server still answers and that the server log
($BISMARCK_SERVER_LOG) reports no crashed backend; a batch that crashed is replayed case by case
to name the culprit, which is saved under build/fuzz/. Errors are expected (that is the point);
internal errors (SQLSTATE XX000-XX002) are reported as failures too, since a user's input should
meet a proper error.

    ./scripts/cluster.sh run -- /usr/bin/python3 tests/fuzz/fuzz.py --cases 10000
    ./scripts/cluster.sh run -- /usr/bin/python3 tests/fuzz/fuzz.py --seed 7 --only 1234 --show

The last line is "fuzz: N cases, C crashes, I internal errors, ..."; the exit status is 0 when
both are 0.
"""
import argparse
import collections
import math
import os
import random
import re
import shutil
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgrun  # noqa: E402

DB = "bismarck_fuzz"
OTHER_ROLE = "bismarck_test_fuzz_other"
BASE_MODELS = ["fz_lr", "fz_svm", "fz_lr_sparse", "fz_svm_sparse", "fz_lmf", "fz_lr_pm",
               "fz_lr_f4"]

SETUP = r"""
SET client_min_messages = warning;
CREATE EXTENSION bismarck;
SELECT setseed(0.25);
CREATE TABLE fz_dense AS
SELECT i, ARRAY[random() * 2 - 1, random() * 2 - 1, random() * 10] AS x FROM generate_series(1, 300) i;
ALTER TABLE fz_dense ADD COLUMN y int, ADD COLUMN yb boolean, ADD COLUMN ypm int, ADD COLUMN yf float8,
    ADD COLUMN x4 real[], ADD COLUMN xs bismarck.sparsevec, ADD COLUMN t text;
UPDATE fz_dense SET y = (x[1] - x[2] + 0.1 * x[3] > 0.3)::int;
UPDATE fz_dense SET yb = y = 1, ypm = 2 * y - 1, yf = y, x4 = x::real[], xs = x::bismarck.sparsevec,
    t = 'row ' || i;
CREATE TABLE fz_sparse AS
SELECT i, bismarck.sparsevec(ARRAY[1 + i % 40, 41 + i % 9], ARRAY[1.0, (i % 5) - 2.0], 50) AS x,
       (i % 40 < 20)::int AS y
  FROM generate_series(1, 300) i;
CREATE TABLE fz_ratings AS
SELECT u, m, ((u * 7 + m * 3) % 5 + 1)::float8 AS r, u::int2 AS u2, m::int8 AS m8, r2::numeric AS rn
  FROM generate_series(0, 29) u, generate_series(0, 19) m, LATERAL (SELECT (u + m) % 5 + 1 AS r2) s
 WHERE (u * m) % 3 <> 1;
-- rows every check has to catch: NULLs, NaN, ragged, 2-D, empty arrays, bad labels and ids
CREATE TABLE fz_odd (x float8[], y float8, u bigint, m bigint, r float8, x4 real[], xs bismarck.sparsevec);
INSERT INTO fz_odd VALUES
  ('{1,2,3}', 1, 0, 0, 1, '{1,2,3}', '{1:1}/3'), (NULL, 0, NULL, 1, 2, NULL, NULL),
  ('{1,NaN,3}', 0, 1, 1, 'NaN', '{1,NaN,3}', '{2:5}/3'), ('{1,2}', 1, -1, 2, 3, '{1,2}', '{1:1}/2'),
  ('{{1,2},{3,4}}', 0, 2, -5, 1, '{{1,2},{3,4}}', '{}/3'), ('{}', 1, 9000000000, 3, 1, '{}', '{3:1}/3'),
  ('{1,NULL,3}', 2, 3, 3, 'Infinity', '{1,NULL,3}', '{1:2,2:3}/3'), ('{1e308,-1e308,1e-320}', -1, 4, 4, 1, '{1,2,3}', NULL),
  ('{Infinity,0,0}', 'NaN', 5, 5, -1e308, '{Infinity,0,0}', '{1:1e308}/3'), ('[0:2]={7,8,9}', 1, 6, 6, 0, '[5:7]={1,2,3}', '{1:1}/3');
CREATE TABLE fz_empty (x float8[], y int, u int, m int, r float8, x4 real[], xs bismarck.sparsevec);
CREATE TABLE fz_wide AS SELECT array_fill(0.5::float8, ARRAY[20000]) AS x, 1 AS y
  UNION ALL SELECT array_fill(-0.5::float8, ARRAY[20000]), 0;
CREATE VIEW fz_view AS SELECT x, y, yb FROM fz_dense WHERE i % 3 <> 0;
CREATE TABLE fz_bin_sv (s bismarck.sparsevec);
CREATE TABLE fz_bin_st (s bismarck.model_state);
SELECT count(*) FROM bismarck.train_logistic('fz_lr', 'fz_dense', 'x', 'y', epochs => 4, seed => 1);
SELECT count(*) FROM bismarck.train_svm('fz_svm', 'fz_dense', 'x', 'yb', epochs => 4, seed => 2);
SELECT count(*) FROM bismarck.train_logistic('fz_lr_sparse', 'fz_sparse', 'x', 'y', epochs => 3, seed => 3);
SELECT count(*) FROM bismarck.train_svm('fz_svm_sparse', 'fz_sparse', 'x', 'y', epochs => 3, seed => 4);
SELECT count(*) FROM bismarck.train_lmf('fz_lmf', 'fz_ratings', 'u', 'm', 'r', rank => 3, epochs => 3, seed => 5);
SELECT count(*) FROM bismarck.train_logistic('fz_lr_pm', 'fz_dense', 'x', 'ypm', epochs => 3, seed => 6, standardize => false);
SELECT count(*) FROM bismarck.train_logistic('fz_lr_f4', 'fz_dense', 'x4', 'yf', epochs => 3, seed => 7);
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bismarck_test_fuzz_other') THEN
        CREATE ROLE bismarck_test_fuzz_other;
    END IF;
END $$;
GRANT SELECT ON fz_dense, fz_sparse, fz_ratings, fz_odd, fz_empty, fz_view TO bismarck_test_fuzz_other;
SELECT bismarck.grant_model('fz_svm', 'bismarck_test_fuzz_other');
"""

# Byte offsets of the model state's header fields in its text/binary form (after the varlena
# length word; see src/igd/state.hpp): name -> (offset, struct format).
FIELDS = {
    "magic": (0, "<I"), "version": (4, "<B"), "task": (5, "<B"), "parallelism": (6, "<B"),
    "flags": (7, "<B"), "epoch": (8, "<i"), "dim": (12, "<q"), "rows": (20, "<q"),
    "cols": (28, "<q"), "n_params": (36, "<q"), "n_scaler": (44, "<q"), "alpha": (52, "<d"),
    "l2": (60, "<d"), "l1": (68, "<d"), "max_norm": (76, "<d"), "seed": (84, "<Q"),
    "shared_handle": (92, "<Q"), "shared_token": (100, "<Q"), "rows_seen": (108, "<q"),
    "nulls_skipped": (116, "<q"), "loss_sum": (124, "<d"), "batch": (132, "<q"),
    "participants": (140, "<q"), "scale": (148, "<d"),
}
HEADER = 156

INTS = [0, 1, -1, 2, 3, 7, 255, 256, 65535, 2**31 - 1, -2**31, 2**31, 2**32 - 1, 2**32,
        2**53, 2**62, 2**63 - 1, -2**63, 10**8, 10**8 + 1, 50_000_000, 50_000_001, 1000, 1001]
FLOATS = ["0", "-0", "1", "-1", "0.5", "1e-300", "1e300", "1e308", "-1e308", "4.9e-324",
          "'NaN'", "'Infinity'", "'-Infinity'", "0.1", "100", "2.5e-5", "3.14159"]


def sqlstr(s):
    """A SQL string literal (E'' when it holds a backslash or a control character)."""
    if any(ord(c) < 32 for c in s) or "\\" in s:
        body = "".join("\\x%02x" % ord(c) if ord(c) < 32 else ("\\\\" if c == "\\" else c)
                       for c in s).replace("'", "''")
        return "E'" + body + "'"
    return "'" + s.replace("'", "''") + "'"


class Case:
    """Generates the SQL of case `n` from its own random stream."""

    known_options = {}  # training function -> its argument names (filled in from pg_proc)

    def __init__(self, seed, n, states, functions, tmpdir):
        self.r = random.Random(seed * 1_000_003 + n)
        self.n = n
        self.states = states  # name -> valid state bytes (after the length word)
        self.functions = functions
        self.tmpdir = tmpdir
        # A wild case is adversarial everywhere; a mild one is a valid call with a flaw or two,
        # so that it gets past argument checking into the code behind it; a clean one is valid
        # (within the choices it makes), so that it runs all the way through.
        level = self.r.random()
        self.wild = level < 0.3
        self.clean = level >= 0.8

    # ---- values -----------------------------------------------------------------------------
    def chance(self, p):
        return self.r.random() < p

    def bad(self, p):
        """Whether to take the adversarial branch of probability p (rarer in mild cases)."""
        if self.clean:
            return False
        return self.r.random() < (p if self.wild else p * 0.15)

    def pick(self, seq):
        return self.r.choice(seq)

    def int_value(self, lo=None, hi=None):
        r = self.r
        if lo is not None and not self.bad(0.4):
            return r.randint(lo, hi)
        v = self.pick(INTS)
        return -v if self.chance(0.15) else v

    def float_sql(self):
        if not self.bad(0.6):
            return repr(round(self.r.uniform(0.001, 1.0), 6))
        if self.chance(0.3):
            return repr(self.r.uniform(-10, 10))
        return self.pick(FLOATS)

    def random_text(self, max_len=40):
        r = self.r
        kind = r.randrange(8)
        if kind == 0:
            return ""
        if kind == 1:
            return "x" * r.choice([1, 63, 64, 65, 1000, 100000])
        if kind == 2:
            return "".join(r.choice("abc\"'; -()\\{}:/,$") for _ in range(r.randint(1, max_len)))
        if kind == 3:
            return "".join(chr(r.choice([1, 9, 10, 31, 127, 0xe9, 0x6a21, 0x1f600]))
                           for _ in range(r.randint(1, 8)))
        if kind == 4:
            return self.pick(["x'; DROP TABLE fz_dense; --", 'a"b', "x\"; DROP TABLE fz_dense; --",
                              "pg_catalog.pg_class", "fz_dense.x", "*", "1", "NULL", "ctid",
                              "xmin", "tableoid"])
        return "".join(r.choice("abcdefghijklmnopqrstuvwxyz_0123456789")
                       for _ in range(r.randint(1, max_len)))

    def model_name(self, writable=False):
        r = self.r.random()
        if (r < 0.45 or not self.bad(0.5)) and not writable:
            return sqlstr(self.pick(BASE_MODELS))
        if r < 0.65:
            return sqlstr("fz_t_%d" % self.r.randrange(40))
        return sqlstr(self.random_text())

    def column_name(self):
        if not self.bad(0.25):
            return sqlstr(self.pick(["x", "y", "yb", "ypm", "yf", "x4", "xs", "u", "m", "r", "i",
                                     "t", "u2", "m8", "rn"]))
        return sqlstr(self.random_text())

    def table(self):
        if not self.bad(0.15):
            return self.pick(["fz_dense", "fz_sparse", "fz_ratings", "fz_odd", "fz_empty",
                              "fz_view", "fz_wide", "fz_bin_st"])
        return self.pick(["pg_class", "pg_proc", "bismarck.model_store", "bismarck.models",
                          "fz_dense_pkey", "pg_toast.pg_toast_1255", "information_schema.tables"])

    def regclass(self):
        k = self.r.random()
        if k < 0.8 or not self.bad(0.5):
            return sqlstr(self.table()) + "::regclass"
        if k < 0.9:
            return "%d::oid::regclass" % self.pick([0, 1, 1259, 2**32 - 1, 16384, 99999])
        return sqlstr(self.random_text()) + "::regclass"

    def float8_array(self, dim=None):
        r = self.r
        if not self.bad(0.7):
            n = dim if dim is not None else self.pick([3, 3, 3, 50, 2])
            return "ARRAY[%s]::float8[]" % ", ".join(repr(round(r.uniform(-5, 5), 3))
                                                     for _ in range(n))
        k = r.randrange(12)
        if dim is None:
            dim = self.pick([0, 1, 2, 3, 3, 3, 50, 20000])
        if k == 0:
            return "'{}'::float8[]"
        if k == 1:
            return "array_fill(%s::float8, ARRAY[%d])" % (self.float_sql(), self.pick(
                [3, 1000, 100000, 2_000_000, 10_000_001]))
        if k == 2:
            return "'{{1,2},{3,4}}'::float8[]"
        if k == 3:
            return "ARRAY[1, NULL, 3]::float8[]"
        if k == 4:
            return "'[%d:%d]={%s}'::float8[]" % (
                self.pick([0, -5, 2**31 - 3]), self.pick([0, -5, 2**31 - 3]) + 2, "1,2,3")
        if k == 5:
            return "(SELECT x FROM fz_dense ORDER BY i LIMIT 1 OFFSET %d)" % r.randrange(300)
        vals = [self.float_sql() for _ in range(min(dim, 60))]
        body = ", ".join(vals) if vals else ""
        if dim > 60:
            return "array_fill(%s::float8, ARRAY[%d])" % (self.float_sql(), dim)
        return "ARRAY[%s]::float8[]" % body if body else "'{}'::float8[]"

    def sparsevec_text(self):
        r = self.r
        k = r.randrange(10)
        if k == 0:
            dim = self.pick([1, 3, 50, 10**8, 10**8 + 1, 0, -1, 2**31, 2**63])
            n = self.pick([0, 1, 2, 5])
            population = range(1, max(2, min(abs(dim), 10**6)) + 1)
            idx = sorted(r.sample(population, min(n, 3, len(population))))
            return "{%s}/%d" % (",".join("%d:%s" % (i, self.pick(["1", "-2.5", "0", "1e308",
                                                                 "nan", "inf", "1e400", "1e-400"]))
                                         for i in idx), dim)
        if k == 1:
            return "{%s}/%d" % (",".join("%d:1" % i for i in range(1, 20001)), 20000)
        if k == 2:
            return self.pick(["{1:1,1:2}/3", "{2:1,1:2}/3", "{0:1}/3", "{4:1}/3", "{}/3", "{}/0",
                              "{1:1}", "1:1/3", "{1:1}/3x", "{1:1}/99999999999999999999",
                              "{99999999999999999999:1}/3", "{-1:1}/3", "{1:}/3", "{:1}/3",
                              "{1:1,}/3", " { 1 : 1 } / 3 ", "{1:1}/ 3 /4", "{1:0x10}/3",
                              "{1:1e-5000}/3", "{1:1}/+3", "{+1:1}/3", "{1:1}}/3", "", "/", "{"])
        base = "{1:0.5,3:2,7:-1}/9"
        s = list(base)
        for _ in range(r.randint(1, 4)):
            op = r.randrange(3)
            pos = r.randrange(len(s) + 1)
            ch = r.choice("{}:/,0123456789-+.eE naif\x01\u00e9")
            if op == 0:
                s.insert(pos, ch)
            elif op == 1 and s:
                del s[min(pos, len(s) - 1)]
            elif s:
                s[min(pos, len(s) - 1)] = ch
        return "".join(s)

    def sparsevec(self):
        if not self.bad(0.6):
            return sqlstr(self.pick(["{1:1,3:2}/3", "{1:0.5,49:-2}/50", "{}/50", "{2:1}/3"])) + \
                "::bismarck.sparsevec"
        k = self.r.randrange(6)
        if k == 0:
            return sqlstr(self.sparsevec_text()) + "::bismarck.sparsevec"
        if k == 1:
            return "bismarck.sparsevec(%s, %s, %d)" % (
                self.int_array(), self.float8_array(), self.int_value(1, 60))
        if k == 2:
            return "(%s)::bismarck.sparsevec" % self.float8_array()
        if k == 3:
            return "(SELECT x FROM fz_sparse ORDER BY i LIMIT 1 OFFSET %d)" % self.r.randrange(300)
        return sqlstr(self.pick(["{1:1,3:2}/3", "{1:0.5}/50", "{}/50", "{2:1}/3"])) + \
            "::bismarck.sparsevec"

    def int_array(self):
        k = self.r.randrange(6)
        if k == 0:
            return "'{}'::int[]"
        if k == 1:
            return "ARRAY[1, NULL]::int[]"
        if k == 2:
            return "ARRAY[%s]::int[]" % ", ".join(str(self.int_value(-2, 60) % (2**31))
                                                   for _ in range(self.r.randint(1, 5)))
        return "ARRAY[%s]::int[]" % ", ".join(
            str(v) for v in sorted(self.r.sample(range(1, 60), self.r.randint(1, 5))))

    # model states: valid ones, and mutations of their bytes
    def state_bytes(self):
        name = self.pick(sorted(self.states))
        return name, bytearray(self.states[name])

    def mutate_state(self, b, structural=False):
        r = self.r

        def pack(fmt, off, v):
            if len(b) < off + struct.calcsize(fmt):
                b.extend(bytes(off + struct.calcsize(fmt) - len(b)))
            struct.pack_into(fmt, b, off, v)
        for _ in range(r.randint(1, 3) if self.wild else 1):
            k = r.randrange(13)
            if k >= 10 or structural:  # the mutations that reach memory: more often
                k = self.pick([4, 4, 5, 9] if structural else [4, 5, 4])
            if k <= 3:
                field = self.pick(sorted(FIELDS))
                off, fmt = FIELDS[field]
                if fmt == "<d":
                    v = self.pick([0.0, -1.0, 1e300, float("nan"), float("inf"), -0.0, 5e-324])
                else:
                    size = struct.calcsize(fmt)
                    v = self.pick([0, 1, 2, 3, 4, 255, 2**31 - 1, 2**63 - 1, 2**64 - 1, 0x10,
                                   0x20, 0x40, 0x13, 0x7f, 50_000_000, 50_000_001])
                    v &= (1 << (8 * size)) - 1
                    if fmt[1].islower() and v >= 1 << (8 * size - 1):
                        v -= 1 << (8 * size)
                pack(fmt, off, v)
            elif k == 4:  # a consistent re-shape: dim and n_params agree, body resized to match
                dim = self.pick([1, 2, 3, 50, 1000, 10_000_000, 10_000_000, 40_000_000])
                pack("<q", 12, dim)
                pack("<q", 36, dim + 1)
                pack("<q", 44, self.pick([0, 2 * dim]))
                flags = self.pick([0, 1, 2, 3])
                pack("<B", 7, flags)
                n_scaler = struct.unpack_from("<q", b, 44)[0]
                doubles = (0 if flags & 2 else (dim + 1) * (2 if flags & 1 else 1)) + n_scaler
                if flags & 2 and flags & 1:
                    doubles += dim + 1  # a shared in-epoch state keeps a pending block
                if doubles <= 300_000:
                    del b[HEADER:]
                    b.extend(struct.pack("<d", 0.25) * doubles)
            elif k == 5:  # parallelism and flags that do not fit each other
                pack("<B", 6, self.pick([1, 2, 3, 4]))
                pack("<B", 7, self.pick([0, 1, 2, 3, 0x12, 0xff]))
            elif k == 6:  # truncate or pad
                if self.chance(0.5):
                    del b[r.randrange(len(b) + 1):]
                else:
                    b.extend(bytes(r.randrange(1, 64)))
            elif k == 7:  # random bytes anywhere
                for _ in range(r.randint(1, 8)):
                    if b:
                        b[r.randrange(len(b))] = r.randrange(256)
            elif k == 8 and len(b) > HEADER + 8:  # parameters to NaN / infinity
                for _ in range(r.randint(1, 4)):
                    pos = HEADER + 8 * r.randrange((len(b) - HEADER) // 8)
                    pack("<d", pos, self.pick([float("nan"), float("inf"), 1e308]))
            else:  # lmf shape fields
                rows, cols, rank = self.pick([(1, 1, 1), (2**40, 1, 1), (5, 4, 2), (0, 3, 1),
                                              (2**62, 2**62, 1), (3, 3, 2**62)])
                pack("<q", 20, rows)
                pack("<q", 28, cols)
                pack("<q", 12, rank)
        return b

    def state_hex(self):
        _, b = self.state_bytes()
        if self.chance(0.8 if self.wild else 0.5):
            b = self.mutate_state(b)
        h = b.hex()
        k = self.r.randrange(12)
        if k == 0:
            h = h.upper()
        elif k == 1:
            h = h[:-1]
        elif k == 2:
            pos = self.r.randrange(len(h) + 1)
            h = h[:pos] + self.pick(["g", " ", "-", "\u00e9", "0x"]) + h[pos:]
        return h

    def state(self, like=None):
        """A state: with `like` (a base model), in a mild case, one that fits that model."""
        if like and like in self.states and self.chance(0.2):
            # the fitting model, its header reshaped or its flags and parallelism changed
            b = self.mutate_state(bytearray(self.states[like]), structural=True)
            return sqlstr(b.hex()) + "::bismarck.model_state"
        if like and not self.bad(0.5):
            init = {"fz_lr": "bismarck.logistic_init(3, 0.1)", "fz_svm": "bismarck.svm_init(3)",
                    "fz_lr_sparse": "bismarck.logistic_init(50)", "fz_svm_sparse":
                    "bismarck.svm_init(50, 0.05, 0.01)", "fz_lmf": "bismarck.lmf_init(30, 20, 3)"}
            return self.pick(["bismarck.model(%s)" % sqlstr(like), init[like]])
        k = self.r.randrange(14)
        if k < 5:
            return sqlstr(self.state_hex()) + "::bismarck.model_state"
        if k < 7:
            return "bismarck.model(%s)" % self.model_name()
        if k == 7:
            return "bismarck.logistic_init(%d, %s)" % (self.int_value(1, 60), self.float_sql())
        if k == 8:
            return "bismarck.svm_init(%d)" % self.int_value(1, 60)
        if k == 9:
            return "bismarck.lmf_init(%d, %d, %d)" % (self.int_value(1, 40), self.int_value(1, 40),
                                                     self.int_value(1, 5))
        if k == 10:
            return "bismarck.with_step_size(%s, %s)" % (self.state(), self.float_sql())
        if k == 11:  # the result of an epoch: a state with the in-epoch `prev` block
            return "(SELECT bismarck.logistic_epoch(x, y, bismarck.model('fz_lr')) FROM fz_dense)"
        if k == 12:
            return "NULL::bismarck.model_state"
        return "(SELECT m.state FROM bismarck.models m ORDER BY m.name LIMIT 1 OFFSET %d)" % \
            self.r.randrange(8)

    def step_size(self):
        return sqlstr(self.pick(["auto", "AUTO", " 0.1", "0.1 ", "1e309", "-1", "0", "nan", "inf",
                                 "0x10", "", "1e-320", "fast", "0.05"])) + "::bismarck.step_size"

    def regrole(self):
        return self.pick(["'bismarck_test_fuzz_other'::regrole", "'postgres'::regrole",
                          "0::oid::regrole", "'-'::regrole", "12345::oid::regrole",
                          "'pg_read_all_data'::regrole", "'no_such_role'::regrole"])

    def value(self, typ):
        """A SQL expression of type `typ` (a regtype name), adversarial more often than not."""
        if self.bad(0.08):
            return "NULL::%s" % typ
        if self.bad(0.06):  # the wrong type, through a cast
            other = self.pick(["integer", "double precision", "text", "double precision[]",
                               "bismarck.sparsevec", "bismarck.model_state", "boolean"])
            return "(%s)::text::%s" % (self.value(other), typ)
        if typ == "text":
            k = self.r.randrange(4)
            if k == 0:
                return self.model_name()
            if k == 1:
                return self.column_name()
            if k == 2:
                return sqlstr(self.pick(["serial", "shared_memory", "shared_memory_locked",
                                         "model_averaging", "once", "never", "every_epoch",
                                         "skip", "error", "gpu", "fz_shuf_%d" % self.r.randrange(5),
                                         "bismarck_work.t", "pg_catalog.x"]))
            return sqlstr(self.random_text())
        if typ in ("integer", "bigint", "smallint"):
            limit = {"integer": 2**31, "bigint": 2**63, "smallint": 2**15}[typ]
            v = self.int_value(-3, 60)
            v = max(-limit, min(limit - 1, v))
            return "(%d)::%s" % (v, typ)
        if typ == "oid":
            return "%d::oid" % self.pick([0, 1, 16, 25, 701, 1022, 2**32 - 1])
        if typ in ("double precision", "real", "numeric"):
            return "(%s)::%s" % (self.float_sql(), typ)
        if typ == "boolean":
            return self.pick(["true", "false"])
        if typ == "double precision[]":
            return self.float8_array()
        if typ == "real[]":
            return "(%s)::real[]" % self.float8_array()
        if typ == "integer[]":
            return self.int_array()
        if typ == "bismarck.sparsevec":
            return self.sparsevec()
        if typ == "bismarck.model_state":
            return self.state()
        if typ == "bismarck.step_size":
            return self.step_size()
        if typ == "regclass":
            return self.regclass()
        if typ == "regrole":
            return self.regrole()
        if typ == "cstring":
            return sqlstr(self.pick([self.sparsevec_text(), self.state_hex(), "auto", "0.1",
                                     self.random_text()])) + "::cstring"
        return "NULL::%s" % typ

    # ---- cases ------------------------------------------------------------------------------
    def call_function(self):
        """Any function of the extension, positional arguments of (mostly) the right types."""
        f = self.pick(self.functions)
        if f["kind"] == "a":
            return self.aggregate()
        if "internal" in f["args"]:
            return self.binary_copy()
        if f["name"] in ("drop_model", "grant_model") and self.chance(0.8):
            args = [self.model_name(writable=True)] + [self.value(t) for t in f["args"][1:]]
        elif f["name"] in ("train_logistic", "train_svm", "train_lmf"):
            return self.train()
        else:
            args = [self.value(t) for t in f["args"]]
        call = "bismarck.%s(%s)" % (f["name"], ", ".join(args))
        if f["retset"]:
            return "SELECT count(*) FROM %s;" % call
        if f["rettype"] == "void":
            return "SELECT %s;" % call
        return "SELECT md5(CAST(%s AS text));" % call

    def train(self):
        """A training call: a valid one with a flaw or two, or a wild one."""
        r = self.r
        fn = self.pick(["train_logistic", "train_svm", "train_lmf"])
        lmf = fn == "train_lmf"
        name = sqlstr("fz_t_%d" % r.randrange(40)) if not self.bad(0.15) else self.model_name()
        if lmf:
            src, cols = "fz_ratings", [self.pick(["u", "u2"]), self.pick(["m", "m8"]),
                                       self.pick(["r", "rn"])]
        else:
            src = self.pick(["fz_dense", "fz_sparse", "fz_view", "fz_wide"])
            feats = {"fz_dense": ["x", "x4", "xs"], "fz_sparse": ["x"], "fz_view": ["x"],
                     "fz_wide": ["x"]}[src]
            labels = {"fz_dense": ["y", "yb", "ypm", "yf"], "fz_sparse": ["y"],
                      "fz_view": ["y", "yb"], "fz_wide": ["y"]}[src]
            cols = [self.pick(feats), self.pick(labels)]
        src = sqlstr(src)
        cols = [sqlstr(c) for c in cols]
        if self.bad(0.2):
            src = self.regclass() if self.chance(0.5) else sqlstr(self.pick(
                ["fz_odd", "fz_empty", "fz_ratings", "fz_dense", "fz_sparse"]))
        for i in range(len(cols)):
            if self.bad(0.1):
                cols[i] = self.column_name() if self.chance(0.7) else "NULL"
        sane = {
            "epochs": lambda: str(r.randint(1, 3)),
            "step_size": lambda: self.pick(["'auto'", "0.05", "0.2", "0.01"]),
            "decay": lambda: self.pick(["0.9", "1", "0.5"]),
            "l2": lambda: self.pick(["0", "0.001", "0.1"]),
            "l1": lambda: self.pick(["0", "0.001", "0.01"]),
            "tolerance": lambda: self.pick(["0", "0.001", "0.1"]),
            "shuffle": lambda: sqlstr(self.pick(["once", "never", "every_epoch"])),
            "parallelism": lambda: sqlstr(self.pick(["serial", "shared_memory",
                                                     "shared_memory_locked", "model_averaging"])),
            "workers": lambda: str(self.pick([0, 1, 2])),
            "seed": lambda: str(r.randrange(-2**63, 2**63)),
            "on_null": lambda: sqlstr(self.pick(["skip", "error"])),
            "replace": lambda: self.pick(["true", "false"]),
        }
        wild = {
            "epochs": lambda: str(self.pick([0, -1, 100000, 100001, 2**31 - 1])),
            "step_size": lambda: self.pick([self.step_size(), self.float_sql(), "1e300", "1e-300"]),
            "decay": lambda: self.float_sql(),
            "l2": lambda: self.pick([self.float_sql(), "1e300", "'NaN'", "-1"]),
            "l1": lambda: self.pick([self.float_sql(), "1e300", "'Infinity'"]),
            "tolerance": lambda: self.float_sql(),
            "shuffle": lambda: sqlstr(self.pick(["bogus", "", "ONCE", "never "])),
            "parallelism": lambda: sqlstr(self.pick(["gpu", "", "Serial"])),
            "workers": lambda: str(self.pick([-1, 64, 65, 1000, 16, 8])),
            "seed": lambda: "(%d)::bigint" % max(-2**63, min(2**63 - 1, self.int_value())),
            "on_null": lambda: sqlstr(self.pick(["ignore", ""])),
            "replace": lambda: "NULL",
        }
        if lmf:
            sane["rank"] = lambda: str(r.randint(1, 4))
            wild["rank"] = lambda: str(self.pick([0, -1, 1000, 1001, 2**31 - 1]))
            sane["max_norm"] = lambda: self.pick(["0", "1", "5"])
            wild["max_norm"] = lambda: self.float_sql()
        else:
            sane["standardize"] = lambda: self.pick(["true", "false"])
            wild["standardize"] = lambda: "NULL"
            sane["batch"] = lambda: str(self.pick([1, 8, 64]))
            wild["batch"] = lambda: str(self.pick([0, -1, 2**31 - 1, 10**6, 10**6 + 1]))
        known = set(self.known_options.get(fn, sane))
        keys = [k for k in sorted(sane) if k in known]
        opts = []
        for key in r.sample(keys, r.randint(0, len(keys))):
            value = wild[key]() if self.bad(0.12) else sane[key]()
            opts.append("%s => %s" % (key, value))
        if not any(o.startswith("epochs") for o in opts):
            opts.append("epochs => %d" % r.randint(1, 3))
        call = "bismarck.%s(%s, %s, %s%s)" % (fn, name, src, ", ".join(cols),
                                               "".join(", " + o for o in opts))
        return "SELECT count(*) FROM %s;" % call

    def aggregate(self):
        """A hand-written epoch: states of any task, dimension or origin, odd rows, odd plans."""
        r = self.r
        kind = r.randrange(10)
        if kind < 6:
            agg = self.pick(["logistic_epoch", "svm_epoch"])
            table = self.pick(["fz_dense", "fz_sparse", "fz_dense", "fz_dense"])
            if self.bad(0.3):
                table = self.pick(["fz_odd", "fz_empty", "fz_wide"])
            feats = self.pick(["x", "x", "x4", "xs"]) if table in ("fz_dense", "fz_odd", "fz_empty") \
                else "x"
            if self.bad(0.1):
                feats = self.value(self.pick(["double precision[]", "real[]", "bismarck.sparsevec"]))
            label = self.pick(["y", "y", "(y * 2 - 1)"])
            if self.bad(0.2):
                label = self.pick(["%s::float8" % self.float_sql(), "NULL::float8", "y + 1"])
            logistic = agg == "logistic_epoch"
            like = ("fz_lr_sparse" if logistic else "fz_svm_sparse") if table == "fz_sparse" \
                else ("fz_lr" if logistic else "fz_svm")
            inputs = "%s, %s" % (feats, label)
        elif kind < 8:
            agg = "lmf_epoch"
            table = "fz_ratings" if not self.bad(0.3) else self.pick(["fz_odd", "fz_empty"])
            ids = "u, m" if not self.bad(0.3) else self.pick(
                ["m, u", "u + 1000, m", "-u, m", "u * 4000000000, m"])
            value = "r" if not self.bad(0.2) else self.pick(["'NaN'::float8", "r * 1e300"])
            inputs = "%s, %s" % (ids, value)
            like = "fz_lmf"
        else:
            agg = "feature_stats"
            table = self.pick(["fz_dense", "fz_odd", "fz_wide", "fz_empty"])
            inputs = self.pick(["x", "x4", "x::real[]"])
            like = None
        state = self.state(like)
        if agg != "feature_stats" and self.chance(0.2):  # one epoch fed into the next
            state = "(SELECT bismarck.%s(%s, %s) FROM %s)" % (agg, inputs, state, table)
        args = inputs if agg == "feature_stats" else "%s, %s" % (inputs, state)
        m = r.randrange(10)
        if m == 0:
            call = "bismarck.%s(%s ORDER BY random())" % (agg, args)
        else:
            call = "bismarck.%s(%s)" % (agg, args)
        if m == 1:
            call += " FILTER (WHERE random() < 0.5)"
        elif m == 2 and self.bad(0.5):
            call += " OVER (ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)"
        elif m == 3 and self.bad(0.5):
            call += " OVER ()"
        group = " GROUP BY random() < 0.5" if m == 4 else ""
        if agg == "feature_stats":
            return "SELECT md5(CAST(%s AS text)) FROM %s%s;" % (call, table, group)
        return ("SELECT bismarck.epoch_loss(s), bismarck.epoch_rows(s), md5(s::text), "
                "bismarck.coefficients(s) IS NULL FROM (SELECT %s AS s FROM %s%s) t;"
                % (call, table, group))

    def user_aggregate(self):
        """An aggregate declared around the extension's transition or combine functions."""
        name = "fz_uagg_%d" % self.n
        k = self.r.randrange(5)
        if k == 0:
            decl = ("CREATE AGGREGATE %s(float8[], float8, bismarck.model_state) (SFUNC = "
                    "bismarck.%s, STYPE = bismarck.model_state%s);" % (
                        name, self.pick(["logistic_step", "svm_step"]), self.initcond()))
            use = "SELECT md5(%s(x, y, %s)::text) FROM fz_dense;" % (name, self.state())
        elif k == 1:
            decl = ("CREATE AGGREGATE %s(bismarck.model_state) (SFUNC = bismarck.epoch_combine, "
                    "STYPE = bismarck.model_state%s);" % (name, self.initcond()))
            big = "bismarck.logistic_init(%d)" % self.pick([3, 1000, 2_000_000, 5_000_000])
            use = "SELECT md5(%s(s)::text) FROM (VALUES (%s), (%s)) v(s);" % (
                name, self.state() if self.chance(0.6) else big, self.state())
        elif k == 2:
            decl = ("CREATE AGGREGATE %s(bigint, bigint, float8, bismarck.model_state) (SFUNC = "
                    "bismarck.lmf_step, STYPE = bismarck.model_state%s);" % (name, self.initcond()))
            use = "SELECT md5(%s(u, m, r, %s)::text) FROM fz_ratings;" % (name, self.state())
        elif k == 3:
            init = self.pick(["'{0,3,0,0,0,0,0,0}'", "'{0,100000}'", "'{5,2,1,1}'", "'{}'",
                              "'{0,3}'", "'{0,20000}'", "'{0,20000,1}'",
                              "'{NaN,3,0,0,0,0,0,0}'", "'{0,-1}'", "'{1,2,NULL,4,5,6}'",
                              "'{{0,3},{0,0}}'"])
            decl = ("CREATE AGGREGATE %s(float8[]) (SFUNC = bismarck.feature_stats_step, "
                    "STYPE = float8[], INITCOND = %s);" % (name, init))
            use = "SELECT md5(%s(x)::text) FROM %s;" % (name, self.pick(["fz_dense", "fz_wide"]))
        else:
            decl = ("CREATE AGGREGATE %s(float8[]) (SFUNC = bismarck.feature_stats_combine, "
                    "STYPE = float8[]);" % name)
            use = "SELECT md5(%s(a)::text) FROM (VALUES (%s), (%s)) v(a);" % (
                name, self.float8_array(), self.float8_array())
        return "%s\n%s\nDROP AGGREGATE IF EXISTS %s(%s);" % (
            decl, use, name, decl[decl.index("(") + 1:decl.index(")")])

    def initcond(self):
        if self.chance(0.3):
            return ""
        return ", INITCOND = %s" % sqlstr(self.state_hex())

    def binary_copy(self):
        """Crafted binary COPY payloads for the receive functions."""
        r = self.r
        payloads = []
        sparse = self.chance(0.5)
        for _ in range(r.randint(1, 4)):
            if sparse:
                dim = self.pick([1, 3, 50, 10**8, 10**8 + 1, 0, -1, 2**31 - 1])
                nnz = self.pick([0, 1, 2, 3, -1, 2**30, dim])
                head = struct.pack(">iii", dim & 0xffffffff if dim >= 0 else dim, nnz,
                                   self.pick([0, 0, 0, 1]))
                n = max(0, min(nnz, 8))
                idx = [self.pick([0, 1, 2, dim - 1, dim, -1, 2**31 - 1]) for _ in range(n)]
                if self.chance(0.5):
                    idx.sort()
                body = b"".join(struct.pack(">i", max(-2**31, min(2**31 - 1, i))) for i in idx)
                body += b"".join(struct.pack(">d", self.pick([1.0, 0.0, -2.5, float("nan"),
                                                            float("inf")])) for _ in range(n))
                p = head + body
                if self.chance(0.2):
                    p = p[:r.randrange(len(p) + 1)]
                payloads.append(bytes(p))
            else:
                _, b = self.state_bytes()
                if self.chance(0.8):
                    b = self.mutate_state(b)
                payloads.append(bytes(b))
        if self.chance(0.1):
            payloads.append(None)
        path = os.path.join(self.tmpdir, "copy_%d.bin" % self.n)
        with open(path, "wb") as f:
            f.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
            for p in payloads:
                f.write(struct.pack(">h", 1))
                f.write(struct.pack(">i", -1) if p is None else struct.pack(">i", len(p)) + p)
            f.write(struct.pack(">h", -1))
        table = "fz_bin_sv" if sparse else "fz_bin_st"
        use = ("SELECT bismarck.dims(s), bismarck.nnz(s), md5(s::text), "
               "md5(bismarck.sparsevec_send(s)::text) FROM fz_bin_sv;" if sparse else
               "SELECT bismarck.epoch_rows(s), md5(s::text), bismarck.intercept(s), "
               "bismarck.predict(s, ARRAY[1, 2, 3]::float8[]) FROM fz_bin_st;")
        return "\\copy %s FROM '%s' WITH (FORMAT binary)\n%s\nTRUNCATE %s;" % (
            table, path, use, table)

    def text_input(self):
        k = self.r.randrange(3)
        if k == 0:
            v = sqlstr(self.sparsevec_text())
            return ("SELECT md5(s::text), bismarck.dims(s), bismarck.nnz(s), "
                    "md5(bismarck.sparsevec_to_array(s)::text) FROM (SELECT %s::bismarck.sparsevec AS s) t;"
                    % v)
        if k == 1:
            v = sqlstr(self.state_hex())
            x = self.pick(["ARRAY[1, 2, 3]::float8[]", "'{1:1}/3'::bismarck.sparsevec",
                           "'{1:1}/50'::bismarck.sparsevec", "ARRAY[1, 2]::real[]"])
            return ("SELECT md5(s::text), bismarck.epoch_loss(s), bismarck.epoch_rows(s), "
                    "bismarck.coefficients(s), bismarck.intercept(s), bismarck.predict(s, %s), "
                    "bismarck.decision_function(s, %s), bismarck.predict(s, 1, 2), "
                    "md5(bismarck.with_step_size(s, 0.5)::text) "
                    "FROM (SELECT %s::bismarck.model_state AS s) t;" % (x, x, v))
        return "SELECT %s::text;" % self.step_size()

    def prediction(self):
        """Scoring by name or by value, with features that fit the model or not."""
        model = self.pick(BASE_MODELS)
        features = {"fz_lr": "fz_dense", "fz_svm": "fz_dense", "fz_lr_pm": "fz_dense",
                    "fz_lr_f4": "fz_dense", "fz_lr_sparse": "fz_sparse",
                    "fz_svm_sparse": "fz_sparse", "fz_lmf": "fz_ratings"}[model]
        name = sqlstr(model) if not self.bad(0.3) else self.model_name()
        by = name if self.chance(0.5) else (self.state(model if model in (
            "fz_lr", "fz_svm", "fz_lr_sparse", "fz_svm_sparse", "fz_lmf") else None))
        fn = self.pick(["predict", "predict_proba", "decision_function"])
        k = self.r.randrange(5)
        if k == 0:
            table = features if not self.bad(0.3) else self.pick(["fz_odd", "fz_wide", "fz_dense"])
            x = self.pick(["x", "x", "x4", "xs"]) if table in ("fz_dense", "fz_odd") else "x"
            if table == "fz_ratings":
                return "SELECT count(bismarck.predict(%s, u, m)) FROM fz_ratings;" % by
            return "SELECT count(bismarck.%s(%s, %s)) FROM %s;" % (fn, by, x, table)
        if k == 1:
            return "SELECT bismarck.predict(%s, %s, %s);" % (
                by, self.value("bigint"), self.value("bigint"))
        if k == 2:
            return "SELECT count(*) FROM bismarck.recommend(%s, %s, %s, %s);" % (
                name, self.value("bigint"), self.value("integer"), self.value("boolean"))
        if k == 3:
            cols = "".join(", %s" % self.column_name() for _ in range(
                self.r.randint(0, 5) if self.bad(0.5) else 0))
            src = sqlstr(features) + "::regclass" if not self.bad(0.3) else self.regclass()
            return "SELECT count(*) FROM bismarck.evaluate(%s, %s%s);" % (name, src, cols)
        dim = 50 if "sparse" in model else 3
        x = self.float8_array(dim) if self.chance(0.6) else self.value(
            self.pick(["double precision[]", "real[]", "bismarck.sparsevec"]))
        return "SELECT bismarck.%s(%s, %s);" % (fn, by, x)

    def sql(self):
        r = self.r.random()
        if r < 0.30:
            body = self.call_function()
        elif r < 0.42:
            body = self.train()
        elif r < 0.56:
            body = self.aggregate()
        elif r < 0.66:
            body = self.text_input()
        elif r < 0.78:
            body = self.prediction()
        elif r < 0.86:
            body = self.user_aggregate()
        else:
            body = self.binary_copy()
        wrap = self.r.random()
        if wrap < 0.12:  # parallel plans, every function in a worker where it may be
            return ("BEGIN;\nSET LOCAL max_parallel_workers_per_gather = 2;\n"
                    "SET LOCAL parallel_setup_cost = 0;\nSET LOCAL parallel_tuple_cost = 0;\n"
                    "SET LOCAL min_parallel_table_scan_size = 0;\n"
                    "SET LOCAL force_parallel_mode = %s;\n%s\nCOMMIT;" % (
                        self.pick(["on", "off", "regress"]), body))
        if wrap < 0.20 and "\\copy" not in body and "CREATE AGGREGATE" not in body:
            return "SET ROLE %s;\n%s\nRESET ROLE;" % (OTHER_ROLE, body)
        if wrap < 0.24:  # inside a transaction that is rolled back, after a savepoint
            return "BEGIN;\nSAVEPOINT s;\n%s\nROLLBACK TO s;\n%s\nROLLBACK;" % (body, body)
        return body


PREAMBLE = """\\set VERBOSITY verbose
\\set SHOW_CONTEXT never
SET client_min_messages = error;
SET statement_timeout = '20s';
SET lock_timeout = '10s';
"""


def batch_sql(cases):
    parts = [PREAMBLE]
    for n, sql in cases:
        parts.append("\\warn @@case %d\n%s\n" % (n, sql))
    parts.append("\\warn @@end\n")
    return "".join(parts)


ERROR_LINE = re.compile(r"(?:ERROR|FATAL|PANIC):\s+([0-9A-Z]{5}):\s*(.*)")


def parse_errors(stderr):
    """(case, sqlstate, message) for every error psql printed."""
    case = None
    found = []
    for line in stderr.splitlines():
        if line.startswith("@@case "):
            case = int(line.split()[1])
            continue
        m = ERROR_LINE.search(line)
        if m:
            found.append((case, m.group(1), m.group(2)))
    return found


def setup(log, library=None):
    rc, _, err = pgrun.psql("postgres", "DROP DATABASE IF EXISTS %s;" % DB, stop_on_error=True)
    if rc != 0:
        sys.exit("fuzz: cannot drop %s: %s" % (DB, err))
    pgrun.query("postgres", "CREATE DATABASE %s;" % DB)
    if library:  # another build of the library, for this database only (a test of the test)
        pgrun.query(DB, "CREATE EXTENSION bismarck; UPDATE pg_proc SET probin = %s WHERE "
                        "probin = '$libdir/bismarck';" % sqlstr(os.path.abspath(library)))
    pgrun.query(DB, SETUP.replace("CREATE EXTENSION bismarck;", "CREATE EXTENSION IF NOT EXISTS bismarck;"))
    states = {}
    out = pgrun.query(DB, """
        SELECT name, bismarck.model(name)::text FROM bismarck.models
        UNION ALL SELECT 'init_lr', bismarck.logistic_init(3)::text
        UNION ALL SELECT 'init_svm_scaled', bismarck.svm_init(50)::text
        UNION ALL SELECT 'init_lmf', bismarck.lmf_init(30, 20, 3)::text
        UNION ALL SELECT 'epoch_lr', (SELECT bismarck.logistic_epoch(x, y, bismarck.model('fz_lr'))
                                        FROM fz_dense)::text
        UNION ALL SELECT 'epoch_lmf', (SELECT bismarck.lmf_epoch(u, m, r, bismarck.model('fz_lmf'))
                                         FROM fz_ratings)::text
        ORDER BY 1;""")
    for line in out.splitlines():
        if "|" in line:
            name, hexs = line.split("|", 1)
            states[name] = bytes.fromhex(hexs.strip())
    functions = []
    out = pgrun.query(DB, """
        SELECT p.proname, p.prokind, p.proretset, p.prorettype::regtype,
               coalesce(array_to_string(p.proargtypes::regtype[], ','), '')
          FROM pg_proc p WHERE p.pronamespace = 'bismarck'::regnamespace ORDER BY p.oid;""")
    for line in out.splitlines():
        if not line.strip():
            continue
        name, kind, retset, rettype, args = line.split("|")
        functions.append({"name": name, "kind": kind, "retset": retset == "t",
                          "rettype": rettype,
                          "args": [a.strip() for a in args.split(",")] if args else []})
    out = pgrun.query(DB, """
        SELECT proname, array_to_string(proargnames, ',') FROM pg_proc
         WHERE pronamespace = 'bismarck'::regnamespace AND proname LIKE 'train%';""")
    for line in out.splitlines():
        if "|" in line:
            name, names = line.split("|", 1)
            Case.known_options[name] = names.strip().split(",")
    log.new_text()
    return states, functions


def run_cases(cases, tmp, timeout):
    path = os.path.join(tmp, "batch.sql")
    with open(path, "w") as f:
        f.write(batch_sql(cases))
    return pgrun.psql(DB, file=path, timeout=timeout, quiet_output=True)


def crashed(log, rc, stderr):
    lines = log.crashes()
    if rc is None:
        lines.append("psql did not finish in time")
    client = [line for line in stderr.splitlines() if pgrun.CRASH_CLIENT.search(line)]
    return lines + client[:3]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--only", type=int, help="generate and run this case only")
    ap.add_argument("--show", action="store_true", help="print the SQL of the cases")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per batch")
    ap.add_argument("--verbose", action="store_true", help="print every error")
    ap.add_argument("--library", help="run against this bismarck.so instead of the installed one "
                    "(to check that the fuzzer finds the crashes of an older build)")
    args = ap.parse_args()

    t0 = time.time()
    log = pgrun.ServerLog()
    if not pgrun.alive():
        sys.exit("fuzz: no server (run it under ./scripts/cluster.sh run --)")
    if not log.available():
        print("fuzz: BISMARCK_SERVER_LOG is not set: only the client side detects crashes")
    states, functions = setup(log, args.library)
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "fuzz")
    os.makedirs(out_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="bismarck-fuzz-")
    os.chmod(tmp, 0o755)

    numbers = [args.only] if args.only is not None else list(range(args.cases))
    crashes, internal, hangs = [], [], 0
    states_seen = collections.Counter()
    errors = 0
    failing = set()
    for start in range(0, len(numbers), args.batch):
        chunk = numbers[start:start + args.batch]
        cases = [(n, Case(args.seed, n, states, functions, tmp).sql()) for n in chunk]
        if args.show:
            for n, sql in cases:
                print("-- case %d\n%s" % (n, sql))
        rc, _, err = run_cases(cases, tmp, args.timeout)
        found = parse_errors(err)
        errors += len(found)
        failing.update(case for case, _, _ in found)
        if args.verbose:
            for case, state, msg in found:
                print("case %s: %s %s" % (case, state, msg[:200]))
        for case, state, msg in found:
            states_seen[state] += 1
            if state in ("XX000", "XX001", "XX002"):
                internal.append((case, state, msg))
        bad = crashed(log, rc, err)
        if rc is None:
            hangs += 1
        if bad:
            print("fuzz: batch of cases %d-%d: %s" % (chunk[0], chunk[-1], "; ".join(bad[:4])))
            pgrun.alive(DB, wait=120)
            log.new_text()
            # Replay one case at a time to name the culprit(s).
            for n, sql in cases:
                rc1, _, err1 = run_cases([(n, sql)], tmp, args.timeout)
                bad1 = crashed(log, rc1, err1)
                if bad1:
                    path = os.path.join(out_dir, "crash-seed%d-case%d.sql" % (args.seed, n))
                    with open(path, "w") as f:
                        f.write(batch_sql([(n, sql)]))
                    crashes.append(n)
                    print("fuzz: CRASH in case %d (saved in %s):\n%s\n  -> %s" % (
                        n, os.path.relpath(path), sql[:3000], "; ".join(bad1[:4])))
                    pgrun.alive(DB, wait=120)
                    log.new_text()
            if not any(c in chunk for c in crashes):
                crashes.append(chunk[0])  # crashed as a batch only
                print("fuzz: the batch crashed but no single case did")
        if not pgrun.alive(DB, wait=120):
            print("fuzz: the server does not answer any more")
            crashes.append(chunk[-1])
            break
        done = min(start + args.batch, len(numbers))
        if done % (args.batch * 20) == 0 or done == len(numbers):
            print("fuzz: %d/%d cases, %d crashes, %.0f s" % (done, len(numbers), len(crashes),
                                                             time.time() - t0), flush=True)

    for case, state, msg in internal[:20]:
        print("fuzz: internal error in case %s: %s %s" % (case, state, msg[:300]))
    top = ", ".join("%s %d" % kv for kv in states_seen.most_common(8))
    print("fuzz: %d cases, %d crashes, %d internal errors, %d hangs (seed %d; %d cases ran "
          "without error; %d errors: %s; %.0f s)" % (
              len(numbers), len(crashes), len(internal), hangs, args.seed,
              len(numbers) - len(failing), errors, top, time.time() - t0))
    ok = not crashes and not internal and not hangs
    shutil.rmtree(tmp, ignore_errors=True)
    if ok:
        pgrun.psql("postgres", "DROP DATABASE IF EXISTS %s;\nDROP ROLE IF EXISTS %s;" % (DB, OTHER_ROLE))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
