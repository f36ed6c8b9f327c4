"""scikit-learn estimators: :class:`AutoANNClassifier` and :class:`AutoANNRegressor`.

Thin doors onto :func:`autoann.search._trainer.fit_run`, the function behind
``autoann train``: ``fit`` profiles the data, recommends a search space from
the rule base and runs the budgeted Hyperband search; no test split is held
out (``test_size=0``), because the caller cross-validates. The fitted model is
one Keras model on the raw columns (its own imputation, scaling and
encoding), so DataFrames with string or categorical columns and NaN work
without a preprocessing pipeline in front.

``__init__`` only stores its arguments; they are checked at the top of
``fit`` against the table in :mod:`autoann.params`. TensorFlow is imported
only when fitting, predicting or unpickling. See docs/estimators.md.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from autoann.estimators import _checks as _u
from autoann.errors import AutoANNError, ExportError
from autoann.fitted_run import FittedRun, RunMetadata, trials_from_frame


class NotFittedError(AutoANNError, SklearnNotFittedError):
    """``predict``, ``score`` or ``export`` was called before ``fit``.

    Also a :class:`sklearn.exceptions.NotFittedError` (hence a ``ValueError``
    and an ``AttributeError``), so scikit-learn code that catches it keeps working.
    """


#: scikit-learn estimator checks that cannot pass, and why (docs/estimators.md).
EXPECTED_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "a weight of k is not the same as k copies of a row for mini-batch SGD: copies change the validation "
        "split, the batches and the steps per epoch (scikit-learn lists this check as an expected failure of "
        "its SGD estimators for the same reason)"
    ),
}


class _AutoANNEstimator(BaseEstimator):
    """What the classifier and the regressor share: parameters, fit, export, pickling."""

    def __init__(
        self,
        time_budget: str | float = "1m",
        max_trials: int | None = None,
        max_epochs: int | None = None,
        goal: str = "balanced",
        metric: str | None = None,
        rules: list[str] | None = None,
        pins: dict[str, Any] | None = None,
        validation_fraction: float = 0.2,
        random_state: int | None = None,
        verbose: int = 0,
        working_dir: str | None = None,
        workers: int | None = None,
    ):
        self.time_budget = time_budget
        self.max_trials = max_trials
        self.max_epochs = max_epochs
        self.goal = goal
        self.metric = metric
        self.rules = rules
        self.pins = pins
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.verbose = verbose
        self.working_dir = working_dir
        self.workers = workers

    # -- scikit-learn protocol ---------------------------------------------
    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # NaN is imputed inside the model
        tags.input_tags.categorical = True  # string / category / bool columns are one-hot encoded or embedded
        # input_tags.string stays False: scikit-learn reads it as "any object in an array is accepted";
        # autoann takes strings and numbers, and refuses other objects with a TypeError (docs/estimators.md).
        tags.non_deterministic = True  # the search stops on a wall-clock budget
        return tags

    @classmethod
    def expected_failed_checks(cls) -> dict[str, str]:
        """The scikit-learn estimator checks this estimator cannot pass, with the reason.

        scikit-learn >= 1.6 has no estimator tag for them: pass this to
        ``parametrize_with_checks(expected_failed_checks=...)``.
        """
        return dict(EXPECTED_FAILED_CHECKS)

    def _require_fitted(self) -> None:
        try:
            check_is_fitted(self)
        except SklearnNotFittedError as exc:
            raise NotFittedError(str(exc)) from None

    # -- fitting -----------------------------------------------------------
    def _fit_frame(self, frame: pd.DataFrame | np.ndarray, y: np.ndarray, task: str, why: str,
                   sample_weight: np.ndarray | None, started: float) -> None:
        """Run the search on ``frame`` (or images) and the target(s) ``y`` and keep what it found.

        ``task`` is decided by ``fit`` (``why`` says how) and handed on with X
        and y as one Dataset: nothing is merged, split again or re-inferred.
        ``started`` is when ``fit`` began: the input checks and TensorFlow's
        import count against ``time_budget`` too.
        """
        from autoann.data import load_data
        from autoann.search import fit_run

        owner = type(self).__name__
        dataset = load_data(frame, y, task=task, task_reason=why, sample_weight=sample_weight)
        knobs = dict(goal=self.goal, metric=self.metric, rules=[str(r) for r in self.rules or ()],
                     pins=_u.pin_assignments(self.pins), time_budget=self.time_budget,
                     max_trials=self.max_trials, max_epochs=self.max_epochs, seed=int(self.random_state or 0),
                     test_size=0.0, validation_size=float(self.validation_fraction), verbose=int(self.verbose),
                     owner=owner, export_seconds=_u.ASSEMBLY_SECONDS, started=started, workers=self.workers)
        if self.working_dir is not None:
            run = fit_run(dataset, workdir=Path(self.working_dir), **knobs)
        else:
            with tempfile.TemporaryDirectory(prefix="autoann-search-") as tmp:
                run = fit_run(dataset, workdir=Path(tmp), **knobs)
        self.model_ = run.model
        self.metadata_ = self._user_metadata(run.metadata).to_json()
        self.profile_ = run.profile
        self.space_ = run.space
        self.leaderboard_ = run.leaderboard
        self.best_params_ = dict(run.metadata.best_hyperparameters)
        self.history_ = dict(run.history or {})
        self.progress_ = list(run.progress or [])
        self.fit_seconds_ = float(run.seconds)

    def _user_metadata(self, metadata: RunMetadata) -> RunMetadata:
        if not hasattr(self, "feature_names_in_") and not hasattr(self, "image_shape_"):
            # fitted on a 2-D array: the export's predictor takes one too
            metadata = dataclasses.replace(metadata, feature_names=_u.feature_names(self))
        return metadata

    def _predict_raw(self, X: Any) -> np.ndarray:
        """The model's output for ``X``, shape (N, units), through the checks and call of ``autoann.load``'s Predictor.

        ``X`` is validated the scikit-learn way first (feature names, count, image shape); only the
        columns the model uses are passed on: the profiler's drops (constants, ids) are not worth a
        warning per call.
        """
        from autoann.predict import Predictor

        self._require_fitted()
        predictor = Predictor(self.model_, self.metadata_)
        X = _u.features(self, X, reset=False)
        if not isinstance(X, np.ndarray):
            X = X[[c.name for c in predictor.schema]]
        return predictor.raw_output(X, eager=True).astype("float64")

    # -- export and pickling -------------------------------------------------
    def export(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the run directory ``autoann train`` writes; ``autoann.load(path)`` reads it back.

        The folder is assembled next to ``path`` and moved into place at the
        end, so an existing run is never half-overwritten.
        """
        self._require_fitted()
        from autoann import export

        run_dir = Path(path)
        if run_dir.exists() and not overwrite:
            raise ExportError(f"{run_dir} already exists; choose another path, or pass overwrite=True.")
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.", suffix=".partial", dir=run_dir.parent))
        run = FittedRun(model=self.model_, metadata=RunMetadata.from_json(self.metadata_),
                        trials=trials_from_frame(self.leaderboard_), history=self.history_, progress=self.progress_,
                        profile=self.profile_, space=self.space_, seconds=self.fit_seconds_)
        try:
            export.write_run_files(run, staging)
            export.finalize_run(staging, run_dir, overwrite)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return run_dir

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # a copy: never touch the live estimator
        if "model_" in state:
            state["model_"] = _u.model_to_bytes(state["model_"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if isinstance(state.get("model_"), (bytes, bytearray)):
            state = {**state, "model_": _u.model_from_bytes(bytes(state["model_"]))}
        super().__setstate__(state)


class AutoANNClassifier(ClassifierMixin, _AutoANNEstimator):
    """A neural-network classifier whose architecture and training are searched for you.

    Parameters
    ----------
    time_budget : float or str, default="1m"
        Wall-clock budget of ``fit``: seconds, or text such as ``"90s"``, ``"5m"``.
    max_trials : int or None, default=None
        Stop the search after this many trials (None: only the budget stops it).
    max_epochs : int or None, default=None
        Cap on the epochs of any candidate (pins the ``max_epochs`` hyperparameter).
    goal : {"balanced", "accuracy", "latency"}, default="balanced"
        What the recommended search space favours.
    metric : str or None, default=None
        What the search optimizes on the validation split and picks the final model by: "accuracy" (None),
        "balanced_accuracy", "f1_macro", "roc_auc" or "log_loss" (the regressor: "r2" (None), "rmse" or
        "mae"). ``score`` stays scikit-learn's (accuracy / R2) whatever this says.
    rules : list of str or None, default=None
        Extra rule files, added to (and overriding) autoann's rule base.
    pins : dict or None, default=None
        Hyperparameters fixed by hand, e.g. ``{"n_layers": 2}`` (``--set`` of the CLI).
    validation_fraction : float, default=0.2
        Share of the rows held out (stratified) to score the trials.
    random_state : int or None, default=None
        Seed of the split, the weights and the search (None means 0).
    verbose : int, default=0
        0 silent, 1 one line per trial, 2 Keras progress too.
    working_dir : str or None, default=None
        Where Keras Tuner keeps its search state; None uses a temporary folder removed after ``fit``.
    workers : int or None, default=None
        Processes that run the search's trials side by side (None: one per core; 1: all in this process;
        docs/workers.md). The model found does not depend on it beyond the order trials end in.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in ``fit``, sorted, in their own dtype.
    model_ : keras.Model
        Preprocessing + network on the raw named columns (``metadata_["schema"]``).
    metadata_, profile_, space_, leaderboard_, best_params_, history_, progress_, fit_seconds_,
    n_features_in_, feature_names_in_ : see docs/estimators.md.
    image_shape_ : tuple of int
        Only when fitted on images (a 3-D or 4-D array): the (height, width, channels) of each.
    """

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "AutoANNClassifier":
        """Search a network for ``X`` -> ``y`` within ``time_budget``.

        ``sample_weight``: one non-negative weight per row, multiplied with the
        balanced class weights; it weights the validation objective too.
        """
        started = time.monotonic()
        _u.check_params(self)
        owner = type(self).__name__
        frame = _u.features(self, X, reset=True)
        y = _u.check_labels(owner, frame, y)
        check_classification_targets(y)
        _u.check_enough_rows(owner, len(y))
        try:
            classes, codes = np.unique(y, return_inverse=True)
        except TypeError as exc:
            raise ValueError(f"{owner} cannot sort the labels in y ({exc}); use labels of one type "
                             "(all str, all int or all bool).") from None
        if len(classes) < 2:
            raise ValueError(f"{owner} needs at least 2 classes in y; got 1 class: {classes[0]!r}.")
        weights = _u.check_weights(sample_weight, len(y))
        frame, codes, weights = _u.repeat_rare_classes(owner, frame, codes.ravel(), classes, weights)
        self.classes_ = classes
        # The model learns class codes 0..K-1 (so no label is re-read as text);
        # metadata_ maps them back to the user's labels for the export.
        task = "binary" if len(classes) == 2 else "multiclass"
        why = f"{owner} was fitted on {len(classes)} classes, so the task is {task} classification."
        self._fit_frame(frame, codes, task, why, weights, started)
        return self

    def _user_metadata(self, metadata: RunMetadata) -> RunMetadata:
        from autoann.data import label_dtype

        return dataclasses.replace(super()._user_metadata(metadata), classes=[str(c) for c in self.classes_],
                                   class_dtype=label_dtype(pd.Series(self.classes_)))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        from autoann.metrics import probabilities

        return probabilities(self._predict_raw(X), len(self.classes_))

    def decision_function(self, X: Any) -> np.ndarray:
        """Binary: the logit of P(``classes_[1]``), shape (n_samples,). Multiclass: log-probabilities."""
        self._require_fitted()
        proba = self.predict_proba(X)
        tiny = np.finfo("float64").tiny
        if len(self.classes_) == 2:
            p = np.clip(proba[:, 1], tiny, np.nextafter(1.0, 0.0))
            return np.log(p) - np.log1p(-p)
        return np.log(np.clip(proba, tiny, None))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable label of each row, in the dtype of ``classes_``."""
        self._require_fitted()
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class AutoANNRegressor(RegressorMixin, _AutoANNEstimator):
    """A neural-network regressor (one or several targets) whose architecture and training are searched.

    Parameters are those of :class:`AutoANNClassifier` (``validation_fraction``
    is a random, unstratified split here).

    Attributes
    ----------
    n_outputs_ : int
        Number of targets; ``predict`` returns shape (n_samples,) for one, (n_samples, n_outputs_) otherwise.
    model_, metadata_, profile_, space_, leaderboard_, best_params_, history_, progress_, fit_seconds_,
    n_features_in_, feature_names_in_ : see docs/estimators.md.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "AutoANNRegressor":
        """Search a network for ``X`` -> ``y`` within ``time_budget``.

        ``sample_weight``: one non-negative weight per row; it weights the validation objective too.
        """
        started = time.monotonic()
        _u.check_params(self)
        frame = _u.features(self, X, reset=True)
        y = _u.check_targets(type(self).__name__, frame, y)
        _u.check_enough_rows(type(self).__name__, len(y))
        weights = _u.check_weights(sample_weight, len(y))
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        task = "regression" if self.n_outputs_ == 1 else "multi_regression"
        why = f"{type(self).__name__} was fitted on {self.n_outputs_} numeric target(s), so the task is {task}."
        self._fit_frame(frame, y, task, why, weights, started)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets: shape (n_samples,) for one target, (n_samples, n_outputs_) for several."""
        out = self._predict_raw(X)
        return out[:, 0] if self.n_outputs_ == 1 else out
