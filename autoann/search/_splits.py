"""Hold out the test and validation rows: the split every search, refit and score is made on.

:func:`split_dataset` takes a :class:`~autoann.data.Dataset` and returns
:class:`Splits`: the rows (or, for image data, the images) of each part,
the targets as the network learns them (class codes, standardized values),
the truth as the metrics read it, and the user's sample weights split with
the same indices. Classification splits are stratified.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from autoann.data import CLASSIFICATION, MIN_PER_CLASS, MIN_ROWS, Dataset, label_dtype
from autoann.errors import DataError


@dataclass
class Splits:
    train: pd.DataFrame | np.ndarray  # rows of the features, or images (N, H, W, C) for image data
    val: pd.DataFrame | np.ndarray
    test: pd.DataFrame | np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    truth_val: np.ndarray  # labels as str / values in target units, for the metrics
    truth_test: np.ndarray
    classes: list[str] | None
    class_dtype: str | None
    target_mean: np.ndarray | None = None
    target_std: np.ndarray | None = None
    target_log: bool = False  # the scaled target is log1p(y): the model's output goes through expm1
    # the user's sample weights, split with the same row indices (None without weights)
    w_train: np.ndarray | None = None
    w_val: np.ndarray | None = None
    w_test: np.ndarray | None = None


def split_dataset(dataset: Dataset, task: str, *, test_size: float, validation_size: float,
                  seed: int, target_scaling: bool, sample_weight: np.ndarray | None = None,
                  log_target: bool = False) -> Splits:
    """Hold out a test split, then a validation split (both stratified for classification).

    ``target_scaling`` standardizes a regression target with the training
    split's mean and std; ``log_target`` takes log1p of it first (a positive,
    skewed target, ``target_scaling: log_standardize``).

    ``sample_weight`` (one weight per row of ``dataset``, see
    :func:`align_sample_weight`) is split with the same row indices; the
    stratification and the target scaling ignore it.
    """
    from sklearn.model_selection import train_test_split

    X, y = dataset.features, dataset.target
    if dataset.images is not None:
        X = dataset.images.images
    classes = class_dtype = None
    if task in CLASSIFICATION:
        labels = y.iloc[:, 0]
        class_dtype = label_dtype(labels)
        text = pd.Series(labels.map(str).to_numpy(dtype=object), index=labels.index)
        classes = sorted(text.unique().tolist(), key=_label_sort_key(class_dtype))
        encoded = text.map({c: i for i, c in enumerate(classes)}).to_numpy("int64")
        counts = np.bincount(encoded)
        if counts.min() < MIN_PER_CLASS:
            rare = classes[int(counts.argmin())]
            raise DataError(
                f"Class {rare!r} has only {counts.min()} row(s); a stratified train/validation/test split "
                f"needs at least {MIN_PER_CLASS} per class. Add rows, merge rare classes, or drop them."
            )
        stratify = encoded
    else:
        encoded = y.to_numpy("float64")
        text = None
        stratify = None
    n = len(X)
    if n < MIN_ROWS or (test_size and round(n * test_size) < 1) or round(n * (1 - test_size) * validation_size) < 1:
        raise DataError(
            f"{n} rows are too few to hold out a test split ({test_size:.0%}) and a validation split "
            f"({validation_size:.0%}); autoann needs at least {MIN_ROWS} rows with a target."
        )
    if sample_weight is not None and len(sample_weight) != n:
        raise DataError(f"sample_weight has {len(sample_weight)} values but the data has {n} rows with a target; "
                        "give one weight per row.")
    idx = np.arange(n)
    try:
        if test_size:
            rest, test = train_test_split(idx, test_size=test_size, random_state=seed, stratify=stratify)
        else:  # estimators: the caller cross-validates, no test split
            rest, test = idx, idx[:0]
        train, val = train_test_split(rest, test_size=validation_size, random_state=seed,
                                      stratify=None if stratify is None else stratify[rest])
    except ValueError as exc:
        raise DataError(f"Cannot split {n} rows into train/validation/test: {exc}. Add rows or lower --test-size.") from None
    take = (lambda rows: X[rows]) if isinstance(X, np.ndarray) else (lambda rows: X.iloc[rows])
    splits = Splits(
        train=take(train), val=take(val), test=take(test),
        y_train=encoded[train], y_val=encoded[val],
        truth_val=(encoded if text is None else text.to_numpy())[val],
        truth_test=(encoded if text is None else text.to_numpy())[test],
        classes=classes, class_dtype=class_dtype,
    )
    if sample_weight is not None:
        splits.w_train, splits.w_val, splits.w_test = sample_weight[train], sample_weight[val], sample_weight[test]
    if task not in CLASSIFICATION and target_scaling:
        scaled = np.log1p(encoded) if log_target else encoded
        mean, std = scaled[train].mean(axis=0), scaled[train].std(axis=0)
        std = np.where(std > 1e-12, std, 1.0)
        splits.target_mean, splits.target_std, splits.target_log = mean, std, log_target
        splits.y_train = (scaled[train] - mean) / std
        splits.y_val = (scaled[val] - mean) / std
    return splits


def _label_sort_key(class_dtype: str) -> Callable[[str], Any]:
    if class_dtype in ("int", "float"):
        return lambda s: (0, float(s))
    return lambda s: (0, s)


def split_weights(splits: Splits) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The training and validation weights, each rescaled to average 1 (None without weights).

    The rescaling keeps the loss on the scale the learning-rate ranges assume,
    so multiplying every weight by a constant changes nothing.
    """
    if splits.w_train is None:
        return None, None
    out = []
    for name, weights in (("training", splits.w_train), ("validation", splits.w_val)):
        total = float(weights.sum())
        if not total > 0:
            raise DataError(f"sample_weight is 0 for every row of the {name} split ({len(weights)} rows), so "
                            f"there is nothing to {'train on' if name == 'training' else 'score the trials on'}. "
                            "Give more rows a positive weight, or change --seed to draw other splits.")
        out.append(weights * (len(weights) / total))
    return out[0], out[1]
