"""Temperature scaling of a classifier's probabilities, fitted on the validation split.

Early stopping on a small table leaves networks over-confident (served
probabilities of 1e-15 for the other classes): one temperature, fitted to
minimize the validation log-loss (Guo et al. 2017, "On Calibration of Modern
Neural Networks"), softens them without changing any predicted class. The
exported model applies it in :class:`autoann.layers.TemperatureScaling`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: the temperature is searched on log scale within [1/LIMIT, LIMIT]
LIMIT = 100.0


@dataclass(frozen=True)
class Calibration:
    temperature: float
    val_log_loss_before: float
    val_log_loss_after: float
    smoothing: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return {"method": "temperature", "temperature": round(self.temperature, 6),
                "val_log_loss_before": round(self.val_log_loss_before, 6),
                "val_log_loss_after": round(self.val_log_loss_after, 6), "label_smoothing": round(self.smoothing, 6)}

    def describe(self) -> str:
        return (f"probabilities calibrated by temperature scaling (T = {self.temperature:.3g}, fitted on the "
                f"validation split with labels smoothed by {self.smoothing:.2g}, so that a split classified without "
                f"an error does not make every probability 0 or 1): validation log-loss "
                f"{self.val_log_loss_before:.4g} -> {self.val_log_loss_after:.4g}")


def _logits(proba: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(proba, dtype="float64"), 1e-7, 1 - 1e-7)
    if p.shape[1] == 1:
        return np.column_stack([np.zeros(len(p)), np.log(p[:, 0]) - np.log1p(-p[:, 0])])
    return np.log(p)


def _log_loss(logits: np.ndarray, codes: np.ndarray, weights: np.ndarray | None, smoothing: float = 0.0) -> float:
    """Cross-entropy against the labels, each moved ``smoothing`` towards the uniform distribution."""
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    losses = -(1 - smoothing) * log_p[np.arange(len(codes)), codes] - smoothing * log_p.mean(axis=1)
    return float(np.average(losses, weights=weights))


def fit_temperature(proba: np.ndarray, codes: np.ndarray, weights: np.ndarray | None = None) -> Calibration:
    """The temperature minimizing the (weighted) log-loss of ``proba`` (network output) against class ``codes``.

    The labels are smoothed by 1/n (n validation rows, or their total weight): a validation split the
    network classifies without an error says its error rate is below about 1/n,
    not zero, so the fit cannot drive the temperature to 0 and every
    probability to 0 or 1 (what the unsmoothed optimum does on a small, perfectly
    classified split).
    """
    from scipy.optimize import minimize_scalar

    logits = _logits(np.asarray(proba).reshape(len(codes), -1))
    codes = np.asarray(codes).astype("int64").ravel()
    w = None if weights is None else np.asarray(weights, dtype="float64").ravel()
    smoothing = 1.0 / max(len(codes) if w is None else float(w.sum()), 1.0)  # n, or the weights' total
    found = minimize_scalar(lambda log_t: _log_loss(logits / np.exp(log_t), codes, w, smoothing),
                            bounds=(-np.log(LIMIT), np.log(LIMIT)), method="bounded")
    temperature = float(np.exp(found.x))
    return Calibration(temperature, _log_loss(logits, codes, w), _log_loss(logits / temperature, codes, w), smoothing)
