"""Test scores of autoann beside its peers at equal wall-clock budgets, on the same rows.

Datasets: scikit-learn's bundled breast_cancer, wine, iris, digits and
diabetes, and the shipped penguins, penguins_raw (a date and free-text
comments; "Clutch Completion" No 10%) and canadian_senators (two dates and
names; "reason" Retirement 16%); see datasets/README.md. Test rows:
``train_test_split(test_size=0.25, random_state=--split-seed, stratify=y)``
(no stratify for diabetes); the model seed varies over ``--seeds``.

Systems, each fitted on the same training rows and scored on the same test rows:
- ``autoann``: AutoANNClassifier / AutoANNRegressor (``time_budget`` = the
  budget, ``random_state`` = the seed) on the raw columns (digits: the 8x8
  images as uint8, as datasets/digits/ holds them);
- ``autoann-cli``: ``autoann train`` on a CSV of the training rows (digits:
  an .npz) with ``--time-budget``, ``--seed`` and ``--test-size 0``, then
  ``autoann.predict.load`` on the run to predict the test rows; its seconds
  include the process start and TensorFlow's import, as a user pays them;
- ``mlp``: scikit-learn's default MLPClassifier / MLPRegressor behind
  bench/_common.py's baseline preprocessing; date and text columns are
  one-hot encoded like any string column (levels unseen in training,
  i.e. almost every name and date, encode as zeros);
- ``hgb``: HistGradientBoostingClassifier / Regressor with native
  categorical support for string columns (ordinal-encoded, at most 255
  levels: the rarest levels of a longer column such as names or dates share
  one "infrequent" level);
- ``flaml``: ``flaml.AutoML(time_budget, seed)`` with its default metric and
  learners on the raw columns (strings as given; the ``bench`` extra).
mlp and hgb have no budget: they run once per seed (budget 0 in the CSV) and
stand beside every budget in the table.

Metrics: accuracy (classification) or R2 (regression) on the test rows,
log-loss for the classifiers (all of them give probabilities), and the wall
seconds of the fit. Every (dataset, seed, system, budget) runs in a fresh
subprocess, one after the other, and its row is appended to ``--out`` at
once, so a stopped run keeps what it finished.

Never run two benchmarks at once (nor anything else heavy): the systems
compete for the same 2 cores and their scores at a fixed budget would drop.

    python bench/peers.py --budgets 60 180 --seeds 0 1 2 --out bench/peers.csv
    python bench/peers.py --out bench/peers.csv --markdown     # the docs table from the CSV
    python bench/peers.py --budgets 15 --seeds 0 --datasets iris,canadian_senators --out /tmp/smoke.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import ROOT, baseline_preprocessor

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# name -> (loader, what the loader needs): scikit-learn's bundled sets or a shipped CSV and its target
DATASETS = {
    "breast_cancer": ("sklearn", "load_breast_cancer"),
    "wine": ("sklearn", "load_wine"),
    "iris": ("sklearn", "load_iris"),
    "digits": ("sklearn", "load_digits"),
    "diabetes": ("sklearn", "load_diabetes"),
    "penguins": ("csv", "species"),
    "penguins_raw": ("csv", "Clutch Completion"),
    "canadian_senators": ("csv", "reason"),
}
SYSTEMS = ["autoann", "autoann-cli", "mlp", "hgb", "flaml"]
BUDGETLESS = {"mlp", "hgb"}
TEST_SIZE = 0.25
FIELDS = ["dataset", "task", "system", "budget", "seed", "split_seed", "metric", "score", "log_loss",
          "fit_seconds", "n_train", "n_test", "error", "finished"]


@dataclass
class Data:
    """One dataset as the systems see it: raw columns, the target, and images for autoann (digits)."""

    name: str
    task: str  # "classification" or "regression"
    X: object  # pandas DataFrame of the raw columns
    y: object  # pandas Series: class labels as strings, or values
    images: object = None  # uint8 (N, H, W) for autoann when the dataset is images

    @property
    def is_classification(self) -> bool:
        return self.task == "classification"


def load(name: str) -> Data:
    """The dataset ``name`` of :data:`DATASETS`; class labels become strings, rows without a target go."""
    import numpy as np
    import pandas as pd
    import sklearn.datasets

    kind, what = DATASETS[name]
    if kind == "csv":
        frame = pd.read_csv(ROOT / "datasets" / f"{name}.csv")
        frame = frame[frame[what].notna()].reset_index(drop=True)
        return Data(name, "classification", frame.drop(columns=what), frame[what].astype(str))
    options = {"scaled": False} if what == "load_diabetes" else {}
    bunch = getattr(sklearn.datasets, what)(as_frame=True, **options)
    X = bunch.frame.drop(columns="target")
    if what == "load_diabetes":
        return Data(name, "regression", X, bunch.frame["target"].rename("progression"))
    y = pd.Series(np.asarray(bunch.target_names).astype(str)[bunch.target], name="label")
    images = np.rint(bunch.images * 255 / 16).astype(np.uint8) if what == "load_digits" else None
    return Data(name, "classification", X, y, images)


def split(data: Data, split_seed: int):
    """Train and test row positions: 25% test, stratified for classification."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    return train_test_split(np.arange(len(data.y)), test_size=TEST_SIZE, random_state=split_seed,
                            stratify=data.y if data.is_classification else None)


def as_objects(X):
    """``X`` with every non-numeric column as Python objects and NaN for missing: what scikit-learn's
    encoders and FLAML expect (pandas' own string dtype is not)."""
    import numpy as np

    X = X.copy()
    for col in strings(X):
        X[col] = X[col].astype(object).where(X[col].notna(), np.nan)
    return X


def strings(X) -> list[str]:
    """The columns that are not numbers (text, dates, categories)."""
    from pandas.api.types import is_numeric_dtype

    return [c for c in X.columns if not is_numeric_dtype(X[c])]


# -- the systems: each returns (fitted predictor with predict / predict_proba, its classes, fit seconds)
def fit_autoann(data: Data, train, budget: int, seed: int, workdir: Path):
    from autoann.estimators import AutoANNClassifier, AutoANNRegressor

    owner = AutoANNClassifier if data.is_classification else AutoANNRegressor
    model = owner(time_budget=budget, random_state=seed)
    X = data.X.iloc[train] if data.images is None else data.images[train]
    start = time.perf_counter()
    model.fit(X, data.y.iloc[train])
    seconds = time.perf_counter() - start
    return model, getattr(model, "classes_", None), seconds


def fit_autoann_cli(data: Data, train, budget: int, seed: int, workdir: Path):
    import numpy as np

    from autoann.predict import load as load_run

    if data.images is None:
        source = workdir / "train.csv"
        data.X.iloc[train].assign(**{data.y.name: data.y.iloc[train]}).to_csv(source, index=False)
        target = ["--target", data.y.name]
    else:
        source = workdir / "train.npz"
        np.savez(source, x=data.images[train], y=data.y.iloc[train].to_numpy(str))
        target = []
    exe = Path(sys.executable).with_name("autoann")
    command = [str(exe), "train", str(source), *target, "--time-budget", str(budget), "--seed", str(seed),
               "--test-size", "0", "-o", str(workdir / "run")]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"autoann train exited {done.returncode}: {done.stderr.strip()[-500:]}")
    predictor = load_run(workdir / "run")
    return predictor, (predictor.classes if predictor.is_classifier else None), seconds


def fit_mlp(data: Data, train, budget: int, seed: int, workdir: Path):
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline

    X = as_objects(data.X.iloc[train])
    text = strings(X)
    net = MLPClassifier(random_state=seed) if data.is_classification else MLPRegressor(random_state=seed)
    model = make_pipeline(baseline_preprocessor([c for c in X.columns if c not in text], text), net)
    return _timed_fit(model, X, data.y.iloc[train], data)


def fit_hgb(data: Data, train, budget: int, seed: int, workdir: Path):
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    X = as_objects(data.X.iloc[train])
    text = strings(X)
    encode = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                            encoded_missing_value=np.nan, max_categories=255)
    prep = ColumnTransformer([("str", encode, text)], remainder="passthrough",
                             verbose_feature_names_out=False).set_output(transform="pandas")
    owner = HistGradientBoostingClassifier if data.is_classification else HistGradientBoostingRegressor
    model = make_pipeline(prep, owner(categorical_features=text or None, random_state=seed))
    return _timed_fit(model, X, data.y.iloc[train], data)


def fit_flaml(data: Data, train, budget: int, seed: int, workdir: Path):
    from flaml import AutoML

    model = AutoML()
    start = time.perf_counter()
    model.fit(as_objects(data.X.iloc[train]), data.y.iloc[train].to_numpy(), time_budget=budget, seed=seed,
              task="classification" if data.is_classification else "regression", verbose=0,
              log_file_name=str(workdir / "flaml.log"))
    seconds = time.perf_counter() - start
    return model, getattr(model, "classes_", None), seconds


def _timed_fit(model, X, y, data: Data):
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start
    return model, getattr(model, "classes_", None), seconds


FITTERS = {"autoann": fit_autoann, "autoann-cli": fit_autoann_cli, "mlp": fit_mlp, "hgb": fit_hgb,
           "flaml": fit_flaml}


def run_one(spec: dict) -> dict:
    """Fit one system on one dataset, seed and budget and score it on the test rows (in a child process)."""
    import numpy as np
    from sklearn.metrics import accuracy_score, log_loss, r2_score

    data = load(spec["dataset"])
    train, test = split(data, spec["split_seed"])
    with tempfile.TemporaryDirectory() as tmp:
        model, classes, seconds = FITTERS[spec["system"]](data, train, spec["budget"], spec["seed"], Path(tmp))
        own_rows = spec["system"].startswith("autoann")
        if data.images is not None and own_rows:
            X_test = data.images[test]
        else:
            X_test = data.X.iloc[test] if own_rows else as_objects(data.X.iloc[test])
        y_test = data.y.iloc[test].to_numpy()
        row = {"task": data.task, "n_train": len(train), "n_test": len(test), "fit_seconds": round(seconds, 1)}
        if data.is_classification:
            proba = np.asarray(model.predict_proba(X_test), dtype="float64")
            classes = np.asarray(classes).astype(str)
            labels = classes[proba.argmax(axis=1)]
            row.update(metric="accuracy", score=round(accuracy_score(y_test, labels), 4),
                       log_loss=round(log_loss(y_test, proba, labels=list(classes)), 4))
        else:
            values = np.asarray(model.predict(X_test), dtype="float64").ravel()
            row.update(metric="r2", score=round(r2_score(y_test, values), 4))
    return row


def run_child(spec: dict, timeout: float) -> dict:
    """:func:`run_one` in a fresh Python process that imports this checkout's autoann (PYTHONPATH, also
    seen by ``autoann train``); an exception, a crash or a time-out becomes the row's ``error``."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--one", json.dumps(spec), "--result", str(result)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return {"error": f"no result after {timeout:.0f} s"}
        if done.returncode != 0 or not result.exists():
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            return {"error": (lines[-1] if lines else f"exit {done.returncode}")[:300]}
        return json.loads(result.read_text())


def plan(datasets: list[str], systems: list[str], budgets: list[int], seeds: list[int]):
    """Every (dataset, seed, system, budget) to run; the budget-free systems once per seed (budget 0)."""
    for dataset in datasets:
        for seed in seeds:
            for system in systems:
                for budget in [0] if system in BUDGETLESS else budgets:
                    yield dataset, seed, system, budget


def append(path: Path, row: dict) -> None:
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerow({k: row.get(k, "") for k in FIELDS})


def _cell(got, column: str, seconds: bool) -> str:
    """Median of ``column`` over the seeds, [min, max] when there are several, and the median fit seconds."""
    if got.empty or got[column].isna().all():
        return "-"
    values = got[column]
    text = f"{values.median():.3f}" + (f" [{values.min():.3f}, {values.max():.3f}]" if len(got) > 1 else "")
    if seconds:
        sec = got["fit_seconds"].median()
        text += f" · {sec:.0f} s" if sec >= 10 else f" · {sec:.1f} s"
    return text


def markdown(path: Path) -> str:
    """Per budget, two tables of datasets x systems: the test score (accuracy or R2) with the fit
    seconds, then the classifiers' log-loss; medians over seeds with [min, max]; failures listed."""
    import pandas as pd

    rows = pd.read_csv(path)
    failed = rows[rows["error"].notna()]
    rows = rows[rows["error"].isna()]
    systems = [s for s in SYSTEMS if s in set(rows["system"])]
    datasets = [d for d in DATASETS if d in set(rows["dataset"])]
    header = ["| dataset | metric | " + " | ".join(systems) + " |", "|---|---|" + "---|" * len(systems)]
    out = []
    for budget in sorted(b for b in set(rows["budget"]) if b > 0):
        here = rows[rows["budget"].isin([0, budget])]
        seeds = ", ".join(map(str, sorted(set(here["seed"]))))
        for column, title in (("score", "test score, fit seconds"), ("log_loss", "test log-loss (lower is better)")):
            lines = []
            for dataset in datasets:
                mine = here[here["dataset"] == dataset]
                if mine.empty or (column == "log_loss" and mine["log_loss"].isna().all()):
                    continue
                metric = mine["metric"].iloc[0] if column == "score" else "log-loss"
                cells = [_cell(mine[mine["system"] == system], column, column == "score") for system in systems]
                lines.append(f"| {dataset} | {metric} | " + " | ".join(cells) + " |")
            if lines:
                out += [f"\nBudget {budget} s, {title}: median over seeds {seeds} [min, max]; "
                        "mlp and hgb have no budget.\n", *header, *lines]
    out += [f"\nFailed: {r.dataset} / {r.system} / budget {r.budget} / seed {r.seed}: {r.error}"
            for r in failed.itertuples()]
    return "\n".join(out)


def names(values: list[str] | None, known: list[str], what: str) -> list[str]:
    """``--datasets a,b c`` style lists, checked against ``known``."""
    if not values:
        return list(known)
    chosen = [v for value in values for v in value.split(",") if v]
    unknown = [v for v in chosen if v not in known]
    if unknown:
        raise SystemExit(f"Unknown {what} {unknown}; choose from {', '.join(known)}.")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=int, nargs="+", default=[60, 180], help="seconds per fit (autoann, flaml)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="model seeds")
    parser.add_argument("--split-seed", type=int, default=0, help="random_state of the train/test split")
    parser.add_argument("--datasets", nargs="+", metavar="NAME", help=f"subset of {', '.join(DATASETS)}")
    parser.add_argument("--systems", nargs="+", metavar="NAME", help=f"subset of {', '.join(SYSTEMS)}")
    parser.add_argument("--out", type=Path, default=Path("peers.csv"), help="CSV the rows are appended to")
    parser.add_argument("--markdown", action="store_true", help="print the tables of --out and exit")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child process: one JSON spec
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        try:
            result = run_one(json.loads(args.one))
        except Exception as exc:  # the row records why; the parent goes on with the next run
            result = {"error": " ".join(f"{type(exc).__name__}: {exc}".split())[:500]}
        args.result.write_text(json.dumps(result))
        return
    if args.markdown:
        print(f"Command: `{shlex.join(['python', 'bench/peers.py', *sys.argv[1:]])}`, {os.cpu_count()} CPU cores")
        print(markdown(args.out))
        return
    datasets = names(args.datasets, list(DATASETS), "dataset(s)")
    systems = names(args.systems, SYSTEMS, "system(s)")
    for dataset, seed, system, budget in plan(datasets, systems, args.budgets, args.seeds):
        spec = {"dataset": dataset, "system": system, "budget": budget, "seed": seed, "split_seed": args.split_seed}
        row = {**spec, **run_child(spec, timeout=3 * budget + 600)}
        row["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        append(args.out, row)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
