"""The :class:`Dataset` the data stage hands on, and the steps every kind of input shares to make one.

A Dataset remembers which rows of the input it kept (those with a complete
target), so per-row inputs given alongside the data, such as sample weights,
are matched to the rows once, here, without reading the data again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from autoann.data._weights import align_sample_weight, check_sample_weight
from autoann.errors import DataError

if TYPE_CHECKING:
    from autoann.data._images import ImageSet

#: Fewer rows with a target than this cannot be split into train/validation/test.
MIN_ROWS = 10
#: A class needs this many rows for a stratified train/validation/test split to hold one out in each.
MIN_PER_CLASS = 3
#: Target names given to an array ``y`` when a feature already has the plain name ``y`` (or ``y0``, ...).
RESERVED = "__autoann_target__"


@dataclass
class Dataset:
    """Features and target(s) of one dataset, with the task and why it was chosen."""

    features: pd.DataFrame  # raw feature columns, original dtypes, rows with a missing target removed
    target: pd.DataFrame  # one column per target
    target_names: list[str]
    task: str  # binary | multiclass | regression | multi_regression
    task_reason: str  # one sentence: why this task (inferred, overridden, or set by an estimator)
    source: str  # the path, "<DataFrame>" or "<array>"
    #: one bool per row of the input: True where its target was complete, so the row was kept (None: all kept)
    kept_rows: np.ndarray | None = None
    #: one non-negative weight per kept row, or None (unweighted); see :meth:`with_sample_weight`
    sample_weight: np.ndarray | None = None
    #: image data: the decoded images, one per row of ``target``; ``features`` then holds only the image
    #: files' paths (column "file") for folder input
    images: ImageSet | None = None

    def __post_init__(self) -> None:
        n = len(self.target)
        self.kept_rows = np.ones(n, bool) if self.kept_rows is None else np.asarray(self.kept_rows, bool)
        if int(self.kept_rows.sum()) != n:
            raise DataError(f"kept_rows marks {int(self.kept_rows.sum())} rows as kept but the Dataset holds {n}; "
                            "build Datasets with autoann.load_data.")
        if self.sample_weight is not None and len(self.sample_weight) != n:
            raise DataError(f"The Dataset's sample_weight has {len(self.sample_weight)} values for {n} rows; "
                            "give weights with load_data(..., sample_weight=...), one per row of the data.")

    @property
    def n_rows_dropped_missing_target(self) -> int:
        """Rows of the input left out because (one of) their target value(s) was missing."""
        return int(len(self.kept_rows) - self.kept_rows.sum())

    def with_sample_weight(self, sample_weight: Any) -> Dataset:
        """This Dataset weighted by ``sample_weight``: one weight per row of the *input*, dropped rows included.

        The weights are checked (:func:`check_sample_weight`) and those of the
        rows without a target dropped with them.
        """
        weights = align_sample_weight(check_sample_weight(sample_weight), self.kept_rows)
        return replace(self, sample_weight=weights)


def rows_with_target(y: pd.DataFrame, what: str, fix: str) -> np.ndarray:
    """The mask of the rows of ``y`` with every target value; refuses fewer than :data:`MIN_ROWS` of them."""
    has_target = y.notna().all(axis=1).to_numpy()
    kept = int(has_target.sum())
    if kept < MIN_ROWS:
        raise DataError(f"Only {kept} {what} have a target value ({len(has_target) - kept} are missing it); "
                        f"autoann needs at least {MIN_ROWS}. {fix}")
    return has_target


def array_target_names(y: Any, features: Sequence[str] = ()) -> list[str]:
    """Names of the target column(s) of an array ``y``: ``y``, or ``y0..yK`` for several.

    When a feature already has such a name, the reserved :data:`RESERVED`
    names are used instead, so a target never shadows a feature in a run's metadata.
    """
    y = np.asarray(y)
    several = not (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1))
    for prefix in ("y", RESERVED):
        names = [f"{prefix}{i}" for i in range(y.shape[1])] if several else [prefix]
        if not set(names) & set(features):
            return names
    raise DataError(f"Rename the feature(s) {sorted(set(names) & set(features))}: autoann reserves those names "
                    "for the target.")
