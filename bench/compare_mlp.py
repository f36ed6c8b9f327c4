"""Test scores and fit times: ``autoann train`` vs scikit-learn's MLP on the shipped datasets.

The image dataset (``digits``, a folder of 8x8 PNGs) gets the same treatment:
autoann searches convolutional networks on the raw uint8 images; the MLP
baseline sees the flattened pixels, standardized.

All see the same rows: autoann's own seeded split holds out the test rows;
the baseline (StandardScaler + median imputation for numbers, one-hot for
categoricals, then MLPClassifier / MLPRegressor with default settings) is
fitted on autoann's train + validation rows and scored on the same test rows
with the same metric code. With ``--estimators``, AutoANNClassifier /
AutoANNRegressor (``time_budget`` = the budget, ``random_state`` = the seed)
is fitted on the same train + validation rows, raw columns and labels, and
scored the same way.

Seconds are wall-clock fit times: ``autoann train`` from its start to the
final model (loading, profiling, search, refit, evaluation; not writing the
run directory), the estimator's ``fit`` and the MLP pipeline's ``fit``.
Prints one JSON line per dataset and seed, then a markdown table of the
medians over seeds for docs/benchmarks.md.

    python bench/compare_mlp.py --budget 3m --seeds 0 1 2 --estimators
    python bench/compare_mlp.py --budget 20s --seeds 0 --estimators --datasets penguins
    python bench/compare_mlp.py --budget 3m --seeds 0 1 2 --estimators --datasets digits
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, baseline_preprocessor

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
DATASETS = [("breast_cancer.csv", "diagnosis"), ("penguins.csv", "species"), ("diabetes.csv", "progression"),
            ("digits", None)]  # a folder of images: the labels are the class folders
TEST_SIZE = 0.2
VALIDATION_SIZE = 0.2


def holdout(dataset, task, seed: int):
    """autoann's own split of ``dataset`` (the rows ``train`` uses for train, validation and test)."""
    from autoann.search._splits import split_dataset

    return split_dataset(dataset, task, test_size=TEST_SIZE, validation_size=VALIDATION_SIZE, seed=seed,
                         target_scaling=False)


def mlp_baseline(dataset, task, seed: int) -> dict:
    import numpy as np
    import pandas as pd
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from autoann import metrics
    from autoann.profiling._profile import profile_dataset
    from autoann.search._trainer import CLASSIFICATION

    splits = holdout(dataset, task, seed)
    if dataset.images is not None:  # the flattened pixels, standardized
        flat = [x.reshape(len(x), -1).astype("float64") for x in (splits.train, splits.val, splits.test)]
        start = time.perf_counter()
        model = make_pipeline(StandardScaler(), MLPClassifier(random_state=seed))
        model.fit(np.concatenate(flat[:2]), np.concatenate([splits.y_train, splits.y_val]))
        seconds = time.perf_counter() - start
        proba = model.predict_proba(flat[2])
        output = proba[:, 1:] if task == "binary" else proba
        return {"seconds": seconds, **metrics.evaluate_predictions(task, splits.truth_test, output, splits.classes)}
    profile = profile_dataset(dataset)
    numeric = [n for n, kind in profile.feature_schema() if kind == "numeric"]
    categorical = [n for n, kind in profile.feature_schema() if kind != "numeric"]
    prep = baseline_preprocessor(numeric, categorical)
    fit_frame = pd.concat([splits.train, splits.val])
    for col in categorical:
        fit_frame[col] = fit_frame[col].astype("object")
    test = splits.test.copy()
    for col in categorical:
        test[col] = test[col].astype("object")
    y_fit = np.concatenate([splits.y_train, splits.y_val])
    start = time.perf_counter()
    if task in CLASSIFICATION:
        model = make_pipeline(prep, MLPClassifier(random_state=seed)).fit(fit_frame, y_fit)
        seconds = time.perf_counter() - start
        proba = model.predict_proba(test)
        output = proba[:, 1:] if task == "binary" else proba
    else:
        model = make_pipeline(prep, MLPRegressor(random_state=seed)).fit(fit_frame, y_fit.ravel())
        seconds = time.perf_counter() - start
        output = model.predict(test).reshape(len(test), -1)
    return {"seconds": seconds, **metrics.evaluate_predictions(task, splits.truth_test, output, splits.classes)}


def estimator_run(dataset, task, seed: int, budget: str) -> dict:
    """AutoANNClassifier / AutoANNRegressor on the train + validation rows, scored on the test rows."""
    import numpy as np
    import pandas as pd

    from autoann import metrics
    from autoann.estimators._estimators import AutoANNClassifier, AutoANNRegressor
    from autoann.search._trainer import CLASSIFICATION

    splits = holdout(dataset, task, seed)
    if dataset.images is not None:  # an image array and the class names
        fit_frame = np.concatenate([splits.train, splits.val])
        y_fit = pd.DataFrame(np.array(splits.classes, dtype=object)[np.concatenate([splits.y_train, splits.y_val])])
    else:
        fit_frame = pd.concat([splits.train, splits.val])
        y_fit = dataset.target.loc[fit_frame.index]  # the raw labels / values, in their own dtype
    owner = AutoANNClassifier if task in CLASSIFICATION else AutoANNRegressor
    est = owner(time_budget=budget, random_state=seed)
    start = time.perf_counter()
    est.fit(fit_frame, y_fit.iloc[:, 0] if y_fit.shape[1] == 1 else y_fit)
    seconds = time.perf_counter() - start
    if task in CLASSIFICATION:
        proba = est.predict_proba(splits.test)
        # columns in the order of autoann's class list (labels as text), as the metric code expects
        order = [[str(c) for c in est.classes_].index(c) for c in splits.classes]
        proba = proba[:, order]
        output = proba[:, 1:] if task == "binary" else proba
    else:
        output = np.asarray(est.predict(splits.test)).reshape(len(splits.test), -1)
    return {"seconds": seconds, **metrics.evaluate_predictions(task, splits.truth_test, output, splits.classes)}


def pick_datasets(names: list[str] | None) -> list[tuple[str, str]]:
    if not names:
        return DATASETS
    known = {Path(f).stem: (f, t) for f, t in DATASETS}
    unknown = [n for n in names if Path(n).stem not in known]
    if unknown:
        raise SystemExit(f"Unknown dataset(s) {unknown}; choose from {', '.join(known)}.")
    return [known[Path(n).stem] for n in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="3m", help="time budget of autoann train (and of the estimators)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--estimators", action="store_true",
                        help="also fit AutoANNClassifier / AutoANNRegressor with the same budget")
    parser.add_argument("--datasets", nargs="+", metavar="NAME",
                        help=f"subset of {', '.join(Path(f).stem for f, _ in DATASETS)} (default: all)")
    args = parser.parse_args()
    from autoann.data._tables import load_data
    from autoann.metrics import higher_is_better, primary_metric
    from autoann.search._trainer import train

    datasets = pick_datasets(args.datasets)
    rows = []
    for name, target in datasets:
        dataset = load_data(ROOT / "datasets" / name, target)
        task = dataset.task
        metric = primary_metric(task)
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as tmp:
                result = train(ROOT / "datasets" / name, target, time_budget=args.budget, seed=seed,
                               test_size=TEST_SIZE, validation_size=VALIDATION_SIZE, output=Path(tmp) / "run")
            runs = {"autoann": {"seconds": result.seconds, **result.metrics["test"]}}
            if args.estimators:
                runs["estimator"] = estimator_run(dataset, task, seed, args.budget)
            runs["mlp"] = mlp_baseline(dataset, task, seed)
            row = {"dataset": name, "task": task, "seed": seed, "metric": metric}
            row.update({key: round(r[metric], 4) for key, r in runs.items()})
            row.update({f"{key}_seconds": round(r["seconds"], 1) for key, r in runs.items()})
            row.update({f"{key}_all": {k: round(v, 4) for k, v in r.items()} for key, r in runs.items()})
            rows.append(row)
            print(json.dumps(row), flush=True)

    columns = [("autoann", "`autoann train`")]
    if args.estimators:
        columns.append(("estimator", "estimator"))
    columns.append(("mlp", "MLP"))
    command = shlex.join(["python", "bench/compare_mlp.py", *sys.argv[1:]])
    print(f"\nMedian over seeds {' '.join(map(str, args.seeds))}, time budget {args.budget}, "
          f"{os.cpu_count()} CPU cores; test rows = autoann's {TEST_SIZE:.0%} split. Command: `{command}`\n")
    print("| dataset | metric | " + " | ".join(label for _, label in columns) + " | "
          + " | ".join(f"{label} fit s" for _, label in columns) + " |")
    print("|---|---|" + "---|" * (2 * len(columns)))
    for name, _ in datasets:
        mine = [r for r in rows if r["dataset"] == name]
        med = lambda key: statistics.median(r[key] for r in mine)  # noqa: E731
        metric = mine[0]["metric"]
        arrow = "higher is better" if higher_is_better(metric) else "lower is better"
        print(f"| {Path(name).stem} | {metric} ({arrow}) | "
              + " | ".join(f"{med(key):.4f}" for key, _ in columns) + " | "
              + " | ".join(f"{med(key + '_seconds'):.1f}" for key, _ in columns) + " |")


if __name__ == "__main__":
    main()
