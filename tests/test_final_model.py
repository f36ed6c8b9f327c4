"""What a search keeps: the default network first, Hyperband sized from it, the user's metric as the
objective, the best configuration refit on every row and calibrated inside the exported model.

One small search with every step on (the product's SearchOptions), shared by the module's tests.
"""

import json

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.train


def _frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = np.where(x[:, 0] + 0.5 * x[:, 1] ** 2 + 0.3 * rng.normal(size=n) > 0.4, "pos", "neg")
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from autoann.search import train

    out = tmp_path_factory.mktemp("final") / "run"
    # a budget that never binds; 3 trials = the default network + 2 Hyperband trials
    return train(_frame(), "y", output=out, time_budget=600, max_trials=3, max_epochs=12, seed=0,
                 metric="balanced_accuracy", pins=["patience=3"])


def _meta(run):
    return json.loads((run.run_dir / "metadata.json").read_text())


def test_the_default_network_is_the_first_trial_and_sizes_hyperband(run):
    board = run.leaderboard
    assert board.iloc[0]["trial_id"] == "default" and len(board) == 3
    default = board.iloc[0]
    meta = _meta(run)
    assert meta["hyperband"]["max_epochs"] == max(3, min(int(default["epochs_run"]), 12))
    assert 1 <= default["best_epoch"] <= default["epochs_run"]
    # Hyperband's trials train up to the default's epoch count, never fewer at the top rung
    assert set(board.iloc[1:]["epochs_to"]) <= {meta["hyperband"]["max_epochs"]} | set(range(1, 13))


def test_the_metric_asked_for_is_the_objective_and_stored(run):
    meta = _meta(run)
    assert meta["objective"] == {"name": "val_balanced_accuracy", "direction": "max", "metric": "balanced_accuracy"}
    assert meta["space"]["hyperparameters"]["metric"]["value"] == "balanced_accuracy"
    scores = run.leaderboard["score"].dropna()
    assert ((scores >= 0) & (scores <= 1)).all()
    assert "balanced_accuracy" in meta["metrics"]["test"]


def test_the_final_model_is_refit_on_every_row_for_its_best_epoch_count(run):
    meta = _meta(run)
    assert "retrained from scratch on the training and validation rows" in meta["final_model"]
    rows = meta["splits"]["train"] + meta["splits"]["validation"]
    assert f"({rows})" in meta["final_model"]


def test_probabilities_are_calibrated_inside_every_exported_format(run):
    import keras
    import tensorflow as tf

    from autoann.predict import load

    meta = _meta(run)
    cal = meta["calibration"]
    assert cal["method"] == "temperature" and cal["temperature"] > 0
    assert cal["val_log_loss_after"] <= cal["val_log_loss_before"] + 1e-9 or cal["temperature"] != 1.0
    model = keras.models.load_model(run.run_dir / "model.keras")
    assert "calibration" in [layer.name for layer in model.layers]
    rows = _frame(20, seed=5).drop(columns="y")
    in_memory = load(run.run_dir).predict_proba(rows)
    serving = tf.saved_model.load(str(run.run_dir / "saved_model" / "1")).signatures["serving_default"]
    names = meta["serving"]["inputs"]
    served = serving(**{names[c]: tf.constant(rows[c].to_numpy("float32")) for c in rows})
    p = served["probabilities"].numpy()
    assert np.allclose(np.asarray(in_memory), p, atol=1e-5)
    assert np.all((p > 0) & (p < 1))


def test_a_trial_replaces_the_default_network_only_when_sure_and_the_notes_say_which(run):
    meta = _meta(run)
    assert meta["space"]["hyperparameters"]["selection_confidence"]["value"] == 0.9  # SEARCH-KEEP-DEFAULT
    kept = [note for note in meta["notes"] if note.startswith("kept ")]
    assert len(kept) == 1, meta["notes"]
    label = kept[0][len("kept "):kept[0].index(":")]
    assert meta["final_model"].startswith(label)
    if label.startswith("trial"):
        assert "bootstrap resamples" in kept[0]
