"""`autoann train` end to end through Typer's CliRunner: real (tiny) searches, real run directories.

One trained run is shared by the module (``run``); the reproducibility and
resume tests train their own. Every search is bounded by ``--max-trials``, so
the 5-minute budget never cuts a trial and the trial set does not depend on
the machine's speed. Bad inputs must exit 2 with autoann's message, no
traceback, and nothing written.
"""

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import autoann
import autoann.search._preprocessing  # noqa: F401  (registers autoann's custom layers for safe_mode loading)
from _helpers import err
from autoann.cli._app import app
from autoann.fitted_run import MEASURED_COLUMNS
from autoann.data._tables import load_data
from autoann.schema import schema_from_list, to_model_inputs
from autoann.search._tuner import BudgetedHyperband
from autoann.search._splits import split_dataset

pytestmark = [pytest.mark.train, pytest.mark.usefixtures("quiet_tensorflow_logger")]
runner = CliRunner()
ROWS = 120
#: three trials: the default network (every search's first) and two of Hyperband's
SEARCH = ["--max-trials", "3", "--max-epochs", "3", "--time-budget", "5m", "--seed", "0"]
RUN_FILES = ("model.keras", "saved_model", "metadata.json", "leaderboard.csv", "history.json", "report.md",
             "learning_curves.png", "search_progress.png")
#: leaderboard columns that measure time; everything else must repeat with the seed
TIMING = list(MEASURED_COLUMNS)


def train(*args: str):
    return runner.invoke(app, ["train", *map(str, args)], env={"COLUMNS": "200"})


def tiny_csv(path: Path, n: int = ROWS, seed: int = 0) -> Path:
    """A binary target ``y`` ('yes'/'no') from 3 numeric columns (some NaN) and a string column (some missing)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame.loc[::11, "b"] = np.nan
    frame["colour"] = rng.choice(["red", "green", "blue"], n).astype(object)
    frame.loc[::7, "colour"] = None
    frame["y"] = np.where(x[:, 0] + 0.5 * x[:, 1] > 0, "yes", "no")
    frame.to_csv(path, index=False)
    return path


def leftovers(folder: Path) -> list[str]:
    """Hidden staging folders (``.NAME.partial``) or moved-aside runs left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return tiny_csv(tmp_path_factory.mktemp("data") / "tiny.csv")


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """(run directory, CliRunner result) of one tiny search."""
    run_dir = tmp_path_factory.mktemp("train") / "run"
    result = train(data, "--target", "y", *SEARCH, "-o", run_dir)
    assert result.exit_code == 0, result.output + err(result)
    return run_dir, result


@pytest.fixture(scope="module")
def run(trained) -> Path:
    return trained[0]


@pytest.fixture(scope="module")
def meta(run) -> dict:
    return json.loads((run / "metadata.json").read_text())


@pytest.fixture(scope="module")
def board(run) -> pd.DataFrame:
    return pd.read_csv(run / "leaderboard.csv", dtype={"trial_id": str})


# -- one real run -------------------------------------------------------------------------------------


def test_train_writes_a_complete_run_directory(trained, board):
    run_dir, result = trained
    assert result.exit_code == 0
    for name in RUN_FILES:
        assert (run_dir / name).exists(), name
    assert (run_dir / "saved_model" / "1" / "saved_model.pb").exists()
    assert leftovers(run_dir.parent) == []  # no .run.partial staging folder beside it
    assert not (run_dir / "search").exists()  # trial checkpoints go without --keep-trials
    assert not list(run_dir.rglob("*.weights.h5"))
    out = " ".join(result.stdout.split())
    assert "test metrics" in out and f"run directory: {run_dir}" in out
    assert f"3 trials ({(board['status'] == 'failed').sum()} failed)" in out  # the count the leaderboard holds
    assert "done in" in out and "Traceback" not in result.output


def test_metadata_holds_test_metrics_of_the_test_split(run, meta, data):
    assert meta["task"] == "binary" and meta["classes"] == ["no", "yes"] and meta["target_names"] == ["y"]
    splits = meta["splits"]
    assert splits["train"] + splits["validation"] + splits["test"] == ROWS
    assert splits["test"] == round(ROWS * 0.2)
    # Recompute the test metrics from the rows the split held out: the same seed draws the same split.
    dataset = load_data(data, "y")
    held_out = split_dataset(dataset, "binary", test_size=0.2, validation_size=0.2, seed=0, target_scaling=False)
    assert len(held_out.test) == splits["test"] and len(held_out.val) == splits["validation"]
    scores = autoann.load(run).evaluate(held_out.test, held_out.truth_test)
    assert set(meta["metrics"]["test"]) == {"accuracy", "balanced_accuracy", "f1", "f1_macro", "log_loss", "roc_auc"}
    for name, value in meta["metrics"]["test"].items():
        assert scores[name] == pytest.approx(value, abs=1e-5), name
    assert meta["metrics"]["validation"]  # scored separately, on the validation rows


def test_metadata_records_seed_budget_and_best_hyperparameters(meta, board):
    assert meta["seed"] == 0
    assert meta["budget"]["requested"] == "5m" and meta["budget"]["max_trials"] == 3
    assert {"search_seconds", "fit_seconds", "seconds_before_export"} <= set(meta["budget"])  # timings: bench/
    assert meta["hyperband"]["max_epochs"] == 3  # --max-epochs pins it
    assert meta["objective"] == {"name": "val_accuracy", "direction": "max", "metric": "accuracy"}
    # the best hyperparameters are those of the leaderboard's best trial
    best = board.loc[board["score"].idxmax()]
    chosen = meta["best_hyperparameters"]
    assert chosen["max_epochs"] == 3
    shared = [k for k in chosen if k in board.columns]
    assert {"n_layers", "units_first", "learning_rate", "activation_family"} <= set(shared)
    for key in shared:
        if isinstance(chosen[key], (bool, int, float)):
            # numbers; Keras Tuner turns a bool choice into 0/1 on the leaderboard, but not always in the values
            assert float(best[key]) == pytest.approx(float(chosen[key])), key
        else:
            assert str(best[key]) == str(chosen[key]), key
    assert meta["final_model"].startswith(("the default network", "trial "))


def test_leaderboard_has_one_row_per_trial(board, meta):
    assert len(board) == 3  # --max-trials 3 (the default network and two trials), far from the budget
    assert board["trial_id"].is_unique
    assert set(board["status"]) <= {"completed", "cut", "failed"} and "completed" in set(board["status"])
    scored = board[board["status"] != "failed"]
    assert scored["score"].between(0, 1).all()  # val_accuracy
    assert (board["epochs_run"] >= 1).all() and {"fit_seconds", "seconds"} <= set(board.columns)
    assert not meta["interrupted"]


def test_predict_cli_and_library_match_the_raw_keras_model(run, meta, data, tmp_path):
    out = tmp_path / "preds.csv"
    result = runner.invoke(app, ["predict", str(run), str(data), "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out)
    assert list(written.columns) == ["label", "proba_no", "proba_yes"] and len(written) == ROWS

    rows = pd.read_csv(data).drop(columns=["y"])
    predictor = autoann.load(run)
    labels, proba = predictor.predict(rows), predictor.predict_proba(rows)
    model = keras.models.load_model(run / "model.keras", safe_mode=True)
    raw = np.asarray(model.predict(to_model_inputs(rows, schema_from_list(meta["schema"])), verbose=0))
    assert raw.shape == (ROWS, 1)
    assert np.allclose(proba[:, 1], raw[:, 0], atol=1e-6)
    assert (labels == np.where(raw[:, 0] > 0.5, "yes", "no")).all()
    assert (written["label"].to_numpy() == labels).all() and np.allclose(written["proba_yes"], raw[:, 0], atol=1e-6)


def test_same_seed_gives_the_same_leaderboard(run, board, data, tmp_path):
    """Same data, --seed and trial cap: the same trials, hyperparameters and scores.

    Keras Tuner's oracle seed fixes the sampled hyperparameters; autoann seeds
    every build (``keras.utils.set_random_seed``) and the shuffling, and no trial
    is cut by the budget, so on one machine the scores repeat too. Only timings
    differ. This second run also writes over an old folder (--overwrite) and
    keeps the trials (--keep-trials).
    """
    again = tmp_path / "again"
    shutil.copytree(run, again)
    (again / "old.txt").write_text("a file of the older run")
    result = train(data, "--target", "y", *SEARCH, "-o", again, "--overwrite", "--keep-trials")
    assert result.exit_code == 0, result.output + err(result)
    second = pd.read_csv(again / "leaderboard.csv", dtype={"trial_id": str})
    pd.testing.assert_frame_equal(board.drop(columns=TIMING), second.drop(columns=TIMING))
    first_meta = json.loads((run / "metadata.json").read_text())
    second_meta = json.loads((again / "metadata.json").read_text())
    assert first_meta["best_hyperparameters"] == second_meta["best_hyperparameters"]
    for split in ("test", "validation"):
        assert second_meta["metrics"][split] == pytest.approx(first_meta["metrics"][split])
    # --overwrite replaced the old folder; --keep-trials kept one trial folder per leaderboard row
    assert not (again / "old.txt").exists() and leftovers(tmp_path) == []
    trials = sorted(p.name for p in (again / "search" / "search").glob("trial_*"))
    assert trials == [f"trial_{t}" for t in second["trial_id"] if t != "default"]  # the default is no KT trial
    assert list((again / "search").rglob("checkpoint.weights.h5"))  # at least the best trial's


# -- --resume -------------------------------------------------------------------------------------------


def record_trials(monkeypatch, interrupt_at: int | None = None) -> list[str]:
    """Record the trial ids the tuner runs; raise KeyboardInterrupt (Ctrl-C) inside trial number ``interrupt_at``."""
    ran: list[str] = []
    original = BudgetedHyperband.run_trial

    def run_trial(self, trial, *args, **kwargs):
        ran.append(trial.trial_id)
        if len(ran) == interrupt_at:
            raise KeyboardInterrupt
        return original(self, trial, *args, **kwargs)

    monkeypatch.setattr(BudgetedHyperband, "run_trial", run_trial)
    return ran


def test_resume_after_ctrl_c_in_a_trial_keeps_the_finished_trials(data, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    search = [*SEARCH[2:], "--max-trials", "5"]  # the default network and four Hyperband trials
    ran = record_trials(monkeypatch, interrupt_at=3)
    result = train(data, "--target", "y", *search, "-o", run_dir)
    # Ctrl-C during the 3rd trial: the best of the two finished trials is exported, the search state kept.
    assert result.exit_code == 0, result.output + err(result)
    first = pd.read_csv(run_dir / "leaderboard.csv", dtype={"trial_id": str})
    assert list(first["trial_id"]) == ["default", *ran[:2]] and json.loads((run_dir / "metadata.json").read_text())["interrupted"]
    assert (run_dir / "search" / "search" / "oracle.json").exists()
    assert "--resume" in " ".join(result.stdout.split())

    ran = record_trials(monkeypatch)
    result = train(data, "--target", "y", *search, "-o", run_dir, "--resume")
    assert result.exit_code == 0, result.output + err(result)
    board = pd.read_csv(run_dir / "leaderboard.csv", dtype={"trial_id": str})
    assert len(board) == 5
    assert not set(ran) & set(first["trial_id"]), ran  # finished trials are not run again, nor the default
    assert len(ran) == 2  # the interrupted trial (from scratch) and one more, up to --max-trials 5
    kept = board.set_index("trial_id").loc[first["trial_id"]].reset_index()[first.columns]
    pd.testing.assert_frame_equal(kept, first, check_dtype=False)  # same scores, even the same timings
    meta = json.loads((run_dir / "metadata.json").read_text())
    assert not meta["interrupted"] and not (run_dir / "search").exists() and leftovers(tmp_path) == []


def test_resume_after_ctrl_c_during_the_export(data, tmp_path, monkeypatch):
    """A Ctrl-C after the search leaves no run directory, only the hidden staging folder, which --resume uses."""
    from autoann import export

    run_dir = tmp_path / "run"
    ran = record_trials(monkeypatch)
    write = export.write_run_files

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(export, "write_run_files", interrupted)
    result = train(data, "--target", "y", *SEARCH, "-o", run_dir)
    assert result.exit_code == 130 and "interrupted" in err(result)
    assert f"run the same command with --resume -o {run_dir}" in err(result)
    assert not run_dir.exists() and leftovers(tmp_path) == [".run.partial"]
    assert (tmp_path / ".run.partial" / "search" / "search" / "oracle.json").exists()
    finished = list(ran)
    assert len(finished) == 2

    monkeypatch.setattr(export, "write_run_files", write)
    ran = record_trials(monkeypatch)
    result = train(data, "--target", "y", *SEARCH, "-o", run_dir, "--resume")
    assert result.exit_code == 0, result.output + err(result)
    assert ran == []  # both trials were finished: nothing is trained again
    board = pd.read_csv(run_dir / "leaderboard.csv", dtype={"trial_id": str})
    assert list(board["trial_id"]) == ["default", *finished]
    assert [n for n in RUN_FILES if not (run_dir / n).exists()] == [] and leftovers(tmp_path) == []


def test_resume_without_search_state_exits_2(run, data):
    result = train(data, "--target", "y", *SEARCH, "-o", run, "--resume")
    assert result.exit_code == 2 and "Nothing to resume" in err(result) and "Traceback" not in result.output


# -- bad inputs: exit 2, a clear message, nothing written -------------------------------------------------


def test_existing_run_directory_is_left_untouched(run, data):
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    metadata = (run / "metadata.json").read_bytes()
    result = train(data, "--target", "y", *SEARCH, "-o", run)
    assert result.exit_code == 2
    assert f"{run} already exists" in err(result) and "--overwrite" in err(result)
    assert "Traceback" not in result.output
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before
    assert (run / "metadata.json").read_bytes() == metadata and leftovers(run.parent) == []


def test_overwrite_refuses_a_folder_that_is_not_a_run(data, tmp_path):
    """--overwrite deletes the folder it replaces: never a user's folder, nor one holding the data."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    result = train(data, "--target", "y", *SEARCH, "-o", mine, "--overwrite")
    assert result.exit_code == 2 and "not an autoann run directory" in err(result), err(result)
    assert (mine / "notes.txt").read_text() == "precious" and leftovers(tmp_path) == []

    inside = tmp_path / "old_run"
    inside.mkdir()
    (inside / "metadata.json").write_text("{}")
    rows = shutil.copy(data, inside / "rows.csv")
    result = train(rows, "--target", "y", *SEARCH, "-o", inside, "--overwrite")
    assert result.exit_code == 2 and "is inside" in err(result), err(result)
    assert Path(rows).exists() and leftovers(tmp_path) == []
    assert "Traceback" not in result.output


SPACES = {
    "no output keys": ("hyperparameters:\n  n_layers: 2\n",
                       ["does not set task, output_units, output_activation, loss", "binary target",
                        "task: binary, output_units: 1, output_activation: sigmoid, loss: binary_crossentropy"]),
    "wrong output units": ("hyperparameters:\n  task: binary\n  output_units: 2\n  output_activation: sigmoid\n"
                           "  loss: binary_crossentropy\n", ["sets output_units: 2", "needs 1"]),
    "malformed": ("hyperparameters: {n_layers: [1, 2\n", ["not valid YAML"]),
    "unknown": ("hyperparameters:\n  n_layerz: 2\n", ["unknown hyperparameter 'n_layerz'", "did you mean 'n_layers'"]),
    "empty range": ("hyperparameters:\n  n_layers: {int: [5, 1]}\n", ["'n_layers'", "low 5 > high 1"]),
    "log of a negative": ("hyperparameters:\n  learning_rate: {float: [-1, 0.1], log: true}\n",
                          ["'learning_rate'", "low bound must be > 0"]),
}


@pytest.mark.parametrize("case", list(SPACES))
def test_bad_space_file_exits_2_naming_the_key(case, data, tmp_path):
    text, expected = SPACES[case]
    space = tmp_path / "space.yaml"
    space.write_text(text)
    result = train(data, "--target", "y", *SEARCH, "--space", space, "-o", tmp_path / "run")
    assert result.exit_code == 2, result.output
    assert str(space) in err(result) and all(e in err(result) for e in expected), err(result)
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["space.yaml"]  # no run, no staging


def write_rows(path: Path, rows: pd.DataFrame) -> Path:
    rows.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing target", ["Target column 'label' is not in the data", "'y'"]),
        ("too few rows", ["Only 8 rows have a target value", "at least 10"]),
        ("too few rows to split", ["Cannot split 12 rows", "number of classes = 3", "--test-size"]),
        ("a class too rare to split", ["Class 'q' has only 2 row(s)", "at least 3 per class"]),
    ],
)
def test_unusable_data_exits_2(case, expected, data, tmp_path):
    rows = pd.read_csv(data)
    target = "y"
    if case == "missing target":
        target = "label"
    elif case == "too few rows":
        rows = rows.head(8)
    elif case == "too few rows to split":
        rows = rows.head(12).assign(y=["p", "q", "r"] * 4)
    else:
        rows = rows.head(12).assign(y=["p"] * 10 + ["q"] * 2)
    path = write_rows(tmp_path / "rows.csv", rows)
    result = train(path, "--target", target, *SEARCH, "-o", tmp_path / "run")
    assert result.exit_code == 2, result.output
    assert all(e in err(result) for e in expected), err(result)
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv"]


def test_budget_too_small_for_one_trial_exits_2_with_the_minimum(data, tmp_path):
    result = train(data, "--target", "y", *SEARCH, "--time-budget", "1s", "-o", tmp_path / "run")
    assert result.exit_code == 2, result.output
    message = err(result)
    assert "one trial of one epoch takes about" in message and "--time-budget" in message
    minimum = int(message.split("Give a time budget of at least ")[1].split("s")[0])
    assert minimum > 1
    assert "Traceback" not in result.output and "done" not in result.stdout  # no progress bar claiming success
    assert list(tmp_path.iterdir()) == []


# -- the summary printed at the end ----------------------------------------------------------------------


def test_small_scores_keep_their_digits():
    from rich.console import Console

    from autoann.cli._display import show_train_result
    from autoann.search._trainer import TrainResult

    result = TrainResult(run_dir=Path("runs/x"), metrics={"test": {"rmse": 0.00012345, "r2": 0.98765}},
                         best_hyperparameters={}, leaderboard=pd.DataFrame({"status": ["completed"]}), plan={},
                         final_model="best trial 0000", seconds=3.0)
    console = Console(record=True, width=120)
    show_train_result(console, result)
    text = console.export_text()
    assert "0.0001235" in text or "0.0001234" in text
    assert "0.0000" not in text and "0.9877" in text
    # --test-size 0: no test split, so the validation metrics are shown, and said to be optimistic
    result.metrics = {"test": {}, "validation": {"rmse": 0.5}}
    console = Console(record=True, width=200)
    show_train_result(console, result)
    text = console.export_text()
    assert "validation metrics" in text and "optimistic" in text and "0.5" in text
