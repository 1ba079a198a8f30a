#!/usr/bin/env python3
"""scikit-learn on the rows bismarck trains on: the usual way out of the database.

For each data set (dense, sparse): export the training and test tables with psql COPY (timed),
load them (pandas read_csv / load_svmlight_file, timed), then train each peer --reps times
(the median fit time is the learner's time) and score the test table. End to end = export +
load + fit of the training table, the path that bismarck's shuffle + train in place replaces.

    peers.py --out raw/peers.csv --epochs 10 --reps 3 --sparse-dim 41000

Rows of the output: section,dataset,item,metric,value (the format of run.sh's measurements.csv).
Needs PGHOST etc. in the environment (run.sh runs it inside scripts/cluster.sh).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.datasets import load_svmlight_file
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

warnings.filterwarnings("ignore", category=ConvergenceWarning)

# One text line per row: "label,x1,...,x54" (dense) or svmlight "label i:v i:v ..." (sparse,
# 1-based indices as in bismarck.sparsevec's text form).
EXPORT = {
    "dense": "SELECT label || ',' || array_to_string(x, ',') FROM {t}",
    "sparse": "SELECT label || ' ' || translate(split_part(x::text, '}}', 1), '{{,', '  ') FROM {t}",
}


def export(dataset, table, path):
    query = EXPORT[dataset].format(t=table)
    t0 = time.perf_counter()
    with open(path, "wb") as f:
        subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c",
                        f"COPY ({query}) TO STDOUT"], stdout=f, check=True)
    return time.perf_counter() - t0


def load(dataset, path, dim):
    t0 = time.perf_counter()
    if dataset == "dense":
        a = pd.read_csv(path, header=None, dtype=np.float64, engine="c").to_numpy()
        y, x = a[:, 0], np.ascontiguousarray(a[:, 1:])
    else:
        x, y = load_svmlight_file(path, n_features=dim, zero_based=False)
    return x, y, time.perf_counter() - t0


def peers(dataset, epochs, seed):
    """name -> estimator. Dense rows are standardised, as bismarck does by default."""
    wrap = (lambda m: make_pipeline(StandardScaler(), m)) if dataset == "dense" else (lambda m: m)
    return {
        f"sklearn SGDClassifier log_loss ({epochs} epochs)":
            wrap(SGDClassifier(loss="log_loss", max_iter=epochs, tol=None, random_state=seed)),
        f"sklearn SGDClassifier hinge ({epochs} epochs)":
            wrap(SGDClassifier(loss="hinge", max_iter=epochs, tol=None, random_state=seed)),
        "sklearn LogisticRegression (lbfgs)":
            wrap(LogisticRegression(max_iter=1000)),
        "sklearn LinearSVC (liblinear)":
            wrap(LinearSVC(dual=(dataset == "sparse"), max_iter=2000, random_state=seed)),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--sparse-dim", type=int, default=41000)
    ap.add_argument("--datasets", default="dense,sparse")
    args = ap.parse_args()
    rows = []

    def put(dataset, item, metric, value):
        rows.append(f"peers,{dataset},{item},{metric},{value:.6f}")
        print(f"    {dataset:12s} {item:45s} {metric:16s} {value:10.4f}", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="bismarck-peers-") as tmp:
        for ds in args.datasets.split(","):
            train_path, test_path = os.path.join(tmp, ds + ".txt"), os.path.join(tmp, ds + "_test.txt")
            export_s = export(ds, ds, train_path)
            export(ds, ds + "_test", test_path)
            x, y, load_s = load(ds, train_path, args.sparse_dim)
            xt, yt, _ = load(ds, test_path, args.sparse_dim)
            put(ds, "export (COPY to a file)", "seconds", export_s)
            put(ds, "load (parse the file)", "seconds", load_s)
            put(ds, "export file", "megabytes", os.path.getsize(train_path) / 1e6)
            for name in peers(ds, args.epochs, 0):
                fits, model = [], None
                for r in range(args.reps):
                    model = peers(ds, args.epochs, r)[name]
                    t0 = time.perf_counter()
                    model.fit(x, y)
                    fits.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                acc = float(np.mean(model.predict(xt) == yt))
                predict_s = time.perf_counter() - t0
                fit = statistics.median(fits)
                put(ds, name, "learner_s", fit)
                put(ds, name, "end_to_end_s", export_s + load_s + fit)
                put(ds, name, "test_accuracy", acc)
                put(ds, name, "train_accuracy", float(np.mean(model.predict(x) == y)))
                put(ds, name, "predict_test_s", predict_s)
    with open(args.out, "w") as f:
        f.write("section,dataset,item,metric,value\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
