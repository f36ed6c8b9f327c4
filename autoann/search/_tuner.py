"""Hyperband over a SearchSpace, on a wall-clock budget.

Keras Tuner has no time budget, ends a search after three failed trials in a
row, keeps every checkpoint and re-runs an interrupted trial from scratch.
:class:`BudgetedHyperband` adds what autoann needs on top, through the
tuner's documented hooks (``run_trial``, ``pre_create_trial``,
``on_trial_begin/end``) and the undocumented ones that
:mod:`autoann.search._kt` wraps: no new trial after the soft deadline and a cut of
the running one at the hard deadline (``pre_create_trial`` + a callback),
diverged trials recorded as failed while the search goes on, checkpoints
pruned as soon as Hyperband can no longer promote them, and a leaderboard row
with timings per trial.
"""

from __future__ import annotations

import gc
import json
import math
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import keras

from autoann.fitted_run import TrialEvent, TrialRow
from autoann.search._hypermodel import AutoANNHyperModel
from autoann.search._kt import HyperbandAdapter
from autoann.space import typed_values

PROJECT = "search"
SIDECAR = "autoann_trials.json"
#: each finished trial's learning curves, kept beside the search state so a resumed search still
#: draws the final model's curves when that model is a trial from before the interruption
HISTORIES = "autoann_histories.json"
#: Stop the search after this many failed trials in a row: the space is broken.
MAX_CONSECUTIVE_FAILURES = 10
#: A full garbage collection costs ~0.25 s with TensorFlow loaded; Keras Tuner
#: runs two per trial (before each build and in ``clear_session``). autoann runs a
#: cheap young-generation pass per trial and a full one every this many trials,
#: which costs less than two full passes per trial (the memory still grows: docs/benchmarks.md).
FULL_GC_EVERY = 10


def load_weights(model: keras.Model, path: str | Path) -> None:
    """Load a checkpoint's weights; it also holds optimizer slots the fresh model does not need (no warning)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(path)


class BudgetedHyperband(HyperbandAdapter):
    """Keras Tuner's Hyperband with a deadline, failure tolerance and checkpoint pruning."""

    def __init__(self, hypermodel: AutoANNHyperModel, *, soft_deadline: float, max_trials: int | None,
                 on_trial: Callable[[TrialEvent], None] | None = None, brackets: int = 0, **kwargs: Any):
        super().__init__(hypermodel=hypermodel, hyperband_iterations=None, max_retries_per_trial=0,
                         max_consecutive_failed_trials=None, **kwargs)
        if brackets:
            self.limit_brackets(brackets)
        #: trials run before Hyperband's (the default network): counted by ``max_trials`` and the progress view
        self.earlier_rows: list[TrialRow] = []
        self.soft_deadline = soft_deadline
        self.trial_cap = max_trials
        self.on_trial = on_trial
        self.started = time.monotonic()
        self.rows: dict[str, TrialRow] = {}
        self.histories: dict[str, dict[str, list[float]]] = {}
        self._trial_start = 0.0
        self._builds = 0
        self._load_sidecar()

    # -- bookkeeping ---------------------------------------------------
    def _sidecar(self) -> Path:
        return Path(self.project_dir) / SIDECAR

    def _load_sidecar(self) -> None:
        if self._sidecar().exists():
            self.rows = {k: TrialRow.from_json(r) for k, r in json.loads(self._sidecar().read_text()).items()}
        histories = Path(self.project_dir) / HISTORIES
        if histories.exists():
            self.histories = json.loads(histories.read_text())

    def finished(self) -> int:
        return len(self.earlier_rows) + len(self.rows)

    def done(self) -> bool:
        """Whether no trial may start now: past the soft deadline, ``max_trials`` reached, or a broken space;
        the first search trial always may when no earlier trial exists."""
        over_time = time.monotonic() >= self.soft_deadline
        over_count = self.trial_cap is not None and self.finished() >= self.trial_cap
        broken = self.consecutive_failures() >= MAX_CONSECUTIVE_FAILURES
        return (over_time or over_count or broken) and bool(self.oracle.trials or self.earlier_rows)

    def consecutive_failures(self) -> int:
        count = 0
        for row in reversed(list(self.rows.values())):
            if row.status != "failed":
                break
            count += 1
        return count

    # -- Keras Tuner hooks -----------------------------------------------
    def _fresh_network(self, hp) -> keras.Model:
        """Clear the previous trial's Keras state, then build (a promotion: with its parent's weights)."""
        keras.backend.clear_session(free_memory=False)
        self._builds += 1
        gc.collect() if self._builds % FULL_GC_EVERY == 0 else gc.collect(1)
        return self.build_promoted(hp)

    def run_trial(self, trial, *args: Any, **kwargs: Any):
        """Build, fit, and save the best epoch's weights once, at the end.

        Keras Tuner's ``SaveBestEpoch`` writes a checkpoint at every improving
        epoch; early stopping already restores the best weights when the fit
        ends, so one write per trial is enough.
        """
        hp = trial.hyperparameters
        model = self._fresh_network(hp)
        history = self.hypermodel.fit(hp, model, epochs=hp.values["tuner/epochs"],
                                      initial_epoch=hp.values["tuner/initial_epoch"])
        model.save_weights(self.checkpoint_path(trial.trial_id))
        with open(self.build_config_path(trial.trial_id), "w") as fh:
            json.dump(model.get_build_config(), fh)
        return history

    def pre_create_trial(self) -> None:
        if self.done():
            self.stop_creating_trials()

    def on_trial_begin(self, trial) -> None:
        super().on_trial_begin(trial)
        self._trial_start = time.monotonic()

    def on_trial_end(self, trial) -> None:
        super().on_trial_end(trial)
        record = self.hypermodel.last
        hp = trial.hyperparameters.values
        status = {"COMPLETED": "completed", "FAILED": "failed", "INVALID": "failed"}.get(trial.status, trial.status.lower())
        if record is not None and record.cut and status == "completed":
            status = "cut"
        message = ""
        if status == "failed":
            lines = (trial.message or "").strip().splitlines()
            message = (record.diverged if record and record.diverged else "") or (lines[-1] if lines else "")
        self.rows[trial.trial_id] = TrialRow(
            trial_id=trial.trial_id,
            status=status,
            score=None if trial.score is None or not math.isfinite(trial.score) else float(trial.score),
            bracket=hp.get("tuner/bracket"),
            round=hp.get("tuner/round"),
            parent=hp.get("tuner/trial_id"),
            epochs_to=hp.get("tuner/epochs"),
            epochs_run=record.epochs_run if record else 0,
            best_epoch=hp.get("tuner/initial_epoch", 0) + record.best_epochs if record and record.epochs_run else None,
            fit_seconds=round(record.fit_seconds, 4) if record else 0.0,
            seconds=round(time.monotonic() - self._trial_start, 4),
            finished_at=round(time.monotonic() - self.started, 3),
            message=message,
            values=typed_values({k: v for k, v in hp.items() if not k.startswith("tuner/")}),
        )
        if record is not None:
            self.histories[trial.trial_id] = record.history
        self.hypermodel.last = None
        self._sidecar().write_text(json.dumps({k: r.to_json() for k, r in self.rows.items()}))
        (Path(self.project_dir) / HISTORIES).write_text(json.dumps(self.histories))
        self._prune_checkpoints()
        if self.on_trial is not None:
            objective = self.oracle.objective
            self.on_trial(TrialEvent.after(self.earlier_rows + list(self.rows.values()), objective.name,
                                           objective.direction))

    def load_trial_model(self, trial) -> keras.Model:
        """The trial's network at its best epoch.

        Unlike ``Hyperband.load_model`` this does not first load the parent's
        checkpoint of a promoted trial (it may have been pruned).
        """
        keras.backend.clear_session()
        model = self.hypermodel.build(trial.hyperparameters)
        load_weights(model, self.checkpoint_path(trial.trial_id))
        return model

    # -- disk --------------------------------------------------------------
    def _needed_checkpoints(self) -> set[str]:
        """Trials Hyperband may still promote, plus the best one (the final model)."""
        return {t.trial_id for t in self.oracle.get_best_trials(1)} | self.promotable_trial_ids()

    def _prune_checkpoints(self) -> None:
        needed = self._needed_checkpoints()
        for trial_id in self.oracle.trials:
            if trial_id not in needed:
                Path(self.checkpoint_path(trial_id)).unlink(missing_ok=True)
