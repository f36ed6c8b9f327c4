"""Hand-built tiny models and run artifacts that follow the export conventions.

No search and no training: a model on raw named columns (two numeric inputs,
one with a space in its name, and one categorical) with autoann's
``StandardizeImpute`` for NaN and a ``StringLookup`` one-hot for strings, with
a head for each task. Weights are random but fixed by the seed.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pandas as pd

from autoann.export._run_dir import finalize_run, write_run_files
from autoann.fitted_run import FittedRun, RunMetadata, TrialRow
from autoann.layers import StandardizeImpute
from autoann.schema import Column

SCHEMA = [Column("a", "numeric"), Column("b c", "numeric"), Column("colour", "categorical")]
VOCAB = ["blue", "green", "red"]
HEADS = {"binary": (1, "sigmoid"), "multiclass": (3, "softmax"), "regression": (1, "linear"),
         "multi_regression": (2, "linear")}


def raw_frame(n: int = 40, seed: int = 0) -> pd.DataFrame:
    """Raw rows as a user would give them: NaN numbers, None / "" categories."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b c": rng.normal(size=n),
                          "colour": rng.choice(VOCAB, size=n).astype(object)})
    frame.loc[::5, "a"] = np.nan
    frame.loc[1::7, "colour"] = None
    frame.loc[2::9, "colour"] = ""
    return frame


def build_model(task: str, seed: int = 0, dropout: float = 0.0) -> keras.Model:
    """A raw-input model with the output convention of ``task`` (``dropout``: a Dropout and a
    BatchNormalization after the hidden layer, for Monte Carlo dropout)."""
    keras.utils.set_random_seed(seed)
    inputs = {c.name: keras.Input(shape=(), dtype="float32" if c.kind == "numeric" else "string", name=c.name)
              for c in SCHEMA}
    numbers = keras.layers.Concatenate()([keras.layers.Reshape((1,))(inputs["a"]),
                                          keras.layers.Reshape((1,))(inputs["b c"])])
    numbers = StandardizeImpute([0.0, 0.0], [1.0, 1.0], [True, False])(numbers)
    colour = keras.layers.StringLookup(vocabulary=VOCAB, num_oov_indices=1, output_mode="one_hot")(inputs["colour"])
    init = keras.initializers.RandomNormal(stddev=1.0, seed=seed)
    hidden = keras.layers.Dense(8, activation="tanh", kernel_initializer=init)(
        keras.layers.Concatenate()([numbers, colour]))
    if dropout:
        hidden = keras.layers.Dropout(dropout, seed=seed)(keras.layers.BatchNormalization()(hidden))
    units, activation = HEADS[task]
    return keras.Model(inputs, keras.layers.Dense(units, activation=activation, kernel_initializer=init)(hidden))


def metadata(task: str, classes: list[str] | None = None, class_dtype: str | None = None,
             targets: list[str] | None = None) -> dict:
    """Plausible search metadata, as the search stage fills it."""
    targets = targets or (["y1", "y2"] if task == "multi_regression" else ["y"])
    metric = {"binary": "roc_auc", "multiclass": "accuracy"}.get(task, "rmse")
    return {
        "task": task, "target_names": targets, "classes": classes, "class_dtype": class_dtype,
        "schema": [c.to_dict() for c in SCHEMA],
        "profile": {"n_rows": 40, "columns": {"a": {"missing": np.float64(0.2)}}},
        "space": {"hyperparameters": {"n_layers": {"int": [1, 2]}, "target_scaling": {"value": "standardize"}}},
        "best_hyperparameters": {"n_layers": np.int64(1), "units_first": 8, "learning_rate": 0.003},
        "metrics": {"test": {metric: 0.8}, "validation": {metric: 0.82}},
        "objective": {"name": f"val_{metric}", "direction": "min" if metric == "rmse" else "max"},
        "budget": {"requested": "30s", "search_seconds": 12.5},
        "hyperband": {"max_epochs": 9, "factor": 3},
        "seed": 0,
        "preprocessing": {"categorical": [{"name": "colour", "vocabulary": VOCAB, "encoding": "onehot"}]},
        "rationale": [{"hyperparameter": "n_layers", "value": 1, "rules": ["DEPTH-SMALL"],
                       "why": "few rows | small data"},
                      {"hyperparameter": "units_first", "value": 8, "rules": ["WIDTH-PYRAMID"], "why": "G-ARCH-2"}],
        "notes": ["a tiny hand-built model for the tests"],
        "final_model": "best trial 0003 (checkpoint of its best epoch)",
    }


def artifacts(task: str, classes: list[str] | None = None, class_dtype: str | None = None,
              model: keras.Model | None = None) -> FittedRun:
    """A FittedRun with a leaderboard of 5 trials (one failed), a history and a progress trace."""
    rows = [TrialRow(trial_id=f"000{i}", status="failed" if i == 2 else ("cut" if i == 4 else "completed"),
                     score=None if i == 2 else 0.6 + 0.05 * i, epochs_run=3, seconds=1.0 + i, bracket=1, round=0,
                     finished_at=2.0 * (i + 1), values={"n_layers": 1 + i % 2, "learning_rate": 10 ** -(2 + i % 3)})
            for i in range(5)]
    history = {"loss": [0.9, 0.6, 0.45, 0.35, 0.3], "val_loss": [0.95, 0.7, 0.6, 0.62, 0.66]}
    history.update({"roc_auc": [0.7, 0.8, 0.85, 0.9, 0.92], "val_roc_auc": [0.68, 0.75, 0.78, 0.78, 0.77]})
    progress = [(2.0, 0.6), (4.0, 0.65), (8.0, 0.75), (10.0, 0.8)]
    return FittedRun(model=model if model is not None else build_model(task),
                     metadata=RunMetadata.from_json(metadata(task, classes, class_dtype)), trials=rows,
                     history=history, progress=progress)


def export_run(art: FittedRun, run_dir: Path, overwrite: bool = False) -> Path:
    """Export ``art`` the way ``train`` does: staging folder, then one rename."""
    staging = run_dir.parent / f".{run_dir.name}.partial"
    staging.mkdir(parents=True)
    write_run_files(art, staging)
    finalize_run(staging, run_dir, overwrite)
    return run_dir



#: Prefix of a script run in a fresh interpreter that must serve a run without autoann:
#: any import of autoann fails.
WITHOUT_AUTOANN = """
import json, sys
class NoAutoann:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "autoann":
            raise ImportError("autoann must not be needed to serve")
sys.meta_path.insert(0, NoAutoann())
import tensorflow as tf
"""
