"""Hyperband over a SearchSpace, on a wall-clock budget.

Keras Tuner has no time budget, ends a search after three failed trials in a
row, keeps every checkpoint and re-runs an interrupted trial from scratch.
:class:`BudgetedHyperband` adds what autoann needs on top, through the
tuner's documented hooks: no new trial after the soft deadline and a cut of
the running one at the hard deadline (``pre_create_trial`` + a callback),
diverged trials recorded as failed while the search goes on, checkpoints
pruned as soon as Hyperband can no longer promote them, and a leaderboard row
with timings per trial. :func:`run_search` calibrates the cost of an epoch and
of a trial on this machine, sizes Hyperband to the budget, runs it, and
returns the best network.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import keras
import keras_tuner as kt
import pandas as pd

from autoann.search._budget import SearchPlan, plan_search
from autoann.errors import AutoANNError, BudgetError
from autoann.fitted_run import TrialEvent, TrialRow, leaderboard_frame
from autoann.search._network import AutoANNHyperModel, TrainingData, build_network, declare, fit_network, objective
from autoann.search._preprocessing import Preprocessing
from autoann.space import SearchSpace, typed_values

PROJECT = "search"
SIDECAR = "autoann_trials.json"
#: each finished trial's learning curves, kept beside the search state so a resumed search still
#: draws the final model's curves when that model is a trial from before the interruption
HISTORIES = "autoann_histories.json"
#: Stop the search after this many failed trials in a row: the space is broken.
MAX_CONSECUTIVE_FAILURES = 10
#: A full garbage collection costs ~0.25 s with TensorFlow loaded; Keras Tuner
#: runs two per trial (in ``_try_build`` and ``clear_session``). autoann runs a
#: cheap young-generation pass per trial and a full one every this many trials,
#: which costs less than two full passes per trial (the memory still grows: docs/benchmarks.md).
FULL_GC_EVERY = 10


@dataclass
class SearchResult:
    values: dict[str, Any]
    network: keras.Model
    history: dict[str, list[float]]
    val_score: float
    trials: list[TrialRow]
    progress: list[tuple[float, float]]
    plan: SearchPlan
    objective: dict[str, str]
    final_model: str
    interrupted: bool = False
    fit_seconds: float = 0.0
    search_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def leaderboard(self) -> pd.DataFrame:
        return leaderboard_frame(self.trials)


class BudgetedHyperband(kt.Hyperband):
    """Keras Tuner's Hyperband with a deadline, failure tolerance and checkpoint pruning."""

    def __init__(self, hypermodel: AutoANNHyperModel, *, soft_deadline: float, max_trials: int | None,
                 on_trial: Callable[[TrialEvent], None] | None = None, **kwargs: Any):
        super().__init__(hypermodel=hypermodel, hyperband_iterations=None, max_retries_per_trial=0,
                         max_consecutive_failed_trials=None, **kwargs)
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
        return len(self.rows)

    def consecutive_failures(self) -> int:
        count = 0
        for row in reversed(list(self.rows.values())):
            if row.status != "failed":
                break
            count += 1
        return count

    # -- Keras Tuner hooks -----------------------------------------------
    def _try_build(self, hp) -> keras.Model:
        keras.backend.clear_session(free_memory=False)
        self._builds += 1
        gc.collect() if self._builds % FULL_GC_EVERY == 0 else gc.collect(1)
        return self._build_hypermodel(hp)

    def run_trial(self, trial, *args: Any, **kwargs: Any):
        """Build, fit, and save the best epoch's weights once, at the end.

        Keras Tuner's ``SaveBestEpoch`` writes a checkpoint at every improving
        epoch; early stopping already restores the best weights when the fit
        ends, so one write per trial is enough.
        """
        hp = trial.hyperparameters
        model = self._try_build(hp)
        history = self.hypermodel.fit(hp, model, epochs=hp.values["tuner/epochs"],
                                      initial_epoch=hp.values["tuner/initial_epoch"])
        model.save_weights(self._get_checkpoint_fname(trial.trial_id))
        with open(self._get_build_config_fname(trial.trial_id), "w") as fh:
            json.dump(model.get_build_config(), fh)
        return history

    def pre_create_trial(self) -> None:
        over_time = time.monotonic() >= self.soft_deadline
        over_count = self.trial_cap is not None and self.finished() >= self.trial_cap
        broken = self.consecutive_failures() >= MAX_CONSECUTIVE_FAILURES
        if (over_time or over_count or broken) and self.oracle.trials:
            # Oracle.create_trial returns STOPPED once len(trials) >= max_trials;
            # max_trials is not saved in oracle.json, so --resume is unaffected.
            self.oracle.max_trials = len(self.oracle.trials)

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
            self.on_trial(TrialEvent.after(list(self.rows.values()), objective.name, objective.direction))

    def load_trial_model(self, trial) -> keras.Model:
        """The trial's network at its best epoch.

        Unlike ``Hyperband.load_model`` this does not first load the parent's
        checkpoint of a promoted trial (it may have been pruned).
        """
        keras.backend.clear_session()
        model = self.hypermodel.build(trial.hyperparameters)
        with warnings.catch_warnings():
            # The checkpoint holds optimizer slots the fresh model does not need.
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model.load_weights(self._get_checkpoint_fname(trial.trial_id))
        return model

    def _build_hypermodel(self, hp):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            return super()._build_hypermodel(hp)

    # -- disk --------------------------------------------------------------
    def _needed_checkpoints(self) -> set[str]:
        """Trials Hyperband may still promote, plus the best one (the final model)."""
        needed = {t.trial_id for t in self.oracle.get_best_trials(1)}
        needed |= set(getattr(self.oracle, "ongoing_trials", {}) and
                      [t.trial_id for t in self.oracle.ongoing_trials.values()])
        for bracket in getattr(self.oracle, "_brackets", []):
            rounds = bracket["rounds"]
            for r in range(len(rounds) - 1):
                if len(rounds[r + 1]) < self.oracle._get_size(bracket["bracket_num"], r + 1):
                    needed |= {info["id"] for info in rounds[r]}
        return needed

    def _prune_checkpoints(self) -> None:
        needed = self._needed_checkpoints()
        for trial_id in self.oracle.trials:
            if trial_id not in needed:
                Path(self._get_checkpoint_fname(trial_id)).unlink(missing_ok=True)


#: Keras Tuner's own per-trial bookkeeping (trial/oracle JSON, checkpoint),
#: added to the calibrated build + tracing cost.
TRIAL_BOOKKEEPING_SECONDS = 0.15


#: Test-only switch (docs/estimators.md, "Tiny searches for tests"): when this
#: environment variable is "1", the search skips the calibration run (nominal
#: costs are assumed, so only a generous budget or ``max_trials`` bounds it)
#: and the final refit, and keeps the best trial's checkpoint. A fit then
#: costs the trials alone, which keeps scikit-learn's ~120 estimator checks
#: within a few minutes of CI. Never set it for real work.
TINY_SEARCH_ENV = "AUTOANN_TINY_SEARCH"
NOMINAL_COSTS = (0.05, 0.5)  # seconds per epoch, per trial


def tiny_search() -> bool:
    return os.environ.get(TINY_SEARCH_ENV) == "1"


def calibrate(space: SearchSpace, prep: Preprocessing, data: TrainingData, seed: int) -> tuple[float, float]:
    """Measure (seconds per epoch, per-trial overhead) with the space's default network.

    The overhead is building + compiling + tracing (the first epoch's excess
    over a steady one) + Keras Tuner's bookkeeping.
    """
    values = declare(kt.HyperParameters(), space)
    keras.backend.clear_session()
    start = time.perf_counter()
    model = build_network(values, prep)
    built = time.perf_counter() - start
    record = fit_network(model, {**values, "schedule": "constant"}, data, epochs=3, seed=seed)
    keras.backend.clear_session()
    steady = sorted(record.epoch_seconds[1:])
    per_epoch = steady[len(steady) // 2] if steady else record.fit_seconds
    first = record.epoch_seconds[0] if record.epoch_seconds else record.fit_seconds
    return per_epoch, built + max(first - per_epoch, 0.0) + TRIAL_BOOKKEEPING_SECONDS


def _largest(space: SearchSpace, name: str, default: int) -> int:
    if name not in space:
        return default
    return int(max(v for v in space[name].candidates() if v is not None))


def _histories_chain(tuner: BudgetedHyperband, trial_id: str) -> dict[str, list[float]]:
    """The learning curves of a trial, with those of the rounds it was promoted from."""
    chain = []
    while trial_id is not None and trial_id in tuner.rows:
        chain.append(tuner.histories.get(trial_id, {}))
        trial_id = tuner.rows[trial_id].parent
    merged: dict[str, list[float]] = {}
    for hist in reversed(chain):
        for key, values in hist.items():
            merged.setdefault(key, []).extend(values)
    return merged


def run_search(
    space: SearchSpace,
    prep: Preprocessing,
    data: TrainingData,
    *,
    end: float,
    export_seconds: float,
    workdir: Path,
    max_trials: int | None = None,
    seed: int = 0,
    resume: bool = False,
    verbose: int = 0,
    on_trial: Callable[[TrialEvent], None] | None = None,
    on_plan: Callable[[SearchPlan], None] | None = None,
    spent_seconds: float = 0.0,
) -> SearchResult:
    """Search ``space`` until ``end`` (a ``time.monotonic()`` instant) and return the best network.

    ``spent_seconds`` is the part of the budget used before this call
    (loading, profiling), so a budget too small names the whole minimum.
    """
    called = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    plan_file = workdir / "plan.json"
    if resume and plan_file.exists():
        plan = SearchPlan(**json.loads(plan_file.read_text()))
    else:
        per_epoch, per_trial = NOMINAL_COSTS if tiny_search() else calibrate(space, prep, data, seed)
        left = end - time.monotonic()
        _require_one_trial(left, export_seconds, per_trial + per_epoch,
                           spent_seconds + time.monotonic() - called)
        cap = _largest(space, "max_epochs", 30)
        refit = min(per_trial + cap * per_epoch, 0.25 * max(left - export_seconds, 0.0))
        plan = plan_search(left, seconds_per_epoch=per_epoch, seconds_per_trial=per_trial,
                           max_epochs_cap=cap, reserve_seconds=export_seconds + refit)
        plan_file.write_text(json.dumps(plan.to_dict()))
    if on_plan is not None:
        on_plan(plan)

    hard = end - plan.reserve_seconds
    hypermodel = AutoANNHyperModel(space, prep, data, seed=seed, verbose=verbose)
    hypermodel.deadline = hard
    obj = objective(space)
    with contextlib.redirect_stdout(None):  # Keras Tuner prints "Reloading Tuner from ..." on resume
        tuner = _tuner(hypermodel, hard, plan, obj, max_trials, on_trial, seed, workdir, resume)
    interrupted = False
    started = time.monotonic()
    try:
        tuner.search(verbose=verbose)
    except KeyboardInterrupt:
        interrupted = True
    search_seconds = time.monotonic() - started

    done = [r for r in tuner.rows.values() if r.status in ("completed", "cut") and r.score is not None]
    if not done:
        failures = [r.message for r in tuner.rows.values() if r.status == "failed"]
        if interrupted:
            raise AutoANNError("Interrupted before any trial finished: nothing to export.")
        if failures:
            raise AutoANNError(
                f"All {len(failures)} trials failed; the first failure: {failures[0]}. "
                "Check the search space (e.g. lower the learning-rate range) or run with AUTOANN_DEBUG=1."
            )
        raise BudgetError("No trial finished within the budget; give a larger --time-budget.")

    best = tuner.oracle.get_best_trials(1)[0]
    values = typed_values({k: v for k, v in best.hyperparameters.values.items() if not k.startswith("tuner/")})
    network = tuner.load_trial_model(best)
    history = _histories_chain(tuner, best.trial_id)
    val_score = float(best.score)
    final = f"best trial {best.trial_id} (checkpoint of its best epoch)"
    notes: list[str] = []
    refit_end = end - export_seconds
    full_refit = plan.seconds_per_trial + plan.max_epochs * plan.seconds_per_epoch
    if not (interrupted or tiny_search()) and refit_end - time.monotonic() > full_refit:
        refit = _refit(values, prep, data, plan, refit_end, seed, verbose, obj)
        if refit is not None:
            model, hist, score = refit
            better = score > val_score if obj.direction == "max" else score < val_score
            notes.append(f"refit of the best configuration for up to {plan.max_epochs} epochs: "
                         f"validation {obj.name} {score:.4g} vs {val_score:.4g} for the trial's checkpoint")
            if better:
                network, history, val_score = model, hist, score
                final = f"best configuration (trial {best.trial_id}) retrained for up to {plan.max_epochs} epochs with early stopping"
    rows = list(tuner.rows.values())
    return SearchResult(
        values=values,
        network=network,
        history=history,
        val_score=val_score,
        trials=rows,
        progress=_progress(rows, obj.direction),
        plan=plan,
        objective={"name": obj.name, "direction": obj.direction},
        final_model=final,
        interrupted=interrupted,
        fit_seconds=sum(r.fit_seconds for r in rows),
        search_seconds=search_seconds,
        notes=notes,
    )


def _require_one_trial(left: float, export_seconds: float, one_trial: float, spent: float) -> None:
    """Raise :class:`BudgetError` naming the smallest budget that trains one trial of one epoch.

    The search gets at least 75% of what is left after the export reserve (the
    refit takes at most 25%), hence the 4/3; the 10% is a margin for noise.
    """
    if 0.75 * (left - export_seconds) >= one_trial:
        return
    needed = math.ceil(1.1 * (spent + export_seconds + one_trial / 0.75))
    raise BudgetError(
        f"The time budget is too small: {spent:.1f}s went to loading, profiling and timing the network, one "
        f"trial of one epoch takes about {one_trial:.1f}s here, and {export_seconds:.0f}s are kept for the final "
        f"model. Give a time budget of at least {needed}s (--time-budget {needed}s, or time_budget={needed}), "
        "or use a smaller space."
    )


def _tuner(hypermodel, hard, plan, obj, max_trials, on_trial, seed, workdir, resume) -> BudgetedHyperband:
    return BudgetedHyperband(
        hypermodel,
        soft_deadline=hard - plan.seconds_per_trial,
        max_trials=max_trials,
        on_trial=on_trial,
        objective=obj,
        max_epochs=plan.max_epochs,
        factor=plan.factor,
        seed=seed,
        directory=str(workdir),
        project_name=PROJECT,
        overwrite=not resume,
    )


def _refit(values, prep, data, plan, end, seed, verbose, obj):
    """Retrain the best configuration from scratch for Hyperband's full epoch count."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = build_network(values, prep)
    record = fit_network(model, values, data, epochs=plan.max_epochs, deadline=end, seed=seed, verbose=verbose)
    scores = record.history.get(obj.name)
    if record.diverged or not scores:
        return None
    best = max(scores) if obj.direction == "max" else min(scores)
    return model, record.history, float(best)


def _progress(rows: list[TrialRow], direction: str) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    best: float | None = None
    for row in sorted(rows, key=lambda r: r.finished_at):
        score = row.score
        if row.scored:
            best = score if best is None else (max(best, score) if direction == "max" else min(best, score))
        if best is not None:
            out.append((row.finished_at, best))
    return out
