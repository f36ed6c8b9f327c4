"""The run directory: files, metadata, model.keras in safe mode, the SavedModel without autoann,
and atomicity when writing fails."""

import errno
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pandas as pd
import pytest

from _runkit import SCHEMA, WITHOUT_AUTOANN, artifacts, export_run, raw_frame
from autoann.export import _run_dir as export
from autoann import predict as predictor
from autoann.errors import ExportError
from autoann.schema import category_strings

pytestmark = pytest.mark.train

RUNS = {  # name -> (task, classes, class_dtype)
    "binary": ("binary", ["no", "yes"], "str"),
    "multiclass": ("multiclass", ["1", "2", "10"], "int"),
    "multi_regression": ("multi_regression", None, None),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {name: export_run(artifacts(*spec), root / name) for name, spec in RUNS.items()}


@pytest.fixture(scope="module")
def serving_rows():
    """Raw rows as a server would get them: NaN numbers, missing and unseen categories."""
    frame = raw_frame(12, seed=3)
    frame.loc[4, "colour"] = "purple"
    frame.loc[5, "b c"] = np.nan
    return frame


def test_run_directory_holds_every_file(runs):
    for run in runs.values():
        names = {p.name for p in run.iterdir()}
        assert {"model.keras", "saved_model", "metadata.json", "leaderboard.csv", "history.json", "report.md",
                "learning_curves.png", "search_progress.png"} <= names
        assert not [n for n in names if n.startswith(".")], "no temporary files left behind"
        assert (run / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(runs["binary"].parent.glob(".*partial")), "staging folders were moved, not copied"


def test_metadata_is_complete_sorted_json(runs):
    text = (runs["binary"] / "metadata.json").read_text()
    meta = json.loads(text)
    assert meta["format"] == 1 and meta["autoann_version"]
    assert set(meta["versions"]) == {"python", "tensorflow", "keras", "keras_tuner", "numpy", "pandas", "sklearn"}
    assert meta["created"].endswith("+00:00")
    assert meta["serving"]["inputs"] == {"a": "a", "b c": "b_c", "colour": "colour"}
    assert meta["best_hyperparameters"]["n_layers"] == 1  # numpy int64 converted
    assert list(meta) == sorted(meta) and text.startswith('{\n  "')


def test_leaderboard_and_report(runs):
    board = pd.read_csv(runs["binary"] / "leaderboard.csv")
    assert len(board) == 5 and {"trial_id", "status", "score", "n_layers"} <= set(board.columns)
    report = (runs["binary"] / "report.md").read_text()
    for needle in ("## Held-out metrics", "Over-fitting (G-PROC-2)", "DEPTH-SMALL", "few rows \\| small data",
                   "## Leaderboard (top 4 of 5 trials", "hyperband.max_epochs", "a tiny hand-built model",
                   "autoann predict RUN_DIR", "autoann.load(RUN_DIR)", 'signatures["serving_default"]',
                   '"b_c": tf.constant([1.5])', "learning_curves.png", "search_progress.png"):
        assert needle in report, needle
    assert "out[\"prediction\"]" in (runs["multi_regression"] / "report.md").read_text()


def test_model_keras_loads_in_safe_mode_and_matches_the_predictor(runs, serving_rows):
    import autoann.search._preprocessing  # noqa: F401  (the custom layers' registration)
    from autoann.schema import to_model_inputs

    model = keras.models.load_model(runs["multiclass"] / "model.keras", safe_mode=True)
    direct = model.predict(to_model_inputs(serving_rows, SCHEMA), verbose=0)
    with pytest.warns(predictor.SchemaWarning):
        proba = predictor.load(runs["multiclass"]).predict_proba(serving_rows)
    np.testing.assert_allclose(proba, direct, atol=1e-6)


def test_saved_model_serves_raw_columns_without_autoann(runs, serving_rows, tmp_path):
    """Load each SavedModel in a fresh interpreter where importing autoann is impossible."""
    rows = {"a": serving_rows["a"].tolist(), "b_c": serving_rows["b c"].tolist(),
            "colour": category_strings(serving_rows["colour"]).tolist()}  # missing -> ""
    script = WITHOUT_AUTOANN + textwrap.dedent("""
        runs, rows = json.loads(sys.argv[1]), json.loads(sys.argv[2])
        out = {}
        for name, path in runs.items():
            serve = tf.saved_model.load(path).signatures["serving_default"]
            args = sorted(serve.structured_input_signature[1])
            result = serve(a=tf.constant(rows["a"], tf.float32), b_c=tf.constant(rows["b_c"], tf.float32),
                           colour=tf.constant(rows["colour"]))
            out[name] = {"args": args, **{k: [x.decode() if isinstance(x, bytes) else x for x in v.numpy().tolist()]
                                          for k, v in result.items()}}
        out["autoann_loaded"] = any(m.split(".")[0] == "autoann" for m in sys.modules)
        print(json.dumps(out))
    """)
    paths = {name: str(run / "saved_model" / "1") for name, run in runs.items()}
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", script, json.dumps(paths), json.dumps(rows)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    served = json.loads(done.stdout.strip().splitlines()[-1])
    assert served["autoann_loaded"] is False
    for name, run in runs.items():
        assert served[name]["args"] == ["a", "b_c", "colour"]
        with pytest.warns(predictor.SchemaWarning, match="purple"):
            frame = predictor.load(run).predict_frame(serving_rows)
        if RUNS[name][1] is None:
            np.testing.assert_allclose(served[name]["prediction"], frame.to_numpy(), atol=1e-5)
        else:
            np.testing.assert_allclose(served[name]["probabilities"], frame.filter(like="proba_").to_numpy(), atol=1e-5)
            assert served[name]["label"] == [str(v) for v in frame["label"]]
    assert np.isfinite(np.asarray(served["binary"]["probabilities"])).all(), "NaN inputs are imputed"


def test_disk_full_removes_what_was_written_and_keeps_the_old_run(runs, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    export_run(artifacts("binary", ["no", "yes"], "str"), run_dir)
    before = sorted(p.name for p in run_dir.iterdir())

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export, "write_saved_model", disk_full)
    staging = tmp_path / ".run.partial"
    staging.mkdir()
    with pytest.raises(ExportError, match="No space left on device.*saved_model|saved_model.*No space left"):
        export.write_run_files(artifacts("binary", ["no", "yes"], "str"), staging)
    assert not staging.exists(), "the empty staging folder is removed"
    assert sorted(p.name for p in run_dir.iterdir()) == before
    assert predictor.load(run_dir).task == "binary"


def test_failure_keeps_a_callers_search_state_but_no_run_files(tmp_path, monkeypatch):
    staging = tmp_path / ".run.partial"
    (staging / "search").mkdir(parents=True)
    (staging / "search" / "oracle.json").write_text("{}")

    def read_only(path, text):
        raise ExportError(f"Cannot write {path}: Read-only file system.")

    monkeypatch.setattr(export, "write_text_atomic", read_only)
    with pytest.raises(ExportError, match="Read-only"):
        export.write_run_files(artifacts("regression"), staging)
    assert sorted(p.name for p in staging.iterdir()) == ["search"]


def test_finalize_run_overwrite_semantics(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "mine.txt").write_text("keep me")
    staging = tmp_path / ".run.partial"
    staging.mkdir()
    (staging / "metadata.json").write_text("{}")
    with pytest.raises(ExportError, match="already exists.*--overwrite"):
        export.finalize_run(staging, run_dir, overwrite=False)
    assert (run_dir / "mine.txt").read_text() == "keep me" and staging.exists()
    export.finalize_run(staging, run_dir, overwrite=True)
    assert sorted(p.name for p in run_dir.iterdir()) == ["metadata.json"] and not staging.exists()
    assert not list(tmp_path.glob(".run.old-*"))


def test_serving_names_are_valid_and_unique():
    names = export.serving_names(["a", "b c", "b_c", "_x", "température", "b-c", "2nd", "label", "if"])
    assert names["a"] == "a" and names["b_c"] == "b_c" and names["b-c"] == "b_c_3"
    assert names["b c"] == "b_c_2" and names["_x"] == "x_x" and names["température"] == "temp_rature"
    assert names["2nd"] == "x2nd" and names["label"] == "xlabel" and names["if"] == "xif"
    assert len(set(names.values())) == len(names)


def test_to_jsonable():
    out = export.to_jsonable({"f": np.float32(1.5), "n": float("nan"), "a": np.arange(2), 3: (1, None), "s": {2, 1}})
    assert out == {"f": 1.5, "n": None, "a": [0, 1], "3": [1, None], "s": [1, 2]}
    json.dumps(out, allow_nan=False)
