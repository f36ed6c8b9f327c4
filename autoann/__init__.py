"""autoann: which neural network, and how to train it.

The library is the product; the CLI and the estimators are thin doors onto
these functions. Attributes are imported on first use so that ``import
autoann`` stays fast and never imports TensorFlow by itself.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = [
    "AutoANNClassifier",
    "AutoANNError",
    "AutoANNRegressor",
    "DataError",
    "Dataset",
    "Profile",
    "SearchSpace",
    "load",
    "load_data",
    "profile",
    "recommend",
    "train",
]

_LAZY = {
    "AutoANNClassifier": "autoann.estimators",
    "AutoANNRegressor": "autoann.estimators",
    "AutoANNError": "autoann.errors",
    "DataError": "autoann.errors",
    "Dataset": "autoann.data",
    "load_data": "autoann.data",
    "Profile": "autoann.profiling",
    "profile": "autoann.profiling",
    "recommend": "autoann.rules",
    "train": "autoann.search",
    "load": "autoann.predict",
    "SearchSpace": "autoann.space",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'autoann' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
