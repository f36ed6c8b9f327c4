"""``autoann train``: data -> profile -> space -> search -> exported run directory.

:func:`train` is the one function behind the CLI's ``train`` and the
estimators' ``fit``. The wall-clock budget starts when it is called: loading,
profiling, preprocessing, the search, the final model, the test evaluation and
the export all fit inside it. The test split is held out before anything is
fitted and is used once, at the end, to report the final model's metrics.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from autoann._io import check_creatable
from autoann.params import parse_duration
from autoann.data import CLASSIFICATION, Dataset, as_dataset
from autoann.errors import DataError, ExportError
from autoann.fitted_run import FittedRun, RunMetadata
from autoann.search._options import SearchOptions
from autoann.profiling import Profile
from autoann.rules import Recommendation
from autoann.schema import Column, schema_from_list
from autoann.space import SearchSpace
from autoann.search._inputs import as_profile
from autoann.search._resolve import resolve_space
from autoann.search._splits import split_dataset, split_weights
from autoann.search._workers import LOOPBACK, parse_address

#: Seconds kept for the final evaluation and the export (model.keras,
#: SavedModel tracing, plots); measured ~6-8 s on 2 cores, see docs/benchmarks.md.
EXPORT_SECONDS = 10.0


@dataclass
class TrainResult:
    """What a finished ``train`` returns: where the run is and how good it is."""

    run_dir: Path
    metrics: dict[str, dict[str, float]]
    best_hyperparameters: dict[str, Any]
    leaderboard: pd.DataFrame
    plan: dict[str, Any]
    final_model: str
    seconds: float
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)
    #: the ONNX / LiteRT files written next to the SavedModel (``export_formats``)
    exports: list[Path] = field(default_factory=list)


def check_backbone(backbone: str | Path, profile: Profile) -> None:
    """Refuse, before any search, a ``--backbone`` that the data or the file cannot use (G-ARCH-8)."""
    if profile.image is None:
        raise DataError(f"--backbone is for image data, but {profile.source} is a table. Drop --backbone.")
    from autoann.search._convnet import load_backbone

    load_backbone(backbone, profile.image.channels)


def default_run_dir(source: str) -> Path:
    stem = Path(source).stem if source and not source.startswith("<") else "run"
    return Path("runs") / f"{stem}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def _staging(run_dir: Path) -> Path:
    return run_dir.parent / f".{run_dir.name}.partial"


def _search_state(folder: Path) -> Path:
    """Keras Tuner's oracle file of a search kept in a run (or staging) folder."""
    return folder / "search" / "search" / "oracle.json"


def resumable(run_dir: str | Path) -> bool:
    """Whether ``train(..., output=run_dir, resume=True)`` has a search to continue."""
    run_dir = Path(run_dir)
    return _search_state(_staging(run_dir)).exists() or _search_state(run_dir).exists()


def check_run_output(run_dir: Path, data_file: str | None, overwrite: bool, resume: bool) -> None:
    """Refuse, before any work (and before TensorFlow is imported), an output folder the run must not replace
    or cannot create, or a ``resume`` with nothing to continue."""
    if resume and not resumable(run_dir):
        raise ExportError(f"Nothing to resume in {run_dir}: no search state was kept there (a finished run keeps "
                          "it only with --keep-trials). Run without --resume.")
    if not run_dir.exists():
        check_creatable(run_dir)
        return
    if not run_dir.is_dir():
        raise ExportError(f"{run_dir} is a file, not a run directory; choose another -o.")
    if not (overwrite or resume):
        raise ExportError(f"{run_dir} already exists; choose another -o, or pass --overwrite (or --resume).")
    if overwrite and not resume and any(run_dir.iterdir()) and not (run_dir / "metadata.json").exists():
        # --overwrite moves the folder aside and deletes it: only ever an earlier run.
        raise ExportError(f"{run_dir} is not an autoann run directory (it has no metadata.json), so --overwrite "
                          "will not replace it: everything in it would be deleted. Choose another -o.")
    if data_file and run_dir.resolve() in Path(data_file).resolve().parents:
        raise ExportError(f"The data file {data_file} is inside {run_dir}, which the run would replace; "
                          "move the data or choose another -o.")


def fit_run(
    data: Dataset | Any,
    target: str | Sequence[str] | Any | None = None,
    *,
    workdir: Path,
    task: str | None = None,
    profile: Profile | None = None,
    space: SearchSpace | Recommendation | str | Path | None = None,
    goal: str = "balanced",
    metric: str | None = None,
    sparse: bool = False,
    uncertainty: bool = False,
    rules: Sequence[str | Path] = (),
    pins: Sequence[str] = (),
    time_budget: str | float = "3m",
    max_trials: int | None = None,
    max_epochs: int | None = None,
    seed: int = 0,
    test_size: float = 0.2,
    validation_size: float = 0.2,
    resume: bool = False,
    verbose: int = 0,
    on_event: Callable[[str, Any], None] | None = None,
    owner: str = "train",
    sample_weight: np.ndarray | Sequence[float] | None = None,
    export_seconds: float = EXPORT_SECONDS,
    backbone: str | Path | None = None,
    started: float | None = None,
    options: SearchOptions | None = None,
    workers: int | None = None,
    listen: str = LOOPBACK,
) -> FittedRun:
    """Everything ``train`` does except writing the run directory.

    ``data``: a path, frame or array with its ``target`` (see
    :func:`autoann.data.load_data`), or a :class:`~autoann.data.Dataset`
    (then no ``target``). ``profile``: the Dataset's Profile, if already made;
    ``space``: a SearchSpace, a Recommendation (its space), a YAML path, or
    None to recommend one. What is given is not computed again, only checked
    to describe this data. ``workdir`` holds Keras Tuner's search state.
    The budget clock starts here. ``sample_weight`` gives one non-negative, finite weight per row of ``data``
    (rows whose target is missing are dropped together with their weight);
    every trial and the final model train with it (times the balanced class
    weights when the space asks for them), and the validation objective is
    weighted by it. Each split's weights are rescaled to average 1, so only
    their ratios matter. Held-out metrics in the metadata stay unweighted.
    ``export_seconds`` is kept back from the search for what follows it
    (evaluation, export); the estimators, which export nothing, keep less.
    ``backbone``: a pretrained network saved as ``.keras`` (image data only)
    that every candidate starts from instead of its own convolutions (G-ARCH-8).
    ``started``: the ``time.monotonic()`` instant the budget began (the
    estimators' ``fit`` passes its own start); by default, this call, before
    TensorFlow is imported. ``on_event(kind, payload)`` hears ``("space", SearchSpace)``,
    ``("plan", SearchPlan)`` and, after each trial, ``("trial", TrialEvent)``.
    ``metric``: what the search optimizes on the validation split, picks the final model by and
    reports first (:data:`autoann.metrics.SEARCH_METRICS`; None: the task's default,
    :data:`autoann.metrics.DEFAULT_METRIC`). With a ``space`` given, it replaces the space's metric.
    ``options``: whether the search calibrates and refits (:class:`~autoann.search.SearchOptions`;
    by default both, as for every user). ``workers``: processes that run trials (None: one per core);
    with more than one, this process serves them Keras Tuner's oracle on ``listen`` (``HOST[:PORT]``,
    this machine only by default) and ``on_event`` hears ``("workers", text)``: how another machine joins.
    """
    started = time.monotonic() if started is None else started
    from autoann.params import validate_params

    validate_params(owner, {"time_budget": time_budget, "max_trials": max_trials, "max_epochs": max_epochs,
                            "seed": seed, "test_size": test_size, "validation_size": validation_size,
                            "goal": goal, "metric": metric, "verbose": verbose, "workers": workers})
    parse_address(listen)
    end = started + parse_duration(time_budget)
    emit = on_event or (lambda kind, payload: None)
    dataset = as_dataset(data, target, task=task, sample_weight=sample_weight)
    weights = dataset.sample_weight
    profile = as_profile(profile, dataset)
    if backbone is not None:
        check_backbone(backbone, profile)
    if metric:
        from autoann.metrics import check_metric

        check_metric(metric, profile.target.task)
    space = resolve_space(profile, space, goal=goal, metric=metric, sparse=sparse, uncertainty=uncertainty,
                          rules=rules,
                          pins=[*pins, *([f"max_epochs={max_epochs}"] if max_epochs else [])],
                          backbone=backbone is not None)
    emit("space", space)
    from autoann.search._isolation import kept_global_state

    with kept_global_state():  # the caller's random states and Keras session come back afterwards
        run = _search_and_assemble(
            dataset, profile, space, workdir, end=end, started=started, seed=seed, test_size=test_size,
            validation_size=validation_size, max_trials=max_trials, resume=resume, verbose=verbose, emit=emit,
            budget=time_budget, sample_weight=weights, export_seconds=export_seconds,
            backbone=None if backbone is None else str(Path(backbone).resolve()), options=options,
            workers=workers, listen=listen)
    run.seconds = time.monotonic() - started
    return run


def train(
    data: Dataset | Any,
    target: str | Sequence[str] | None = None,
    *,
    output: str | Path | None = None,
    overwrite: bool = False,
    resume: bool = False,
    keep_trials: bool = False,
    export_formats: Sequence[str] = (),
    **knobs: Any,
) -> TrainResult:
    """Profile, recommend, search on a budget, and export a run directory.

    ``data`` and ``target`` as for :func:`fit_run` (a Dataset too);
    ``knobs`` are its keyword arguments (task, profile, space, goal,
    time_budget, seed, ...). The run is assembled in a hidden sibling folder
    and moved into place at the end, so an existing run directory is never
    half-overwritten; an interrupted search's state stays there for
    ``resume=True``. ``export_formats`` (``onnx``, ``litert``) are converted
    from the finished run's SavedModel and verified (:func:`autoann.export.export_format`);
    an unknown format or a missing extra is refused before any work.
    """
    from autoann import export

    export.check_formats(export_formats)

    source = data.source if isinstance(data, Dataset) else str(data) if isinstance(data, (str, Path)) else ""
    run_dir = Path(output) if output is not None else default_run_dir(source)
    if run_dir.name in ("", ".", ".."):  # "-o ." names no folder; its staging folder would be "..partial"
        run_dir = run_dir.resolve()
    check_run_output(run_dir, source if source and not source.startswith("<") else None, overwrite, resume)
    staging = _staging(run_dir)
    if resume:
        if not (staging / "search").exists() and (run_dir / "search").exists():
            # Only the search state: the export writes every run file afresh, so no
            # file of the old run (a plot the new run does not draw) can linger.
            shutil.copytree(run_dir / "search", staging / "search", dirs_exist_ok=True)
    made = [folder for folder in staging.absolute().parents if not folder.exists()]  # e.g. runs/ on a first run
    try:
        if staging.exists() and not resume:
            shutil.rmtree(staging)
        staging.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"Cannot create the staging folder {staging} for {run_dir}: {exc.strerror or exc}. "
                          "Choose another -o, or make its folder writable.") from None
    try:
        run = fit_run(data, target, workdir=staging / "search", resume=resume, **knobs)
        export.write_run_files(run, staging)
        if not (keep_trials or run.metadata.interrupted):
            shutil.rmtree(staging / "search", ignore_errors=True)
        export.finalize_run(staging, run_dir, overwrite or resume)
    except BaseException:
        # Keep a search that got somewhere, for --resume; drop anything else.
        if not _search_state(staging).exists():
            shutil.rmtree(staging, ignore_errors=True)
            for folder in made:  # innermost first; the folders this run created, if still empty
                if folder.exists() and not any(folder.iterdir()):
                    folder.rmdir()
        raise
    exports = [export.export_format(run_dir, fmt)[0] for fmt in export_formats]
    meta = run.metadata
    return TrainResult(run_dir=run_dir, metrics=meta.metrics, best_hyperparameters=meta.best_hyperparameters,
                       leaderboard=run.leaderboard, plan=meta.hyperband, final_model=meta.final_model,
                       seconds=run.seconds, interrupted=meta.interrupted, notes=meta.notes, exports=exports)


def _search_and_assemble(dataset, profile, space, workdir, *, end, started, seed, test_size, validation_size,
                         max_trials, resume, verbose, emit, budget, sample_weight=None,
                         export_seconds=EXPORT_SECONDS, backbone=None, options=None, workers=None,
                         listen=LOOPBACK) -> FittedRun:
    """Split, preprocess, search, then assemble the raw-input model and its metadata."""
    import keras

    from autoann import metrics
    from autoann.layers import Expm1
    from autoann.search._fit import TrainingData
    from autoann.search._preprocessing import (apply_preprocessing, fit_preprocessing, model_inputs, raw_inputs,
                                               transform)
    from autoann.search._run import run_search

    task = profile.target.task
    keras.utils.set_random_seed(seed)
    target_scaling = space.setting("target_scaling")
    scale_target = task not in CLASSIFICATION and target_scaling in ("standardize", "log_standardize")
    splits = split_dataset(dataset, task, test_size=test_size, validation_size=validation_size,
                           seed=seed, target_scaling=scale_target, sample_weight=sample_weight,
                           log_target=target_scaling == "log_standardize")
    w_train, w_val = split_weights(splits)
    schema = schema_from_list(profile.feature_schema())
    prep = fit_preprocessing(
        splits.train, schema,
        scale=space.setting("numeric_scaling") == "standardize",
        indicators=bool(space.setting("missing_indicators")),
        onehot_max_cardinality=int(space.setting("onehot_max_cardinality")),
        embedding_dim_max=int(space.setting("embedding_dim_max")),
        skew_transform=str(space.setting("numeric_skew_transform")),
        clip=str(space.setting("numeric_clip")),
        text_buckets=int(space.setting("text_hash_buckets")),
        backbone=backbone,
    )
    x_train, x_val = transform(prep, schema, [splits.train, splits.val])
    class_weight = None
    if splits.classes is not None:
        counts = np.bincount(splits.y_train, minlength=len(splits.classes)).astype(float)
        class_weight = {i: float(len(splits.y_train) / (len(counts) * max(c, 1.0))) for i, c in enumerate(counts)}
    data = TrainingData(x_train, _as_target(splits.y_train, task), x_val, _as_target(splits.y_val, task), class_weight,
                        w_train=w_train, w_val=w_val)

    result = run_search(space, prep, data, end=end, export_seconds=export_seconds, workdir=workdir,
                        spent_seconds=time.monotonic() - started,
                        max_trials=max_trials, seed=seed, resume=resume, verbose=verbose, options=options,
                        workers=workers, listen=listen, on_workers=lambda text: emit("workers", text),
                        on_trial=lambda event: emit("trial", event), on_plan=lambda plan: emit("plan", plan))

    raw = raw_inputs(schema)
    out = result.network(apply_preprocessing(prep, raw))
    if result.calibration is not None:
        from autoann.layers import TemperatureScaling

        out = TemperatureScaling(result.calibration["temperature"], name="calibration")(out)
    if splits.target_mean is not None:
        out = keras.layers.Rescaling(splits.target_std.tolist(), splits.target_mean.tolist(), name="target_units")(out)
    if splits.target_log:
        out = Expm1(name="target_expm1")(out)
    model = keras.Model(model_inputs(raw), out, name="autoann")
    evaluation = {
        name: metrics.evaluate_predictions(task, truth, _predict(model, frame, schema), splits.classes)
        for name, frame, truth in (("test", splits.test, splits.truth_test),
                                   ("validation", splits.val, splits.truth_val))
        if len(frame)
    }
    notes = list(profile.notes) + list(space.notes) + result.notes  # what reading the data skipped or converted
    if sample_weight is not None:
        notes.append("Trained with sample weights: the trials, the final model and the validation objective are "
                     "weighted; the held-out metrics below are unweighted.")
    if result.interrupted:
        notes.append("The search was interrupted (Ctrl-C or SIGTERM); this is the best model found until then. "
                     "Continue with --resume.")
    metadata = RunMetadata(
        task=task,
        target_names=list(dataset.target_names),
        classes=splits.classes,
        class_dtype=splits.class_dtype,
        schema=schema,
        profile=profile.to_dict(),
        space=space.to_dict(),
        best_hyperparameters=result.values,
        metrics=evaluation,
        objective=result.objective,
        budget={"requested": str(budget), "seconds_before_export": round(time.monotonic() - started, 2),
                "search_seconds": round(result.search_seconds, 2), "fit_seconds": round(result.fit_seconds, 2),
                "max_trials": max_trials},
        hyperband=result.plan.to_dict(),
        seed=seed,
        splits={"train": len(splits.train), "validation": len(splits.val), "test": len(splits.test)},
        preprocessing=prep.to_dict(),
        rationale=[
            {"hyperparameter": n, "value": result.values.get(n, hp.value), "rules": hp.rules, "why": hp.why}
            for n, hp in space.hyperparameters.items()
        ],
        notes=notes,
        final_model=result.final_model,
        calibration=result.calibration,
        interrupted=result.interrupted,
    )
    return FittedRun(model=model, metadata=metadata, trials=result.trials, history=result.history,
                     progress=result.progress, profile=profile, space=space)


def _as_target(y: np.ndarray, task: str) -> np.ndarray:
    if task == "binary":
        return y.astype("float32").reshape(-1, 1)
    if task == "multiclass":
        return y.astype("int64")
    return y.astype("float32").reshape(len(y), -1)


def _predict(model, frame: pd.DataFrame, schema: list[Column]) -> np.ndarray:
    from autoann.schema import to_model_inputs

    return np.asarray(model.predict(to_model_inputs(frame, schema), batch_size=4096, verbose=0))
