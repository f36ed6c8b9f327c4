"""Whether Hyperband's best trial really beats the default network, or only validated better by luck.

The search ranks every trial on one validation split. On a few dozen rows
that score is noisy, and the best of many trials is the one luck favoured
most (its validation score overstates it: Cawley & Talbot 2010). The
default network is a strong configuration chosen before looking at the data,
so with ``selection_confidence`` set (rule SEARCH-KEEP-DEFAULT,
AA-SEARCH-KEEP-DEFAULT) a trial replaces it only when it scores better on
that share of bootstrap resamples of the validation rows, both networks
scored on the same resampled rows (a paired comparison).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoann.metrics import higher_is_better, search_score

RESAMPLES = 200


@dataclass(frozen=True)
class Comparison:
    """The paired bootstrap of a challenger against the incumbent on the validation rows."""

    metric: str
    rows: int
    incumbent: float
    challenger: float
    share: float  # resamples on which the challenger scored better, ties counting half
    confidence: float  # the share the challenger needs

    @property
    def challenger_kept(self) -> bool:
        return self.share >= self.confidence

    def describe(self, incumbent: str, challenger: str) -> str:
        """One sentence for the run's notes: what was kept and why."""
        scores = f"{challenger} validated {self.metric} {self.challenger:.4g} against {self.incumbent:.4g}"
        test = (f"it scored better on {self.share:.0%} of {RESAMPLES} bootstrap resamples of the {self.rows} "
                f"validation rows (selection_confidence {self.confidence:g})")
        if self.challenger_kept:
            return f"kept {challenger}: {scores}; {test}"
        return f"kept {incumbent}: {scores}, but {test}: the difference is within the validation split's noise"


def compare(metric: str, task: str, y_val: np.ndarray, incumbent_output: np.ndarray,
            challenger_output: np.ndarray, w_val: np.ndarray | None = None, *, confidence: float,
            seed: int = 0) -> Comparison:
    """Score both networks' validation outputs on the same bootstrap resamples of the rows."""
    y, weights = np.asarray(y_val), None if w_val is None else np.asarray(w_val)
    outputs = np.asarray(incumbent_output), np.asarray(challenger_output)
    sign = 1.0 if higher_is_better(metric) else -1.0

    def scores(rows: np.ndarray | slice) -> tuple[float, float]:
        w = None if weights is None else weights[rows]
        incumbent, challenger = (search_score(metric, task, y[rows], out[rows], w) for out in outputs)
        return incumbent, challenger

    def win(rows: np.ndarray) -> float:
        """1 if the challenger scores better on ``rows``, 0.5 on a tie, 0 if worse, NaN if undefined."""
        incumbent, challenger = scores(rows)
        gain = sign * (challenger - incumbent)
        return gain if np.isnan(gain) else float(np.sign(gain) + 1) / 2

    n = len(y)
    rng = np.random.default_rng(seed)
    wins = np.array([win(rng.integers(0, n, n)) for _ in range(RESAMPLES)])
    wins = wins[~np.isnan(wins)]  # e.g. roc_auc on a resample that misses a class
    return Comparison(metric, n, *scores(slice(None)), float(wins.mean()) if len(wins) else 0.0, confidence)
