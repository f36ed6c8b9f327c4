"""The run report: ``report.md`` with two plots, written next to the model.

The report answers what a user asks after a search: how good is the model on
held-out data (test metrics), is it over- or under-fitting (G-PROC-2 verdict
from the learning curves), what was chosen and why (each hyperparameter with
the rules that set it), how the search went (leaderboard, budget, Hyperband
settings, progress plot), and how to load and serve the model. Plots use
matplotlib's object API (``Figure``, Agg) so no GUI backend or global pyplot
state is involved; matplotlib is imported only when a report is written.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from autoann import metrics as m
from autoann.fitted_run import FittedRun, RunMetadata, TrialRow
from autoann.schema import Column, image_column

REPORT_FILE = "report.md"
CURVES_FILE = "learning_curves.png"
PROGRESS_FILE = "search_progress.png"
REPORT_FILES = (REPORT_FILE, CURVES_FILE, PROGRESS_FILE)
TOP_TRIALS = 10
#: leaderboard columns that are bookkeeping, not hyperparameters
BOOKKEEPING = tuple(f.name for f in fields(TrialRow) if f.name != "values")
#: bookkeeping columns the report's leaderboard shows, in this order
SHOWN = ("trial_id", "status", "score", "epochs_run", "seconds", "bracket", "round")


def _figure(ncols: int = 1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0 * ncols, 3.6), layout="constrained")
    return fig, [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]


def plot_learning_curves(history: dict[str, list[float]], metric: str | None, path: Path) -> bool:
    """Train vs validation loss (and ``metric``) per epoch; False when there is no history."""
    key = (metric or "").removeprefix("val_")
    panels = [k for k in ("loss", key) if k and history.get(k)]
    panels = list(dict.fromkeys(panels))
    if not panels:
        return False
    from matplotlib.ticker import MaxNLocator

    fig, axes = _figure(len(panels))
    for ax, name in zip(axes, panels):
        for series, label in ((history.get(name), "train"), (history.get(f"val_{name}"), "validation")):
            if series:
                ax.plot(range(1, len(series) + 1), series, marker="o", markersize=3, label=label)
        ax.set(xlabel="epoch", ylabel=name, title=name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend()
    fig.savefig(path, dpi=100)
    return True


def plot_search_progress(progress: Sequence[tuple[float, float]], leaderboard: pd.DataFrame,
                         objective: str, path: Path) -> bool:
    """Best validation score so far vs seconds, with each scored trial as a dot."""
    if not progress and leaderboard.empty:
        return False
    fig, (ax,) = _figure()
    if progress:
        xs, ys = zip(*progress)
        ax.step(xs, ys, where="post", color="C0", label="best so far")
    if {"score", "status"} <= set(leaderboard.columns):
        board = leaderboard[leaderboard["score"].notna()]
        when = board["finished_at"] if "finished_at" in board else board.get("seconds", pd.Series(dtype=float)).cumsum()
        for status, colour in (("completed", "C1"), ("cut", "C3")):
            mask = board["status"] == status
            if mask.any():
                ax.scatter(when[mask], board["score"][mask], s=14, color=colour, alpha=0.7, label=f"trial ({status})")
    ax.set(xlabel="seconds since the search started", ylabel=objective, title="search progress")
    ax.legend()
    fig.savefig(path, dpi=100)
    return True


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        text = ""
    elif isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, (list, tuple)):
        text = ", ".join(map(str, value))
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(map(_cell, headers)) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def top_trials(leaderboard: pd.DataFrame, direction: str, n: int = TOP_TRIALS) -> pd.DataFrame:
    """The ``n`` best scored trials, with the hyperparameters that differ among them."""
    if leaderboard.empty or "score" not in leaderboard:
        return leaderboard.head(0)
    board = leaderboard[leaderboard["score"].notna()]
    board = board.sort_values("score", ascending=direction == "min", kind="stable").head(n)
    fixed = [c for c in board.columns if c not in BOOKKEEPING and board[c].astype(str).nunique() <= 1]
    shown = [c for c in SHOWN if c in board]
    return board[shown + [c for c in board.columns if c not in BOOKKEEPING and c not in fixed]]


def _metrics_section(meta: RunMetadata) -> list[str]:
    scores = meta.metrics
    splits = [s for s in ("test", "validation") if scores.get(s)]
    if not splits:
        return ["No held-out metrics were recorded."]
    names = list(dict.fromkeys(k for s in splits for k in scores[s]))
    rows = [[name, *(scores[s].get(name) for s in splits)] for name in names]
    return [markdown_table(["metric", *splits], rows)]


def _rationale_section(meta: RunMetadata) -> list[str]:
    best = meta.best_hyperparameters
    why = {r.get("hyperparameter"): r for r in meta.rationale}
    names = list(dict.fromkeys([*best, *why]))
    rows = [[n, best.get(n, why.get(n, {}).get("value")), why.get(n, {}).get("rules") or "",
             why.get(n, {}).get("why") or ""] for n in names]
    return [markdown_table(["hyperparameter", "value", "rules", "why"], rows)] if rows else ["(none recorded)"]


def _image_serving_section(meta: RunMetadata, image: Column) -> list[str]:
    shape, dtype = [int(n) for n in image.shape or ()], image.dtype
    outputs = '["label"], out["probabilities"]' if meta.is_classification else '["prediction"]'
    return [
        "RUN_DIR is the folder holding this report. From the command line, or from Python with autoann installed "
        "(a folder of images, flat or one sub-folder per class, or a .npz with `x`; images are converted and "
        f"resized to the stored {shape[0]} x {shape[1]} x {shape[2]} as in training):",
        "",
        "```bash\nautoann predict RUN_DIR images/ -o predictions.csv\nautoann evaluate RUN_DIR labelled_images/\n"
        "autoann serve RUN_DIR  # TF Serving's REST API on 127.0.0.1:8501 (pip install \"autoann[serve]\")\n```",
        "",
        "```python\nimport autoann\nmodel = autoann.load(RUN_DIR)\nmodel.predict_frame(\"images/\")\n```",
        "",
        f"Without autoann (TensorFlow only, e.g. TF Serving): a batch of {dtype} images of the stored size; "
        "the model standardizes (and, if the search chose it, resizes) them itself.",
        "",
        "```python\nimport numpy as np, tensorflow as tf\n"
        'serve = tf.saved_model.load("RUN_DIR/saved_model/1").signatures["serving_default"]\n'
        f'out = serve(image=tf.constant(np.zeros((1, {shape[0]}, {shape[1]}, {shape[2]}), "{dtype}")))\n'
        f"print(out{outputs})\n```",
    ]


def _serving_section(meta: RunMetadata) -> list[str]:
    image = image_column(meta.schema)
    if image is not None:
        return _image_serving_section(meta, image)
    names = (meta.serving or {}).get("inputs") or {c.name: c.name for c in meta.schema}
    kinds = {c.name: c.kind for c in meta.schema}
    levels = {name: (vocabulary or ["some level"])[0] for name, vocabulary in meta.vocabularies.items()}
    example = {}
    for col, arg in list(names.items())[:3]:
        level = json.dumps(str(levels.get(col, "some level")), ensure_ascii=False)
        example[arg] = "tf.constant([1.5])" if kinds.get(col) == "numeric" else f"tf.constant([{level}])"
    args = ", ".join(f'"{a}": {v}' for a, v in example.items())
    more = "  # ...one [N] tensor per input listed below" if len(names) > 3 else ""
    outputs = '["label"], out["probabilities"]' if meta.is_classification else '["prediction"]'
    return [
        "RUN_DIR is the folder holding this report. From the command line, or from Python with autoann installed:",
        "",
        "```bash\nautoann predict RUN_DIR data.csv -o predictions.csv\nautoann evaluate RUN_DIR labelled.csv\n"
        "autoann serve RUN_DIR  # TF Serving's REST API on 127.0.0.1:8501 (pip install \"autoann[serve]\")\n```",
        "",
        "```python\nimport autoann\nmodel = autoann.load(RUN_DIR)\nmodel.predict_frame(\"data.csv\")\n```",
        "",
        "Without autoann (TensorFlow only, e.g. TF Serving): numbers as float32 (NaN = missing), "
        "categories as strings (\"\" = missing; unseen levels are fine).",
        "",
        "```python\nimport tensorflow as tf\n"
        'serve = tf.saved_model.load("RUN_DIR/saved_model/1").signatures["serving_default"]\n'
        f"inputs = {{{args}}}{more}\nout = serve(**inputs)\nprint(out{outputs})\n```",
        "",
        markdown_table(["column", "signature input", "dtype"],
                       [[c, a, "float32" if kinds.get(c) == "numeric" else "string"] for c, a in names.items()]),
    ]


def _settings(meta: RunMetadata) -> list[str]:
    rows = [[f"budget.{k}", v] for k, v in meta.budget.items()]
    rows += [[f"hyperband.{k}", v] for k, v in meta.hyperband.items()
             if not isinstance(v, (dict, list)) or len(str(v)) < 80]
    rows += [["seed", meta.seed]]
    return [markdown_table(["setting", "value"], rows)]


def render_markdown(meta: RunMetadata, leaderboard: pd.DataFrame, history: dict[str, list[float]],
                    plots: dict[str, bool]) -> str:
    """The text of ``report.md``."""
    task = meta.task
    metric = meta.objective.get("name")
    best = meta.best_hyperparameters
    space = meta.space.get("hyperparameters") or {}
    scaling_hp = space.get("target_scaling")
    scaling = scaling_hp.get("value") if isinstance(scaling_hp, dict) else None
    chance = m.chance_loss(task, best.get("loss"), len(meta.classes or []) or None, scaling)
    board = top_trials(leaderboard, meta.objective.get("direction", "max"))
    target = ", ".join(meta.target_names)
    lines = [
        f"# autoann run: {task} model of {target}",
        "",
        f"Created {meta.created or '?'} by autoann {meta.autoann_version or '?'}. "
        f"Final model: {meta.final_model or '?'}.",
    ]
    if meta.classes:
        lines.append(f"Classes (probability columns in this order): {', '.join(map(str, meta.classes))}.")
    lines += ["", "## Held-out metrics", "", *_metrics_section(meta), "", "## Learning curves (final model)", ""]
    if plots.get(CURVES_FILE):
        lines += [f"![learning curves]({CURVES_FILE})", ""]
    lines += [m.verdict(history, metric, chance), "", "## Chosen hyperparameters and why", "",
              *_rationale_section(meta), "",
              f"## Leaderboard (top {len(board)} of {len(leaderboard)} trials, by {metric or 'score'})", "",
              markdown_table(list(board.columns), board.itertuples(index=False)) if len(board) else "(no scored trial)",
              "", "## Search settings", "", *_settings(meta), ""]
    if plots.get(PROGRESS_FILE):
        lines += [f"![search progress]({PROGRESS_FILE})", ""]
    lines += ["## Notes", "", *([f"- {n}" for n in meta.notes] or ["(none)"]), "",
              "## Loading and serving the model", "", *_serving_section(meta), ""]
    return "\n".join(lines)


def write_report(run: FittedRun, directory: Path) -> None:
    """Write ``report.md``, ``learning_curves.png`` and ``search_progress.png`` into ``directory``.

    ``run.metadata`` is best completed first (:func:`autoann.export._run_dir.complete_metadata`),
    so the report names its creation time, version and serving inputs.
    """
    from autoann._io import write_text_atomic

    directory = Path(directory)
    objective = run.metadata.objective.get("name")
    leaderboard = run.leaderboard
    history = run.history or {}
    plots = {
        CURVES_FILE: plot_learning_curves(history, objective, directory / CURVES_FILE),
        PROGRESS_FILE: plot_search_progress(run.progress or [], leaderboard, objective or "score",
                                            directory / PROGRESS_FILE),
    }
    write_text_atomic(directory / REPORT_FILE, render_markdown(run.metadata, leaderboard, history, plots))
