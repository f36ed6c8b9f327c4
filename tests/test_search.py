"""Real, tiny searches: trial bookkeeping, NaN trials, the budget stop, resume, pruning."""

import time
from pathlib import Path

import numpy as np
import pytest

from _tiny import BINARY_SPACE, SCHEMA, tiny_frame
from autoann.search import _options
from autoann.search._fit import TrainingData
from autoann.search._options import SearchOptions
from autoann.search._preprocessing import fit_preprocessing, transform
from autoann.search._run import run_search
from autoann.space._space import SearchSpace

pytestmark = pytest.mark.train

FAR = 10_000.0  # seconds: a deadline that never comes, for tests bounded by max_trials


@pytest.fixture(scope="module")
def data():
    frame, y = tiny_frame()
    train, val = frame.iloc[:120], frame.iloc[120:]
    prep = fit_preprocessing(train, SCHEMA)
    x_train, x_val = transform(prep, SCHEMA, [train, val])
    as_target = lambda v: v.astype("float32").reshape(-1, 1)  # noqa: E731
    return prep, TrainingData(x_train, as_target(y[:120]), x_val, as_target(y[120:]), {0: 1.0, 1: 1.0})


def search(data, workdir, space=BINARY_SPACE, **kwargs):
    prep, training = data
    kwargs.setdefault("end", time.monotonic() + FAR)
    return run_search(SearchSpace.from_dict(space), prep, training, export_seconds=0.0, workdir=workdir, seed=0,
                      **kwargs)


def test_trials_are_recorded_and_best_network_predicts(data, tmp_path):
    result = search(data, tmp_path, max_trials=4)
    board = result.leaderboard
    assert len(board) == 4
    assert set(board["status"]) <= {"completed", "cut"}
    assert {"trial_id", "score", "seconds", "fit_seconds", "epochs_to", "n_layers"} <= set(board.columns)
    best = board["score"].max()
    assert result.val_score >= best or "retrained" in result.final_model
    out = result.network.predict(data[1].x_val, verbose=0)
    assert out.shape == (40, 1) and np.isfinite(out).all()
    # disk: only checkpoints Hyperband may still promote, plus the best one
    assert len(list(Path(tmp_path).rglob("checkpoint.weights.h5"))) < 4


def test_default_options_are_read_at_call_time_and_skips_are_noted(data, tmp_path, monkeypatch):
    monkeypatch.setattr(_options, "DEFAULT", SearchOptions(calibrate=False, refit=False, nominal_costs=(0.01, 0.1), workers=1))
    result = search(data, tmp_path, max_trials=1)
    assert (result.plan.seconds_per_epoch, result.plan.seconds_per_trial) == (0.01, 0.1)  # nominal, not timed
    assert any(note.startswith("no default network first") for note in result.notes), result.notes
    assert any(note.startswith("no refit") for note in result.notes), result.notes
    assert "its checkpoint at epoch" in result.final_model and result.leaderboard["trial_id"].tolist() == ["0000"]


def test_diverging_trials_fail_and_the_search_goes_on(data, tmp_path):
    space = {"hyperparameters": {**BINARY_SPACE["hyperparameters"], "optimizer": "sgd_nesterov",
                                 "learning_rate_sgd": {"choice": [0.01, 1e12]}, "momentum": 0.9, "clipnorm": 0.0,
                                 "schedule": "constant", "activation_family": "elu", "batch_norm": False}}
    del space["hyperparameters"]["learning_rate"]
    result = search(data, tmp_path, space=space, max_trials=8)
    statuses = list(result.leaderboard["status"])
    assert "failed" in statuses, statuses  # G-GRAD-4: stopped and recorded
    assert "completed" in statuses
    failed = result.leaderboard[result.leaderboard["status"] == "failed"]
    assert (failed["learning_rate_sgd"] == 1e12).all()
    assert failed["message"].str.contains("diverged|nan|inf", case=False).all()


def test_budget_stops_an_endless_search(data, tmp_path):
    # hyperband_iterations is infinite: only the deadline can end this search (if it does not, the test's
    # timeout fails it), and it ends as a normal search does: with its best trial's network, or a better refit.
    result = search(data, tmp_path, end=time.monotonic() + 12.0)
    board = result.leaderboard
    assert not result.interrupted and set(board["status"]) <= {"completed", "cut"}
    assert result.val_score >= board["score"].max() or "retrained" in result.final_model


def test_resume_keeps_finished_trials(data, tmp_path):
    first = search(data, tmp_path, max_trials=3)
    again = search(data, tmp_path, max_trials=5, resume=True)
    assert len(again.leaderboard) == 5
    kept = again.leaderboard.set_index("trial_id").loc[first.leaderboard["trial_id"], "score"]
    assert list(kept) == list(first.leaderboard["score"])
