"""One search, end to end: :func:`run_search` trains the space's default network
first (the first candidate, and the measure of an epoch, a trial and the epochs
a network needs here), sizes Hyperband to the budget, runs
:class:`~autoann.search._tuner.BudgetedHyperband`, then refits the best
configuration on every training row and calibrates its probabilities.
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
import numpy as np
import pandas as pd

from autoann.fitted_run import TrialEvent, TrialRow, leaderboard_frame
from autoann.search import _options
from autoann.errors import AutoANNError, BudgetError
from autoann.search._budget import SearchPlan, plan_search
from autoann.search._calibration import Calibration, fit_temperature
from autoann.search._fit import VALIDATION_BATCH, FitRecord, TrainingData, fit_network
from autoann.search._hypermodel import AutoANNHyperModel
from autoann.search._hyperparameters import declare, objective
from autoann.search._network import build_network
from autoann.search._options import SearchOptions
from autoann.search._preprocessing import Preprocessing
from autoann.search._oracle import BudgetedOracle
from autoann.search._selection import compare
from autoann.search._tuner import PROJECT, BudgetedHyperband, load_weights
from autoann.search._workers import LOOPBACK, Chief, default_workers, write_worker_inputs
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
    calibration: dict[str, Any] | None = None

    @property
    def leaderboard(self) -> pd.DataFrame:
        return leaderboard_frame(self.trials)


#: Keras Tuner's own per-trial bookkeeping (trial/oracle JSON, checkpoint),
#: added to the measured build + tracing cost.
TRIAL_BOOKKEEPING_SECONDS = 0.15
#: the default network may take at most this share of what is left for the search and the final model
DEFAULT_SHARE = 0.4
#: the trial id of the default network in the leaderboard
DEFAULT_TRIAL = "default"
#: the final refit on every row may reserve at most this share of what the default network leaves
FINAL_SHARE = 0.4
DEFAULT_WEIGHTS = "default.weights.h5"
DEFAULT_RECORD = "default_trial.json"


@dataclass
class Trained:
    """A network the search may keep: its configuration, validation score and learning curves."""

    values: dict[str, Any]
    score: float
    history: dict[str, list[float]]
    best_epochs: int  # epochs from scratch up to the kept one: what the final refit trains
    label: str
    trial_id: str | None = None  # the Keras Tuner trial whose checkpoint holds it; None for the default network


def train_default(space: SearchSpace, prep: Preprocessing, data: TrainingData, *, seed: int, deadline: float,
                  workdir: Path, verbose: int = 0) -> tuple[TrialRow, FitRecord, float, float]:
    """Train the space's default network until early stopping ends it (or ``deadline``).

    The first candidate of every search (the rules' defaults encode strong
    published settings) and the measurement the plan is sized from: the
    epochs it needed become Hyperband's ``max_epochs``, its steady epochs the
    cost of an epoch, its build and first-epoch excess the cost of a trial.
    Returns its leaderboard row, its fit record, the seconds per epoch and per trial.
    """
    # inactive conditional hyperparameters are left out, as Keras Tuner leaves them out of a trial's values
    values = typed_values({k: v for k, v in declare(kt.HyperParameters(), space).items() if v is not None})
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    model = build_network(values, prep, weighted_metrics=data.sample_weighted)
    built = time.perf_counter() - start
    record = fit_network(model, values, data, epochs=int(space.largest("max_epochs")), deadline=deadline,
                         seed=seed, verbose=verbose)
    model.save_weights(workdir / DEFAULT_WEIGHTS)
    steady = sorted(record.epoch_seconds[1:])
    per_epoch = steady[len(steady) // 2] if steady else record.fit_seconds
    first = record.epoch_seconds[0] if record.epoch_seconds else record.fit_seconds
    overhead = built + max(first - per_epoch, 0.0) + TRIAL_BOOKKEEPING_SECONDS
    score = record.score if record.score is not None and math.isfinite(record.score) else None
    row = TrialRow(
        trial_id=DEFAULT_TRIAL, status="failed" if score is None else ("cut" if record.cut else "completed"),
        score=score, epochs_to=int(space.largest("max_epochs")), epochs_run=record.epochs_run,
        best_epoch=record.best_epochs, fit_seconds=round(record.fit_seconds, 4),
        seconds=round(time.perf_counter() - start, 4), message=record.diverged, values=values,
    )
    (workdir / DEFAULT_RECORD).write_text(json.dumps({"row": row.to_json(), "history": record.history,
                                                      "per_epoch": per_epoch, "overhead": overhead}))
    return row, record, per_epoch, overhead


def _sized_plan(space: SearchSpace, data: TrainingData, *, left: float, export_seconds: float, spent: float,
                per_epoch: float, per_trial: float, max_epochs: int, workers: int) -> SearchPlan:
    """The plan for what is left after the default network: Hyperband's brackets, and the final model's reserve."""
    _require_one_trial(left, export_seconds, per_trial + per_epoch, spent)
    rows_ratio = (data.n_train + len(data.y_val)) / max(data.n_train, 1)
    final = min(per_trial + max_epochs * per_epoch * rows_ratio, FINAL_SHARE * max(left - export_seconds, 0.0))
    return plan_search(left, seconds_per_epoch=per_epoch, seconds_per_trial=per_trial,
                       max_epochs=max_epochs, reserve_seconds=export_seconds + final, workers=workers)


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
    workers: int | None = None,
    listen: str = LOOPBACK,
    on_workers: Callable[[str], None] | None = None,
) -> SearchResult:
    """Train the default network, search ``space`` until ``end`` (a ``time.monotonic()`` instant), and return
    the final network: the best configuration refit on every row, calibrated.

    ``spent_seconds`` is the part of the budget used before this call
    (loading, profiling), so a budget too small names the whole minimum.
    ``options``: whether to train the default network first and refit (by default
    :data:`autoann.search._options.DEFAULT`, read at call time); the result's notes say which was skipped.
    ``workers``: processes that run trials (by default the options', else one per core); with more than one
    this process is the chief of Keras Tuner's distributed mode (:mod:`autoann.search._workers`), serving its
    oracle on ``listen`` (``HOST[:PORT]``) and telling ``on_workers`` how other machines join; with 0 it only
    serves (every trial runs in workers started with ``autoann worker``).
    """
    called = time.monotonic()
    options = _options.DEFAULT if options is None else options
    workers = options.workers if workers is None else workers
    workers = default_workers() if workers is None else workers
    workdir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        chief = None
        if workers != 1:  # the workers load the data and import TensorFlow while the default network trains
            write_worker_inputs(workdir, space, prep, data, seed)
            chief = stack.enter_context(Chief(workdir, workers=workers, listen=listen, recycle=options.recycle,
                                              announce=on_workers))
        return _run_search(space, prep, data, end=end, export_seconds=export_seconds, workdir=workdir,
                           max_trials=max_trials, seed=seed, resume=resume, verbose=verbose, on_trial=on_trial,
                           on_plan=on_plan, spent_seconds=spent_seconds + time.monotonic() - called,
                           options=options, chief=chief)


def _run_search(space: SearchSpace, prep: Preprocessing, data: TrainingData, *, end: float, export_seconds: float,
                workdir: Path, max_trials: int | None, seed: int, resume: bool, verbose: int,
                on_trial: Callable[[TrialEvent], None] | None, on_plan: Callable[[SearchPlan], None] | None,
                spent_seconds: float, options: SearchOptions, chief: Chief | None) -> SearchResult:
    called = time.monotonic()
    notes: list[str] = []
    obj = objective(space)
    plan_file, default_file = workdir / "plan.json", workdir / DEFAULT_RECORD
    default: tuple[TrialRow, dict[str, list[float]]] | None = None
    if resume and plan_file.exists():
        plan = SearchPlan(**json.loads(plan_file.read_text()))
        if default_file.exists():
            saved = json.loads(default_file.read_text())
            default = TrialRow.from_json(saved["row"]), saved["history"]
    else:
        cap = int(space.largest("max_epochs"))
        if options.calibrate:
            left = end - time.monotonic()
            row, record, per_epoch, per_trial = train_default(
                space, prep, data, seed=seed, workdir=workdir, verbose=verbose,
                deadline=time.monotonic() + DEFAULT_SHARE * max(left - export_seconds, 0.0))
            default = row, record.history
            max_epochs = min(max(record.epochs_run, 3), cap)
            if on_trial is not None:
                on_trial(TrialEvent.after([row], obj.name, obj.direction))
        else:
            per_epoch, per_trial = options.nominal_costs
            max_epochs = cap
            notes.append(f"no default network first (SearchOptions(calibrate=False)): {per_epoch:g}s per epoch and "
                         f"{per_trial:g}s per trial assumed to size Hyperband, max_epochs {cap}")
        plan = _sized_plan(space, data, left=end - time.monotonic(), export_seconds=export_seconds,
                           spent=spent_seconds + time.monotonic() - called, per_epoch=per_epoch,
                           per_trial=per_trial, max_epochs=max_epochs, workers=max(chief.workers, 1) if chief else 1)
        plan_file.write_text(json.dumps(plan.to_dict()))
    if on_plan is not None:
        on_plan(plan)

    hard = end - plan.reserve_seconds
    hypermodel = AutoANNHyperModel(space, prep, data, seed=seed, verbose=verbose)
    hypermodel.deadline = hard
    with contextlib.redirect_stdout(None):  # Keras Tuner prints "Reloading Tuner from ..." on resume
        tuner = _tuner(hypermodel, hard, plan, obj, max_trials, seed, workdir, resume)
    oracle: BudgetedOracle = tuner.oracle
    oracle.earlier_rows = [default[0]] if default else []
    oracle.checkpoint_path, oracle.on_trial = tuner.checkpoint_path, on_trial
    oracle.verbose = verbose
    interrupted = False
    started = time.monotonic()
    try:
        if oracle.done():
            pass
        elif chief is not None:
            notes += chief.serve(tuner, hard)
        else:
            tuner.search(verbose=verbose)
    except KeyboardInterrupt:
        interrupted = True
    search_seconds = time.monotonic() - started

    rows = oracle.all_rows()
    candidates = _candidates(tuner, default, obj.direction)
    if not candidates:
        failures = [r.message for r in rows if r.status == "failed"]
        if interrupted:  # nothing to export: the stop goes on (exit 130/143 in the CLI, which says how to resume)
            raise KeyboardInterrupt
        if failures:
            raise AutoANNError(
                f"All {len(failures)} trials failed; the first failure: {failures[0]}. "
                "Check the search space (e.g. lower the learning-rate range) or run with AUTOANN_DEBUG=1."
            )
        raise BudgetError("No trial finished within the budget; give a larger --time-budget.")
    best, network, choice = _choose(candidates, tuner, prep, data, space, workdir, seed)
    if choice is not None:
        notes.append(choice)
    calibration = _calibrate(network, data, space)
    final = f"{best.label} (its checkpoint at epoch {best.best_epochs}, trained on the training split)"
    if not options.refit:
        notes.append("no refit on every row (SearchOptions(refit=False)): the final model is the best checkpoint")
    elif interrupted:
        notes.append("no refit on every row: the search was interrupted; the final model is the best checkpoint")
    else:
        refit = _refit_all_rows(best, prep, data, plan, end - export_seconds, seed, verbose)
        if refit is None:
            notes.append(f"no refit on every row: {best.best_epochs} epochs on the training and validation rows "
                         "would not finish in the budget (or diverged); the final model is the best checkpoint")
        else:
            network = refit
            final = (f"{best.label}, retrained from scratch on the training and validation rows "
                     f"({data.n_train + len(data.y_val)}) for {best.best_epochs} epochs, its best epoch count")
    if calibration is not None:
        notes.append(calibration.describe())
    return SearchResult(
        values=best.values,
        network=network,
        history=best.history,
        val_score=best.score,
        trials=rows,
        progress=_progress(rows, obj.direction),
        plan=plan,
        objective={"name": obj.name, "direction": obj.direction, "metric": space.setting("metric")},
        final_model=final,
        interrupted=interrupted,
        fit_seconds=sum(r.fit_seconds for r in rows),
        search_seconds=search_seconds,
        notes=notes,
        calibration=None if calibration is None else calibration.to_dict(),
    )


def _candidates(tuner: BudgetedHyperband, default: tuple[TrialRow, dict[str, list[float]]] | None,
                direction: str) -> list[Trained]:
    """The default network and Hyperband's best trial, best-scored first (the default first on a tie)."""
    found: list[Trained] = []
    if default is not None and default[0].scored:
        row, history = default
        found.append(Trained(row.values, float(row.score), history, row.best_epoch or row.epochs_run,
                             "the default network"))
    oracle: BudgetedOracle = tuner.oracle
    done = [r for r in oracle.rows.values() if r.status in ("completed", "cut") and r.score is not None]
    if done:
        trial = oracle.best_trial()
        row = oracle.rows[trial.trial_id]
        values = typed_values({k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")})
        found.append(Trained(values, float(trial.score), oracle.history(trial.trial_id),
                             row.best_epoch or row.epochs_to or 1, f"trial {trial.trial_id}", trial.trial_id))
    return sorted(found, key=lambda t: -t.score if direction == "max" else t.score)


def _choose(candidates: list[Trained], tuner: BudgetedHyperband, prep: Preprocessing, data: TrainingData,
            space: SearchSpace, workdir: Path, seed: int) -> tuple[Trained, keras.Model, str | None]:
    """The network to keep, loaded, and the note saying why.

    A trial that validated better than the default network replaces it only if it wins the paired
    bootstrap on the validation rows at the space's ``selection_confidence`` (:mod:`autoann.search._selection`).
    """
    best = candidates[0]
    metric, confidence = space.setting("metric"), float(space.setting("selection_confidence"))
    if len(candidates) < 2:
        return best, _load(tuner, best, prep, workdir, seed), None
    if best.trial_id is None or not confidence or not len(data.y_val):
        other = candidates[1]
        return best, _load(tuner, best, prep, workdir, seed), (
            f"kept {best.label}: validation {metric} {best.score:.4g}, against {other.score:.4g} for {other.label}")
    default = candidates[1]
    networks = [_load(tuner, default, prep, workdir, seed), _load(tuner, best, prep, workdir, seed)]
    outputs = [np.asarray(n.predict(data.x_val, batch_size=VALIDATION_BATCH, verbose=0)) for n in networks]
    comparison = compare(metric, space.setting("task"), data.y_val, *outputs, data.w_val, confidence=confidence,
                         seed=seed)
    note = comparison.describe(default.label, best.label)
    if comparison.challenger_kept:
        return best, networks[1], note
    return default, networks[0], note


def _load(tuner: BudgetedHyperband, best: Trained, prep: Preprocessing, workdir: Path, seed: int) -> keras.Model:
    """A candidate network's weights at its best epoch."""
    if best.trial_id is not None:
        return tuner.load_trial_model(best.trial_id)
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = build_network(best.values, prep)
    load_weights(model, workdir / DEFAULT_WEIGHTS)
    return model


def _calibrate(network: keras.Model, data: TrainingData, space: SearchSpace) -> Calibration | None:
    """Temperature scaling fitted on the kept checkpoint's validation predictions (classifiers only).

    The refit on every row has seen the validation rows, so its temperature is the one its checkpoint
    needed: the same configuration, trained as long.
    """
    if space.setting("task") not in ("binary", "multiclass") or not len(data.y_val):
        return None
    proba = np.asarray(network.predict(data.x_val, batch_size=VALIDATION_BATCH, verbose=0))
    return fit_temperature(proba, data.y_val, data.w_val)


def _require_one_trial(left: float, export_seconds: float, one_trial: float, spent: float) -> None:
    """Raise :class:`BudgetError` naming the smallest budget that trains one trial of one epoch.

    The search gets at least 1 - FINAL_SHARE of what is left after the export reserve (the
    final refit takes at most FINAL_SHARE); the 10% is a margin for noise.
    """
    if (1 - FINAL_SHARE) * (left - export_seconds) >= one_trial:
        return
    needed = math.ceil(1.1 * (spent + export_seconds + one_trial / (1 - FINAL_SHARE)))
    raise BudgetError(
        f"The time budget is too small: {spent:.1f}s went to loading, profiling and timing the network, one "
        f"trial of one epoch takes about {one_trial:.1f}s here, and {export_seconds:.0f}s are kept for the final "
        f"model. Give a time budget of at least {needed}s (--time-budget {needed}s, or time_budget={needed}), "
        "or use a smaller space."
    )


def _tuner(hypermodel, hard, plan, obj, max_trials, seed, workdir, resume) -> BudgetedHyperband:
    oracle = BudgetedOracle(soft_deadline=hard - plan.seconds_per_trial, max_trials=max_trials, brackets=plan.brackets,
                            objective=obj, max_epochs=plan.max_epochs, factor=plan.factor, seed=seed)
    return BudgetedHyperband(hypermodel, oracle, directory=str(workdir), project_name=PROJECT, overwrite=not resume)


def _refit_all_rows(best: Trained, prep: Preprocessing, data: TrainingData, plan: SearchPlan, end: float,
                    seed: int, verbose: int) -> keras.Model | None:
    """Retrain the best configuration from scratch on the training and validation rows for its best epoch count.

    None when it would not finish before ``end`` (estimated from the plan's measured costs) or when it
    diverged or was cut: nothing validates it, so only a complete, finite refit replaces the checkpoint.
    """
    everything = data.with_validation_rows()
    estimate = plan.seconds_per_trial + best.best_epochs * plan.seconds_per_epoch * everything.n_train / data.n_train
    if end - time.monotonic() < estimate:
        return None
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = build_network(best.values, prep, weighted_metrics=data.sample_weighted)
    record = fit_network(model, best.values, everything, epochs=best.best_epochs, deadline=end, seed=seed,
                         verbose=verbose, validate=False)
    if record.diverged or record.cut or record.epochs_run < best.best_epochs:
        return None
    return model


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
