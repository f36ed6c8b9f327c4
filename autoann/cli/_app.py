"""The ``autoann`` command line: thin doors onto the library.

Every command parses its options, calls one library function and prints the
result. Errors autoann raises on purpose (:class:`AutoANNError`) are printed to
stderr without a traceback and exit with code 2; ``AUTOANN_DEBUG=1`` shows the
traceback. Heavy modules are imported inside the commands so ``--help`` stays
fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer

from autoann.cli import _early as early
from autoann.errors import AutoANNError

app = typer.Typer(
    name="autoann",
    help="Which neural network, and how to train it: profile a dataset, recommend "
    "an explained search space, search it on a time budget, export the model.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
rules_app = typer.Typer(help="Inspect and validate rule files.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")

EXIT_USER_ERROR = 2


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, soft_wrap=False)


def _run(action: Callable[[], Any]) -> Any:
    """The one error boundary: user errors become a message and exit 2."""
    try:
        return action()
    except AutoANNError as exc:
        if os.environ.get("AUTOANN_DEBUG"):
            raise
        from rich.markup import escape  # a message's own [brackets] (e.g. "autoann[serve]") are text, not markup

        _console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True)
        raise typer.Exit(EXIT_USER_ERROR) from None
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM in `train` (see cli._early)
        message, code = early.STOPPED.take()
        _console(stderr=True).print(message)
        raise typer.Exit(code) from None


TargetOpt = typer.Option(None, "--target", "-t", help="Target column (repeat for several regression targets); "
                         "not needed for images, whose labels are their class folders or the .npz's y.")
TaskOpt = typer.Option(None, "--task", help="Override the inferred task: binary, multiclass, regression, multi_regression.")
DATA_HELP = "CSV or Parquet file; or images: a folder with one sub-folder per class, or a .npz with x and y."
GoalOpt = typer.Option("balanced", "--goal", help="balanced, accuracy or latency (G-DEF-3).")
MetricOpt = typer.Option(None, "--metric", help="What the search optimizes on validation and reports first: accuracy "
                         "(default), balanced_accuracy, f1_macro, roc_auc, log_loss; regression: r2 (default), rmse, mae.")
SparseOpt = typer.Option(False, "--sparse", help="Ask for a sparse model (L1 penalty, G-DEF-3).")
UncertaintyOpt = typer.Option(False, "--uncertainty", help="Ask for predictive uncertainty (MC dropout, G-REG-5).")
RulesOpt = typer.Option(None, "--rules", help="Extra rule file(s) that extend or override the built-in rules.")
SetOpt = typer.Option(None, "--set", help="Pin a hyperparameter: --set name=value (repeatable).")
OverwriteOpt = typer.Option(False, "--overwrite", help="Replace an existing --output file.")
BackboneOpt = typer.Option(None, "--backbone", help="Images: a pretrained network saved as .keras to start from "
                           "(transfer learning, G-ARCH-8); it must include its own input preprocessing.")


@app.command()
def profile(
    data: Path = typer.Argument(..., help=DATA_HELP),
    target: List[str] = TargetOpt,
    task: Optional[str] = TaskOpt,
    json_out: bool = typer.Option(False, "--json", help="Print the profile as JSON instead of tables."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the profile as JSON to this file."),
    overwrite: bool = OverwriteOpt,
) -> None:
    """Describe a dataset: task, column kinds, missing values, what will be dropped and why."""

    def action() -> None:
        early.require_data(data)
        early.require_output(output, overwrite)
        from autoann.cli import _display as display
        from autoann.profiling import profile as profile_data

        prof = profile_data(data, target=target, task=task)
        if output is not None:
            prof.save(output)
        if json_out:
            sys.stdout.write(prof.to_json() + "\n")
        else:
            display.show_profile(_console(), prof)

    _run(action)


@app.command()
def recommend(
    data: Path = typer.Argument(..., help=DATA_HELP),
    target: List[str] = TargetOpt,
    task: Optional[str] = TaskOpt,
    goal: str = GoalOpt,
    metric: Optional[str] = MetricOpt,
    sparse: bool = SparseOpt,
    uncertainty: bool = UncertaintyOpt,
    rules: Optional[List[Path]] = RulesOpt,
    set_: Optional[List[str]] = SetOpt,
    backbone: Optional[Path] = BackboneOpt,
    explain: bool = typer.Option(False, "--explain", help="Show every rule, fired or not, and why."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the search space as YAML (edit it, then `train --space`)."),
    overwrite: bool = OverwriteOpt,
) -> None:
    """Propose an explained search space for a dataset from the guideline rule base."""

    def action() -> None:
        early.require_data(data)
        early.require_files(rules or [], "rule file", "--rules")
        early.require_backbone(backbone)
        early.require_output(output, overwrite)
        from autoann.params import validate_params

        validate_params("recommend", {"metric": metric})
        from autoann.cli import _display as display
        from autoann.profiling import profile as profile_data
        from autoann.rules import recommend as recommend_space

        prof = profile_data(data, target=target, task=task)
        if backbone is not None:
            from autoann._tf import import_quietly
            from autoann.search import check_backbone

            import_quietly()  # reading the file needs Keras: without TensorFlow's C++ start-up lines
            check_backbone(backbone, prof)
        result = recommend_space(prof, goal=goal, sparse=sparse, uncertainty=uncertainty,
                                 rules=rules or [], pins=set_ or [], backbone=backbone is not None, metric=metric)
        display.show_data_notes(_console(), prof)
        display.show_space(_console(), result, explain=explain)
        if output is not None:
            result.space.save(output)
            _console().print(f"search space written to [bold]{output}[/]")

    _run(action)


@app.command()
def train(
    data: Path = typer.Argument(..., help=DATA_HELP),
    target: List[str] = TargetOpt,
    task: Optional[str] = TaskOpt,
    space: Optional[Path] = typer.Option(None, "--space", help="A search space YAML (from `recommend -o`, edited or not)."),
    goal: str = GoalOpt,
    metric: Optional[str] = MetricOpt,
    sparse: bool = SparseOpt,
    uncertainty: bool = UncertaintyOpt,
    rules: Optional[List[Path]] = RulesOpt,
    set_: Optional[List[str]] = SetOpt,
    backbone: Optional[Path] = BackboneOpt,
    time_budget: str = typer.Option("3m", "--time-budget", "-b", help="Wall-clock budget for everything: 90, 90s, 5m, 1h."),
    max_trials: Optional[int] = typer.Option(None, "--max-trials", help="Stop after this many trials (also bounded by the budget)."),
    max_epochs: Optional[int] = typer.Option(None, "--max-epochs", help="Cap on Hyperband's max epochs (pins max_epochs)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: same seed, same machine, same leaderboard (unless the budget cuts a trial)."),
    test_size: float = typer.Option(0.2, "--test-size", help="Fraction held out for the final, honest test metrics."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Run directory to create (default runs/<data>-<time>)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run directory."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted search in the -o run directory."),
    keep_trials: bool = typer.Option(False, "--keep-trials", help="Keep Keras Tuner's trial folders in the run directory."),
    export_formats: Optional[List[str]] = typer.Option(None, "--export-format", help="Also write a verified onnx or "
                                                       "litert model (repeatable; see `autoann export`)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Processes that run trials side by side (default: one "
                                          "per core; 1: everything in this process; 0: only serve the workers that "
                                          "join with `autoann worker`)."),
    listen: str = typer.Option("127.0.0.1", "--listen", help="HOST[:PORT] the search serves its workers on (with "
                               "--workers > 1). Default: this machine only; the channel is unauthenticated, so "
                               "open it (e.g. 0.0.0.0:7000) on a trusted network only."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="-v shows Keras' per-epoch output."),
) -> None:
    """Search the recommended (or given) space on a time budget and export the best model."""

    def action() -> None:
        from autoann.cli import _display as display
        from autoann.params import parse_duration, validate_params
        from autoann.cli._progress import SearchProgress
        from autoann.search import check_run_output, default_run_dir, parse_address, resumable

        early.require_data(data)
        early.require_files([space] if space is not None else [], "search space file", "--space")
        early.require_files(rules or [], "rule file", "--rules")
        early.require_backbone(backbone)
        validate_params("train", {"time_budget": time_budget, "max_trials": max_trials, "max_epochs": max_epochs,
                                  "seed": seed, "test_size": test_size, "goal": goal, "metric": metric,
                                  "workers": workers})
        parse_address(listen)
        run_dir = output if output is not None else default_run_dir(str(data))
        check_run_output(run_dir, str(data), overwrite, resume)
        from autoann._tf import import_quietly

        import_quietly()
        from autoann.search import train as train_model

        console = _console()
        try:
            with early.sigterm_as_ctrl_c(), SearchProgress(console, parse_duration(time_budget), resume) as progress:
                result = train_model(
                    data, target, task=task, space=space, goal=goal, metric=metric, sparse=sparse,
                    uncertainty=uncertainty,
                    rules=rules or [], pins=set_ or [], time_budget=time_budget, max_trials=max_trials,
                    max_epochs=max_epochs, seed=seed, test_size=test_size, output=run_dir, overwrite=overwrite,
                    resume=resume, keep_trials=keep_trials, verbose=min(verbose, 2), on_event=progress,
                    backbone=backbone, export_formats=export_formats or [], workers=workers, listen=listen,
                )
        except KeyboardInterrupt:
            if resumable(run_dir):
                _console(stderr=True).print(f"The search so far is kept: run the same command with --resume -o {run_dir} "
                                            "to continue it.", highlight=False)
            raise
        display.show_train_result(console, result)

    _run(action)


@app.command()
def worker(
    run_dir: Path = typer.Argument(..., help="The folder the search's chief printed (it must see the same files)."),
    connect: Optional[str] = typer.Option(None, "--connect", help="HOST:PORT of the chief (default: the address "
                                          "the chief wrote into the folder)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="TensorFlow threads for this worker (default: all cores)."),
    worker_id: Optional[str] = typer.Option(None, "--id", help="This worker's name in the leaderboard (default: host-pid)."),
    parent: Optional[int] = typer.Option(None, "--parent", hidden=True, help="Leave when this process is gone."),
    restarted: bool = typer.Option(False, "--restarted", hidden=True,
                                   help="Started afresh after running trials: a run folder gone means the search ended."),
    wait: str = typer.Option("10m", "--wait", help="How long to wait for the search to start serving."),
    recycle_after: int = typer.Option(40, "--recycle-after", help="Start afresh (a new process image, same "
                                      "command) after this many trials: TensorFlow keeps memory per trial. 0: never."),
    recycle_growth: float = typer.Option(64.0, "--recycle-growth", help="Start afresh once memory grew by this many "
                                         "MB since the first trial. 0: never."),
) -> None:
    """Join a running search as a worker: ask its chief for trials, train them, until the search ends."""

    def action() -> None:
        from autoann.params import parse_duration, validate_params
        from autoann.search import Recycle, parse_address, run_worker

        validate_params("worker", {"threads": threads, "recycle_after": recycle_after,
                                   "recycle_growth": recycle_growth})
        wait_seconds = parse_duration(wait)
        if connect is not None:
            parse_address(connect)
        try:
            ended = run_worker(run_dir, connect=connect, tuner_id=worker_id, threads=threads, parent=parent,
                               wait_seconds=wait_seconds, recycle_after=recycle_after,
                               rss_growth_mb=recycle_growth, restarted=restarted, quiet=True)
        except Recycle as why:
            # A fresh process image with the same command: TensorFlow's per-trial memory growth is given back.
            print(f"{why}: starting afresh", flush=True)
            sys.stdout.flush()
            sys.stderr.flush()
            again = sys.argv[1:] + ([] if restarted else ["--restarted"])
            os.execv(sys.executable, [sys.executable, "-m", "autoann", *again])
        _console(stderr=True).print(ended, highlight=False)

    _run(action)


@rules_app.command("check")
def rules_check(files: List[Path] = typer.Argument(..., help="Rule files to validate.")) -> None:
    """Validate rule files against the rule schema (like pre-commit validate-manifest)."""

    def action() -> None:
        from autoann.rules import load_rule_file

        for path in files:
            rules = load_rule_file(path)
            _console().print(f"{path}: {len(rules)} rules OK")

    _run(action)


@rules_app.command("show")
def rules_show(rule_id: str = typer.Argument(..., help="A rule id, e.g. OUT-BINARY.")) -> None:
    """Show one rule: what it does, why, its guideline ids and its condition."""

    def action() -> None:
        from autoann.cli import _display as display
        from autoann.rules import find_rule

        display.show_rule(_console(), find_rule(rule_id))

    _run(action)


@rules_app.command("list")
def rules_list() -> None:
    """List every built-in rule with its guideline ids."""

    def action() -> None:
        from autoann.cli import _display as display
        from autoann.rules import load_builtin_rules

        display.show_rule_list(_console(), load_builtin_rules())

    _run(action)


def _schema_warnings(call: Callable[[], Any]) -> Any:
    """Run ``call``; print the predictor's SchemaWarnings (extra columns, unseen categories) to stderr."""
    import warnings

    from autoann.predict import SchemaWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SchemaWarning)
        result = call()
    for item in caught:
        if issubclass(item.category, SchemaWarning):
            _console(stderr=True).print(f"[yellow]warning:[/] {item.message}", highlight=False)
        else:
            warnings.showwarning(item.message, item.category, item.filename, item.lineno)
    return result


@app.command()
def predict(
    run_dir: Path = typer.Argument(..., help="A run directory written by `autoann train`."),
    data: Path = typer.Argument(..., help="CSV or Parquet file with the feature columns; for an image model, "
                                "a folder of images (flat or by class) or a .npz with x."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write predictions here (.csv or .parquet); without it, print a preview."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --output file."),
    rows: int = typer.Option(10, "--rows", help="Rows shown in the preview."),
) -> None:
    """Predict labels and probabilities (or values) for the rows of a file."""

    def action() -> None:
        early.require_run_dirs([run_dir])
        early.require_data(data)
        early.require_output(output, overwrite)
        from autoann._tf import import_quietly

        import_quietly()
        from autoann.predict import load, save_predictions

        predictor = load(run_dir)
        frame = _schema_warnings(lambda: predictor.predict_frame(data))
        if output is not None:
            save_predictions(frame, output, overwrite=overwrite)
            _console().print(f"{len(frame)} predictions written to [bold]{output}[/]")
        else:
            from autoann.cli import _display as display

            _console().print(display.frame_table(frame.head(rows), f"{predictor.task} predictions",
                                                 f"first {min(rows, len(frame))} of {len(frame)} rows; "
                                                 "-o FILE writes all"))

    _run(action)


@app.command()
def evaluate(
    run_dir: Path = typer.Argument(..., help="A run directory written by `autoann train`."),
    data: Path = typer.Argument(..., help="CSV or Parquet file with the feature and target columns; for an image "
                                "model, a folder with one sub-folder per class or a .npz with x and y."),
    target: Optional[List[str]] = typer.Option(None, "--target", "-t", help="Target column(s); default: the ones the model was trained on."),
    json_out: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
) -> None:
    """Score a trained model on labelled rows with the task's metrics."""

    def action() -> None:
        import json

        from rich.table import Table

        early.require_run_dirs([run_dir])
        early.require_data(data)
        from autoann._tf import import_quietly

        import_quietly()
        from autoann.predict import load

        predictor = load(run_dir)
        scores = _schema_warnings(lambda: predictor.evaluate(data, target=target or None))
        if json_out:
            sys.stdout.write(json.dumps(scores, indent=2, sort_keys=True) + "\n")
            return
        table = Table(title=f"{predictor.task} metrics", caption=str(data), title_justify="left", caption_justify="left")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for name, value in scores.items():
            table.add_row(name, f"{value:.4g}")
        _console().print(table)

    _run(action)


@app.command()
def serve(
    run_dirs: Optional[List[Path]] = typer.Argument(None, help="Run directories written by `autoann train`; each is "
                                                    "served under its folder name."),
    model: Optional[List[str]] = typer.Option(None, "--model", "-m", help="Serve a run directory under a name: "
                                              "--model NAME=RUN_DIR (repeatable)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; 0.0.0.0 exposes the models to "
                             "the network, without authentication (see docs/serving.md)."),
    port: int = typer.Option(8501, "--port", help="Port (TF Serving's REST port is 8501)."),
    workers: int = typer.Option(1, "--workers", help="Worker processes, each loading every model once."),
    max_batch_size: int = typer.Option(64, "--max-batch-size", help="Rows of concurrent requests batched into one "
                                       "model call; 1 turns batching off."),
    batch_timeout_ms: float = typer.Option(2.0, "--batch-timeout-ms", help="Longest wait for a batch to fill."),
    max_body_size: int = typer.Option(16 * 2**20, "--max-body-size", help="Largest request body in bytes (413 above)."),
) -> None:
    """Serve run directories over HTTP with TF Serving's REST API v1 (pip install "autoann[serve]")."""

    def action() -> None:
        named = [spec.partition("=")[2].strip() for spec in model or []]  # the RUN_DIR of NAME=RUN_DIR
        early.require_run_dirs([*(run_dirs or []), *(Path(path) for path in named if path)])
        from autoann._tf import import_quietly

        import_quietly()
        from autoann.serve import model_dirs, serve as serve_models

        serve_models(model_dirs(run_dirs or [], model or []), host=host, port=port, workers=workers,
                     max_batch_size=max_batch_size, batch_timeout_ms=batch_timeout_ms, max_body_bytes=max_body_size)

    _run(action)


@app.command("export")
def export_model(
    run_dir: Path = typer.Argument(..., help="A run directory written by `autoann train`."),
    format_: str = typer.Option(..., "--format", "-f", help="onnx (pip install \"autoann[onnx]\") or litert "
                                "(pip install \"autoann[litert]\")."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="File to write (default: model.onnx or "
                                          "model.tflite in the run directory)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing -o file."),
) -> None:
    """Convert a run's SavedModel to ONNX or LiteRT and verify it in that runtime."""

    def action() -> None:
        early.require_run_dirs([run_dir])
        early.require_output(output, overwrite)
        from autoann._tf import import_quietly

        import_quietly()
        from autoann.export import export_format

        path, gaps = export_format(run_dir, format_, output)
        worst = ", ".join(f"{name} {gap:.1e}" for name, gap in gaps.items())
        _console().print(f"{format_} model written to [bold]{path}[/]; verified in its runtime against the "
                         f"SavedModel (largest difference: {worst})", highlight=False)

    _run(action)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
