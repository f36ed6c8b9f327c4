"""Training one network: the cached tf.data pipelines and the fit with its guards.

:class:`TrainingData` holds the preprocessed splits once and caches a
pipeline per batch size; :func:`fit_network` trains with early stopping on
the objective, the chosen learning-rate schedule, and the divergence and
deadline guards, and says what it did in a :class:`FitRecord`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from autoann.search._callbacks import (Deadline, Diverged, DivergenceGuard, EpochSchedule, EpochTimer,
                                       ValidationMetric)
from autoann.search._network import (WEIGHTED_FLAG, compile_network, objective_of, peak_learning_rate,
                                     stop_monitor)
from autoann.space import value

VALIDATION_BATCH = 4096


@dataclass
class TrainingData:
    """Preprocessed arrays, created once; tf.data pipelines cached per batch size.

    ``w_train`` / ``w_val`` are the user's per-row sample weights of the two
    splits (finite, >= 0, already checked and scaled by the trainer), or None.
    Training multiplies ``w_train`` with the balanced class weights when the
    space asks for them; the validation data carries ``w_val``, so the loss and
    the (weighted) objective metric of every trial are weighted the same way.
    """

    x_train: dict[str, np.ndarray]
    y_train: np.ndarray
    x_val: dict[str, np.ndarray]
    y_val: np.ndarray
    class_weight: dict[int, float] | None = None
    w_train: np.ndarray | None = None
    w_val: np.ndarray | None = None
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    def with_validation_rows(self) -> "TrainingData":
        """The training and validation rows together, to train on (the validation part is kept only as such)."""
        def both(a, b):
            return None if a is None or b is None else np.concatenate([a, b])

        x = {k: np.concatenate([v, self.x_val[k]]) for k, v in self.x_train.items()}
        return TrainingData(x, np.concatenate([self.y_train, self.y_val]), self.x_val, self.y_val,
                            self.class_weight, w_train=both(self.w_train, self.w_val), w_val=self.w_val)

    @property
    def sample_weighted(self) -> bool:
        """Whether the user gave sample weights (then metrics are compiled as weighted metrics)."""
        return self.w_train is not None or self.w_val is not None

    def train_weights(self, weighted: bool = False) -> np.ndarray | None:
        """Per-row training weights: balanced class weights (if ``weighted``) times the user's weights."""
        weights = None
        if weighted and self.class_weight:
            lookup = np.array([self.class_weight[i] for i in sorted(self.class_weight)], "float32")
            weights = lookup[self.y_train.astype(int).ravel()]
        if self.w_train is not None:
            user = np.asarray(self.w_train, dtype="float32").ravel()
            weights = user if weights is None else weights * user
        return weights

    def train_dataset(self, batch_size: int, seed: int, weighted: bool = False):
        """Shuffled batches; ``weighted`` adds balanced class weights as sample weights."""
        import tensorflow as tf

        key = ("train", batch_size, weighted)
        if key not in self._cache:
            weights = self.train_weights(weighted)
            parts = (self.x_train, self.y_train) if weights is None else (self.x_train, self.y_train, weights)
            ds = tf.data.Dataset.from_tensor_slices(parts).cache()
            ds = ds.shuffle(min(self.n_train, 50_000), seed=seed, reshuffle_each_iteration=True)
            self._cache[key] = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
        return self._cache[key]

    def val_dataset(self):
        import tensorflow as tf

        if "val" not in self._cache:
            parts = (self.x_val, self.y_val)
            if self.w_val is not None:
                parts = (*parts, np.asarray(self.w_val, dtype="float32").ravel())
            ds = tf.data.Dataset.from_tensor_slices(parts).batch(VALIDATION_BATCH).cache()
            self._cache["val"] = ds.prefetch(tf.data.AUTOTUNE)
        return self._cache["val"]


@dataclass
class FitRecord:
    """What one fit call did, for the leaderboard and the overhead benchmark."""

    fit_seconds: float = 0.0
    epochs_run: int = 0
    cut: bool = False
    diverged: str = ""
    epoch_seconds: list[float] = field(default_factory=list)
    history: dict[str, list[float]] = field(default_factory=dict)
    #: index into ``history`` of the epoch whose weights the network kept (early stopping restores the best)
    best_index: int = -1
    #: the validation objective at that epoch (None without validation, or when it was not computed)
    score: float | None = None

    @property
    def best_epochs(self) -> int:
        """Epochs of this fit up to and including the kept one."""
        return self.best_index + 1 if self.best_index >= 0 else self.epochs_run


def fit_network(
    model: keras.Model,
    values: dict[str, Any],
    data: TrainingData,
    *,
    epochs: int,
    initial_epoch: int = 0,
    deadline: float = float("inf"),
    seed: int = 0,
    verbose: int = 0,
    callbacks: list[Any] | None = None,
    validate: bool = True,
) -> FitRecord:
    """Train with early stopping, the chosen schedule, divergence and deadline guards.

    After every epoch the validation objective (``val_<metric>``) is computed
    like the test split's score; early stopping keeps the best epoch's weights.
    ``validate=False`` trains exactly ``epochs`` epochs with no validation and no
    early stopping: the final refit on every row, which leaves nothing to validate on.
    """
    batch_size = int(value(values, "batch_size"))
    steps = math.ceil(data.n_train / batch_size)
    metric = value(values, "metric")
    monitor, direction = stop_monitor(metric) if validate else ("loss", "min")
    guard, timer = Deadline(deadline), EpochTimer()
    stopper = keras.callbacks.EarlyStopping(monitor=monitor, mode=direction, patience=int(value(values, "patience")),
                                            restore_best_weights=True)
    first = [ValidationMetric(metric, value(values, "task"), data.x_val, data.y_val, data.w_val)] if validate else []
    cbs = first + list(callbacks or []) + [DivergenceGuard(), guard, timer] + ([stopper] if validate else [])
    schedule = value(values, "schedule")
    if schedule in ("one_cycle", "exponential"):
        cbs.append(EpochSchedule(schedule, peak_learning_rate(values), epochs, initial_epoch, steps))
    elif schedule == "performance":
        cbs.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode=direction, factor=0.5,
                                                     patience=max(1, int(value(values, "patience")) // 2)))
    if data.sample_weighted and not getattr(model, WEIGHTED_FLAG, False):
        # A network built without knowing the data is weighted (the calibration,
        # the final refit): recompile so its objective is weighted like the trials'.
        compile_network(model, values, weighted=True)
    if not model.optimizer.built:
        # Built here, after any weights were loaded (a promotion starts its optimizer afresh, as in Keras
        # Tuner), not lazily inside the first traced step: variables created there make TensorFlow trace
        # the train step twice, which cost ~0.3 s per trial and most of the ~7 MB each trial leaked.
        model.optimizer.build(model.trainable_variables)
    record = FitRecord()
    start = time.perf_counter()
    try:
        history = model.fit(
            data.train_dataset(batch_size, seed, value(values, "class_weight") == "balanced"),
            validation_data=data.val_dataset() if validate else None,
            epochs=epochs,
            initial_epoch=initial_epoch,
            callbacks=cbs,
            verbose=verbose,
            shuffle=False,  # the cached dataset reshuffles itself every epoch
        )
        record.history = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    except Diverged as exc:
        record.diverged = str(exc)
    record.fit_seconds = time.perf_counter() - start
    record.epochs_run = len(next(iter(record.history.values()), []))
    record.cut = guard.cut
    record.epoch_seconds = timer.seconds
    if record.epochs_run:
        kept = stopper.best_epoch - initial_epoch if validate and stopper.best_weights is not None else -1
        record.best_index = kept if 0 <= kept < record.epochs_run else record.epochs_run - 1
        scores = record.history.get(objective_of(metric)[0])
        if validate and scores:
            record.score = float(scores[record.best_index])
    return record


