"""One search, end to end: :func:`run_search` calibrates the cost of an epoch
and of a trial on this machine, sizes Hyperband to the budget, runs
:class:`~autoann.search._tuner.BudgetedHyperband`, and returns the best network.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import keras
import keras_tuner as kt
import pandas as pd

from autoann.fitted_run import TrialEvent, TrialRow, leaderboard_frame
from autoann.search import _options
from autoann.errors import AutoANNError, BudgetError
from autoann.search._budget import SearchPlan, plan_search
from autoann.search._fit import TrainingData, fit_network
from autoann.search._hypermodel import AutoANNHyperModel
from autoann.search._hyperparameters import declare, objective
from autoann.search._network import build_network
from autoann.search._options import SearchOptions
from autoann.search._preprocessing import Preprocessing
from autoann.search._tuner import PROJECT, BudgetedHyperband
from autoann.space import SearchSpace, typed_values


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


#: Keras Tuner's own per-trial bookkeeping (trial/oracle JSON, checkpoint),
#: added to the calibrated build + tracing cost.
TRIAL_BOOKKEEPING_SECONDS = 0.15


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
    options: SearchOptions | None = None,
) -> SearchResult:
    """Search ``space`` until ``end`` (a ``time.monotonic()`` instant) and return the best network.

    ``spent_seconds`` is the part of the budget used before this call
    (loading, profiling), so a budget too small names the whole minimum.
    ``options``: whether to calibrate and refit (by default :data:`autoann.search._options.DEFAULT`,
    read at call time); the result's notes say which was skipped.
    """
    called = time.monotonic()
    options = _options.DEFAULT if options is None else options
    notes: list[str] = []
    workdir.mkdir(parents=True, exist_ok=True)
    plan_file = workdir / "plan.json"
    if resume and plan_file.exists():
        plan = SearchPlan(**json.loads(plan_file.read_text()))
    else:
        if options.calibrate:
            per_epoch, per_trial = calibrate(space, prep, data, seed)
        else:
            per_epoch, per_trial = options.nominal_costs
            notes.append(f"no calibration run (SearchOptions(calibrate=False)): {per_epoch:g}s per epoch and "
                         f"{per_trial:g}s per trial assumed to size Hyperband")
        left = end - time.monotonic()
        _require_one_trial(left, export_seconds, per_trial + per_epoch,
                           spent_seconds + time.monotonic() - called)
        cap = int(space.largest("max_epochs"))
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
        if interrupted:  # nothing to export: the stop goes on (exit 130/143 in the CLI, which says how to resume)
            raise KeyboardInterrupt
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
    refit_end = end - export_seconds
    full_refit = plan.seconds_per_trial + plan.max_epochs * plan.seconds_per_epoch
    if not options.refit:
        notes.append("no refit of the best configuration (SearchOptions(refit=False)): "
                     "the final model is the best trial's checkpoint")
    elif not interrupted and refit_end - time.monotonic() > full_refit:
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
