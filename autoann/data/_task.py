"""Task names and the task a target calls for: the decision ``load_data`` makes and explains.

:data:`TASKS` and :data:`CLASSIFICATION` are the one definition of the task
names every stage uses (metrics, export, the rule conditions, the space
vocabulary). :func:`infer_task` reads the target; :func:`resolve_task` checks
an explicit task against it. Both return the task with one sentence saying why.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from autoann.errors import DataError, did_you_mean

TASKS = ("binary", "multiclass", "regression", "multi_regression")
CLASSIFICATION = ("binary", "multiclass")
#: A numeric target is read as class labels when it holds whole numbers only, at most
#: MAX_CLASSES distinct values, and at least ROWS_PER_CLASS rows per distinct value on
#: average (so 0/1/2 codes in 500 rows are classes, but ages 18..30 in 100 rows are numbers).
MAX_CLASSES = 20
ROWS_PER_CLASS = 10


def show_value(value: Any) -> str:
    """repr of a cell as the user wrote it: 3, not np.int64(3)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def check_task_name(task: str | None) -> None:
    """Refuse a task name that is not one of :data:`TASKS`, suggesting the closest."""
    if task is not None and task not in TASKS:
        raise DataError(f"Unknown task {task!r}{did_you_mean(task, TASKS)}. Valid tasks: {', '.join(TASKS)}.")


def label_dtype(values: pd.Series) -> str:
    """How labels are typed in a run's metadata (``class_dtype``): bool, int, float or str."""
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_integer_dtype(values):
        return "int"
    if pd.api.types.is_float_dtype(values):
        return "float"
    return "str"


def _is_text(col: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col) \
        or isinstance(col.dtype, pd.CategoricalDtype)


def _whole(col: pd.Series) -> bool:
    values = col.to_numpy("float64")
    return bool(np.all(values == np.round(values)))


def infer_task(y: pd.DataFrame) -> tuple[str, str]:
    """The task the target columns suggest, and a one-sentence reason.

    Several targets: multi_regression (all must be numeric). Text, boolean or
    categorical target: binary for 2 classes, multiclass for more. Numeric
    target: binary when it takes exactly 2 values; classes when it holds whole
    numbers only, at most :data:`MAX_CLASSES` distinct values and
    :data:`ROWS_PER_CLASS` rows per value on average; otherwise regression.
    """
    names = list(y.columns)
    if len(names) > 1:
        text = [n for n in names if _is_text(y[n])]
        if text:
            raise DataError(f"Several targets are only supported for regression (multi_regression), but "
                            f"{', '.join(map(repr, text))} is not numeric. Predict one class column at a time.")
        return "multi_regression", f"{len(names)} numeric target columns ({', '.join(names)}): multi-target regression."
    name, col = names[0], y.iloc[:, 0]
    k = int(col.nunique())
    if k < 2:
        raise DataError(f"Target {name!r} has a single value ({show_value(col.iloc[0])}) in all {len(col)} rows: there is "
                        f"nothing to learn. Check the target column, or add rows of the other class(es).")
    if _is_text(col):
        kind = "boolean" if pd.api.types.is_bool_dtype(col) else "non-numeric"
        task = "binary" if k == 2 else "multiclass"
        return task, f"Target {name!r} is {kind} with {k} classes, so the task is {task} classification."
    if k == 2 or (_whole(col) and k <= MAX_CLASSES and k * ROWS_PER_CLASS <= len(col)):
        task = "binary" if k == 2 else "multiclass"
        return task, (f"Target {name!r} holds {k} distinct numbers in {len(col)} rows, read as class labels: "
                      f"{task} classification (pass --task regression to predict it as a number).")
    return "regression", (f"Target {name!r} is numeric with {k} distinct values, so the task is regression "
                          f"(a whole-number target with at most {MAX_CLASSES} values would be read as classes).")


def resolve_task(y: pd.DataFrame, task: str | None) -> tuple[str, str]:
    """Check an explicit ``task`` against the target, or infer one. Returns (task, reason)."""
    if task is None:
        return infer_task(y)
    try:
        inferred = f"; inference alone would say {infer_task(y)[0]}"
    except DataError:
        inferred = ""
    names = list(y.columns)
    name, col = names[0], y.iloc[:, 0]
    if len(names) > 1 and task != "multi_regression":
        raise DataError(f"task={task!r} takes one target column, but {len(names)} were given ({', '.join(names)}). "
                        f"Use --task multi_regression for several numeric targets, or give one target.")
    if task in ("regression", "multi_regression"):
        text = [n for n in names if _is_text(y[n])]
        if text:
            col = y[text[0]]
            raise DataError(f"task={task!r} needs a numeric target, but {text[0]!r} holds {col.dtype} values "
                            f"such as {show_value(col.iloc[0])}. Use --task binary/multiclass, or convert the target "
                            f"to numbers.")
        return task, f"The task was set to {task} explicitly ({', '.join(names)} numeric{inferred})."
    k = int(col.nunique())
    if k < 2:
        raise DataError(f"Target {name!r} has a single class ({show_value(col.iloc[0])}) in all {len(col)} rows; "
                        f"{task} classification needs at least 2. Check the target column.")
    if not _is_text(col) and not _whole(col) and k > MAX_CLASSES:
        raise DataError(f"task={task!r} asks to treat {name!r} as classes, but it holds {k} distinct fractional "
                        f"numbers (e.g. {show_value(col.iloc[0])}): that is a regression target. Use --task regression, "
                        f"or bin the values into classes first.")
    if task == "binary" and k != 2:
        raise DataError(f"task='binary' needs exactly 2 classes, but {name!r} has {k}. Use --task multiclass.")
    if k > max(MAX_CLASSES, len(col) // 2):
        raise DataError(f"task={task!r} would make {k} classes out of {len(col)} rows of {name!r}: too few rows "
                        f"per class to learn. Use --task regression, or group the values into fewer classes.")
    return task, f"The task was set to {task} explicitly ({name!r} has {k} classes{inferred})."


def decide_task(y: pd.DataFrame, task: str | None, reason: str | None = None) -> tuple[str, str]:
    """(task, reason): a ``task`` given with its ``reason`` as decided by the caller; else :func:`resolve_task`."""
    if task is not None and reason is not None:
        return task, reason
    return resolve_task(y, task)
