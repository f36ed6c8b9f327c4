"""The oracle that decides the search (no training: trials are created and ended by hand, as workers would)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras_tuner as kt
import pytest

from autoann.fitted_run import TrialRow
from autoann.search._oracle import FIT_RECORD, MAX_CONSECUTIVE_FAILURES, BudgetedOracle

pytestmark = pytest.mark.train  # keras_tuner imports TensorFlow


def _oracle(tmp_path: Path, **kwargs) -> BudgetedOracle:
    oracle = BudgetedOracle(objective=kt.Objective("score", "max"), max_epochs=9, factor=3, seed=0, **kwargs)
    hp = kt.HyperParameters()
    hp.Float("x", 0.0, 1.0)
    oracle.hyperparameters = hp
    oracle._set_project_dir(str(tmp_path), "search")
    return oracle


def _end(oracle: BudgetedOracle, trial, *, status: str = "COMPLETED", fit: dict | None = None) -> None:
    """End ``trial`` as a worker does: its fit record beside the checkpoint, then the report."""
    if fit is not None:
        (Path(oracle.trial_dir(trial.trial_id)) / FIT_RECORD).write_text(json.dumps(fit))
    if status == "COMPLETED":
        oracle.update_trial(trial.trial_id, {"score": trial.hyperparameters.values["x"]})
    trial.status = status
    oracle.end_trial(trial)


def test_each_ended_trial_becomes_a_row_with_its_worker_and_memory(tmp_path):
    oracle = _oracle(tmp_path)
    events = []
    oracle.on_trial, oracle.report_running = events.append, True
    oracle.earlier_rows = [TrialRow("default", "completed", 0.5)]
    first, second = oracle.create_trial("local1"), oracle.create_trial("local2")
    assert [r[:2] for r in events[-1].running] == [("local1", first.trial_id), ("local2", second.trial_id)]
    _end(oracle, first, fit={"epochs_run": 3, "best_epochs": 2, "fit_seconds": 0.5, "seconds": 0.7,
                             "worker": "local1", "rss_mb": 812.5, "history": {"loss": [3, 2, 1]}})
    row = oracle.rows[first.trial_id]
    assert (row.status, row.worker, row.rss_mb, row.epochs_run, row.best_epoch) == ("completed", "local1", 812.5, 3, 2)
    assert row.score == pytest.approx(first.hyperparameters.values["x"])
    assert events[-1].ended and events[-1].finished == 2
    assert [r[:2] for r in events[-1].running] == [("local2", second.trial_id)]
    assert oracle.history(first.trial_id) == {"loss": [3, 2, 1]}


def test_a_trial_whose_worker_died_is_failed_with_the_reason_and_the_worker_forgotten(tmp_path):
    oracle = _oracle(tmp_path)
    trial = oracle.create_trial("local1")
    oracle.fail_running("local1", "worker local1 was killed by SIGKILL during this trial")
    row = oracle.rows[trial.trial_id]
    assert row.status == "failed" and row.message == "worker local1 was killed by SIGKILL during this trial"
    assert not oracle.running() and "local1" not in oracle.tuner_ids
    oracle.fail_running("local1", "again")  # nothing running: nothing happens
    assert len(oracle.rows) == 1


def test_the_oracle_stops_every_worker_at_the_deadline_the_cap_or_a_run_of_failures(tmp_path):
    late = _oracle(tmp_path / "a", soft_deadline=time.monotonic() - 1)
    assert late.create_trial("local1").status == "RUNNING"  # the first trial always may start
    assert late.create_trial("local2").status == "STOPPED" and late.stopped

    capped = _oracle(tmp_path / "b", max_trials=3)
    capped.earlier_rows = [TrialRow("default", "completed", 0.5)]
    started = [capped.create_trial(f"w{i}") for i in range(3)]
    assert [t.status for t in started] == ["RUNNING", "RUNNING", "STOPPED"]  # the default counts

    broken = _oracle(tmp_path / "c")
    for _ in range(MAX_CONSECUTIVE_FAILURES):
        _end(broken, broken.create_trial("local1"), status="FAILED")
    assert broken.done() and broken.create_trial("local1").status == "STOPPED"


def test_the_leaderboard_is_saved_with_the_oracle_so_a_resumed_search_keeps_it(tmp_path):
    oracle = _oracle(tmp_path)
    for _ in range(2):
        _end(oracle, oracle.create_trial("local1"), fit={"epochs_run": 1, "best_epochs": 1, "worker": "local1"})
    again = _oracle(tmp_path)
    again.reload()
    assert list(again.rows) == list(oracle.rows) and again.rows == oracle.rows


def test_the_best_trial_among_equal_scores_is_the_first_created_whatever_order_the_oracle_holds(tmp_path):
    """A resumed oracle rebuilds its trials from disk in another order; the kept checkpoint must not change."""
    oracle = _oracle(tmp_path)
    trials = [oracle.create_trial("local1") for _ in range(3)]
    for trial in trials:
        trial.hyperparameters.values["x"] = 0.5  # three equal scores
        _end(oracle, trial)
    oracle.trials = dict(reversed(list(oracle.trials.items())))
    assert oracle.best_trial().trial_id == trials[0].trial_id
