"""Suspected target leaks: a feature that alone predicts the target almost perfectly (G-IN-4).

Such a column is usually derived from the target or recorded after it; the
profiler flags it (and rule IN-LEAK-WARNING adds a note) rather than dropping
it, because only the user knows how the data was collected. Nothing here
imports scikit-learn or TensorFlow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autoann.data import CLASSIFICATION

LEAK_WARNING = "suspected leak"
LEAK_ERROR = 0.01  # a column whose majority-vote error is at most this ...
LEAK_ERROR_CUT = 0.1  # ... and at most this fraction of the majority-class baseline's error is a suspected leak
LEAK_SPEARMAN = 0.995  # regression: |Spearman correlation| at or above this is a suspected leak
LEAK_GROUPS = 20  # classification leak check: numeric columns with more distinct values are checked by
#                   neighbours in sorted order (a threshold leak defeats quantile bins), others by value


def _loo_majority_accuracy(groups: np.ndarray, classes: np.ndarray, n_classes: int) -> float:
    """Leave-one-out accuracy of predicting each row's class by the majority class of its group.

    Leaving the row out means a level seen once (an id-like column) predicts nothing,
    so memorizing many small groups does not look like a leak. Ties count as wrong.
    """
    n_groups = int(groups.max()) + 1
    m = np.bincount(groups * n_classes + classes, minlength=n_groups * n_classes).reshape(n_groups, n_classes)
    ordered = np.sort(m, axis=1)
    top1 = ordered[:, -1:]
    top2 = ordered[:, -2:-1] if n_classes > 1 else np.zeros_like(top1)
    other = np.where(m == top1, top2, top1)  # best competing class for a row of each cell
    return float((m * ((m - 1) > other)).sum() / len(groups))


def _group_codes(col: pd.Series) -> np.ndarray:
    """One code per distinct value (missing is a value of its own)."""
    return pd.factorize(col.astype(str).where(col.notna(), None), use_na_sentinel=False)[0]


def _neighbour_accuracy(x: pd.Series, classes: np.ndarray) -> float:
    """Share of rows, sorted by ``x``, whose class equals the previous row's: the accuracy of
    predicting a row by its nearest value. A column that separates the classes by thresholds
    scores ~1 - (thresholds / rows); an unrelated column scores the sum of squared class shares.
    Ties are put in a fixed random order, so tied values cannot sort themselves by class."""
    keep = x.notna().to_numpy()
    values, labels = x.to_numpy("float64")[keep], classes[keep]
    if len(values) < 2:
        return 0.0
    shuffle = np.random.default_rng(0).permutation(len(values))
    order = shuffle[np.argsort(values[shuffle], kind="stable")]
    ordered = labels[order]
    return float(np.mean(ordered[1:] == ordered[:-1]))


def leak_warning(col: pd.Series, kind: str, target: pd.DataFrame, task: str) -> str | None:
    """A warning if ``col`` alone predicts the target almost perfectly (G-IN-4), else None.

    Classification: the column predicts the class by leave-one-out majority vote per
    value, or, for a numeric column with more than :data:`LEAK_GROUPS` values, by the
    class of the nearest value (:func:`_neighbour_accuracy`). A leak has an error of at
    most 1% and at most a tenth of the majority-class baseline's error; with fewer than
    ~100 rows no column can pass, by design. Regression: |Spearman| >= 0.995 with a target.
    """
    if task in CLASSIFICATION:
        classes, labels = pd.factorize(target.iloc[:, 0].map(str))
        if len(labels) < 2:
            return None
        if kind == "numeric" and col.nunique() > LEAK_GROUPS:
            accuracy = _neighbour_accuracy(pd.to_numeric(col, errors="coerce"), classes)
        else:
            accuracy = _loo_majority_accuracy(_group_codes(col), classes, len(labels))
        baseline = np.bincount(classes).max() / len(classes)
        if 1 - accuracy <= min(LEAK_ERROR, LEAK_ERROR_CUT * (1 - baseline)):
            return (f"{LEAK_WARNING}: this column alone predicts the target with {accuracy:.1%} accuracy "
                    f"(majority class: {baseline:.1%}); check it is not derived from the target or recorded "
                    f"after it, and drop it if so (G-IN-4)")
        return None
    if kind != "numeric":
        return None
    x = pd.to_numeric(col, errors="coerce")
    for name in target.columns:
        both = x.notna() & target[name].notna()
        if both.sum() < 3:
            continue
        a, b = x[both].rank().to_numpy(), target[name][both].astype("float64").rank().to_numpy()
        if a.std() == 0 or b.std() == 0:
            continue
        rho = float(np.corrcoef(a, b)[0, 1])
        if abs(rho) >= LEAK_SPEARMAN:
            return (f"{LEAK_WARNING}: Spearman correlation {rho:+.3f} with target {name!r}; check it is not "
                    f"derived from the target or recorded after it, and drop it if so (G-IN-4)")
    return None
