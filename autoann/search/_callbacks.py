"""Keras callbacks the search attaches to every trial.

Schedules are keyed to the epochs a fit call runs (``initial_epoch`` to
``epochs``), not to ``optimizer.iterations``: Keras Tuner's Hyperband rebuilds
the model and restarts the optimizer on every promotion, so a step-based
schedule would replay its warm-up each round.
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np

from autoann.metrics import search_score

#: 1cycle shape (Smith 2018, G-LR-3): rise from peak/START_DIV over the first
#: 45% of steps, fall back over the next 45%, then anneal to peak/END_DIV.
ONE_CYCLE_START_DIV = 25.0
ONE_CYCLE_END_DIV = 25_000.0
ONE_CYCLE_RISE = 0.45


def one_cycle_rate(fraction: float, peak: float) -> float:
    """The 1cycle learning rate at ``fraction`` (0..1) of the run."""
    low, end = peak / ONE_CYCLE_START_DIV, peak / ONE_CYCLE_END_DIV
    if fraction < ONE_CYCLE_RISE:
        return low + (peak - low) * fraction / ONE_CYCLE_RISE
    if fraction < 2 * ONE_CYCLE_RISE:
        return peak - (peak - low) * (fraction - ONE_CYCLE_RISE) / ONE_CYCLE_RISE
    tail = (fraction - 2 * ONE_CYCLE_RISE) / (1 - 2 * ONE_CYCLE_RISE)
    return low * (end / low) ** min(tail, 1.0)


class EpochSchedule(keras.callbacks.Callback):
    """Set the learning rate before every batch from the position in this fit call.

    ``kind`` is ``one_cycle`` (G-LR-3 default) or ``exponential`` (x0.1 over
    the run's length, G-LR-3).
    """

    def __init__(self, kind: str, peak: float, epochs: int, initial_epoch: int, steps_per_epoch: int):
        super().__init__()
        self.kind, self.peak = kind, float(peak)
        self.first = initial_epoch
        self.total = max(1, (epochs - initial_epoch) * steps_per_epoch)
        self.steps = steps_per_epoch
        self.epoch = initial_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        fraction = ((self.epoch - self.first) * self.steps + batch) / self.total
        if self.kind == "one_cycle":
            rate = one_cycle_rate(fraction, self.peak)
        else:
            rate = self.peak * 0.1**fraction
        self.model.optimizer.learning_rate.assign(rate)


class Diverged(Exception):
    """Raised inside ``fit`` when the loss stops being finite (G-GRAD-4)."""


class DivergenceGuard(keras.callbacks.Callback):
    """Stop a trial whose loss becomes NaN or infinite (G-GRAD-4).

    Keras Tuner would otherwise record it with its pre-divergence score, or
    fail the whole search after three such trials in a row.
    """

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise Diverged(f"loss became {loss} at batch {batch}")

    def on_epoch_end(self, epoch, logs=None):
        for key in ("loss", "val_loss"):
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(float(value)):
                raise Diverged(f"{key} became {value} at epoch {epoch + 1}")


class Deadline(keras.callbacks.Callback):
    """Cut the running fit short once the wall-clock deadline has passed.

    Keras finishes the epoch's validation after ``stop_training``, so the cut
    trial is still scored; ``cut`` tells the tuner to mark it in the leaderboard.
    """

    def __init__(self, deadline: float):
        super().__init__()
        self.deadline = deadline
        self.cut = False

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() >= self.deadline:
            self.cut = True
            self.model.stop_training = True


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch (the first one includes tracing)."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


class ValidationMetric(keras.callbacks.Callback):
    """Log ``val_<metric>`` after every epoch, computed like the test split's score.

    It must run before the callbacks that read the value (early stopping, the
    tuner's objective), so the fit puts it first. The network is called on the
    validation inputs directly in chunks: no predict function to trace per trial.
    """

    CHUNK = 8192

    def __init__(self, metric: str, task: str, x_val: dict[str, np.ndarray], y_val: np.ndarray,
                 w_val: np.ndarray | None = None):
        super().__init__()
        self.metric, self.task = metric, task
        self.x_val, self.y_val, self.w_val = x_val, y_val, w_val
        self.n = len(y_val)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or not self.n:
            return
        parts = [
            np.asarray(self.model({k: v[i:i + self.CHUNK] for k, v in self.x_val.items()}, training=False))
            for i in range(0, self.n, self.CHUNK)
        ]
        logs[f"val_{self.metric}"] = search_score(self.metric, self.task, self.y_val, np.concatenate(parts),
                                                  self.w_val)
