#!/usr/bin/python3
"""Export the bismarck demo data sets and scikit-learn baselines as CSV.

Usage: /usr/bin/python3 scripts/demo_data.py OUTDIR

Writes, for loading with psql's \\copy:
  breast_cancer.csv, digits.csv, heart_scale.csv   id,split,label,x
  movielens.csv                                     user_id,movie_id,rating,split
  baselines.csv                                     dataset,model,metric,value

Everything comes from locally installed packages (scikit-learn's bundled data,
liblinear-tools' example file, R's dslabs), so no network access is needed.
All files are byte-identical across runs, except the fit_seconds rows of
baselines.csv, which are wall-clock measurements.
"""
import csv
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

SEED = 42
HEART_SCALE = "/usr/share/doc/liblinear-tools/examples/heart_scale"
HEART_DIM = 13
BIAS_LAMBDA = 10.0   # shrinks biases of users/items with few ratings towards 0
BIAS_ROUNDS = 25     # alternating updates; test RMSE moves < 1e-6 after ~20


def write_csv(path, header, rows):
    # Fixed "\n" line ends keep the files identical whatever the platform.
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def pg_array(vec):
    # repr() is the shortest string that round-trips to the same double, so
    # float8 in PostgreSQL sees exactly the values scikit-learn trains on.
    return "{" + ",".join(repr(float(v)) for v in vec) + "}"


def split_mask(n, stratify=None):
    """Boolean mask, True for training rows; split on indices so that the
    database and scikit-learn see the very same partition."""
    train_idx, _ = train_test_split(np.arange(n), test_size=0.2,
                                    random_state=SEED, stratify=stratify)
    mask = np.zeros(n, dtype=bool)
    mask[train_idx] = True
    return mask


def load_heart_scale(path=HEART_SCALE):
    # A hand parser: load_svmlight_file infers the width from the largest index
    # present, and a sparse file need not mention every feature.
    xs, ys = [], []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            row = np.zeros(HEART_DIM)
            for item in parts[1:]:
                idx, val = item.split(":")
                row[int(idx) - 1] = float(val)
            xs.append(row)
            ys.append(1 if float(parts[0]) > 0 else 0)
    return np.array(xs), np.array(ys)


def classification_sets():
    bc = load_breast_cancer()
    dg = load_digits()
    hx, hy = load_heart_scale()
    return [
        ("breast_cancer", bc.data, bc.target.astype(int)),  # 1 = benign
        ("digits", dg.data, (dg.target < 5).astype(int)),
        ("heart_scale", hx, hy),
    ]


def classification_baselines(name, x, y, train):
    models = [
        ("logistic", LogisticRegression(C=1.0, max_iter=5000)),
        # Primal (dual=False) since every set has more rows than features;
        # the dual solver needs far more iterations to converge here.
        ("svm", LinearSVC(C=1.0, dual=False, max_iter=100000)),
    ]
    rows = []
    for model_name, clf in models:
        pipe = make_pipeline(StandardScaler(), clf)
        t0 = time.perf_counter()
        pipe.fit(x[train], y[train])
        secs = time.perf_counter() - t0
        acc = float(np.mean(pipe.predict(x[~train]) == y[~train]))
        rows.append((name, model_name, "accuracy", repr(acc)))
        rows.append((name, model_name, "fit_seconds", f"{secs:.4f}"))
    return rows


def load_movielens():
    # dslabs is an R data package; let R write it out rather than depend on
    # an rpy2-style bridge.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "movielens.csv")
        expr = ('write.csv(dslabs::movielens[, c("userId", "movieId", "rating")], '
                'commandArgs(TRUE)[1], row.names = FALSE)')
        subprocess.run(["Rscript", "-e", expr, path], check=True)
        df = pd.read_csv(path, dtype={"userId": np.int64, "movieId": np.int64,
                                      "rating": np.float64})
    return df["userId"].to_numpy(), df["movieId"].to_numpy(), df["rating"].to_numpy()


def fit_biases(u, i, r, n_users, n_items, lam=BIAS_LAMBDA, rounds=BIAS_ROUNDS):
    """Regularised baseline r ~ mu + b_u + b_i by alternating least squares:
    each step is the exact ridge solution for one bias vector given the other."""
    mu = r.mean()
    bu = np.zeros(n_users)
    bi = np.zeros(n_items)
    for _ in range(rounds):
        bi = np.bincount(i, r - mu - bu[u], n_items) / (lam + np.bincount(i, None, n_items))
        bu = np.bincount(u, r - mu - bi[i], n_users) / (lam + np.bincount(u, None, n_users))
    return mu, bu, bi


def rmse(pred, actual):
    return float(np.sqrt(np.mean((pred - actual) ** 2)))


def movielens_baselines(users, movies, ratings, train):
    # Dense codes over all rows so bincount can index them; a movie that only
    # appears in the test split (742 ratings) gets 0 / lambda = a zero bias.
    _, u_code = np.unique(users, return_inverse=True)
    _, i_code = np.unique(movies, return_inverse=True)
    n_u, n_i = u_code.max() + 1, i_code.max() + 1
    mu, bu, bi = fit_biases(u_code[train], i_code[train], ratings[train], n_u, n_i)

    test = ~train
    actual = ratings[test]
    pred_bias = mu + bu[u_code[test]] + bi[i_code[test]]
    return [
        ("movielens", "global_mean", "rmse", repr(rmse(np.full_like(actual, mu), actual))),
        ("movielens", "biases", "rmse", repr(rmse(pred_bias, actual))),
    ]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[2])
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    baselines = []

    for name, x, y in classification_sets():
        train = split_mask(len(y), stratify=y)
        write_csv(os.path.join(outdir, f"{name}.csv"), ["id", "split", "label", "x"],
                  ((k, "train" if train[k] else "test", int(y[k]), pg_array(x[k]))
                   for k in range(len(y))))
        baselines += classification_baselines(name, x, y, train)

    users, movies, ratings = load_movielens()
    train = split_mask(len(ratings))
    write_csv(os.path.join(outdir, "movielens.csv"),
              ["user_id", "movie_id", "rating", "split"],
              ((int(users[k]), int(movies[k]), repr(float(ratings[k])),
                "train" if train[k] else "test") for k in range(len(ratings))))
    baselines += movielens_baselines(users, movies, ratings, train)

    write_csv(os.path.join(outdir, "baselines.csv"),
              ["dataset", "model", "metric", "value"], baselines)

    print(f"{'dataset':<14} {'model':<12} {'metric':<12} value")
    for dataset, model, metric, value in baselines:
        v = float(value)
        shown = f"{v:.4f}" if metric != "fit_seconds" else f"{v:.3f}s"
        print(f"{dataset:<14} {model:<12} {metric:<12} {shown}")


if __name__ == "__main__":
    main()
