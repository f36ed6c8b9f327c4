"""The typed contract at the back of the pipeline: what a search hands to the export, predict and the estimators.

* :class:`TrialRow` - one leaderboard row (one Keras Tuner trial, with its timings and hyperparameters);
  :func:`leaderboard_frame` makes ``leaderboard.csv``'s table from rows.
* :class:`TrialEvent` - what the live progress view is told after each trial (never the tuner itself).
* :class:`RunMetadata` - every key of ``metadata.json`` as a typed field. :meth:`RunMetadata.to_json` is the
  file's dict; :meth:`RunMetadata.from_json` reads it back, checks it once for everyone (export, predict,
  estimators) and accepts every run directory written since ``format`` 1.
* :class:`FittedRun` - a finished search in memory: model, metadata, trials, learning curves.

This module imports neither TensorFlow nor the search: predicting from a run directory needs only it,
:mod:`autoann.schema` and :mod:`autoann.layers`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import pandas as pd

from autoann._io import check_keras_file, to_jsonable
from autoann.errors import ExportError
from autoann.schema import Column, schema_from_list

if TYPE_CHECKING:
    import keras

    from autoann.profiling import Profile
    from autoann.space import SearchSpace

#: Version of the run directory layout; a reader refuses a larger one (written by a newer autoann).
FORMAT = 1
#: Keys without which metadata.json cannot be predicted from.
REQUIRED_KEYS = ("task", "schema", "target_names")
#: the two files every run directory has (``metadata.json`` is written last: with it, the folder is complete)
MODEL_FILE = "model.keras"
METADATA_FILE = "metadata.json"


def check_run_dir(run_dir: str | Path) -> Path:
    """``run_dir`` if it holds a run (model.keras and metadata.json); else an :class:`ExportError` naming the fix.

    Cheap and TensorFlow-free, so every command that reads a run checks it first.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ExportError(f"No run directory at {run_dir}. Pass the folder `autoann train -o` created.")
    missing = [name for name in (METADATA_FILE, MODEL_FILE) if not (run_dir / name).exists()]
    if missing:
        raise ExportError(f"{run_dir} is not an autoann run directory: {' and '.join(missing)} "
                          f"{'is' if len(missing) == 1 else 'are'} missing. "
                          "Pass the folder `autoann train -o` created.")
    check_keras_file(run_dir / MODEL_FILE, "model file", "The run directory is damaged: copy it again, or train "
                     "a new run with `autoann train`.", ExportError)
    return run_dir


def _missing(value: Any) -> bool:
    """None, or NaN as a DataFrame stores an absent cell."""
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True)
class TrialRow:
    """One trial of the search, as a leaderboard row.

    ``status`` is ``completed``, ``cut`` (stopped at the hard deadline) or
    ``failed`` (with ``message``); ``score`` is the validation objective, None
    when the trial failed. ``bracket``, ``round``, ``parent`` and
    ``epochs_to`` are Hyperband's bookkeeping (``parent``: the trial this one
    was promoted from); ``best_epoch`` counts the epochs, from the start of
    training (a promoted trial's parents included), up to the one whose
    weights the trial kept; ``seconds`` is the whole trial, ``fit_seconds`` its
    ``fit`` alone, ``finished_at`` seconds since the search started;
    ``worker`` is the process that ran it (``main`` in a single-process search,
    a worker's id otherwise) and ``rss_mb`` that process's resident memory once the
    trial ended (what shows whether memory stays flat over a long search).
    ``values`` holds the trial's hyperparameters, one leaderboard column each.
    """

    trial_id: str
    status: str
    score: float | None
    bracket: int | None = None
    round: int | None = None
    parent: str | None = None
    epochs_to: int | None = None
    epochs_run: int = 0
    best_epoch: int | None = None
    fit_seconds: float = 0.0
    seconds: float = 0.0
    finished_at: float = 0.0
    worker: str = ""
    rss_mb: float | None = None
    message: str = ""
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def scored(self) -> bool:
        """Whether the trial counts towards the best score (it did not fail and has a score)."""
        return self.status != "failed" and self.score is not None

    def to_json(self) -> dict[str, Any]:
        """The flat row of ``leaderboard.csv`` and of the search's sidecar file: bookkeeping, then hyperparameters."""
        row = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "values"}
        return {**row, **self.values}

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> "TrialRow":
        """Inverse of :meth:`to_json`; also takes a leaderboard DataFrame's record (NaN for an absent cell)."""
        names = [f.name for f in fields(cls) if f.name != "values"]
        known = {k: (None if _missing(row.get(k)) else row[k]) for k in names if k in row}
        known["message"] = known.get("message") or ""
        values = {k: v for k, v in row.items() if k not in names}
        return cls(**known, values=values)


#: leaderboard columns that measure the machine rather than the search: they differ between two runs of one seed
MEASURED_COLUMNS = ("fit_seconds", "seconds", "finished_at", "rss_mb")


def leaderboard_frame(rows: Sequence[TrialRow]) -> pd.DataFrame:
    """``leaderboard.csv``'s table: one row per trial, bookkeeping columns first, then each hyperparameter
    in the order the trials first name it."""
    return pd.DataFrame([row.to_json() for row in rows])


def trials_from_frame(frame: pd.DataFrame) -> list[TrialRow]:
    """The rows of a leaderboard table (:func:`leaderboard_frame`), e.g. an estimator's ``leaderboard_``."""
    return [TrialRow.from_json(record) for record in frame.to_dict("records")]


def best_score(rows: Sequence[TrialRow], direction: str) -> float | None:
    """The best score of the scored rows (``direction`` ``max`` or ``min``), None if none is scored."""
    scores = [row.score for row in rows if row.scored]
    if not scores:
        return None
    return max(scores) if direction == "max" else min(scores)


@dataclass(frozen=True)
class TrialEvent:
    """What the search tells a progress view when a trial starts or ends: counts, the best score so far,
    the last row to end, and the trials running now (worker, trial id, seconds since it started)."""

    finished: int
    failed: int
    best: float | None
    objective: str
    direction: str
    last: TrialRow
    running: tuple[tuple[str, str, float], ...] = ()
    #: False when the event says that a trial started (``last`` is then the last one to end)
    ended: bool = True

    @classmethod
    def after(cls, rows: Sequence[TrialRow], objective: str, direction: str, *,
              running: tuple[tuple[str, str, float], ...] = (), ended: bool = True) -> "TrialEvent":
        """The event once ``rows`` (in the order they finished, at least one) are done."""
        return cls(finished=len(rows), failed=sum(row.status == "failed" for row in rows),
                   best=best_score(rows, direction), objective=objective, direction=direction, last=rows[-1],
                   running=running, ended=ended)


#: RunMetadata fields the export fills in; absent from the search's metadata (and an estimator's ``metadata_``).
EXPORT_FIELDS = ("format", "autoann_version", "versions", "created", "serving")


@dataclass(frozen=True)
class RunMetadata:
    """Every key of ``metadata.json``. The search fills the first group, the export the second.

    Search: ``task``; ``target_names``; ``schema`` (the raw input columns);
    ``classes`` (labels as text, in the model's output order) and
    ``class_dtype`` (the labels' type: ``int``, ``float``, ``bool``, ``str``),
    None for regression; ``profile``, ``space``, ``preprocessing`` (their
    ``to_dict()``); ``best_hyperparameters``; ``metrics`` (split -> metric ->
    value, unweighted); ``objective`` (``name``, ``direction``); ``budget``;
    ``hyperband`` (the search plan); ``seed``; ``splits`` (rows per split);
    ``rationale`` (per hyperparameter: value, rules, why); ``notes``;
    ``final_model`` (which model was kept); ``calibration`` (the temperature
    fitted on validation and the log-loss before and after, classifiers only); ``interrupted``; ``feature_names``
    (only for an estimator fitted on a bare array: its column names, in order).

    Export: ``format``, ``autoann_version``, ``versions`` (library versions),
    ``created`` (UTC, ISO 8601), ``serving`` (SavedModel signature, input names, outputs, and ``model_inputs``:
    column -> the key model.keras takes it by, :func:`autoann.schema.model_input_names`).

    ``extra`` keeps keys this version does not know, so reading and writing a
    file loses nothing.
    """

    task: str
    target_names: list[str]
    schema: list[Column]
    classes: list[str] | None = None
    class_dtype: str | None = None
    profile: dict[str, Any] = field(default_factory=dict)
    space: dict[str, Any] = field(default_factory=dict)
    best_hyperparameters: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    objective: dict[str, str] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)
    hyperband: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    splits: dict[str, int] = field(default_factory=dict)
    preprocessing: dict[str, Any] = field(default_factory=dict)
    rationale: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    final_model: str | None = None
    calibration: dict[str, Any] | None = None
    interrupted: bool = False
    feature_names: list[str] | None = None
    format: int | None = None
    autoann_version: str | None = None
    versions: dict[str, str | None] | None = None
    created: str | None = None
    serving: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_classification(self) -> bool:
        return self.task in ("binary", "multiclass")

    @property
    def vocabularies(self) -> dict[str, list[str]]:
        """Each categorical column's training vocabulary (to name unseen categories)."""
        return {c["name"]: c["vocabulary"] for c in self.preprocessing.get("categorical", []) if "vocabulary" in c}

    def to_json(self) -> dict[str, Any]:
        """The ``metadata.json`` dict, JSON-safe. Export fields, ``feature_names`` and ``calibration`` appear once set."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "extra" or (value is None and f.name in (*EXPORT_FIELDS, "feature_names", "calibration")):
                continue
            out[f.name] = [c.to_dict() for c in value] if f.name == "schema" else value
        return to_jsonable({**self.extra, **out})

    @classmethod
    def from_json(cls, data: Any, source: str | Path = "The run metadata") -> "RunMetadata":
        """Read ``metadata.json``'s dict, refusing one without the keys prediction needs or from a newer format.

        ``source`` names the file in the :class:`~autoann.errors.ExportError` messages.
        Optional keys may be absent (they get their defaults).
        """
        data = data if isinstance(data, dict) else {}
        lacking = [key for key in REQUIRED_KEYS if key not in data]
        if lacking:
            raise ExportError(f"{source} is not autoann run metadata: it lacks {', '.join(lacking)}.")
        version = data.get("format", FORMAT)
        if not isinstance(version, int) or version > FORMAT:
            raise ExportError(f"{source} was written by a newer autoann (format {version}, "
                              f"autoann {data.get('autoann_version')}); upgrade autoann to read it.")
        names = {f.name for f in fields(cls)} - {"extra"}
        known = {k: v for k, v in data.items() if k in names}
        known["schema"] = schema_from_list(data["schema"])
        known["target_names"] = [str(t) for t in data["target_names"] or []]
        for key in ("profile", "space", "best_hyperparameters", "metrics", "objective", "budget", "hyperband",
                    "splits", "preprocessing"):
            known[key] = known.get(key) or {}
        for key in ("rationale", "notes"):
            known[key] = known.get(key) or []
        return cls(**known, extra={k: v for k, v in data.items() if k not in names})


@dataclass
class FittedRun:
    """A finished search in memory: what ``train`` exports, ``predict`` serves and the estimators keep.

    ``model`` maps the raw named columns to the task's output (binary: (N, 1)
    P(classes[1]); multiclass: (N, K) softmax; regression: (N, n_targets) in
    target units). ``history`` is the final model's per-epoch curves;
    ``progress`` (seconds since the search started, best validation score so
    far), one per finished trial. ``profile`` and ``space`` are what the
    search ran on (None for a run rebuilt from an estimator); ``seconds`` the
    wall-clock time of the whole fit.
    """

    model: "keras.Model"
    metadata: RunMetadata
    trials: list[TrialRow] = field(default_factory=list)
    history: dict[str, list[float]] = field(default_factory=dict)
    progress: list[tuple[float, float]] = field(default_factory=list)
    profile: "Profile | None" = None
    space: "SearchSpace | None" = None
    seconds: float = 0.0

    @property
    def leaderboard(self) -> pd.DataFrame:
        """The trials as ``leaderboard.csv``'s table."""
        return leaderboard_frame(self.trials)
