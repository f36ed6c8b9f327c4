"""Load a dataset and decide what task it is: the first stage, handing on a :class:`Dataset`.

:func:`load_data` accepts a CSV/TSV/Parquet path, a pandas DataFrame, or a
numpy array ``X`` with an array-like ``y``; or image data (a folder with one
sub-folder per class, a ``.npz`` with ``x`` and ``y``, or a 3-D/4-D image
array with ``y``), decoded once by :mod:`autoann.data._images`. It separates the target column(s),
drops rows whose target is missing, and infers the task (see
:func:`infer_task`). Every input it cannot use raises
:class:`~autoann.errors.DataError` with what is wrong, what was received and
how to fix it, before anything is trained. Loading never writes anything.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from autoann.errors import DataError

TASKS = ("binary", "multiclass", "regression", "multi_regression")
CLASSIFICATION = ("binary", "multiclass")
SUFFIXES = {".csv": ",", ".tsv": "\t", ".parquet": None, ".pq": None}
#: Cells read as missing, besides pandas' defaults ("", "NA", "N/A", "n/a", "null", "None", "NaN", ...).
NA_MARKERS = ["?", "NA", "N/A", "n/a", "null", "None", "-", "", "--"]
#: Fewer rows with a target than this cannot be split into train/validation/test.
MIN_ROWS = 10
#: A numeric target is read as class labels when it holds whole numbers only, at most
#: MAX_CLASSES distinct values, and at least ROWS_PER_CLASS rows per distinct value on
#: average (so 0/1/2 codes in 500 rows are classes, but ages 18..30 in 100 rows are numbers).
MAX_CLASSES = 20
ROWS_PER_CLASS = 10
#: A text column is "numbers with a few stray words" when at least this share of its
#: values parse as numbers; the stray words are reported instead of silently becoming NaN.
MIXED_NUMERIC_SHARE = 0.8


@dataclass
class Dataset:
    """Features and target(s) of one dataset, with the task and why it was chosen."""

    features: pd.DataFrame  # raw feature columns, original dtypes, rows with a missing target removed
    target: pd.DataFrame  # one column per target
    target_names: list[str]
    task: str  # binary | multiclass | regression | multi_regression
    task_reason: str  # one sentence: why this task (inferred or overridden)
    source: str  # the path, "<DataFrame>" or "<array>"
    n_rows_dropped_missing_target: int = 0
    #: image data: the decoded images (an autoann.data._images.ImageSet, one image per row of ``target``);
    #: ``features`` then holds only the image files' paths (column "file") for folder input
    images: Any = None


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV or Parquet file into a DataFrame, refusing what cannot be used.

    CSV cells holding a common missing-value marker (:data:`NA_MARKERS`) are
    read as missing, and spaces after a delimiter are skipped (`` ?`` is
    missing too). Duplicate header names are refused (pandas would silently
    rename the second ``a`` to ``a.1``), as are files that are not UTF-8.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"File not found: {path} (looked in {path.resolve().parent}). Check the path and spelling.")
    if path.is_dir():
        raise DataError(f"{path} is a directory, not a data file. Pass a .csv, .tsv or .parquet file inside it.")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"Cannot read {path}: unsupported file type {path.suffix or '(no extension)'!r}. "
                        f"Supported: {', '.join(SUFFIXES)}. Convert the file, or load it with pandas and pass "
                        f"the DataFrame.")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes). Expected a header row and data rows.")
    if suffix in (".parquet", ".pq"):
        return _read_parquet(path)
    sep = SUFFIXES[suffix]
    try:
        header = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False, encoding="utf-8")
        frame = pd.read_csv(path, sep=sep, na_values=NA_MARKERS, skipinitialspace=True, encoding="utf-8",
                            low_memory=False)
    except UnicodeDecodeError as exc:
        raise DataError(_encoding_message(path, exc)) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} holds no columns (only blank lines?). Expected a header row and data rows.") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"Cannot parse {path}: {str(exc).strip()}. Check that every row has as many fields as "
                        f"the header and that quotes are balanced.") from None
    names = [str(n) for n in header.iloc[0].tolist()]
    _refuse_duplicates(names, str(path))
    if len(frame) == 0:
        raise DataError(f"{path} has a header ({_short_list(names)}) but no data rows.")
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except ImportError:
        raise DataError(f"Reading {path} needs pyarrow, which is not installed: "
                        f"pip install 'autoann[parquet]'") from None
    except Exception as exc:  # pyarrow raises its own types (ArrowInvalid, ...)
        raise DataError(f"Cannot read {path} as Parquet: {exc}. Check the file is a complete Parquet file.") from None
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataError(f"{path} holds {frame.shape[1]} columns and {len(frame)} rows; expected data rows.")
    return frame


def _encoding_message(path: Path, exc: UnicodeDecodeError) -> str:
    raw = path.read_bytes()
    # pandas reads in chunks, so exc.start is chunk-relative: find the first bad byte ourselves.
    try:
        raw.decode("utf-8")
        start = exc.start
    except UnicodeDecodeError as full:
        start = full.start
    line = raw.count(b"\n", 0, start) + 1
    return (f"{path} is not UTF-8 text: byte 0x{raw[start]:02x} on line {line} cannot be decoded "
            f"(the file was probably saved as Latin-1 or Windows-1252). Re-save it as UTF-8 "
            f"(e.g. 'CSV UTF-8' in a spreadsheet, or iconv -f latin1 -t utf-8) and try again.")


def _refuse_duplicates(names: Sequence[str], where: str) -> None:
    seen: set[str] = set()
    dupes = sorted({n for n in names if n in seen or seen.add(n)})
    if dupes:
        raise DataError(f"{where} has duplicate column names: {', '.join(map(repr, dupes))}. "
                        f"Rename them so every column name is unique.")


def _short_list(names: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(map(repr, names[:limit]))
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _as_frame(data: Any, target: Any) -> tuple[pd.DataFrame, list[str], str, bool]:
    """The table with the target inside it, the target names, the source label, and whether it came from a file."""
    if isinstance(data, (str, Path)):
        return read_table(data), _target_names(target), str(data), True
    if isinstance(data, pd.DataFrame):
        frame = data.copy()
        frame.columns = [str(c) for c in frame.columns]
        _refuse_duplicates(list(frame.columns), "The DataFrame")
        if len(frame) == 0:
            raise DataError("The DataFrame has no rows.")
        if isinstance(target, (np.ndarray, pd.Series)):
            return _attach_target(frame, target), _array_target_names(target), "<DataFrame>", False
        return frame, _target_names(target), "<DataFrame>", False
    if isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise DataError(f"X must be a 2-D array (rows, features); got shape {data.shape}. "
                            f"Use X.reshape(-1, 1) for a single feature.")
        frame = pd.DataFrame(data, columns=[f"x{i}" for i in range(data.shape[1])])
        if data.dtype == object:
            frame = frame.infer_objects()
        if target is None or isinstance(target, str):
            raise DataError(f"With an array X, target must be the labels y as an array of {len(frame)} values; "
                            f"got {target!r}.")
        return _attach_target(frame, target), _array_target_names(target), "<array>", False
    raise DataError(f"Cannot read data of type {type(data).__name__}. Pass a path to a .csv/.tsv/.parquet file, "
                    f"a pandas DataFrame, or a numpy array X together with target=y.")


def _array_target_names(y: Any) -> list[str]:
    y = np.asarray(y)
    return ["y"] if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1) else [f"y{i}" for i in range(y.shape[1])]


def _attach_target(frame: pd.DataFrame, y: Any) -> pd.DataFrame:
    values = np.asarray(y)
    if values.ndim not in (1, 2) or len(values) != len(frame):
        raise DataError(f"target y must have one value (or row) per data row: X has {len(frame)} rows, "
                        f"y has shape {values.shape}.")
    names = _array_target_names(values)
    columns = values.reshape(len(values), -1) if values.ndim == 2 else values[:, None]
    clash = [n for n in names if n in frame.columns]
    if clash:
        raise DataError(f"A feature column is named {clash[0]!r}, the name given to the target array; rename it.")
    for i, name in enumerate(names):
        frame[name] = pd.Series(columns[:, i], index=frame.index).infer_objects()
    return frame


def _target_names(target: Any) -> list[str]:
    if target is None or (isinstance(target, (list, tuple)) and not target):
        raise DataError("No target given. Name the column to predict with --target NAME (target='NAME' in Python).")
    names = [target] if isinstance(target, (str, int)) else list(target)
    if not all(isinstance(n, (str, int)) for n in names):
        raise DataError(f"target must be a column name or a list of column names; got {target!r}.")
    names = [str(n) for n in names]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(f"Target column {dupes[0]!r} is listed more than once ({names}); name each target once.")
    return names


def _check_targets_exist(frame: pd.DataFrame, names: list[str]) -> None:
    columns = [str(c) for c in frame.columns]
    for name in names:
        if name in columns:
            continue
        close = difflib.get_close_matches(name, columns, n=3, cutoff=0.6)
        close += [c for c in columns if c.lower() == name.lower() and c not in close]
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        sep_hint = ""
        if len(columns) == 1 and any(ch in columns[0] for ch in ";|\t"):
            sep_hint = (" The whole header was read as one column: is the file separated by ';' or '|'? "
                        "Save it comma-separated.")
        raise DataError(f"Target column {name!r} is not in the data.{hint} Columns: {_short_list(columns)}.{sep_hint}")


def _show(value: Any) -> str:
    """repr of a cell as the user wrote it: 3, not np.int64(3)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _where(index: Any, from_file: bool) -> str:
    return f"line {int(index) + 2}" if from_file else f"row {index!r}"


def check_mixed_columns(frame: pd.DataFrame, from_file: bool, target_names: Sequence[str] = ()) -> None:
    """Refuse a text column that is mostly numbers plus a few words.

    Such a column (``12, 7, 3, "unknown", 9``) is almost always a numeric column
    with stray entries; treating it as categorical would make every number its
    own level. Categorical-dtype columns are taken as categorical on purpose.
    """
    for name in frame.columns:
        col = frame[name]
        if isinstance(col.dtype, pd.CategoricalDtype) or not (
                pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)):
            continue
        values = col.dropna()
        if values.empty or _numeric_share(values.iloc[:2000]) < MIXED_NUMERIC_SHARE:
            continue
        if pd.api.types.is_object_dtype(col):
            values = values[values.map(type) != bool]  # True/False are not the numbers we look for
        numbers = pd.to_numeric(values.astype(str), errors="coerce")
        bad = values[numbers.isna()]
        share = 1 - len(bad) / len(values)
        if bad.empty or share < MIXED_NUMERIC_SHARE:
            continue
        examples = ", ".join(f"{_show(v)} ({_where(i, from_file)})" for i, v in bad.iloc[:5].items())
        role = "Target column" if name in target_names else "Column"
        raise DataError(
            f"{role} {name!r} mixes numbers and text: {len(bad)} of its {len(values)} values are not numbers "
            f"while the rest are, "
            f"e.g. {examples}. Fix the data: replace those entries with numbers, or leave the cells empty "
            f"if they mean 'missing'; if the column is really categorical, pass a DataFrame with "
            f"df[{name!r}] = df[{name!r}].astype('category')."
        )


def _numeric_share(values: pd.Series) -> float:
    try:
        return float(pd.to_numeric(values.astype(str), errors="coerce").notna().mean())
    except (TypeError, ValueError):
        return 0.0


def check_finite(frame: pd.DataFrame, from_file: bool) -> None:
    """Refuse infinite numbers: they cannot be scaled, and usually mean a division by zero upstream."""
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_float_dtype(col) and not pd.api.types.is_bool_dtype(col):
            inf = np.isinf(col.to_numpy("float64", na_value=np.nan))
            if inf.any():
                rows = ", ".join(_where(i, from_file) for i in col.index[inf][:5])
                raise DataError(f"Column {name!r} holds {int(inf.sum())} infinite value(s) ({rows}). "
                                f"Replace them with a finite number, or leave the cells empty to mean missing.")


def load_data(data: Any, target: str | Sequence[str] | Any = None, *, task: str | None = None) -> Dataset:
    """Load ``data`` and split off its target; infer (or check) the task.

    ``data``: a path (.csv, .tsv, .parquet/.pq), a DataFrame, or a 2-D numpy
    array X (then ``target`` is y, 1-D or 2-D, and the features are named
    ``x0..xN``). ``target``: a column name or a list of names. ``task``:
    overrides the inferred task after checking it fits the target.
    """
    from autoann.data._images import is_image_source

    if is_image_source(data):
        return load_image_data(data, target, task=task)
    _check_task_name(task)
    frame, names, source, from_file = _as_frame(data, target)
    _check_targets_exist(frame, names)
    features = frame.drop(columns=names)
    if features.shape[1] == 0:
        raise DataError(f"There are no feature columns besides the target ({', '.join(names)}). "
                        f"Add the columns to predict from.")
    check_mixed_columns(frame, from_file, names)
    check_finite(frame, from_file)
    y = frame[names]
    has_target = y.notna().all(axis=1)
    if not has_target.any():
        raise DataError(f"Target column {'(s) ' if len(names) > 1 else ''}{', '.join(map(repr, names))} has no values: "
                        f"every one of the {len(frame)} rows is missing it. Check you named the right column.")
    dropped = int((~has_target).sum())
    if int(has_target.sum()) < MIN_ROWS:
        raise DataError(f"Only {int(has_target.sum())} rows have a target value ({dropped} are missing it); "
                        f"autoann needs at least {MIN_ROWS}. Add rows or fill in the missing targets.")
    features = features[has_target.to_numpy()].reset_index(drop=True)
    y = y[has_target.to_numpy()].reset_index(drop=True)
    chosen, reason = resolve_task(y, task)
    return Dataset(features, y, names, chosen, reason, source, dropped)


def _check_task_name(task: str | None) -> None:
    if task is not None and task not in TASKS:
        close = difflib.get_close_matches(str(task), TASKS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise DataError(f"Unknown task {task!r}.{hint} Valid tasks: {', '.join(TASKS)}.")


def load_image_data(data: Any, target: Any = None, *, task: str | None = None) -> Dataset:
    """Image data as a :class:`Dataset`: the labels are the target, the decoded images ride along.

    A folder's target is its class sub-folder names (column ``label``); a
    ``.npz``'s is its ``y``, an array's the ``target`` given (``y`` or
    ``y0..yK``). Unlike tables, classes come from folder names, so a folder
    of ``0/``, ``1/`` ... is multiclass, never regression.
    """
    from autoann.data._images import load_images

    _check_task_name(task)
    images = load_images(data, target, labeled=True)
    if images.labels is None:
        raise DataError(f"{images.source} has no labels: give y with the images (target=y, or 'y' in the .npz), "
                        "or sort the images into one sub-folder per class.")
    labels = np.asarray(images.labels)
    names = ["label"] if images.files else _array_target_names(labels)
    y = pd.DataFrame(labels.reshape(len(labels), -1), columns=names).infer_objects()
    has_target = y.notna().all(axis=1).to_numpy()
    dropped = int((~has_target).sum())
    if int(has_target.sum()) < MIN_ROWS:
        raise DataError(f"Only {int(has_target.sum())} images have a target value ({dropped} are missing it); "
                        f"autoann needs at least {MIN_ROWS}. Add images.")
    if dropped:
        images = replace(images, images=images.images[has_target], labels=labels[has_target],
                         files=[f for f, keep in zip(images.files, has_target) if keep])
        y = y[has_target].reset_index(drop=True)
    features = image_rows(images)
    chosen, reason = resolve_task(y, task)
    if images.files and task is None:
        reason = (f"The labels are the names of the {y.iloc[:, 0].nunique()} class folders, so the task is "
                  f"{chosen} classification.")
    return Dataset(features, y, names, chosen, reason, images.source, dropped, images=images)


def image_rows(images: Any) -> pd.DataFrame:
    """One row per image of an :class:`autoann.data._images.ImageSet`: its ``file`` (folder input), else no columns."""
    if images.files:
        return pd.DataFrame({"file": images.files})
    return pd.DataFrame(index=range(len(images.images)))


def label_dtype(values: pd.Series) -> str:
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
        raise DataError(f"Target {name!r} has a single value ({_show(col.iloc[0])}) in all {len(col)} rows: there is "
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
                            f"such as {_show(col.iloc[0])}. Use --task binary/multiclass, or convert the target "
                            f"to numbers.")
        return task, f"The task was set to {task} explicitly ({', '.join(names)} numeric{inferred})."
    k = int(col.nunique())
    if k < 2:
        raise DataError(f"Target {name!r} has a single class ({_show(col.iloc[0])}) in all {len(col)} rows; "
                        f"{task} classification needs at least 2. Check the target column.")
    if not _is_text(col) and not _whole(col) and k > MAX_CLASSES:
        raise DataError(f"task={task!r} asks to treat {name!r} as classes, but it holds {k} distinct fractional "
                        f"numbers (e.g. {_show(col.iloc[0])}): that is a regression target. Use --task regression, "
                        f"or bin the values into classes first.")
    if task == "binary" and k != 2:
        raise DataError(f"task='binary' needs exactly 2 classes, but {name!r} has {k}. Use --task multiclass.")
    if k > max(MAX_CLASSES, len(col) // 2):
        raise DataError(f"task={task!r} would make {k} classes out of {len(col)} rows of {name!r}: too few rows "
                        f"per class to learn. Use --task regression, or group the values into fewer classes.")
    return task, f"The task was set to {task} explicitly ({name!r} has {k} classes{inferred})."
