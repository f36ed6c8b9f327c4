"""Tiny, fixed data and spaces shared by the search-stage tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from autoann.schema import Column


def tiny_frame(n: int = 160, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A binary problem with numeric columns (some NaN) and a string column (some missing)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    frame = pd.DataFrame(x, columns=["a", "b c", "d", "e"])
    frame.loc[::9, "b c"] = np.nan
    frame["colour"] = np.where(y == 1, "red", "blue")
    frame.loc[::7, "colour"] = None
    return frame, y


SCHEMA = [Column("a", "numeric"), Column("b c", "numeric"), Column("d", "numeric"), Column("e", "numeric"),
          Column("colour", "categorical")]

BINARY_SPACE = {
    "hyperparameters": {
        "task": "binary", "output_units": 1, "output_activation": "sigmoid",
        "loss": "binary_crossentropy", "metric": "roc_auc",
        "n_layers": {"int": [1, 2]}, "units_first": {"choice": [8, 16]}, "shrink": {"choice": [1.0, 0.5]},
        "activation_family": {"choice": ["selu", "elu"]},
        "batch_norm": {"choice": [False, True], "active_if": {"activation_family": ["elu"]}},
        "dropout": {"float": [0.0, 0.3]}, "optimizer": "nadam",
        "learning_rate": {"float": [1e-3, 1e-2], "log": True},
        "schedule": {"choice": ["one_cycle", "constant"]}, "batch_size": 32, "max_epochs": 3, "patience": 3,
        "clipnorm": 1.0,
    }
}
