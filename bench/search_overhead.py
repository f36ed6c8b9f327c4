"""Search overhead and memory: autoann's budgeted Hyperband vs plain Keras Tuner.

Overhead ratio = wall time of the search / summed time the trials spend inside
``model.fit`` (build, compile, tracing of the first epoch count as fit for
neither side's benefit: Keras traces inside fit). Both searches run in this
process on the same preprocessed arrays, the same fixed network family and the
same Hyperband settings; plain Keras Tuner gets numpy inputs as its docs show.
Memory: resident set size after trial 10 and after the last trial of a long
autoann search.

    python bench/search_overhead.py --trials 100 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def prepared(dataset: str, target: str, seed: int):
    from autoann.data._tables import load_data
    from autoann.profiling._profile import profile_dataset
    from autoann.rules._engine import recommend
    from autoann.search._splits import split_dataset
    from autoann.search._trainer import _as_target
    from autoann.search._fit import TrainingData
    from autoann.search._preprocessing import fit_preprocessing, transform
    from autoann.schema import schema_from_list

    ds = load_data(ROOT / "datasets" / dataset, target)
    profile = profile_dataset(ds)
    space = recommend(profile).space
    splits = split_dataset(ds, profile.target.task, test_size=0.2, validation_size=0.2, seed=seed, target_scaling=True)
    schema = schema_from_list(profile.feature_schema())
    prep = fit_preprocessing(splits.train, schema)
    x_train, x_val = transform(prep, schema, [splits.train, splits.val])
    task = profile.target.task
    data = TrainingData(x_train, _as_target(splits.y_train, task), x_val, _as_target(splits.y_val, task))
    return space, prep, data


def autoann_search(space, prep, data, trials: int, seed: int) -> dict:
    from autoann.search._run import run_search

    rss = {}

    def on_trial(event):
        n = event.finished
        if n in (10, trials):
            rss[n] = rss_mb()

    with tempfile.TemporaryDirectory() as work:
        result = run_search(space, prep, data, end=time.monotonic() + 10_000, export_seconds=0, workdir=Path(work),
                            max_trials=trials, seed=seed, on_trial=on_trial)
    return {"wall": result.search_seconds, "fit": result.fit_seconds, "trials": len(result.leaderboard),
            "max_epochs": result.plan.max_epochs, "rss_mb": rss}


def timed_hypermodel(n_features: int, metric, fit_seconds: list[float]):
    """A binary classifier's build function as Keras Tuner's guide writes one; each fit's seconds are appended
    to ``fit_seconds``."""
    import keras
    import keras_tuner as kt

    class Timed(kt.HyperModel):
        def build(self, hp):
            model = keras.Sequential([keras.Input((n_features,))])
            for i in range(hp.Int("n_layers", 1, 3)):
                model.add(keras.layers.Dense(hp.Int(f"units_{i}", 16, 128, sampling="log"), activation="elu"))
            model.add(keras.layers.Dense(1, activation="sigmoid"))
            model.compile(keras.optimizers.Nadam(hp.Float("lr", 1e-4, 1e-2, sampling="log")),
                          "binary_crossentropy", metrics=[metric])
            return model

        def fit(self, hp, model, *args, **kwargs):
            start = time.perf_counter()
            history = model.fit(*args, batch_size=hp.Choice("batch_size", [16, 32, 64]), **kwargs)
            fit_seconds.append(time.perf_counter() - start)
            return history

    return Timed()


def plain_keras_tuner(prep, data, max_epochs: int, trials: int, seed: int) -> dict:
    """Keras Tuner as its guide shows it: a build function, numpy inputs, Hyperband."""
    import keras
    import keras_tuner as kt
    import numpy as np

    fit_seconds: list[float] = []
    with tempfile.TemporaryDirectory() as work:
        tuner = kt.Hyperband(timed_hypermodel(prep.dense_width, keras.metrics.AUC(name="auc"), fit_seconds),
                             objective=kt.Objective("val_auc", "max"), max_epochs=max_epochs, factor=3,
                             hyperband_iterations=10, seed=seed, directory=work, project_name="p")
        tuner.oracle.max_trials = trials
        x, xv = data.x_train["features"], data.x_val["features"]
        start = time.perf_counter()
        tuner.search(x, data.y_train, validation_data=(xv, data.y_val), verbose=0)
        wall = time.perf_counter() - start
    return {"wall": wall, "fit": float(np.sum(fit_seconds)), "trials": len(fit_seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="breast_cancer.csv")
    parser.add_argument("--target", default="diagnosis")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    space, prep, data = prepared(args.dataset, args.target, seed=0)
    runs = []
    for r in range(args.repeats):
        ours = autoann_search(space, prep, data, args.trials, seed=r)
        plain = plain_keras_tuner(prep, data, ours["max_epochs"], ours["trials"], seed=r)
        runs.append({"autoann": ours, "keras_tuner": plain})
        print(json.dumps(runs[-1]), flush=True)
    ratio = lambda side: statistics.median(run[side]["wall"] / run[side]["fit"] for run in runs)  # noqa: E731
    summary = {
        "dataset": args.dataset, "trials": args.trials, "repeats": args.repeats, "cpu_count": os.cpu_count(),
        "autoann_overhead_ratio_median": round(ratio("autoann"), 3),
        "keras_tuner_overhead_ratio_median": round(ratio("keras_tuner"), 3),
        "autoann_rss_mb_after_trial_10": [run["autoann"]["rss_mb"].get(10) for run in runs],
        f"autoann_rss_mb_after_trial_{args.trials}": [run["autoann"]["rss_mb"].get(args.trials) for run in runs],
        "python": sys.version.split()[0],
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
