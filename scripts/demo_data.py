#!/usr/bin/python3
"""Export the bismarck demo data sets and scikit-learn baselines as CSV.

Usage: /usr/bin/python3 scripts/demo_data.py OUTDIR
       /usr/bin/python3 scripts/demo_data.py --print-baselines

Writes, for loading with psql's COPY:
  breast_cancer.csv, heart_scale.csv     id,split,label,x      binary, label 0/1
  digits.csv, wine.csv                   id,split,label,x      10 and 3 classes, integer label
  iris.csv                               id,split,label,x      3 classes, label the species name
  diabetes.csv                           id,split,label,x      regression
  airquality.csv, iris_table.csv,        id,split,<one column per attribute>
  mtcars.csv                             (R's data sets as they come; NA = empty field)
  movielens.csv                          user_id,movie_id,rating,split
  baselines.csv                          dataset,model,metric,value

x is a float8[] literal ({1.5,2,...}); split is 'train' or 'test', a seeded 80/20 split
(stratified by class for classification) that the baselines use too.

--print-baselines writes nothing: it prints the deterministic baselines (no timings) as CSV,
rounded to 6 decimals, for the regression tests (scripts/demo_baselines.csv is its output).

Everything comes from locally installed packages (scikit-learn's bundled data,
liblinear-tools' example file, R's datasets and dslabs), so no network access is needed.
All files are byte-identical across runs, except the fit_seconds rows of
baselines.csv, which are wall-clock measurements.

Regularisation: bismarck minimises mean(loss) + (l2/2)||w||^2; LogisticRegression and
LinearSVC minimise C * sum(loss) + ||w||^2 / 2, Ridge sum(r^2) + alpha ||w||^2 (= 2 sum(r^2/2)
+ ...). So C = 1 is l2 = 1 / n_train, and alpha = 1 is l2 = 1 / n_train for a squared loss
written r^2 / 2. The rows model=all, metric=l2_for_C1 give 1/n_train per data set; the rows
<model>_l2_<value> refit scikit-learn with C (or alpha) matching bismarck's 0.1.0 default l2.
"""
import csv
import io
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import (load_breast_cancer, load_diabetes, load_digits, load_iris,
                              load_wine)
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC

SEED = 42
HEART_SCALE = "/usr/share/doc/liblinear-tools/examples/heart_scale"
HEART_DIM = 13
BIAS_LAMBDA = 10.0   # shrinks biases of users/items with few ratings towards 0
BIAS_ROUNDS = 25     # alternating updates; test RMSE moves < 1e-6 after ~20
# bismarck 0.1.0's defaults, to show how sensitive each data set is to the amount of l2.
# (linear regression has no 0.1.0 default; 1e-4 as for logistic.)
DEFAULT_L2 = {"logistic": 1e-4, "svm": 1e-2, "ridge": 1e-4}

# R's data sets exported as they come, one column per attribute. Per table: the label, the
# columns one-hot encoded (text in the demo's tables), the columns that are not features.
# airquality: Month and Day stay numbers, as they come: Temp already carries the season, and
#   Month one-hot (4 more weights on 93 training rows) scored worse held out (R^2 0.49 against
#   0.61); Day numeric changes R^2 by 0.004. The label Ozone is NA on 37 of 153 rows (dropped),
#   Solar.R on 7 (imputed with the training mean).
# mtcars: mpg regression (lm(mpg ~ .) is the textbook use); cyl and gear are categories
#   (3 levels each); am and vs are 0/1 numbers; car (the row names) is an identifier.
#   Only 32 rows: the test split has 7, and R^2 depends strongly on the amount of l2.
# iris_table: the same rows and split as iris.csv, as a table with a text label.
R_TABLES = [
    # name, R expression, label, task, categorical columns, not features
    ("airquality", "airquality", "ozone", "regression", [], ["id", "split"]),
    ("iris_table", "iris", "species", "classification", [], ["id", "split"]),
    ("mtcars", "cbind(car = rownames(mtcars), mtcars)", "mpg", "regression", ["cyl", "gear"],
     ["id", "split", "car"]),
]


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


def label_text(v):
    if isinstance(v, str):
        return v
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    return str(int(v))


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


def dense_sets():
    """(name, x, y, task): task is 'classification' or 'regression'."""
    bc = load_breast_cancer()
    hx, hy = load_heart_scale()
    dg = load_digits()
    wn = load_wine()
    ir = load_iris()
    db = load_diabetes(scaled=False)  # the original units (age in years, sex 1/2, ...)
    return [
        ("breast_cancer", bc.data, bc.target.astype(int), "classification"),  # 1 = benign
        ("heart_scale", hx, hy, "classification"),
        ("digits", dg.data, dg.target.astype(int), "classification"),
        ("wine", wn.data, wn.target.astype(int), "classification"),
        ("iris", ir.data, ir.target_names[ir.target].astype(object), "classification"),
        ("diabetes", db.data, db.target.astype(float), "regression"),
    ]


def classifiers(n_classes, n_train):
    """(name, estimator) pairs; the first two are the 0.1.0 demo's, unchanged."""
    c_lr = 1.0 / (DEFAULT_L2["logistic"] * n_train)
    c_svm = 1.0 / (DEFAULT_L2["svm"] * n_train)
    models = [
        ("logistic", LogisticRegression(C=1.0, max_iter=5000)),  # lbfgs; multinomial for k > 2
        # Primal (dual=False) since every set has more rows than features; squared hinge
        # (LinearSVC's default) and one-vs-rest for k > 2.
        ("svm", LinearSVC(C=1.0, dual=False, max_iter=100000, random_state=SEED)),
        # The plain hinge loss, as bismarck's SVM (dual, since the primal needs squared hinge).
        ("svm_hinge", LinearSVC(C=1.0, loss="hinge", dual=True, max_iter=1000000, random_state=SEED)),
    ]
    if n_classes > 2:
        models.append(("svm_crammer_singer",
                       LinearSVC(C=1.0, multi_class="crammer_singer", max_iter=1000000, random_state=SEED)))
    models.append((f"logistic_l2_{DEFAULT_L2['logistic']:g}",
                   LogisticRegression(C=c_lr, max_iter=100000, random_state=SEED)))
    models.append((f"svm_l2_{DEFAULT_L2['svm']:g}",
                   LinearSVC(C=c_svm, dual=False, max_iter=100000, random_state=SEED)))
    if n_classes > 2:
        models.append((f"svm_crammer_singer_l2_{DEFAULT_L2['svm']:g}",
                       LinearSVC(C=c_svm, multi_class="crammer_singer", max_iter=1000000, random_state=SEED)))
    return models


def regressors(n_train):
    return [
        ("ridge", Ridge(alpha=1.0)),
        (f"ridge_l2_{DEFAULT_L2['ridge']:g}", Ridge(alpha=DEFAULT_L2["ridge"] * n_train)),
    ]


def fit_and_score(name, model_name, pipe, x_train, y_train, x_test, y_test, task):
    with warnings.catch_warnings():
        # An exact solver that stopped early is not a baseline. Except Crammer-Singer: sklearn's
        # liblinear reads n_iter out of bounds for it (scikit-learn PR #34273), so its
        # ConvergenceWarning comes and goes at random; its accuracy is stable from tol 1e-3 on.
        warnings.simplefilter("ignore" if "crammer_singer" in model_name else "error",
                              ConvergenceWarning)
        t0 = time.perf_counter()
        try:
            pipe.fit(x_train, y_train)
        except ConvergenceWarning as e:
            raise SystemExit(f"{name} {model_name}: {e}")
        secs = time.perf_counter() - t0
    pred = pipe.predict(x_test)
    if task == "classification":
        rows = [(name, model_name, "accuracy", repr(float(np.mean(pred == y_test))))]
    else:
        rows = [(name, model_name, "r2", repr(float(r2_score(y_test, pred)))),
                (name, model_name, "rmse", repr(float(np.sqrt(np.mean((pred - y_test) ** 2)))))]
    rows.append((name, model_name, "fit_seconds", f"{secs:.4f}"))
    return rows


def size_rows(name, y, train, task):
    n_train = int(train.sum())
    rows = [(name, "all", "n_train", str(n_train)),
            (name, "all", "n_test", str(int((~train).sum()))),
            (name, "all", "l2_for_C1", repr(1.0 / n_train))]
    if task == "classification":
        rows.append((name, "all", "classes", str(len(np.unique(y)))))
    return rows


def models_for(task, y_train):
    n = len(y_train)
    if task == "classification":
        return classifiers(len(np.unique(y_train)), n)
    return regressors(n)


def dense_baselines(name, x, y, train, task):
    rows = size_rows(name, y, train, task)
    for model_name, est in models_for(task, y[train]):
        pipe = make_pipeline(StandardScaler(), est)
        rows += fit_and_score(name, model_name, pipe, x[train], y[train], x[~train], y[~train],
                              task)
    return rows


def r_export(expr):
    """An R data set as CSV text, written by R itself: NA as an empty field, no row names."""
    code = f'write.csv({expr}, stdout(), row.names = FALSE, na = "")'
    out = subprocess.run(["Rscript", "-e", code], check=True, capture_output=True, text=True)
    return out.stdout


def sql_name(col):
    return col.lower().replace(".", "_")


def r_table(expr):
    """The raw strings (as R wrote them) and a typed frame (NaN for NA)."""
    text = r_export(expr)
    raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    typed = pd.read_csv(io.StringIO(text))
    raw.columns = typed.columns = [sql_name(c) for c in raw.columns]
    return raw, typed


def table_baselines(name, df, label, task, categorical, not_features, train):
    keep = df[label].notna().to_numpy()       # rows with a NULL label are dropped
    features = [c for c in df.columns if c != label and c not in not_features]
    numeric = [c for c in features if c not in categorical and df[c].dtype != object]
    cats = [c for c in features if c not in numeric]
    x = df[features].copy()
    for c in cats:   # categories as text, as in the database; NaN stays missing
        x[c] = x[c].map(lambda v: v if isinstance(v, str) or pd.isna(v) else label_text(v))
    y = df[label].to_numpy()
    tr, te = train & keep, ~train & keep
    rows = size_rows(name, y[keep], tr[keep], task)
    rows.append((name, "all", "null_labels", str(int((~keep).sum()))))
    for model_name, est in models_for(task, y[tr]):
        pre = ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()), numeric),
            ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                                  OneHotEncoder(handle_unknown="ignore")), cats),
        ])
        pipe = Pipeline([("prepare", pre), ("model", est)])
        rows += fit_and_score(name, model_name, pipe, x[tr], y[tr], x[te], y[te], task)
    return rows


def load_movielens():
    # dslabs is an R data package; let R write it out rather than depend on
    # an rpy2-style bridge.
    text = r_export('dslabs::movielens[, c("userId", "movieId", "rating")]')
    df = pd.read_csv(io.StringIO(text), dtype={"userId": np.int64, "movieId": np.int64,
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
        ("movielens", "all", "n_train", str(int(train.sum()))),
        ("movielens", "all", "n_test", str(int(test.sum()))),
        ("movielens", "global_mean", "rmse", repr(rmse(np.full_like(actual, mu), actual))),
        ("movielens", "biases", "rmse", repr(rmse(pred_bias, actual))),
    ]


def split_text(train, k):
    return "train" if train[k] else "test"


def main():
    args = sys.argv[1:]
    print_only = args == ["--print-baselines"]
    if len(args) != 1:
        sys.exit("usage: demo_data.py OUTDIR | --print-baselines")
    outdir = None if print_only else args[0]
    if outdir:
        os.makedirs(outdir, exist_ok=True)
    baselines = []
    masks = {}

    for name, x, y, task in dense_sets():
        train = split_mask(len(y), stratify=y if task == "classification" else None)
        masks[name] = train
        if outdir:
            write_csv(os.path.join(outdir, f"{name}.csv"), ["id", "split", "label", "x"],
                      ((k, split_text(train, k), label_text(y[k]), pg_array(x[k]))
                       for k in range(len(y))))
        baselines += dense_baselines(name, x, y, train, task)

    for name, expr, label, task, categorical, not_features in R_TABLES:
        raw, df = r_table(expr)
        strat = df[label] if task == "classification" else None
        train = split_mask(len(df), stratify=strat)
        if name == "iris_table":   # the same rows in the same order: the same split
            assert (train == masks["iris"]).all()
        raw.insert(0, "split", [split_text(train, k) for k in range(len(raw))])
        raw.insert(0, "id", range(len(raw)))
        df.insert(0, "split", raw["split"])
        df.insert(0, "id", raw["id"])
        if outdir:
            write_csv(os.path.join(outdir, f"{name}.csv"), list(raw.columns),
                      raw.itertuples(index=False))
        baselines += table_baselines(name, df, label, task, categorical, not_features, train)

    users, movies, ratings = load_movielens()
    train = split_mask(len(ratings))
    if outdir:
        write_csv(os.path.join(outdir, "movielens.csv"),
                  ["user_id", "movie_id", "rating", "split"],
                  ((int(users[k]), int(movies[k]), repr(float(ratings[k])), split_text(train, k))
                   for k in range(len(ratings))))
    baselines += movielens_baselines(users, movies, ratings, train)

    if print_only:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["dataset", "model", "metric", "value"])
        for dataset, model, metric, value in baselines:
            if metric != "fit_seconds":
                v = float(value)
                if metric in ("n_train", "n_test", "classes", "null_labels"):
                    shown = value
                elif metric == "l2_for_C1":
                    shown = f"{v:.6g}"
                else:
                    shown = f"{v:.6f}"
                w.writerow([dataset, model, metric, shown])
        return

    write_csv(os.path.join(outdir, "baselines.csv"),
              ["dataset", "model", "metric", "value"], baselines)
    print(f"{'dataset':<14} {'model':<28} {'metric':<12} value")
    for dataset, model, metric, value in baselines:
        v = float(value)
        shown = f"{v:.4f}" if metric != "fit_seconds" else f"{v:.3f}s"
        if metric in ("n_train", "n_test", "classes", "null_labels"):
            shown = value
        elif metric == "l2_for_C1":
            shown = f"{v:.6g}"
        print(f"{dataset:<14} {model:<28} {metric:<12} {shown}")


if __name__ == "__main__":
    main()
