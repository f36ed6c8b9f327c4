"""Stage 4, (Dataset, Profile, SearchSpace) -> :class:`FittedRun`: split, preprocess, search on a budget.

The test split is held out first; preprocessing is fitted on the training
split only; Keras Tuner's Hyperband searches the space until the wall-clock
budget says stop; the final model is assembled on the raw columns. Importing
this package does not import TensorFlow: that happens when a search starts.
"""

from autoann.search._options import SearchOptions
from autoann.search._trainer import (
    FittedRun,
    TrainResult,
    check_backbone,
    check_run_output,
    default_run_dir,
    fit_run,
    resumable,
    train,
)
from autoann.search._worker import Recycle, WorkerError, run_worker
from autoann.search._workers import default_workers, parse_address

__all__ = [
    "FittedRun",
    "SearchOptions",
    "TrainResult",
    "check_backbone",
    "check_run_output",
    "default_run_dir",
    "fit_run",
    "resumable",
    "run_worker",
    "train",
    "Recycle",
    "WorkerError",
    "default_workers",
    "parse_address",
]
