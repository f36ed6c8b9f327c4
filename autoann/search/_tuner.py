"""The tuner: what runs a trial, in the search's own process or in a worker.

Keras Tuner's tuner builds, fits and reports each trial the oracle hands it
(:mod:`autoann.search._oracle` decides everything else). :class:`BudgetedHyperband`
builds a trial's network fresh (a promotion with its parent's weights), fits
it on the cached tensors with a cut at the hard deadline, writes its best
epoch's weights once and, beside them, the fit record the oracle turns into
the trial's leaderboard row. A worker also leaves (to be replaced by a fresh
process) after a number of trials or once its memory has grown by a limit:
TensorFlow and Keras leak a few MB per trial that no ``clear_session`` gives back.
"""

from __future__ import annotations

import gc
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

import keras

from autoann.search._hypermodel import AutoANNHyperModel
from autoann.search._kt import HyperbandAdapter
from autoann.search._oracle import FIT_RECORD, BudgetedOracle
from autoann.search._worker import Recycle, recycle_reason

PROJECT = "search"
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


def resident_mb() -> float | None:
    """This process's resident memory now, in MB (None where /proc is not available)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


class BudgetedHyperband(HyperbandAdapter):
    """Runs the trials a :class:`~autoann.search._oracle.BudgetedOracle` hands out (in-process or over gRPC).

    ``worker``: this tuner's name in the leaderboard. ``recycle_after`` / ``rss_growth_mb``: a worker
    leaves (:class:`Recycle`) after that many trials, or once its memory grew by that much since its
    first trial, unless the search is in its last minute (:func:`~autoann.search._worker.recycle_reason`);
    0 never (the search's own process).
    """

    def __init__(self, hypermodel: AutoANNHyperModel, oracle: BudgetedOracle, *, worker: str = "main",
                 recycle_after: int = 0, rss_growth_mb: float = 0.0, **kwargs: Any):
        super().__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)
        self.worker = worker
        self.recycle_after = recycle_after
        self.rss_growth_mb = rss_growth_mb
        self.trials_run = 0
        self._first_rss: float | None = None
        self._last_rss: float | None = None
        self._trial_start = 0.0
        #: where a trial's time went outside ``fit`` (in its fit record, for bench/search_workers.py)
        self._steps: dict[str, float] = {}
        self._builds = 0

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
        start = time.monotonic()
        model = self._fresh_network(hp)
        built = time.monotonic()
        history = self.hypermodel.fit(hp, model, epochs=hp.values["tuner/epochs"],
                                      initial_epoch=hp.values["tuner/initial_epoch"])
        fitted = time.monotonic()
        model.save_weights(self.checkpoint_path(trial.trial_id))
        self._steps = {"build_seconds": built - start, "save_seconds": time.monotonic() - fitted}
        return history

    def pre_create_trial(self) -> None:
        why = recycle_reason(self.trials_run, self._first_rss, self._last_rss,
                             self.hypermodel.deadline - time.monotonic(), after=self.recycle_after,
                             growth_mb=self.rss_growth_mb)
        if why:
            raise Recycle(f"{self.worker} {why}")

    def on_trial_begin(self, trial) -> None:
        super().on_trial_begin(trial)
        self._trial_start = time.monotonic()

    def on_trial_end(self, trial) -> None:
        """Write the trial's fit record beside its checkpoint, then report the trial's end to the oracle."""
        record = self.hypermodel.last
        self.hypermodel.last = None
        self.trials_run += 1
        self._last_rss = resident_mb()
        if self._first_rss is None:
            self._first_rss = self._last_rss
        fit: dict[str, Any] = {"seconds": time.monotonic() - self._trial_start, "worker": self.worker,
                               "rss_mb": self._last_rss, **self._steps}
        self._steps = {}
        if record is not None:
            fit.update(epochs_run=record.epochs_run, best_epochs=record.best_epochs, fit_seconds=record.fit_seconds,
                       epoch_seconds=record.epoch_seconds, cut=record.cut, diverged=record.diverged,
                       history=record.history)
        (Path(self.get_trial_dir(trial.trial_id)) / FIT_RECORD).write_text(json.dumps(fit))
        super().on_trial_end(trial)

    def load_trial_model(self, trial_id: str) -> keras.Model:
        """The trial's network at its best epoch.

        Unlike Keras Tuner's ``load_model`` this does not first load the parent's
        checkpoint of a promoted trial (it may have been pruned).
        """
        keras.backend.clear_session()
        model = self.hypermodel.build(self.oracle.get_trial(trial_id).hyperparameters)
        load_weights(model, self.checkpoint_path(trial_id))
        return model
