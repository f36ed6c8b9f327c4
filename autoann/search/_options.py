"""How a search begins and ends: the default network trained first (the first candidate and the
measure the plan is sized from) and the final refit on every row.

Behaviour as an object rather than an environment switch: a caller (a test, a
benchmark) that wants a search of trials only passes ``SearchOptions(calibrate=False,
refit=False)`` to :func:`autoann.search.fit_run`; the product never reads a
hidden channel, and the run's notes say when either was skipped.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SearchOptions:
    """``calibrate``: train the space's default network first, the first candidate and the measure
    (seconds per epoch and per trial, epochs to early stopping) Hyperband is sized from; without it
    ``nominal_costs`` are assumed and ``max_epochs`` is the space's, so only a generous budget or
    ``max_trials`` bounds the search. ``refit``: retrain the best configuration on every row (training +
    validation) when time is left. ``workers``: see below."""

    calibrate: bool = True
    refit: bool = True
    #: (seconds per epoch, seconds per trial) assumed when ``calibrate`` is False
    nominal_costs: tuple[float, float] = (0.05, 0.5)
    #: processes that run trials when the caller names none: None, one per core (``autoann.search._workers``)
    workers: int | None = None
    #: a worker process starts afresh after this many trials, or once its memory grew by this many MB since
    #: its first trial (TensorFlow keeps a few MB per trial; a new process image gives them back)
    recycle: tuple[int, float] = (40, 64.0)


#: what ``fit_run`` uses when given no options
DEFAULT = SearchOptions()
