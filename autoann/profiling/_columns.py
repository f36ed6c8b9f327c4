"""The column-kind heuristics: what each feature column is, whether it is kept, and its encoded width.

:func:`column_kind` decides the kind of one column (numeric, categorical,
boolean, identifier, constant, datetime, text) and why it is dropped
(date/time columns become date features and text columns hashed token
features inside the model: :mod:`autoann.layers`);
:func:`profile_column` adds its statistics and :func:`encoded_width`, the
network inputs it becomes (G-IN-1). :mod:`autoann.profiling._profile` runs
them over a dataset's columns.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autoann.schema import DATETIME_PATTERN
from autoann.space import default_of

#: Categoricals with at most this many levels (missing counts as a level) are one-hot
#: encoded with one extra out-of-vocabulary column; the rest are embedded (G-IN-1). Both bounds are
#: the space's declared defaults, so the profile's widths are those the search builds by default.
ONEHOT_MAX_CARDINALITY = int(default_of("onehot_max_cardinality"))
EMBEDDING_DIM_MAX = int(default_of("embedding_dim_max"))
TEXT_HASH_BUCKETS = int(default_of("text_hash_buckets"))  # the width of a text column's token features
MOSTLY_MISSING = 0.95  # columns missing more than this share of values are dropped
TEXT_DISTINCT_SHARE = 0.5  # free text: more than this share of values distinct ...
TEXT_MIN_WORDS = 3.0  # ... and at least this many words on average
#: A string column with more levels than one-hot takes and more than this share of its values distinct
#: (under 2 rows per level) is hashed into token features like text: an embedding row per level would see
#: about one training row and memorize it (AA-FEAT-TEXT).
NEAR_UNIQUE_SHARE = TEXT_DISTINCT_SHARE
#: |skewness| above which a numeric column (or regression target) is "skewed": Bulmer's (1979) "highly
#: skewed" bound, the usual trigger for a log transform (AA-FEAT-SKEW).
SKEW_THRESHOLD = 1.0
DATE_SHARE = 0.9  # share of sampled strings that must look like and parse as dates
TOP_LEVELS = 10  # levels of a categorical (and image sizes) a profile lists, the most common first
_BOOLEAN_WORDS = ({"true", "false"}, {"yes", "no"})

DURATION_REASON = "durations are not encoded; convert them to numbers (e.g. seconds) to use them"
NON_ISO_REASON = ("dates in a format the model cannot parse; write them as ISO dates (YYYY-MM-DD, optionally "
                  "followed by HH:MM[:SS]) to use them as date features")
#: Names that say "identifier": id, user_id, CustomerID, uuid, key, index, row_no, ... (not "paid", "fluid").
_ID_NAME = re.compile(r"(?i:(^|[^a-z])(id|ids|uuid|guid|key|index|idx|identifier|(row|record)_?(no|num|number)?)$)"
                      r"|[a-z0-9](ID|Id)$")
_DATE_LIKE = re.compile(
    r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d{1,2}\s+[A-Za-z]{3,9}\.?,?\s+\d{2,4}"
    r"|[A-Za-z]{3,9}\.?\s+\d{1,2},?\s+\d{2,4}|\d{1,2}:\d{2})")


@dataclass
class ColumnProfile:
    """One feature column: its kind, whether it is kept, and what it costs the network's input."""

    name: str
    dtype: str
    kind: str  # numeric | categorical | boolean | identifier | constant | datetime | text
    missing_fraction: float
    cardinality: int  # distinct non-missing values
    kept: bool
    drop_reason: str | None = None
    encoded_width: int = 0  # network inputs this column becomes (0 when dropped)
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    top_levels: dict[str, int] = field(default_factory=dict)  # categoricals/booleans: up to 10 levels and counts
    skew: float | None = None  # numeric: sample skewness (AA-FEAT-SKEW)
    has_time: bool = False  # datetime: some values have a time of day (the model adds an hour feature)
    warnings: list[str] = field(default_factory=list)


def encoded_width(kind: str, cardinality: int, has_missing: bool, has_time: bool = False) -> int:
    """Network inputs one kept column becomes, as autoann.search._preprocessing encodes it (G-IN-1).

    Numeric: 1, plus a missing-indicator column if values are missing.
    Datetime: year, three sin/cos pairs, elapsed time and a missing indicator (9), plus a
    time-of-day pair when values have times. Text: :data:`TEXT_HASH_BUCKETS` token buckets.
    Categorical and boolean (fed as strings; missing is a level of its own): one-hot
    levels + 1 out-of-vocabulary column up to :data:`ONEHOT_MAX_CARDINALITY` levels,
    else an embedding of :func:`embedding_dim` levels.
    """
    if kind == "numeric":
        return 1 + int(has_missing)
    if kind == "datetime":
        return 9 + 2 * int(has_time)
    if kind == "text":
        return TEXT_HASH_BUCKETS
    levels = cardinality + int(has_missing)
    if levels <= ONEHOT_MAX_CARDINALITY:
        return levels + 1
    return embedding_dim(levels)


def embedding_dim(levels: int, dim_max: int = EMBEDDING_DIM_MAX) -> int:
    """Embedding width of a categorical with ``levels`` levels: min(dim_max, round(1.6 * levels ** 0.56)),
    at least 2 (the fast.ai rule of thumb); the profile and the search's preprocessing both use it."""
    return max(2, int(min(dim_max, round(1.6 * levels ** 0.56))))


def _nunique(values: pd.Series) -> int:
    try:
        return int(values.nunique())
    except TypeError:  # unhashable cells (lists, dicts)
        return int(values.astype(str).nunique())


def _finite(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def column_kind(name: str, col: pd.Series, values: pd.Series, cardinality: int,
                sample: pd.Series) -> tuple[str, str | None]:
    """The kind of a feature column and, if it must be dropped, why.

    ``values`` are the non-missing values, ``sample`` the non-missing values of
    the sampled rows. In order:

    - datetime: datetime or period dtype, or strings of which at least 90% of a sample
      look like dates and parse with ``pd.to_datetime(format="mixed")``; kept (date
      features) when 90% are ISO-like (:data:`autoann.schema.DATETIME_PATTERN`), dropped
      otherwise, and timedelta columns are dropped.
    - constant: at most one distinct value; dropped (G-IN-4).
    - boolean: bool dtype, Python booleans, or strings whose lower-cased values are
      exactly {true, false} or {yes, no}.
    - categorical: category dtype.
    - identifier: whole numbers, one distinct value per row, that form an arithmetic
      sequence (1, 2, 3, ...) or sit in a column named like an id; or strings distinct in
      every row (at most 5% missing). Dropped (G-IN-4): they cannot generalize.
    - numeric: any other number.
    - text: strings, more than half distinct, averaging 3 or more words: hashed token features (G-IN-2).
    - text: strings with more levels than one-hot takes and more than half distinct
      (:data:`NEAR_UNIQUE_SHARE`), e.g. car names: hashed token features, not an embedding.
    - categorical: any other string.
    """
    n_rows = len(col)
    if pd.api.types.is_timedelta64_dtype(col):
        return "datetime", DURATION_REASON
    if pd.api.types.is_datetime64_any_dtype(col) or isinstance(col.dtype, pd.PeriodDtype):
        return "datetime", None
    if cardinality <= 1:
        return "constant", f"constant: {cardinality} distinct value(s) carry no information (G-IN-4)"
    if pd.api.types.is_bool_dtype(col):
        return "boolean", None
    if isinstance(col.dtype, pd.CategoricalDtype):
        return "categorical", None
    if pd.api.types.is_numeric_dtype(col):
        if cardinality == n_rows and _is_numeric_identifier(name, values):
            return "identifier", "row identifier: a distinct whole number in every row cannot generalize (G-IN-4)"
        return "numeric", None
    if pd.api.types.is_object_dtype(col) and values.map(type).eq(bool).all():
        return "boolean", None
    strings = sample.astype(str)
    if cardinality <= 8 and {v.strip().lower() for v in values.astype(str).unique()} in _BOOLEAN_WORDS:
        return "boolean", None
    if _looks_like_dates(strings):
        iso = pd.Series(strings.unique()[:500]).str.fullmatch(DATETIME_PATTERN).mean()
        return "datetime", None if iso >= DATE_SHARE else NON_ISO_REASON
    if cardinality > TEXT_DISTINCT_SHARE * len(values) and \
            float(strings.str.strip().str.count(r"\s+").mean()) + 1 >= TEXT_MIN_WORDS:
        return "text", None
    if cardinality == len(values) >= (1 - 0.05) * n_rows:
        return "identifier", "row identifier: a distinct string in every row cannot generalize (G-IN-4)"
    if cardinality > ONEHOT_MAX_CARDINALITY and cardinality > NEAR_UNIQUE_SHARE * len(values):
        return "text", None
    return "categorical", None


def _is_numeric_identifier(name: str, values: pd.Series) -> bool:
    x = np.sort(values.to_numpy("float64"))
    if not np.all(x == np.round(x)):
        return False
    steps = np.diff(x)
    return bool(_ID_NAME.search(name)) or (len(steps) > 0 and bool(np.all(steps == steps[0])))


def _looks_like_dates(strings: pd.Series) -> bool:
    distinct = pd.Series(strings.unique()[:500])
    if distinct.empty or distinct.str.match(_DATE_LIKE).mean() < DATE_SHARE:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = pd.to_datetime(distinct, format="mixed", errors="coerce")
        except (ValueError, TypeError, OverflowError):
            return False
    return bool(parsed.notna().mean() >= DATE_SHARE)


def skewness(values: np.ndarray) -> float | None:
    """The sample skewness (bias-corrected, as pandas' ``skew``) of finite float64 values; None if undefined."""
    x = values[np.isfinite(values)]
    if len(x) < 3:
        return None
    with np.errstate(all="ignore"):
        return _finite(pd.Series(x).skew())


def is_skewed(skew: float | None) -> bool:
    """Whether a skewness calls for a log transform (|skew| > :data:`SKEW_THRESHOLD`, AA-FEAT-SKEW)."""
    return skew is not None and abs(skew) > SKEW_THRESHOLD


def _has_time(col: pd.Series, sample: pd.Series) -> bool:
    """Whether a date/time column's values (of the sample, for strings) carry a time of day."""
    if isinstance(col.dtype, pd.PeriodDtype):
        return False
    if not pd.api.types.is_datetime64_any_dtype(col):
        col = pd.to_datetime(sample.astype(str), format="mixed", errors="coerce", utc=True)
    stamps = col.dropna()
    return bool((stamps != stamps.dt.normalize()).any())


def profile_column(name: str, col: pd.Series, sample: pd.Series) -> ColumnProfile:
    """Profile one feature column: its kind, drop reason, statistics and encoded width (``sample``: the
    sampled rows of the same column, for the expensive checks)."""
    if pd.api.types.is_object_dtype(col):
        col, sample = col.infer_objects(), sample.infer_objects()  # numbers held as objects stay numbers
    values = col.dropna()
    n = len(col)
    missing = (n - len(values)) / n
    cardinality = _nunique(values)
    kind, reason = column_kind(name, col, values, cardinality, sample.dropna())
    if missing > MOSTLY_MISSING:
        reason = f"{missing:.0%} of values are missing (more than {MOSTLY_MISSING:.0%})"
    prof = ColumnProfile(name, str(col.dtype), kind, missing, cardinality, reason is None, reason)
    if kind == "numeric":
        x = values.to_numpy("float64")
        with np.errstate(all="ignore"):  # values near 1e308 overflow: their mean/std become None
            prof.min, prof.max, prof.mean = _finite(x.min()), _finite(x.max()), _finite(x.mean())
            prof.std = _finite(x.std(ddof=1)) if len(x) > 1 else None
        prof.skew = skewness(x)
    elif kind in ("categorical", "boolean"):
        counts = values.astype(str).value_counts().head(TOP_LEVELS)
        prof.top_levels = {str(k): int(v) for k, v in counts.items()}
    elif kind == "datetime" and prof.kept:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prof.has_time = _has_time(col, sample.dropna())
    if prof.kept:
        prof.encoded_width = encoded_width(kind, cardinality, missing > 0, prof.has_time)
    return prof
