"""Per-row sample weights: checked once, matched to the rows kept, split with them, rescaled.

``fit_run(sample_weight=...)`` (and the estimators' ``fit``) take one weight
per row. Rows whose target is missing are dropped by ``load_data`` together
with their weight, by the kept-row mask the Dataset carries (the data is never
read twice); each split's weights are rescaled to average 1 so the loss stays on
the scale the learning-rate ranges assume.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autoann.errors import DataError


def check_sample_weight(sample_weight: Any) -> np.ndarray:
    """``sample_weight`` as a 1-D float64 array of finite, non-negative numbers, or a DataError."""
    try:
        weights = np.asarray(sample_weight, dtype="float64")
    except (TypeError, ValueError) as exc:
        raise DataError(f"sample_weight must be numbers, one per row; cannot read it as numbers ({exc}).") from None
    if weights.ndim == 2 and weights.shape[1] == 1:
        weights = weights[:, 0]
    if weights.ndim != 1:
        raise DataError(f"sample_weight must be 1-D, one weight per row; got shape {weights.shape}.")
    bad = ~np.isfinite(weights)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(f"sample_weight must be finite; {len(rows)} value(s) are NaN or infinite "
                        f"(row(s) {', '.join(map(str, rows[:5]))}{', ...' if len(rows) > 5 else ''}). "
                        "Give those rows a number (0 leaves a row out of training).")
    negative = weights < 0
    if negative.any():
        rows = np.flatnonzero(negative)
        raise DataError(f"sample_weight must be >= 0; {len(rows)} value(s) are negative "
                        f"(row(s) {', '.join(map(str, rows[:5]))}{', ...' if len(rows) > 5 else ''}: "
                        f"{', '.join(f'{w:g}' for w in weights[rows[:5]])}). Use 0 to leave a row out.")
    if len(weights) and not weights.sum() > 0:
        raise DataError("sample_weight is 0 for every row: there is nothing to train on. "
                        "Give the rows to learn from a positive weight.")
    return weights


def align_sample_weight(weights: np.ndarray, kept_rows: np.ndarray) -> np.ndarray:
    """The weights of the rows kept: ``weights`` has one value per row of the data as given,
    ``kept_rows`` marks the rows ``load_data`` kept (those with a complete target)."""
    if len(weights) != len(kept_rows):
        raise DataError(f"sample_weight has {len(weights)} values but the data has {len(kept_rows)} rows; "
                        "give one weight per row, in the rows' order.")
    return weights if kept_rows.all() else weights[kept_rows]
