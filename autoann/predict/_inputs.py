"""Rows in, model inputs out: reading rows, checking them against the training schema, calling the model.

A mistake gets a :class:`~autoann.errors.SchemaError` that names the column
(and rows), not a TensorFlow traceback:

* a missing column is an error (all are listed);
* a numeric column holding text is an error (column, rows and values quoted);
* extra columns are ignored, unseen categories go to the model's
  out-of-vocabulary bucket, and date/time values that are not ISO-like
  dates count as missing; each is reported as a :class:`SchemaWarning`;
* missing values (NaN, None, "") are fine: the model imputes them.
"""

from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path
from typing import Any, Sequence

import keras
import numpy as np
import pandas as pd

from autoann.data import NA_MARKERS
from autoann.errors import SchemaError
from autoann.schema import DATETIME_PATTERN, Column, model_input_names, to_model_inputs

BATCH_SIZE = 1024
EXAMPLES = 3  # offending values quoted per message
#: text a numeric column may hold for "missing": training's CSV markers, pandas' and Python's spellings
NA_TOKENS = {m.lower() for m in NA_MARKERS} | {"nan", "<na>", "none", "null", "nat"}


class SchemaWarning(UserWarning):
    """The rows were accepted, but something deserves a look (extra columns, unseen categories, dropped rows)."""


def warn(message: str) -> None:
    """Emit a :class:`SchemaWarning` attributed to the user's line: the first caller outside autoann."""
    frame, level = sys._getframe(1), 2  # stacklevel 2 = the caller of warn
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "autoann":
        frame, level = frame.f_back, level + 1
    warnings.warn(message, SchemaWarning, stacklevel=level)


def read_data(source: Any) -> pd.DataFrame:
    """Rows as a DataFrame, from a DataFrame, a dict of columns (or of one row's values),
    a list of records, or a CSV/Parquet path."""
    if isinstance(source, pd.DataFrame):
        return source
    if isinstance(source, (str, Path)):
        return _read_file(Path(source))
    if isinstance(source, pd.Series):
        return source.to_frame().T
    if isinstance(source, dict):
        if source and all(np.ndim(v) == 0 for v in source.values()):
            return pd.DataFrame([source])
        try:
            return pd.DataFrame(source)
        except ValueError as exc:
            raise SchemaError(f"Cannot make rows from the dict of columns: {exc}. "
                              "Give every column the same length.") from None
    if isinstance(source, list) and all(isinstance(r, dict) for r in source):
        return pd.DataFrame(source)
    raise SchemaError(f"Cannot read rows from a {type(source).__name__}: pass a DataFrame, a dict of columns, "
                      "a list of records or a CSV/Parquet path, so columns can be matched by name.")


def _read_file(path: Path) -> pd.DataFrame:
    from autoann.data import read_table  # the same reader (and missing-value markers) as training

    return read_table(path)


def _examples(series: pd.Series, mask: np.ndarray, from_file: bool) -> str:
    """Where and what: ``line 5: 'abc'`` for a file (header = line 1), ``row 3: 'abc'`` for a frame."""
    picked = series[mask].head(EXAMPLES)
    where = (lambda i: f"line {int(i) + 2}") if from_file else (lambda i: f"row {i!r}")
    return ", ".join(f"{where(i)}: {v.item() if isinstance(v, np.generic) else v!r}" for i, v in picked.items())


def call_eagerly(model: keras.Model, inputs: dict[str, np.ndarray], n_rows: int, *, training: bool = False,
                 chunk: int = BATCH_SIZE) -> np.ndarray:
    """``model`` called directly on ``inputs``, chunk by chunk, as an (N, units) array.

    For the small batches scikit-learn passes around this is 10-50x faster
    than ``model.predict``, which traces a new graph for every new model;
    ``training=True`` keeps dropout on (Monte Carlo dropout).
    """
    import tensorflow as tf

    parts = [np.asarray(model({k: tf.constant(v[i:i + chunk]) for k, v in inputs.items()}, training=training))
             for i in range(0, n_rows, chunk)]
    return np.concatenate(parts).reshape(n_rows, -1)


def _unreadable_dates(name: str, values: np.ndarray) -> str:
    """A note on the date/time values of column ``name`` that the model cannot parse (it treats them as missing)."""
    date = re.compile(DATETIME_PATTERN)
    bad = [v for v in values.tolist() if v != "" and not date.fullmatch(v)]
    if not bad:
        return ""
    return (f"Column {name!r}: {len(bad)} value(s) are not dates the model reads (e.g. "
            f"{', '.join(map(repr, bad[:EXAMPLES]))}); they count as missing. Write them as YYYY-MM-DD, "
            "optionally followed by HH:MM[:SS].")


def check_frame(frame: pd.DataFrame, schema: Sequence[Column], vocabularies: dict[str, list[str]] | None = None,
                ignore: Sequence[str] = (), from_file: bool = False) -> tuple[dict[str, np.ndarray], list[str]]:
    """Check ``frame`` against ``schema`` and convert it to the model's named inputs.

    Returns the inputs and the warnings to show (extra columns, unseen
    categories). Raises :class:`SchemaError` for missing columns or text in a
    numeric column. ``ignore`` names columns that are expected extras (a
    target); ``from_file`` quotes file lines instead of row labels.
    """
    expected = [c.name for c in schema]
    missing = [n for n in expected if n not in frame.columns]
    if missing:
        raise SchemaError(
            f"The data lacks {len(missing)} column(s) the model was trained on: {', '.join(map(repr, missing))}. "
            f"The model expects: {', '.join(map(repr, expected))}. Add them (empty values are allowed)."
        )
    notes: list[str] = []
    known = set(expected) | set(ignore)
    extra = [str(c) for c in frame.columns if c not in known]
    if extra:
        notes.append(f"Ignoring {len(extra)} column(s) the model does not use: {', '.join(map(repr, extra[:10]))}"
                     f"{' ...' if len(extra) > 10 else ''}.")
    for col in schema:
        series = frame[col.name]
        if col.kind != "numeric" or pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        values = series.astype(object)
        text = values.map(lambda v: str(v).strip().lower() if v is not None else "")
        bad = (values.notna() & ~text.isin(NA_TOKENS) & pd.to_numeric(values, errors="coerce").isna()).to_numpy()
        if bad.any():
            raise SchemaError(
                f"Column {col.name!r} is numeric in the model but holds text in {int(bad.sum())} row(s), e.g. "
                f"{_examples(series, bad, from_file)}. Fix those values, or leave them empty "
                "(missing values are imputed)."
            )
    inputs = to_model_inputs(frame, list(schema))
    keys = model_input_names(list(schema))  # a column's input may be named apart from it ('a/b' -> 'a_b')
    notes += [_unreadable_dates(col.name, inputs[keys[col.name]]) for col in schema if col.kind == "datetime"]
    notes = [note for note in notes if note]
    for name, vocabulary in (vocabularies or {}).items():
        if keys.get(name) not in inputs:
            continue
        values = inputs[keys[name]]
        unseen = (values != "") & ~np.isin(values, np.asarray(vocabulary, dtype=object))
        if unseen.any():
            levels = list(dict.fromkeys(values[unseen].tolist()))
            notes.append(f"Column {name!r}: {int(unseen.sum())} row(s) have categories not seen in training "
                         f"(e.g. {', '.join(map(repr, levels[:EXAMPLES]))}); the model treats them as 'unknown'.")
    return inputs, notes
