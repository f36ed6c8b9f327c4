"""Test and validation metrics from raw model output, and the learning-curve verdict.

:func:`evaluate_predictions` scores what a model returns (see
:mod:`autoann.export._run_dir` for the output conventions) against true labels or
values, with scikit-learn's metrics, so the numbers in ``metadata.json``,
``autoann evaluate`` and the estimators all mean the same thing.
:func:`verdict` reads the final model's learning curves the way guideline
G-PROC-2 asks: a large train/validation gap means over-fitting, both poor with
no gap means under-fitting.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import numpy as np

from autoann.data import CLASSIFICATION
from autoann.errors import DataError, ParameterError, did_you_mean
from autoann.params import METRICS

PRIMARY = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "rmse", "multi_regression": "rmse"}

#: what ``--metric`` / ``metric=`` may name, per kind of task: the search objective on the validation split,
#: computed by :func:`search_score` with the same scikit-learn functions that report the test split
SEARCH_METRICS = {
    "classification": ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss"),
    "regression": ("r2", "rmse", "mae"),
}
assert set(METRICS) - {None} == {m for names in SEARCH_METRICS.values() for m in names}
#: the metric a search optimizes when the user names none: what the estimators' ``score`` reports
DEFAULT_METRIC = {"binary": "accuracy", "multiclass": "accuracy", "regression": "r2", "multi_regression": "r2"}

# G-PROC-2 thresholds, on the loss curves (the loss is the one curve every task
# has and where lower is always better). Gaps are relative to the training loss.
OVERFIT_GAP = 0.25     # validation loss 25 % above the training loss at the last epoch...
GAP_OF_START = 0.05    # ...by at least 5 % of the first validation loss (near-zero losses differ by tiny amounts)
OVERFIT_RISE = 0.25    # or the validation loss gave back 25 % of what it had gained since epoch 1: it turned up
NO_GAP = 0.10          # within 10 % of each other: "no gap"
POOR_OF_CHANCE = 0.80  # "poor": validation loss still above 80 % of a predict-the-prior model's loss
MIN_GAIN = 0.05        # without a chance level, "poor" = validation loss fell < 5 % after epoch 1
MIN_EPOCHS = 3         # fewer epochs than this: too short to judge a trend


def primary_metric(task: str) -> str:
    """The metric autoann headlines for ``task`` (roc_auc, accuracy or rmse)."""
    return PRIMARY[task]


def metrics_for(task: str) -> tuple[str, ...]:
    """The metrics a search on ``task`` can optimize."""
    return SEARCH_METRICS["classification" if task in CLASSIFICATION else "regression"]


def check_metric(metric: str, task: str) -> None:
    """Refuse a ``--metric`` / ``metric=`` that a ``task`` search cannot optimize, naming the ones it can."""
    allowed = metrics_for(task)
    if metric not in allowed:
        raise ParameterError(f"--metric {metric} does not apply to a {task} target{did_you_mean(metric, allowed)}; "
                             f"choose one of {', '.join(allowed)} (default {DEFAULT_METRIC[task]}).")


def search_score(metric: str, task: str, y_true: np.ndarray, output: Any,
                 sample_weight: np.ndarray | None = None) -> float:
    """``metric`` of raw network ``output`` against encoded ``y_true`` (class codes, or target values).

    The validation objective of every trial. Regression errors are in the
    units the network learns (standardized targets keep the ranking of models).
    ``roc_auc`` is one-vs-rest for multiclass; a class missing from ``y_true``
    gives NaN rather than an error (the trial is then not ranked on it).
    """
    from sklearn import metrics as m

    w = None if sample_weight is None else np.asarray(sample_weight, dtype="float64").ravel()
    if task in CLASSIFICATION:
        codes = np.asarray(y_true).astype("int64").ravel()
        k = 2 if task == "binary" else np.asarray(output).shape[-1]
        proba = probabilities(output, k)
        pred = proba.argmax(axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # absent classes, ill-defined precision
            if metric == "accuracy":
                return float(m.accuracy_score(codes, pred, sample_weight=w))
            if metric == "balanced_accuracy":
                return float(m.balanced_accuracy_score(codes, pred, sample_weight=w))
            if metric == "f1_macro":
                return float(m.f1_score(codes, pred, average="macro", zero_division=0, sample_weight=w))
            if metric == "log_loss":
                return float(m.log_loss(codes, np.clip(proba, 1e-15, 1.0), labels=list(range(k)), sample_weight=w))
            if metric == "roc_auc":
                if len(np.unique(codes)) < k:
                    return math.nan
                if k == 2:
                    return float(m.roc_auc_score(codes, proba[:, 1], sample_weight=w))
                return float(m.roc_auc_score(codes, proba, multi_class="ovr", labels=list(range(k)), sample_weight=w))
    else:
        truth = np.asarray(y_true, dtype="float64").reshape(len(y_true), -1)
        pred = np.asarray(output, dtype="float64").reshape(len(truth), -1)
        if metric == "r2":
            return float(m.r2_score(truth, pred, sample_weight=w))
        if metric == "rmse":
            return math.sqrt(m.mean_squared_error(truth, pred, sample_weight=w))
        if metric == "mae":
            return float(m.mean_absolute_error(truth, pred, sample_weight=w))
    raise ValueError(f"{metric!r} is not a metric for a {task} search; choose one of {', '.join(metrics_for(task))}.")


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is better (False for losses and errors)."""
    return metric not in ("log_loss", "rmse", "mae", "loss", "mse")


def probabilities(output: Any, n_classes: int) -> np.ndarray:
    """Raw classifier output -> (N, K) probabilities; binary (N, 1) becomes [1 - p, p]."""
    out = np.asarray(output, dtype="float64")
    out = out.reshape(-1, 1) if out.ndim == 1 else out
    if n_classes == 2 and out.shape[1] == 1:
        p = np.clip(out[:, 0], 0.0, 1.0)
        return np.column_stack([1.0 - p, p])
    out = np.clip(out, 0.0, None)
    total = out.sum(axis=1, keepdims=True)
    return np.divide(out, total, out=np.full_like(out, 1.0 / max(out.shape[1], 1)), where=total > 0)


def label_codes(y_true: Any, classes: Sequence[str]) -> np.ndarray:
    """Map labels in any dtype (str, int, bool, float) to indices into ``classes`` (str).

    Labels are compared as text, the way training stored them: ``3`` and
    ``3.0`` both match the class ``"3"``, ``True`` matches ``"True"``.
    """
    index = {c: i for i, c in enumerate(classes)}
    values = np.asarray(y_true, dtype=object).reshape(-1)
    codes = np.empty(len(values), dtype="int64")
    unknown: list[Any] = []
    for i, v in enumerate(values.tolist()):
        code = index.get(str(v))
        if code is None and isinstance(v, float) and v.is_integer():
            code = index.get(str(int(v)))
        if code is None:
            unknown.append(v)
            code = -1
        codes[i] = code
    if unknown:
        shown = ", ".join(repr(v) for v in list(dict.fromkeys(map(str, unknown)))[:5])
        raise DataError(
            f"{len(unknown)} label(s) are not among the model's classes {list(classes)}: e.g. {shown}. "
            "Evaluate on data with the classes the model was trained on."
        )
    return codes


def evaluate_predictions(task: str, y_true: Any, output: Any, classes: Sequence[str] | None) -> dict[str, float]:
    """Score raw model ``output`` against ``y_true``.

    Classification (``classes`` = the model's labels as text): accuracy,
    balanced_accuracy, f1 (binary, positive = ``classes[1]``) or f1_macro,
    log_loss, and roc_auc when it is defined (both classes present; for
    multiclass, one-vs-rest when every class is present). Regression:
    rmse, mae and r2, averaged over targets for multi_regression.
    """
    if len(np.asarray(output)) != len(np.asarray(y_true)):
        raise DataError(f"{len(np.asarray(y_true))} true values but {len(np.asarray(output))} predictions; "
                        "pass one target value per row.")
    if len(np.asarray(y_true)) == 0:
        raise DataError("No rows to evaluate: the data is empty (or every target value is missing).")
    if task in CLASSIFICATION:
        if not classes:
            raise DataError(f"A {task} model needs its classes to be evaluated; metadata.json has none.")
        return _classification(task, label_codes(y_true, classes), probabilities(output, len(classes)))
    return _regression(y_true, output)


def _classification(task: str, codes: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    from sklearn import metrics as m

    k = proba.shape[1]
    pred = proba.argmax(axis=1)
    present = np.unique(codes)
    out: dict[str, float] = {"accuracy": m.accuracy_score(codes, pred)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns when a class is absent from y_true
        out["balanced_accuracy"] = m.balanced_accuracy_score(codes, pred)
        if task == "binary":
            out["f1"] = m.f1_score(codes, pred, pos_label=1, average="binary", zero_division=0)
        out["f1_macro"] = m.f1_score(codes, pred, average="macro", zero_division=0)
        out["log_loss"] = m.log_loss(codes, np.clip(proba, 1e-15, 1.0), labels=list(range(k)))
    if task == "binary" and len(present) == 2:
        out["roc_auc"] = m.roc_auc_score(codes, proba[:, 1])
    elif task == "multiclass" and len(present) == k:
        out["roc_auc"] = m.roc_auc_score(codes, proba, multi_class="ovr", labels=list(range(k)))
    return {name: float(value) for name, value in out.items()}


def _regression(y_true: Any, output: Any) -> dict[str, float]:
    from sklearn import metrics as m

    try:
        truth = np.asarray(y_true, dtype="float64")
    except (TypeError, ValueError):
        raise DataError("Regression targets must be numbers; some true values are text. "
                        "Check the --target column.") from None
    pred = np.asarray(output, dtype="float64")
    truth = truth.reshape(len(truth), -1)
    pred = pred.reshape(len(pred), -1)
    if truth.shape[1] != pred.shape[1]:
        raise DataError(f"The model predicts {pred.shape[1]} target(s) but {truth.shape[1]} were given.")
    if not np.isfinite(truth).all():
        raise DataError("Some true target values are missing or infinite; drop those rows before evaluating.")
    out = {
        "rmse": math.sqrt(m.mean_squared_error(truth, pred)),
        "mae": m.mean_absolute_error(truth, pred),
    }
    if len(truth) >= 2:
        out["r2"] = m.r2_score(truth, pred)
    return {name: float(value) for name, value in out.items()}


def chance_loss(task: str, loss: str | None, n_classes: int | None = None,
                target_scaling: str | None = None) -> float | None:
    """The loss of a model that ignores its inputs, when it is known (G-PROC-2's sanity check).

    Cross-entropy: ln K for K (class-weighted, hence balanced) classes.
    Standardized regression targets: 1.0 for mse, sqrt(2/pi) for mae (normal
    targets). Otherwise ``None``.
    """
    cross_entropy = (None, "binary_crossentropy", "sparse_categorical_crossentropy")
    if task in CLASSIFICATION and n_classes and loss in cross_entropy:
        return math.log(n_classes)
    if task not in CLASSIFICATION and target_scaling in (None, "standardize", "log_standardize"):
        return {"mse": 1.0, "mae": math.sqrt(2.0 / math.pi)}.get(loss or "mse")
    return None


def verdict(history: dict[str, list[float]], metric: str | None = None, chance: float | None = None) -> str:
    """One line on the final model's learning curves (G-PROC-2), with the numbers it used.

    The diagnosis uses the loss curves (``loss``/``val_loss``); ``metric``
    (e.g. ``"auc"`` or ``"val_auc"``), when both its curves exist, is quoted
    alongside. ``chance`` is the loss of a predict-the-prior model
    (:func:`chance_loss`), used to call the fit "poor".
    """
    train, val = list(history.get("loss") or []), list(history.get("val_loss") or [])
    if not train or not val:
        return "No learning curves were recorded (no loss / val_loss history): no verdict."
    epochs = min(len(train), len(val))
    t_end, v_end, v_first = float(train[epochs - 1]), float(val[epochs - 1]), float(val[0])
    v_best = float(min(val[:epochs]))
    if not all(math.isfinite(x) for x in (t_end, v_end, v_best, v_first)):
        return f"The loss is not finite at epoch {epochs} (diverged): no verdict."
    gap = (v_end - t_end) / max(abs(t_end), 1e-12)
    gained = v_first - v_best
    given_back = (v_end - v_best) / gained if gained > 0 else 0.0
    numbers = (f"after {epochs} epoch(s): train loss {t_end:.4g}, validation loss {v_end:.4g} (gap {gap:+.0%}; "
               f"best validation loss {v_best:.4g}, first {v_first:.4g})")
    key = (metric or "").removeprefix("val_")
    if key and key != "loss" and history.get(key) and history.get(f"val_{key}"):
        t_metric, v_metric = float(history[key][-1]), float(history[f"val_{key}"][-1])
        numbers += f"; train {key} {t_metric:.4g}, validation {key} {v_metric:.4g}"
    if epochs < MIN_EPOCHS:
        return f"Too few epochs to judge the fit (G-PROC-2) {numbers}."
    if gap > OVERFIT_GAP and v_end - t_end > GAP_OF_START * abs(v_first):
        return (f"Over-fitting (G-PROC-2): validation loss well above training loss {numbers}. "
                "More regularization (dropout, L2, fewer units) or more data should help.")
    if given_back > OVERFIT_RISE:
        return (f"Over-fitting (G-PROC-2): the validation loss turned back up, giving back {given_back:.0%} of its "
                f"improvement {numbers}. More regularization or earlier stopping should help.")
    if abs(gap) <= NO_GAP:
        if chance is not None and v_end > POOR_OF_CHANCE * chance:
            return (f"Under-fitting (G-PROC-2): both losses poor (chance level {chance:.4g}) with no gap "
                    f"{numbers}. More capacity (units, layers) or more epochs should help.")
        if chance is None and gained < MIN_GAIN * max(abs(v_first), 1e-12):
            return (f"Under-fitting (G-PROC-2): the validation loss barely fell, with no gap "
                    f"{numbers}. More capacity (units, layers) or a higher learning rate should help.")
    return f"Good fit (G-PROC-2): no large train/validation gap and no sign of a poor fit {numbers}."
