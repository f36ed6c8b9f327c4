"""The search's one source of truth: Keras Tuner's Hyperband oracle with a deadline and a leaderboard.

Keras Tuner has no time budget, ends a search after three failed trials in a
row and keeps every checkpoint. In a search of several worker processes the
oracle is the only object that sees every trial (it lives in the chief, the
workers call it over gRPC), so this is where autoann decides: no new trial
after the soft deadline, after ``max_trials`` or after a run of failures (the
workers are then told to stop), one leaderboard row per trial as it ends
(from the record the worker wrote beside the checkpoint), checkpoints pruned as
soon as Hyperband can no longer promote them, and the progress view told.
A single-process search uses the same oracle in-process.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Callable

import keras_tuner as kt

from autoann.fitted_run import TrialEvent, TrialRow
from autoann.search._kt import OracleAdapter
from autoann.space import typed_values

#: what a tuner writes beside a trial's checkpoint when the trial ends: its fit record and learning curves
FIT_RECORD = "autoann_fit.json"
#: Stop the search after this many failed trials in a row: the space is broken.
MAX_CONSECUTIVE_FAILURES = 10
_STATUS = {"COMPLETED": "completed", "FAILED": "failed", "INVALID": "failed"}


class BudgetedOracle(OracleAdapter):
    """Hyperband that stops on a deadline, tolerates failures, prunes checkpoints and keeps the leaderboard."""

    def __init__(self, *, soft_deadline: float = math.inf, max_trials: int | None = None,
                 brackets: int = 0, **kwargs: Any):
        super().__init__(hyperband_iterations=None, max_retries_per_trial=0,
                         max_consecutive_failed_trials=None, **kwargs)
        if brackets:
            self.limit_brackets(brackets)
        self.soft_deadline = soft_deadline
        self.trial_cap = max_trials
        #: trials run before Hyperband's (the default network): counted by ``max_trials`` and the progress view
        self.earlier_rows: list[TrialRow] = []
        self.rows: dict[str, TrialRow] = {}
        #: (trial id -> checkpoint path) set by the tuner that owns the run directory, to prune checkpoints
        self.checkpoint_path: Callable[[str], str] | None = None
        self.on_trial: Callable[[TrialEvent], None] | None = None
        #: whether a tuner has been told to stop: no trial will start any more
        self.stopped = False
        #: whether progress events name the trial each worker runs (a search with workers)
        self.report_running = False
        self.started = time.monotonic()
        self._began: dict[str, float] = {}
        #: every tuner that asked for a trial: a worker that never did could not start
        self.seen_tuners: set[str] = set()

    # -- state saved in oracle.json, so a resumed search keeps its leaderboard -----------------------------
    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        state["autoann_rows"] = {k: row.to_json() for k, row in self.rows.items()}
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.rows = {k: TrialRow.from_json(r) for k, r in state.get("autoann_rows", {}).items()}

    # -- the budget ---------------------------------------------------------------------------------------
    def consecutive_failures(self) -> int:
        count = 0
        for row in reversed(list(self.rows.values())):
            if row.status != "failed":
                break
            count += 1
        return count

    def done(self) -> bool:
        """Whether no trial may start now: past the soft deadline, ``max_trials`` started, or a broken space;
        the first search trial always may when no earlier trial exists."""
        over_time = time.monotonic() >= self.soft_deadline
        over_count = self.trial_cap is not None and len(self.earlier_rows) + len(self.trials) >= self.trial_cap
        broken = self.consecutive_failures() >= MAX_CONSECUTIVE_FAILURES
        return (over_time or over_count or broken) and bool(self.trials or self.earlier_rows)

    @kt.synchronized
    def create_trial(self, tuner_id: str) -> kt.engine.trial.Trial:
        self.seen_tuners.add(tuner_id)
        if tuner_id not in self.ongoing_trials and self.done():
            self.stop_creating_trials()
        trial = super().create_trial(tuner_id)
        if trial.status == "STOPPED":
            self.stopped = True
        elif trial.status == "RUNNING":
            self._began[trial.trial_id] = time.monotonic()
            self._notify(None)
        return trial

    # -- a trial ends ---------------------------------------------------------------------------------------
    @kt.synchronized
    def end_trial(self, trial: kt.engine.trial.Trial) -> None:
        super().end_trial(trial)
        self.rows[trial.trial_id] = self._row(self.trials[trial.trial_id])
        self.save()  # again: the row is part of the saved state
        self._prune_checkpoints()
        self._notify(self.rows[trial.trial_id])

    def fit_record(self, trial_id: str) -> dict[str, Any]:
        """What the tuner that ran the trial recorded (empty when it died before writing it)."""
        try:
            return json.loads((Path(self.trial_dir(trial_id)) / FIT_RECORD).read_text())
        except (OSError, ValueError):
            return {}

    def _row(self, trial: kt.engine.trial.Trial) -> TrialRow:
        fit = self.fit_record(trial.trial_id)
        hp = trial.hyperparameters.values
        status = _STATUS.get(trial.status, trial.status.lower())
        if fit.get("cut") and status == "completed":
            status = "cut"
        message = ""
        if status == "failed":
            lines = (trial.message or "").strip().splitlines()
            message = fit.get("diverged") or (lines[-1] if lines else "")
        began = self._began.pop(trial.trial_id, None)
        return TrialRow(
            trial_id=trial.trial_id,
            status=status,
            score=None if trial.score is None or not math.isfinite(trial.score) else float(trial.score),
            bracket=hp.get("tuner/bracket"),
            round=hp.get("tuner/round"),
            parent=hp.get("tuner/trial_id"),
            epochs_to=hp.get("tuner/epochs"),
            epochs_run=fit.get("epochs_run", 0),
            best_epoch=(hp.get("tuner/initial_epoch", 0) + fit["best_epochs"]) if fit.get("epochs_run") else None,
            fit_seconds=round(fit.get("fit_seconds", 0.0), 4),
            seconds=round(fit.get("seconds", 0.0 if began is None else time.monotonic() - began), 4),
            finished_at=round(time.monotonic() - self.started, 3),
            worker=fit.get("worker", ""),
            rss_mb=fit.get("rss_mb"),
            message=message,
            values=typed_values({k: v for k, v in hp.items() if not k.startswith("tuner/")}),
        )

    @kt.synchronized
    def fail_running(self, tuner_id: str, reason: str) -> None:
        """End the trial ``tuner_id`` is running as failed, with ``reason``: its worker is gone."""
        trial = self.ongoing_trials.get(tuner_id)
        self.forget_tuner(tuner_id)
        if trial is None:
            return
        lost = kt.engine.trial.Trial(trial.hyperparameters, trial_id=trial.trial_id, status="FAILED",
                                     message=reason)
        self.end_trial(lost)

    def history(self, trial_id: str) -> dict[str, list[float]]:
        """A trial's learning curves, with those of the rounds it was promoted from."""
        chain = []
        while trial_id is not None and trial_id in self.rows:
            chain.append(self.fit_record(trial_id).get("history", {}))
            trial_id = self.rows[trial_id].parent
        merged: dict[str, list[float]] = {}
        for hist in reversed(chain):
            for key, values in hist.items():
                merged.setdefault(key, []).extend(values)
        return merged

    @kt.synchronized
    def all_rows(self) -> list[TrialRow]:
        """The default network's row, then every search trial's, in the order they ended."""
        return self.earlier_rows + list(self.rows.values())

    @kt.synchronized
    def running(self) -> dict[str, Any]:
        return super().running()

    def _notify(self, row: TrialRow | None) -> None:
        """Tell the progress view: a trial ended (``row``), or one started."""
        rows = self.all_rows()
        if self.on_trial is None or not rows:
            return
        now = time.monotonic()
        running = tuple(sorted((tuner_id, trial.trial_id, round(now - self._began.get(trial.trial_id, now), 1))
                               for tuner_id, trial in self.running().items())) if self.report_running else ()
        objective = self.objective
        self.on_trial(TrialEvent.after(rows, objective.name, objective.direction, running=running,
                                       ended=row is not None))

    def best_trial(self) -> kt.engine.trial.Trial | None:
        """The best-scored completed trial; among equal scores the first created.

        Keras Tuner's ``get_best_trials`` breaks ties by the order of its trials dict, which a resumed oracle
        rebuilds from the files on disk: the final model and the one checkpoint pruning keeps would then differ.
        """
        done = [t for t in self.trials.values()
                if t.status == "COMPLETED" and t.score is not None and math.isfinite(t.score)]
        sign = -1 if self.objective.direction == "max" else 1
        return min(done, key=lambda t: (sign * t.score, t.trial_id), default=None)

    # -- disk ---------------------------------------------------------------------------------------------------
    def _prune_checkpoints(self) -> None:
        """Delete the checkpoints of trials Hyperband can no longer promote (the best one stays: the final model)."""
        if self.checkpoint_path is None:
            return
        best = self.best_trial()
        needed = ({best.trial_id} if best else set()) | self.promotable_trial_ids()
        for trial_id in self.trials:
            if trial_id not in needed:
                Path(self.checkpoint_path(trial_id)).unlink(missing_ok=True)
