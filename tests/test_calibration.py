"""Temperature scaling and the search's metrics (no TensorFlow)."""

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from autoann.metrics import DEFAULT_METRIC, SEARCH_METRICS, check_metric, search_score
from autoann.errors import ParameterError
from autoann.search._calibration import fit_temperature


def _overconfident(n: int = 400, k: int = 3, seed: int = 0):
    """Logits that rank well but are 5x too sharp: the true temperature is 5."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[codes]
    true_p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(k, p=p) for p in true_p])
    sharp = np.exp(5 * logits)
    return sharp / sharp.sum(axis=1, keepdims=True), labels


def test_an_overconfident_classifier_gets_a_temperature_above_one_and_a_lower_log_loss():
    proba, codes = _overconfident()
    found = fit_temperature(proba, codes)
    assert 3.5 < found.temperature < 7
    assert found.val_log_loss_after < 0.6 * found.val_log_loss_before


def test_binary_sigmoid_output_is_calibrated_like_two_logits():
    proba, codes = _overconfident(k=2)
    found = fit_temperature(proba[:, 1:], codes)
    assert found.temperature > 2 and found.val_log_loss_after < found.val_log_loss_before


def test_a_perfectly_classified_split_does_not_drive_the_temperature_to_zero():
    """Without the 1/n smoothing the optimum is T -> 0: every probability 0 or 1, infinite loss on the first error."""
    codes = np.array([0, 1, 2] * 20)
    proba = np.full((60, 3), 0.05)
    proba[np.arange(60), codes] = 0.9
    found = fit_temperature(proba, codes)
    sharpened = np.exp(np.log(proba) / found.temperature)
    sharpened /= sharpened.sum(axis=1, keepdims=True)
    assert found.temperature > 0.2
    assert sharpened.max() < 1 - 1e-4  # still a probability, not a certainty


def test_weights_count_as_repeated_rows():
    proba, codes = _overconfident(n=120, seed=1)
    weights = np.random.default_rng(2).integers(1, 4, len(codes))
    repeated = fit_temperature(np.repeat(proba, weights, axis=0), np.repeat(codes, weights))
    assert fit_temperature(proba, codes, weights).temperature == pytest.approx(repeated.temperature, rel=1e-3)


CLASSIFICATION_CASES = [
    ("accuracy", lambda y, p, w: skm.accuracy_score(y, p.argmax(1), sample_weight=w)),
    ("balanced_accuracy", lambda y, p, w: skm.balanced_accuracy_score(y, p.argmax(1), sample_weight=w)),
    ("f1_macro", lambda y, p, w: skm.f1_score(y, p.argmax(1), average="macro", sample_weight=w)),
    ("log_loss", lambda y, p, w: skm.log_loss(y, p, sample_weight=w)),
    ("roc_auc", lambda y, p, w: skm.roc_auc_score(y, p, multi_class="ovr", sample_weight=w)),
]


@pytest.mark.parametrize(("metric", "reference"), CLASSIFICATION_CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_the_search_scores_classifiers_with_scikit_learns_functions(metric, reference, weighted):
    proba, codes = _overconfident(n=90, seed=3)
    w = np.linspace(0.5, 2, len(codes)) if weighted else None
    assert search_score(metric, "multiclass", codes, proba, w) == pytest.approx(reference(codes, proba, w))


@pytest.mark.parametrize(("metric", "reference"), [
    ("r2", skm.r2_score), ("mae", skm.mean_absolute_error),
    ("rmse", lambda y, p: math.sqrt(skm.mean_squared_error(y, p))),
])
def test_the_search_scores_regressors_with_scikit_learns_functions(metric, reference):
    rng = np.random.default_rng(4)
    y = rng.normal(size=(50, 1))
    pred = y + rng.normal(scale=0.3, size=(50, 1))
    assert search_score(metric, "regression", y, pred) == pytest.approx(reference(y, pred))


def test_binary_output_is_one_probability_column():
    codes = np.array([0, 1, 1, 0, 1])
    p1 = np.array([[0.2], [0.7], [0.4], [0.1], [0.9]])
    assert search_score("accuracy", "binary", codes.astype("float32").reshape(-1, 1), p1) == pytest.approx(0.8)
    assert search_score("roc_auc", "binary", codes, p1) == pytest.approx(skm.roc_auc_score(codes, p1[:, 0]))


def test_roc_auc_of_a_split_missing_a_class_is_nan_not_an_error():
    proba, _ = _overconfident(n=6)
    assert math.isnan(search_score("roc_auc", "multiclass", np.array([0, 0, 1, 1, 0, 1]), proba))


@pytest.mark.parametrize("task", sorted(DEFAULT_METRIC))
def test_every_task_has_a_default_among_its_metrics_and_refuses_the_others(task):
    kind = "classification" if task in ("binary", "multiclass") else "regression"
    assert DEFAULT_METRIC[task] in SEARCH_METRICS[kind]
    for metric in SEARCH_METRICS[kind]:
        check_metric(metric, task)
    other = SEARCH_METRICS["regression" if kind == "classification" else "classification"]
    for metric in other:
        with pytest.raises(ParameterError, match=f"does not apply to a {task} target"):
            check_metric(metric, task)
