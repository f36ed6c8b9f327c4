"""autoann.fitted_run: the typed contract between search, export, predict and the estimators.

metadata.json and leaderboard.csv must keep their keys, columns and values, and run directories written
before the contract existed (``tests/data/run_format1``, written by commit 5bb7c14's ``autoann train``)
must still load.
"""

import json
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _runkit import metadata
from autoann.errors import ExportError
from autoann.export._report import BOOKKEEPING, top_trials
from autoann.fitted_run import (
    FORMAT,
    RunMetadata,
    TrialEvent,
    TrialRow,
    best_score,
    leaderboard_frame,
    trials_from_frame,
)

pytestmark = pytest.mark.train

OLD_RUN = Path(__file__).parent / "data" / "run_format1"
#: leaderboard.csv's bookkeeping columns, in order, as the tuner wrote them before TrialRow existed
COLUMNS = ["trial_id", "status", "score", "bracket", "round", "parent", "epochs_to", "epochs_run", "best_epoch",
           "fit_seconds", "seconds", "finished_at", "worker", "rss_mb", "message"]
#: columns added since tests/data/run_format1 was written, and what a row written before holds in them
ADDED = {"best_epoch": None, "worker": "", "rss_mb": None}
OLD_COLUMNS = [c for c in COLUMNS if c not in ADDED]


def old_row(i: int, **values) -> dict:
    """A leaderboard row as ``BudgetedHyperband.on_trial_end`` wrote it into ``autoann_trials.json`` before."""
    return {"trial_id": f"000{i}", "status": "failed" if i == 2 else "completed",
            "score": None if i == 2 else 0.5 + 0.1 * i, "bracket": 1, "round": i % 2,
            "parent": "0000" if i % 2 else None, "epochs_to": 3, "epochs_run": 2, "fit_seconds": 0.25,
            "seconds": 0.5, "finished_at": 1.5 * i, "message": "diverged" if i == 2 else "", **values}


# -- RunMetadata -----------------------------------------------------------------------------------
def test_metadata_round_trips_exactly():
    from autoann.export import complete_metadata

    meta = complete_metadata(RunMetadata.from_json(metadata("binary", ["no", "yes"], "str")))
    data = json.loads(json.dumps(meta.to_json()))
    again = RunMetadata.from_json(data)
    assert again.to_json() == data
    # numpy values (profile, best hyperparameters) come back as Python numbers; every other field as it was
    same = [f.name for f in fields(meta) if f.name not in ("profile", "best_hyperparameters")]
    assert [getattr(again, n) for n in same] == [getattr(meta, n) for n in same]
    assert data["format"] == FORMAT and data["serving"]["inputs"]["b c"] == "b_c"
    assert data["schema"][1] == {"name": "b c", "kind": "numeric"}


def test_search_metadata_has_no_export_keys_until_exported():
    data = RunMetadata.from_json(metadata("regression")).to_json()
    assert not {"format", "autoann_version", "versions", "created", "serving", "feature_names"} & set(data)
    assert data["classes"] is None and data["interrupted"] is False  # today's keys, even when empty


def test_metadata_written_before_the_contract_still_loads():
    data = json.loads((OLD_RUN / "metadata.json").read_text())
    meta = RunMetadata.from_json(data)
    assert meta.to_json() == data  # same keys, same values: nothing lost, nothing added
    assert meta.task == "multiclass" and meta.classes == ["Adelie", "Chinstrap", "Gentoo"]
    assert [c.name for c in meta.schema][:2] == ["island", "bill_length_mm"]
    assert meta.vocabularies["island"] == ["Biscoe", "Dream", "Torgersen"]


def test_unknown_keys_are_kept_and_optional_keys_may_be_absent():
    data = {"task": "regression", "schema": [{"name": "a", "kind": "numeric"}], "target_names": ["y"],
            "future_key": {"x": 1}}
    meta = RunMetadata.from_json(data)
    assert meta.extra == {"future_key": {"x": 1}} and meta.metrics == {} and meta.notes == []
    assert meta.to_json()["future_key"] == {"x": 1}


@pytest.mark.parametrize("data, message", [
    ({"task": "binary"}, "lacks schema, target_names"),
    ([1, 2], "lacks task, schema, target_names"),
    ({"task": "binary", "schema": [], "target_names": ["y"], "format": FORMAT + 1, "autoann_version": "9.0"},
     r"newer autoann \(format 2, autoann 9.0\); upgrade autoann"),
    ({"task": "binary", "schema": [], "target_names": ["y"], "format": "one"}, "newer autoann"),
])
def test_bad_metadata_names_the_file_and_the_fix(data, message):
    with pytest.raises(ExportError, match=f"run/metadata.json .*{message}"):
        RunMetadata.from_json(data, Path("run") / "metadata.json")


# -- TrialRow and the leaderboard ---------------------------------------------------------------
def test_sidecar_rows_round_trip_exactly():
    rows = {f"000{i}": old_row(i, n_layers=i, learning_rate=0.01) for i in range(3)}
    text = json.dumps(rows)
    trials = {k: TrialRow.from_json(r) for k, r in json.loads(text).items()}
    # same keys, order and values, plus the columns added since (unknown to rows written before them)
    again = {k: {c: r.to_json()[c] for c in (*COLUMNS, "n_layers", "learning_rate")} for k, r in trials.items()}
    assert json.dumps({k: {c: v for c, v in r.items() if c not in ADDED} for k, r in again.items()}) == text
    assert all(r[c] == empty for r in again.values() for c, empty in ADDED.items())
    assert trials["0002"].status == "failed" and not trials["0002"].scored and trials["0001"].parent == "0000"


def test_leaderboard_keeps_todays_columns_in_order():
    rows = [TrialRow.from_json(old_row(0, n_layers=1)), TrialRow.from_json(old_row(1, n_layers=2, dropout=0.1))]
    board = leaderboard_frame(rows)
    assert list(board.columns) == [*COLUMNS, "n_layers", "dropout"]
    assert tuple(COLUMNS) == BOOKKEEPING  # the report knows every bookkeeping column and no other


def test_old_leaderboard_csv_is_rewritten_unchanged():
    text = (OLD_RUN / "leaderboard.csv").read_text()
    board = pd.read_csv(OLD_RUN / "leaderboard.csv", dtype={"trial_id": str, "parent": str})
    assert list(board.columns[:len(OLD_COLUMNS)]) == OLD_COLUMNS
    again = leaderboard_frame(trials_from_frame(board))
    assert again[["best_epoch", "rss_mb"]].isna().all().all()  # columns added since: unknown for old trials
    assert (again["worker"] == "").all()
    assert again.drop(columns=list(ADDED)).to_csv(index=False) == text


def test_estimator_leaderboard_survives_the_frame_round_trip():
    """An estimator keeps ``leaderboard_`` as a frame (NaN for a conditional hyperparameter a trial lacks)."""
    rows = [TrialRow.from_json(old_row(i, n_layers=i, **({"dropout": 0.2} if i else {}))) for i in range(3)]
    board = leaderboard_frame(rows)
    again = trials_from_frame(board)
    assert again[2].score is None and again[0].parent is None and again[2].message == "diverged"
    pd.testing.assert_frame_equal(leaderboard_frame(again), board)


def test_report_table_shows_no_phantom_column():
    board = leaderboard_frame([TrialRow.from_json(old_row(i, n_layers=i, units=8)) for i in range(4)])
    shown = top_trials(board, "max")
    assert set(shown.columns) <= set(board.columns) and "epochs" not in shown
    assert list(shown.columns) == ["trial_id", "status", "score", "epochs_run", "seconds", "bracket", "round",
                                   "n_layers"]  # units is the same in every trial: not shown


# -- TrialEvent ---------------------------------------------------------------------------------
@pytest.mark.parametrize("direction, best", [("max", 0.8), ("min", 0.5)])
def test_trial_event_counts_and_best_score(direction, best):
    rows = [TrialRow.from_json(old_row(i)) for i in range(4)]  # scores 0.5, 0.6, failed, 0.8
    event = TrialEvent.after(rows, "val_auc", direction)
    assert (event.finished, event.failed, event.last.trial_id) == (4, 1, "0003")
    assert np.isclose(event.best, best) and event.objective == "val_auc"
    assert best_score(rows[2:3], direction) is None


def test_progress_view_reads_the_event_not_the_tuner():
    import io

    from rich.console import Console

    from autoann.cli._progress import SearchProgress

    view = SearchProgress(Console(file=io.StringIO(), force_terminal=False), budget_seconds=60.0)
    with view:
        view("trial", TrialEvent.after([TrialRow.from_json(old_row(i)) for i in range(3)], "val_auc", "max"))
        text = view.progress.tasks[0].description
    assert text.startswith("3 trials, 1 failed | best val_auc 0.6 | ")
