"""Tables as a :class:`Dataset`: the first stage for CSV, TSV, Parquet, DataFrames and arrays.

:func:`load_data` accepts a CSV/TSV/Parquet path, a pandas DataFrame, or a
numpy array ``X`` with an array-like ``y``; image data (a folder with one
sub-folder per class, a ``.npz`` with ``x`` and ``y``, or a 3-D/4-D image
array with ``y``) goes to :func:`autoann.data._images.load_image_data`. It
separates the target column(s) from the features (a ``y`` given apart is never
merged into them), drops rows whose target is missing, decides the task (see
:mod:`autoann.data._task`) and matches sample weights to the rows kept. Every
input it cannot use raises :class:`~autoann.errors.DataError` with what is
wrong, what was received and how to fix it, before anything is trained.
Loading never writes anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from autoann._io import not_found
from autoann.data._dataset import Dataset, array_target_names, rows_with_target
from autoann.data._images import is_image_source, load_image_data
from autoann.data._task import check_task_name, decide_task, show_value
from autoann.data._weights import check_sample_weight
from autoann.errors import DataError, did_you_mean

SUFFIXES = {".csv": ",", ".tsv": "\t", ".parquet": None, ".pq": None}
#: Cells read as missing, besides pandas' defaults ("", "NA", "N/A", "n/a", "null", "None", "NaN", ...).
NA_MARKERS = ["?", "NA", "N/A", "n/a", "null", "None", "-", "", "--"]
#: A text column is "numbers with a few stray words" when at least this share of its
#: values parse as numbers; the stray words are reported instead of silently becoming NaN.
MIXED_NUMERIC_SHARE = 0.8


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV or Parquet file into a DataFrame, refusing what cannot be used.

    CSV cells holding a common missing-value marker (:data:`NA_MARKERS`) are
    read as missing, and spaces after a delimiter are skipped (`` ?`` is
    missing too). Duplicate header names are refused (pandas would silently
    rename the second ``a`` to ``a.1``), as are files that are not UTF-8.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(not_found(path))
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
    _refuse_binary(path)
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


#: leading bytes of compressed or archive files sometimes saved under a text file's name
_MAGIC = {b"\x1f\x8b": "gzip-compressed (decompress it first: gunzip, or pandas.read_csv(..., compression='gzip'))",
          b"PK\x03\x04": "a zip archive (extract the table from it first)",
          b"BZh": "bzip2-compressed (decompress it first: bunzip2)",
          b"\xfd7zXZ": "xz-compressed (decompress it first: unxz)",
          b"PAR1": "a Parquet file (give it a .parquet extension)"}


def _refuse_binary(path: Path) -> None:
    """A table file that is not text at all gets a message saying what it is, not an encoding hint."""
    with path.open("rb") as fh:
        head = fh.read(8192)
    what = next((kind for magic, kind in _MAGIC.items() if head.startswith(magic)), None)
    if what is None and b"\x00" in head:
        what = "binary data, not text (it holds NUL bytes)"
    if what is not None:
        raise DataError(f"{path} is {what}; a {path.suffix} file must be a plain-text table with a header row.")


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


def _split(data: Any, target: Any) -> tuple[pd.DataFrame, pd.DataFrame, str, bool]:
    """The feature columns and the target column(s) of ``data``, its source label, and whether it came from a file."""
    if isinstance(data, (str, Path)):
        return (*_take_targets(read_table(data), _target_names(target)), str(data), True)
    if isinstance(data, pd.DataFrame):
        frame = data.copy()
        frame.columns = [str(c) for c in frame.columns]
        _refuse_duplicates(list(frame.columns), "The DataFrame")
        if len(frame) == 0:
            raise DataError("The DataFrame has no rows.")
        if isinstance(target, (np.ndarray, pd.Series)):
            return frame, _target_frame(frame, target), "<DataFrame>", False
        return (*_take_targets(frame, _target_names(target)), "<DataFrame>", False)
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
        return frame, _target_frame(frame, target), "<array>", False
    raise DataError(f"Cannot read data of type {type(data).__name__}. Pass a path to a .csv/.tsv/.parquet file, "
                    f"a pandas DataFrame, or a numpy array X together with target=y.")


def _take_targets(frame: pd.DataFrame, names: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``frame`` split into its feature columns and its target columns ``names``."""
    _check_targets_exist(frame, names)
    return frame.drop(columns=names), frame[names]


def _target_frame(features: pd.DataFrame, y: Any) -> pd.DataFrame:
    """An array ``y`` as target columns beside ``features`` (same rows, same index), named by :func:`array_target_names`."""
    values = np.asarray(y)
    if values.ndim not in (1, 2) or len(values) != len(features):
        raise DataError(f"target y must have one value (or row) per data row: X has {len(features)} rows, "
                        f"y has shape {values.shape}.")
    columns = values.reshape(len(values), -1) if values.ndim == 2 else values[:, None]
    names = array_target_names(values, list(features.columns))
    return pd.DataFrame({name: pd.Series(columns[:, i], index=features.index).infer_objects()
                         for i, name in enumerate(names)})


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
        hint = did_you_mean(name, columns, also=[c for c in columns if c.lower() == name.lower()])
        sep_hint = ""
        if len(columns) == 1 and any(ch in columns[0] for ch in ";|\t"):
            sep_hint = (" The whole header was read as one column: is the file separated by ';' or '|'? "
                        "Save it comma-separated.")
        raise DataError(f"Target column {name!r} is not in the data{hint}. Columns: {_short_list(columns)}.{sep_hint}")


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
        examples = ", ".join(f"{show_value(v)} ({_where(i, from_file)})" for i, v in bad.iloc[:5].items())
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


def load_data(data: Any, target: str | Sequence[str] | Any = None, *, task: str | None = None,
              sample_weight: Any = None, task_reason: str | None = None) -> Dataset:
    """Load ``data`` and split off its target; infer (or check) the task; match weights to the rows kept.

    ``data``: a path (.csv, .tsv, .parquet/.pq), a DataFrame, or a 2-D numpy
    array X (then ``target`` is y, 1-D or 2-D, and the features are named
    ``x0..xN``); image data as :func:`autoann.data._images.load_image_data`
    reads it. ``target``: a column name or a list of names, or an array y
    (one value or row per row of a DataFrame or array X). ``task``: overrides
    the inferred task after checking it fits the target; with ``task_reason``
    too, it is taken as already decided (the estimators fix it from y) and
    not inferred again. ``sample_weight``: one weight per row of ``data``;
    the weights of rows dropped for a missing target go with them.
    """
    weights = None if sample_weight is None else check_sample_weight(sample_weight)
    if is_image_source(data):
        return load_image_data(data, target, task=task, sample_weight=weights, task_reason=task_reason)
    check_task_name(task)
    features, y, source, from_file = _split(data, target)
    names = list(y.columns)
    if features.shape[1] == 0:
        raise DataError(f"There are no feature columns besides the target ({', '.join(names)}). "
                        f"Add the columns to predict from.")
    for frame in (features, y):
        check_mixed_columns(frame, from_file, names)
        check_finite(frame, from_file)
    if not y.notna().all(axis=1).any():
        raise DataError(f"Target column {'(s) ' if len(names) > 1 else ''}{', '.join(map(repr, names))} has no values: "
                        f"every one of the {len(y)} rows is missing it. Check you named the right column.")
    kept = rows_with_target(y, "rows", "Add rows or fill in the missing targets.")
    features = features[kept].reset_index(drop=True)
    y = y[kept].reset_index(drop=True)
    chosen, reason = decide_task(y, task, task_reason)
    dataset = Dataset(features, y, names, chosen, reason, source, kept_rows=kept)
    return dataset if weights is None else dataset.with_sample_weight(weights)


def as_dataset(data: Any, target: Any, *, task: str | None, sample_weight: Any) -> Dataset:
    """``data`` loaded with :func:`load_data`; or, for a Dataset, that Dataset (weighted by ``sample_weight``).

    What every entry point that takes data calls, so a Dataset made once is handed on, never rebuilt.
    """
    if not isinstance(data, Dataset):
        return load_data(data, target, task=task, sample_weight=sample_weight)
    if target is not None:
        raise DataError(f"target={target!r} was given with a Dataset, which already holds its target "
                        f"({', '.join(map(repr, data.target_names))}). Drop target, or pass the raw data with it.")
    if task is not None and task != data.task:
        raise DataError(f"task={task!r} was given with a Dataset whose task is {data.task}: {data.task_reason} "
                        f"Load the data again with load_data(..., task={task!r}), or drop task.")
    if sample_weight is None:
        return data
    if data.sample_weight is not None:
        raise DataError("sample_weight was given both to load_data and with the Dataset; give the weights once.")
    return data.with_sample_weight(sample_weight)
