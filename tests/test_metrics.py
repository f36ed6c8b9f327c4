"""Metrics from raw model output, and the G-PROC-2 learning-curve verdict (no TensorFlow)."""

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from autoann import metrics
from autoann.errors import DataError


def test_binary_metrics_from_one_probability_column():
    y = np.array(["no", "yes", "yes", "no", "yes"])
    p = np.array([[0.2], [0.9], [0.4], [0.3], [0.7]])
    out = metrics.evaluate_predictions("binary", y, p, ["no", "yes"])
    codes = (y == "yes").astype(int)
    assert out["accuracy"] == pytest.approx(0.8)
    assert out["f1"] == pytest.approx(skm.f1_score(codes, (p[:, 0] > 0.5).astype(int)))
    assert out["roc_auc"] == pytest.approx(skm.roc_auc_score(codes, p[:, 0]))
    assert out["log_loss"] == pytest.approx(skm.log_loss(codes, p[:, 0]))
    assert set(out) == {"accuracy", "balanced_accuracy", "f1", "f1_macro", "roc_auc", "log_loss"}
    assert all(type(v) is float for v in out.values())


@pytest.mark.parametrize("labels", [[0, 1, 1], [0.0, 1.0, 1.0], np.array([0, 1, 1], dtype="int64")])
def test_labels_in_the_users_dtype_match_text_classes(labels):
    out = metrics.evaluate_predictions("binary", labels, [[0.1], [0.8], [0.6]], ["0", "1"])
    assert out["accuracy"] == 1.0


def test_bool_labels_match_text_classes():
    out = metrics.evaluate_predictions("binary", [False, True], [[0.1], [0.8]], ["False", "True"])
    assert out["accuracy"] == 1.0


def test_roc_auc_is_left_out_when_only_one_class_is_present():
    out = metrics.evaluate_predictions("binary", ["yes", "yes"], [[0.1], [0.8]], ["no", "yes"])
    assert "roc_auc" not in out and out["accuracy"] == 0.5


def test_multiclass_metrics():
    y = ["a", "b", "c", "a"]
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.2, 0.5, 0.3]])
    out = metrics.evaluate_predictions("multiclass", y, p, ["a", "b", "c"])
    codes = [0, 1, 2, 0]
    assert out["accuracy"] == pytest.approx(0.75)
    assert out["f1_macro"] == pytest.approx(skm.f1_score(codes, p.argmax(1), average="macro"))
    assert out["roc_auc"] == pytest.approx(skm.roc_auc_score(codes, p, multi_class="ovr"))
    partial = metrics.evaluate_predictions("multiclass", ["a", "b"], p[:2], ["a", "b", "c"])
    assert "roc_auc" not in partial and math.isfinite(partial["log_loss"])


def test_unknown_labels_are_a_data_error():
    with pytest.raises(DataError, match="not among the model's classes.*'maybe'"):
        metrics.evaluate_predictions("binary", ["no", "maybe"], [[0.1], [0.2]], ["no", "yes"])


def test_regression_and_multi_regression():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array([[1.5], [2.0], [2.5], [4.0]])
    out = metrics.evaluate_predictions("regression", y, pred, None)
    assert out["rmse"] == pytest.approx(math.sqrt(0.125))
    assert out["mae"] == pytest.approx(0.25)
    assert out["r2"] == pytest.approx(skm.r2_score(y, pred[:, 0]))
    y2 = np.column_stack([y, 10 * y])
    p2 = np.column_stack([pred[:, 0], 10 * y])
    out2 = metrics.evaluate_predictions("multi_regression", y2, p2, None)
    assert out2["mae"] == pytest.approx(0.125)
    assert out2["r2"] == pytest.approx(skm.r2_score(y2, p2))


def test_bad_targets_are_data_errors():
    with pytest.raises(DataError, match="missing or infinite"):
        metrics.evaluate_predictions("regression", [1.0, np.nan], [[1.0], [2.0]], None)
    with pytest.raises(DataError, match="1 true values but 2 predictions"):
        metrics.evaluate_predictions("regression", [1.0], [[1.0], [2.0]], None)
    with pytest.raises(DataError, match="No rows"):
        metrics.evaluate_predictions("binary", [], np.zeros((0, 1)), ["a", "b"])


def test_primary_metric():
    assert metrics.primary_metric("binary") == "roc_auc"
    assert metrics.primary_metric("multi_regression") == "rmse"


def test_verdict_over_fitting_quotes_its_numbers():
    h = {"loss": [0.9, 0.5, 0.3, 0.2], "val_loss": [0.95, 0.6, 0.55, 0.6], "auc": [0.7, 0.8, 0.9, 0.95],
         "val_auc": [0.7, 0.75, 0.78, 0.77]}
    text = metrics.verdict(h, "val_auc")
    assert text.startswith("Over-fitting (G-PROC-2)")
    assert "train loss 0.2" in text and "validation loss 0.6" in text and "validation auc 0.77" in text
    assert "regularization" in text
    rebound = {"loss": [1.0, 0.6, 0.55, 0.6], "val_loss": [1.0, 0.45, 0.42, 0.7]}
    assert "turned back up, giving back 48%" in metrics.verdict(rebound)


def test_verdict_ignores_tiny_differences_between_near_zero_losses():
    tiny = {"loss": [1.0, 0.2, 0.06, 0.05], "val_loss": [1.0, 0.1, 0.0099, 0.0128]}  # dropout: train > val
    assert metrics.verdict(tiny, "loss", chance=math.log(3)).startswith("Good fit")
    close = {"loss": [1.0, 0.1, 0.002, 0.001], "val_loss": [1.0, 0.1, 0.003, 0.002]}
    assert metrics.verdict(close).startswith("Good fit")


def test_verdict_under_fitting_against_chance_and_plateau():
    flat = {"loss": [0.69, 0.68, 0.68, 0.68], "val_loss": [0.69, 0.69, 0.68, 0.68]}
    assert metrics.verdict(flat, "loss", chance=math.log(2)).startswith("Under-fitting")
    assert "capacity" in metrics.verdict(flat)
    learned = {"loss": [0.69, 0.4, 0.3, 0.25], "val_loss": [0.69, 0.42, 0.31, 0.26]}
    assert metrics.verdict(learned, "loss", chance=math.log(2)).startswith("Good fit")
    assert metrics.verdict(learned).startswith("Good fit")


def test_verdict_needs_curves_and_epochs():
    assert "no verdict" in metrics.verdict({})
    assert metrics.verdict({"loss": [1.0, 0.5], "val_loss": [1.0, 0.6]}).startswith("Too few epochs")
    assert "diverged" in metrics.verdict({"loss": [1.0, float("nan")], "val_loss": [1.0, 2.0]})


def test_chance_loss():
    assert metrics.chance_loss("multiclass", "sparse_categorical_crossentropy", 4) == pytest.approx(math.log(4))
    assert metrics.chance_loss("regression", "mse", None, "standardize") == 1.0
    assert metrics.chance_loss("regression", "mse", None, "none") is None
    assert metrics.chance_loss("regression", "huber", None, "standardize") is None
