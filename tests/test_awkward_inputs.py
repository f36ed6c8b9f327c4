"""Inputs that are not wrong, only awkward, through the real code: any printable column name and any cell
value either reaches the model or gets autoann's own error (hypothesis, through load -> profile ->
recommend -> the Keras preprocessing model, no search); one tiny real train with names Keras refuses;
SIGTERM during a search and during the export; skipped image files reported by ``train`` (issue 14).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from _helpers import err
from autoann.cli._app import app
from autoann.data import load_data
from autoann.errors import AutoANNError
from autoann.export import serving_names
from autoann.profiling import profile
from autoann.rules import recommend
from autoann.schema import Column, model_input_names, schema_from_list
from autoann.search._preprocessing import fit_preprocessing, transform
from autoann.search._tuner import BudgetedHyperband

pytestmark = [pytest.mark.train, pytest.mark.usefixtures("quiet_tensorflow_logger")]
runner = CliRunner()
SEARCH = ["--max-trials", "2", "--max-epochs", "2", "--time-budget", "5m", "--seed", "0"]  # the default + 1 trial
FAST = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_PLAIN = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=6)
#: printable names; half of them hold a '/' (as scikit-learn's wine data does), which Keras refuses in a name
NAME = st.one_of(_PLAIN.filter(bool), st.tuples(_PLAIN, _PLAIN).map("/".join))
CELL = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.text(max_size=6),
                 st.floats(allow_nan=True, allow_infinity=True))


def cli(*args) -> object:
    return runner.invoke(app, [*map(str, args)], env={"COLUMNS": "200"})


def reaches_the_model(features: pd.DataFrame) -> None:
    """What a search does with ``features`` (30 rows) and a binary target before the first trial: load,
    profile, recommend, fit and run the preprocessing model (real Keras layers named after the columns).
    autoann's own refusal (AutoANNError) is an allowed outcome; any other exception fails the test."""
    frame = features.assign(y=np.tile(["p", "q"], 15))
    try:
        dataset = load_data(frame, "y")
        prof = profile(dataset)
        space = recommend(prof).space
    except AutoANNError:
        return
    schema = schema_from_list(prof.feature_schema())
    prep = fit_preprocessing(dataset.features, schema, onehot_max_cardinality=int(space.setting("onehot_max_cardinality")),
                             embedding_dim_max=int(space.setting("embedding_dim_max")))
    (out,) = transform(prep, schema, [dataset.features])
    assert all(len(v) == len(dataset.features) for v in out.values())


@FAST
@given(names=st.lists(NAME, min_size=1, max_size=4, unique=True))
def test_any_printable_column_names_reach_the_model(names):
    names = [n for n in names if n != "y"] or ["x"]
    rng = np.random.default_rng(0)
    reaches_the_model(pd.DataFrame({n: rng.normal(size=30) if i % 2 else rng.choice(["a", "b"], 30)
                                    for i, n in enumerate(names)}))


@FAST
@given(cells=st.lists(CELL, min_size=30, max_size=30))
def test_any_cell_values_reach_the_model_or_get_autoanns_error(cells):
    reaches_the_model(pd.DataFrame({"x": pd.Series(cells, dtype=object), "z": np.arange(30.0)}))


@FAST
@given(names=st.lists(NAME, min_size=1, max_size=6, unique=True))
def test_input_and_signature_names_are_valid_distinct_and_keep_valid_names(names):
    schema = [Column(n, "numeric") for n in names]
    for mapping in (model_input_names(schema), serving_names(names)):
        assert list(mapping) == names and len(set(mapping.values())) == len(names)
    inputs = model_input_names(schema)
    assert all(inputs[n] == n for n in names if "/" not in n)
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", v) for v in serving_names(names).values())
    layers = [keras.Input(shape=(1,), name=v) for v in inputs.values()]  # Keras refuses a '/' or a repeated name
    keras.Model(layers, keras.layers.Concatenate()(layers) if len(layers) > 1 else layers[0])


# -- one tiny real train with names Keras refuses (case 1) ----------------------------------------------------


AWKWARD = ["bill length/mm", "bill_length_mm", "a/b", "od280/od315", "cat/x", "cat_x", "é ü", "[x]:y"]


def awkward_frame(n: int = 90) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({name: rng.normal(size=n) for name in AWKWARD[:4]})
    frame["cat/x"] = rng.choice([f"l{i}" for i in range(40)], n)  # > 30 levels: an embedding input
    frame["cat_x"] = rng.choice(["p", "q"], n)
    frame["é ü"] = rng.choice(["r", "s"], n)
    frame["[x]:y"] = rng.normal(size=n)
    frame["y"] = np.where(frame["bill length/mm"] + frame["a/b"] > 0, "yes", "no")
    return frame


def test_slashes_and_colliding_names_train_predict_and_serve(tmp_path):
    data = tmp_path / "wine-like.csv"
    awkward_frame().to_csv(data, index=False)
    run = tmp_path / "run"
    result = cli("train", data, "-t", "y", *SEARCH, "-o", run)
    assert result.exit_code == 0, result.output + err(result)
    meta = json.loads((run / "metadata.json").read_text())
    assert [c["name"] for c in meta["schema"]] == AWKWARD
    assert meta["serving"]["model_inputs"]["bill length/mm"] == "bill_length_mm_2"
    frame = awkward_frame()
    frame.loc[0, "cat/x"] = "never seen"
    frame.to_csv(data, index=False)
    out = tmp_path / "p.csv"
    result = cli("predict", run, data, "-o", out)
    assert result.exit_code == 0, err(result)
    assert re.search(r"Column 'cat/x': \d+ row\(s\) have categories not seen in training \(e.g. 'never seen'", err(result))
    predicted = pd.read_csv(out)
    import tensorflow as tf

    names = meta["serving"]["inputs"]
    serve = tf.saved_model.load(str(run / "saved_model" / "1")).signatures["serving_default"]
    kinds = {c["name"]: c["kind"] for c in meta["schema"]}
    args = {names[c]: tf.constant(frame[c].to_numpy("float32") if kinds[c] == "numeric" else frame[c].astype(str))
            for c in AWKWARD}
    served = serve(**args)["probabilities"].numpy()
    np.testing.assert_allclose(served[:, 1], predicted["proba_yes"], atol=1e-5)


# -- SIGTERM (case 8) -----------------------------------------------------------------------------------------


def tiny_csv(path: Path) -> Path:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(90, 3)), columns=["a", "b", "c"])
    frame["y"] = np.where(frame["a"] > 0, "yes", "no")
    frame.to_csv(path, index=False)
    return path


def sigterm_in(monkeypatch, target, name: str, at_call: int) -> None:
    """``target.name`` sends this process SIGTERM on its ``at_call``-th call (as `kill` would)."""
    original, calls = getattr(target, name), []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == at_call:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapped)


def test_sigterm_during_the_search_exports_and_keeps_it_resumable(tmp_path, monkeypatch):
    data, run = tiny_csv(tmp_path / "d.csv"), tmp_path / "run"
    sigterm_in(monkeypatch, BudgetedHyperband, "run_trial", at_call=2)
    handler = signal.getsignal(signal.SIGTERM)
    result = cli("train", data, "-t", "y", "--max-trials", "3", "--max-epochs", "2", "-b", "5m", "-o", run)
    assert result.exit_code == 0, result.output + err(result)
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["interrupted"] and any("SIGTERM" in note for note in meta["notes"])
    assert (run / "search" / "search" / "oracle.json").exists()
    assert signal.getsignal(signal.SIGTERM) is handler  # the command's handler is gone after it

    monkeypatch.undo()
    result = cli("train", data, "-t", "y", "--max-trials", "3", "--max-epochs", "2", "-b", "5m", "-o", run, "--resume")
    assert result.exit_code == 0, err(result)
    assert "this command has its own budget of 300s" in " ".join(result.stdout.split())
    assert not json.loads((run / "metadata.json").read_text())["interrupted"]


def test_sigterm_before_any_trial_finished_exits_143(tmp_path, monkeypatch):
    """Nothing to export: the stop is not a user error (exit 2), and no half-made run is left."""
    from autoann.search import _run

    data, run = tiny_csv(tmp_path / "d.csv"), tmp_path / "run"
    sigterm_in(monkeypatch, _run, "train_default", at_call=1)  # the default network is every search's first trial
    result = cli("train", data, "-t", "y", *SEARCH, "-o", run)
    assert result.exit_code == 143 and "stopped (SIGTERM)" in err(result), result.output + err(result)
    assert not run.exists()
    staging = tmp_path / ".run.partial"  # kept only with a search to continue, and then the hint says how
    if staging.exists():
        assert (staging / "search" / "search" / "oracle.json").exists() and f"--resume -o {run}" in err(result)


def test_sigterm_during_the_export_exits_143_and_keeps_the_search(tmp_path, monkeypatch):
    from autoann import export

    data, run = tiny_csv(tmp_path / "d.csv"), tmp_path / "run"
    sigterm_in(monkeypatch, export, "write_run_files", at_call=1)
    result = cli("train", data, "-t", "y", *SEARCH, "-o", run)
    assert result.exit_code == 143, result.output + err(result)
    assert "stopped (SIGTERM)" in err(result) and f"--resume -o {run}" in err(result)
    assert not run.exists() and (tmp_path / ".run.partial" / "search" / "search" / "oracle.json").exists()


# -- skipped image files (case 9) -----------------------------------------------------------------------------


def test_train_on_images_says_which_files_it_skipped(tmp_path, datasets_dir):
    root = tmp_path / "digits"
    for label in ("0", "1"):
        (root / label).mkdir(parents=True)
        for src in sorted((datasets_dir / "digits" / label).glob("*.png"))[:8]:
            shutil.copy(src, root / label / src.name)
    (root / "0" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (root / "1" / "readme.txt").write_text("not an image")
    result = cli("train", root, *SEARCH, "-o", tmp_path / "run")
    assert result.exit_code == 0, result.output + err(result)
    shown = " ".join(result.stdout.split())
    assert "Skipped 2 files" in shown and "broken.png" in shown and "readme.txt" in shown, shown
