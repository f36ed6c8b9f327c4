"""Test scores: ``autoann train`` vs scikit-learn's MLP on the shipped datasets.

Both see the same rows: autoann's own seeded split holds out the test rows;
the baseline (StandardScaler + median imputation for numbers, one-hot for
categoricals, then MLPClassifier / MLPRegressor with default settings) is
fitted on autoann's train + validation rows and scored on the same test rows
with the same metric code.

    python bench/compare_mlp.py --budget 3m --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
DATASETS = [("breast_cancer.csv", "diagnosis"), ("penguins.csv", "species"), ("diabetes.csv", "progression")]


def mlp_baseline(dataset, task, seed: int, test_size: float = 0.2, validation_size: float = 0.2) -> dict:
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from autoann import metrics
    from autoann.profiler import profile_dataset
    from autoann.trainer import CLASSIFICATION, split_dataset

    profile = profile_dataset(dataset)
    splits = split_dataset(dataset, task, test_size=test_size, validation_size=validation_size, seed=seed,
                           target_scaling=False)
    numeric = [n for n, kind in profile.feature_schema() if kind == "numeric"]
    categorical = [n for n, kind in profile.feature_schema() if kind != "numeric"]
    prep = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                              OneHotEncoder(handle_unknown="ignore")), categorical),
    ])
    fit_frame = pd.concat([splits.train, splits.val])
    for col in categorical:
        fit_frame[col] = fit_frame[col].astype("object")
    test = splits.test.copy()
    for col in categorical:
        test[col] = test[col].astype("object")
    start = time.perf_counter()
    if task in CLASSIFICATION:
        y_fit = np.concatenate([splits.y_train, splits.y_val])
        model = make_pipeline(prep, MLPClassifier(random_state=seed)).fit(fit_frame, y_fit)
        proba = model.predict_proba(test)
        output = proba[:, 1:] if task == "binary" else proba
    else:
        y_fit = np.concatenate([splits.y_train, splits.y_val])
        model = make_pipeline(prep, MLPRegressor(random_state=seed)).fit(fit_frame, y_fit.ravel())
        output = model.predict(test).reshape(len(test), -1)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, **metrics.evaluate_predictions(task, splits.truth_test, output, splits.classes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="3m")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    from autoann.data import load_data
    from autoann.metrics import primary_metric
    from autoann.trainer import train

    rows = []
    for name, target in DATASETS:
        dataset = load_data(ROOT / "datasets" / name, target)
        task = dataset.task
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as tmp:
                result = train(ROOT / "datasets" / name, target, time_budget=args.budget, seed=seed,
                               output=Path(tmp) / "run")
            ours = {"seconds": result.seconds, **result.metrics["test"]}
            theirs = mlp_baseline(dataset, task, seed)
            metric = primary_metric(task)
            row = {"dataset": name, "task": task, "seed": seed, "metric": metric,
                   "autoann": round(ours[metric], 4), "mlp": round(theirs[metric], 4),
                   "autoann_seconds": round(ours["seconds"], 1), "mlp_seconds": round(theirs["seconds"], 1),
                   "autoann_all": {k: round(v, 4) for k, v in ours.items()},
                   "mlp_all": {k: round(v, 4) for k, v in theirs.items()}}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n| dataset | metric | autoann (median) | MLP (median) | autoann s | MLP s |")
    print("|---|---|---|---|---|---|")
    for name, _ in DATASETS:
        mine = [r for r in rows if r["dataset"] == name]
        med = lambda key: statistics.median(r[key] for r in mine)  # noqa: E731
        print(f"| {name} | {mine[0]['metric']} | {med('autoann'):.4f} | {med('mlp'):.4f} | "
              f"{med('autoann_seconds'):.0f} | {med('mlp_seconds'):.1f} |")


if __name__ == "__main__":
    main()
