"""Helpers behind :mod:`autoann.estimators._estimators`: parameter checks, input frames, model bytes.

Nothing here imports TensorFlow at module level: building an estimator, or
``clone``-ing one, stays cheap; Keras is imported when a model is fitted,
used or unpickled.
"""

from __future__ import annotations

import json
import numbers
import os
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils import assert_all_finite, check_array, check_consistent_length, column_or_1d
from sklearn.utils.validation import check_non_negative, validate_data

from autoann.data import MIN_PER_CLASS, MIN_ROWS
from autoann.errors import ParameterError
from autoann.params import CONSTRAINTS, validate_params

#: What may sit in an object array's cells (pd.NA and None mean missing).
CELL_TYPES = (str, bool, int, float, np.generic, type(None), type(pd.NA))
#: Seconds ``fit`` keeps back from the search to assemble the final model and
#: score it on validation (``autoann train`` keeps more, for the export).
ASSEMBLY_SECONDS = 2.0
#: Estimator parameters checked by the shared table under the name ``train`` uses.
SHARED = ("time_budget", "max_trials", "max_epochs", "goal", "metric", "verbose", "workers")
ALIASES = {
    "validation_fraction": CONSTRAINTS["validation_size"],
    "random_state": replace(CONSTRAINTS["seed"], allow_none=True),
}


def _plain(value: Any) -> Any:
    """numpy scalars (np.int64(3), np.str_) as Python values, for the constraint table."""
    return value.item() if isinstance(value, np.generic) else value


def check_params(est: Any) -> None:
    """Check every parameter of ``est`` and raise one :class:`ParameterError` listing all problems."""
    owner = type(est).__name__
    params = {k: _plain(v) for k, v in est.get_params(deep=False).items()}
    problems: list[str] = []
    try:
        validate_params(owner, {name: params[name] for name in SHARED})
    except ParameterError as exc:
        problems.extend(str(exc).splitlines())
    for name, constraint in ALIASES.items():
        if not constraint.accepts(params[name]):
            problems.append(f"The {name!r} parameter of {owner} must be {constraint.describe()}. "
                            f"Got {params[name]!r} instead.")
    rules = params["rules"]
    if rules is not None and (isinstance(rules, (str, os.PathLike)) or not isinstance(rules, (list, tuple))
                              or not all(isinstance(r, (str, os.PathLike)) for r in rules)):
        problems.append(f"The 'rules' parameter of {owner} must be a list of rule file paths or None, "
                        f"e.g. rules=['my_rules.yaml']. Got {rules!r} instead.")
    problems.extend(_pin_problems(owner, params["pins"]))
    if params["working_dir"] is not None and not isinstance(params["working_dir"], (str, os.PathLike)):
        problems.append(f"The 'working_dir' parameter of {owner} must be a folder path or None. "
                        f"Got {params['working_dir']!r} instead.")
    if problems:
        raise ParameterError("\n".join(problems))


def _pin_problems(owner: str, pins: Any) -> list[str]:
    from autoann.space import KNOWN, unknown_name, value_problem

    if pins is None:
        return []
    if not isinstance(pins, dict):
        return [f"The 'pins' parameter of {owner} must be a dict of hyperparameter name -> value or None, "
                f"e.g. pins={{'n_layers': 2}}. Got {pins!r} instead."]
    out = []
    for name, value in pins.items():
        if name not in KNOWN:
            out.append(f"The 'pins' parameter of {owner} names an unknown hyperparameter {unknown_name(str(name))}")
        elif (problem := value_problem(name, _plain(value))) is not None:
            out.append(f"The 'pins' parameter of {owner}: {problem}.")
    return out


def pin_assignments(pins: dict[str, Any] | None) -> list[str]:
    """``{'n_layers': 2}`` as ``["n_layers=2"]``: JSON values are valid YAML scalars for the pin parser."""
    return [f"{name}={json.dumps(_plain(value))}" for name, value in (pins or {}).items()]


def features(est: Any, X: Any, *, reset: bool) -> pd.DataFrame | np.ndarray:
    """Tables as a frame (:func:`feature_frame`); images (a 3-D or 4-D array) as (N, H, W, C) (:func:`image_array`)."""
    if isinstance(X, np.ndarray) and X.ndim in (3, 4):
        return image_array(est, X, reset=reset)
    if reset and hasattr(est, "image_shape_"):
        del est.image_shape_
    return feature_frame(est, X, reset=reset)


def image_array(est: Any, X: np.ndarray, *, reset: bool) -> np.ndarray:
    """Images as (N, height, width, channels) numeric pixels; ``predict`` needs the shape ``fit`` saw.

    ``n_features_in_`` is the pixel count per image and ``image_shape_`` the
    (height, width, channels) of each; there are no feature names.
    """
    owner = type(est).__name__
    x = X if X.ndim == 4 else X[..., None]
    if x.dtype.kind not in "uif":
        raise ValueError(f"{owner} takes images as numbers (uint8 pixels, or floats); got an array of dtype {x.dtype}.")
    if x.dtype.kind == "f":
        assert_all_finite(x, input_name="X")
    shape = tuple(int(n) for n in x.shape[1:])
    if len(x) < 1 or 0 in shape:
        raise ValueError(f"Found an image array of shape {X.shape}, while {owner} needs at least one image of "
                         "at least 1 x 1 pixels.")
    if reset:
        est.image_shape_, est.n_features_in_ = shape, int(np.prod(shape))
        if hasattr(est, "feature_names_in_"):
            del est.feature_names_in_
    elif shape != getattr(est, "image_shape_", None):
        fitted = getattr(est, "image_shape_", None)
        raise ValueError(f"X holds images of shape {shape} (height, width, channels), but {owner} was fitted on "
                         + (f"images of shape {fitted}" if fitted else "a table") + "; pass the same kind of input.")
    return x


def feature_frame(est: Any, X: Any, *, reset: bool) -> pd.DataFrame:
    """Validate ``X`` the scikit-learn way and return it as a frame with the fitted column names.

    DataFrames keep their columns as they are (strings, categoricals, NaN go
    to the model's own preprocessing): ``validate_data`` only does the
    feature-name and feature-count bookkeeping for them. Anything else goes
    through ``check_array`` with ``dtype=None`` (object arrays of strings are
    allowed) and NaN allowed.
    """
    if isinstance(X, pd.DataFrame):
        validate_data(est, X, reset=reset, skip_check_array=True)
        if X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(f"Found array with {X.shape[0]} sample(s) and {X.shape[1]} feature(s) "
                             f"(shape={X.shape}) while a minimum of 1 is required by {type(est).__name__}.")
        frame = X.reset_index(drop=True).set_axis(feature_names(est), axis=1)
    else:
        X = validate_data(est, X, reset=reset, dtype=None, ensure_all_finite="allow-nan")
        frame = pd.DataFrame(X, columns=feature_names(est))
        if X.dtype == object:
            _check_cells(X)
            frame = frame.infer_objects()  # numbers stored as objects stay numbers
    return frame


def _check_cells(X: np.ndarray) -> None:
    """Object arrays may hold strings and numbers (categorical and numeric columns), nothing else."""
    cells = X.ravel().tolist()
    if all(isinstance(v, CELL_TYPES) for v in cells):
        return
    pos = next(i for i, v in enumerate(cells) if not isinstance(v, CELL_TYPES))
    row, col = divmod(pos, X.shape[1])
    raise TypeError(f"X[{row}, {col}] holds a {type(cells[pos]).__name__}: every argument must be a string or a "
                    "number in each cell of X (None or NaN for missing). Convert that column first.")


def feature_names(est: Any) -> list[str]:
    if hasattr(est, "feature_names_in_"):
        return [str(n) for n in est.feature_names_in_]
    return [f"x{i}" for i in range(est.n_features_in_)]


def check_labels(owner: str, X: pd.DataFrame, y: Any) -> np.ndarray:
    """y for a classifier: 1-D (a column vector warns), no missing labels."""
    _require_y(owner, y)
    y = column_or_1d(y, warn=True)
    check_consistent_length(X, y)
    if y.dtype.kind in "fc":
        assert_all_finite(y, input_name="y")
    elif y.dtype == object and pd.isna(y).any():
        raise ValueError(f"Input y contains NaN or None; {owner} needs a label for every row. "
                         "Drop the unlabelled rows first.")
    return y


def check_targets(owner: str, X: pd.DataFrame, y: Any) -> np.ndarray:
    """y for a regressor: numeric, finite, 1-D or 2-D (several targets)."""
    _require_y(owner, y)
    y = check_array(y, ensure_2d=False, dtype="numeric", ensure_all_finite=True, input_name="y")
    check_consistent_length(X, y)
    if y.ndim == 2 and y.shape[1] < 1:
        raise ValueError(f"y has no target columns (shape={y.shape}).")
    return y.astype("float64")


def _require_y(owner: str, y: Any) -> None:
    if y is None:
        raise ValueError(f"{owner} requires y to be passed, but the target y is None.")


def check_weights(sample_weight: Any, n: int) -> np.ndarray | None:
    """scikit-learn's checks of ``sample_weight`` (numeric, 1-D, one per row, not all zero, non-negative),
    with the messages its estimator checks expect, from its public API; the rest is ``fit_run``'s.

    A scalar weights every row alike, as in scikit-learn.
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        return np.full(n, sample_weight, dtype=np.float64)
    weights = check_array(sample_weight, ensure_2d=False, dtype=np.float64, order="C", input_name="sample_weight")
    if weights.ndim != 1:
        raise ValueError(f"Sample weights must be 1D array or scalar, got {weights.ndim}D array. "
                         f"Expected either a scalar value or a 1D array of length {n}.")
    if weights.shape != (n,):
        raise ValueError(f"sample_weight.shape == {weights.shape}, expected {(n,)}!")
    if not weights.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    check_non_negative(weights, "`sample_weight`")
    return weights


def repeat_rare_classes(owner: str, frame: pd.DataFrame | np.ndarray, codes: np.ndarray, classes: np.ndarray,
                        weights: np.ndarray | None) -> tuple[pd.DataFrame | np.ndarray, np.ndarray, np.ndarray | None]:
    """Repeat the rows of classes with fewer than MIN_PER_CLASS samples up to that count, with a warning.

    ``fit_run``'s stratified validation split needs every class in both
    parts; cross-validation folds of imbalanced data often leave a class a
    row or two. Repeating them keeps ``fit`` working; the validation score of
    those classes is then optimistic.
    """
    counts = np.bincount(codes, minlength=len(classes))
    rare = np.flatnonzero(counts < MIN_PER_CLASS)
    if not rare.size:
        return frame, codes, weights
    extra = [np.resize(np.flatnonzero(codes == k), MIN_PER_CLASS - counts[k]) for k in rare]
    shown = ", ".join(f"{classes[k]!r} ({counts[k]})" for k in rare)
    warnings.warn(f"{owner}: class(es) {shown} have fewer than {MIN_PER_CLASS} samples; their rows are repeated "
                  f"to {MIN_PER_CLASS} so the stratified validation split can hold one out, which makes their "
                  "validation scores optimistic. Add samples of these classes to avoid this.", UserWarning,
                  stacklevel=3)
    rows = np.concatenate([np.arange(len(codes)), *extra])
    repeated = frame[rows] if isinstance(frame, np.ndarray) else frame.iloc[rows].reset_index(drop=True)
    return repeated, codes[rows], None if weights is None else weights[rows]


def check_enough_rows(owner: str, n: int) -> None:
    if n < MIN_ROWS:
        raise ValueError(f"{owner} needs at least {MIN_ROWS} samples to hold out a validation split; "
                         f"got n_samples={n}.")


def model_to_bytes(model: Any) -> bytes:
    """The Keras model as the bytes of a ``.keras`` file."""
    with tempfile.TemporaryDirectory(prefix="autoann-pickle-") as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)
        return path.read_bytes()


def model_from_bytes(data: bytes) -> Any:
    """Inverse of :func:`model_to_bytes`, with autoann's layers registered and safe mode on."""
    from autoann.predict import load_keras_model

    with tempfile.TemporaryDirectory(prefix="autoann-pickle-") as tmp:
        path = Path(tmp) / "model.keras"
        path.write_bytes(data)
        return load_keras_model(path)
