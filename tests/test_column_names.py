"""Any column name works, at every door (issue 12): one tiny `autoann train` on a CSV whose columns carry every
awkward name at once, then each door on that one run: metadata, `model.keras` reloaded, the SavedModel
signature, `autoann predict`, `autoann serve` (REST rows by column name, columns by signature name), ONNX.
The estimators fit their own frame of the same names; scikit-learn's load_wine (``od280/od315_of_diluted_wines``,
the crash the issue reports) trains through AutoANNClassifier.
"""

from __future__ import annotations

import json
import keyword
import math
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import autoann
from _helpers import err
from autoann.cli._app import app

pytestmark = [pytest.mark.train, pytest.mark.usefixtures("quiet_tensorflow_logger"),
              pytest.mark.filterwarnings("ignore:Column 'many levels")]  # levels a 12-row sample holds unseen
SEED = 0
EMBEDDED = "many levels/中"  # > 30 levels: an embedding input, whose network input is named after the column

#: name -> what makes it awkward (the table every door is checked against)
NAMES = {
    "od280/od315_of_diluted_wines": "a '/', which Keras refuses in a name (load_wine)",
    "bill length mm": "spaces",
    "it's": "a single quote",
    'say "hi"': "double quotes (quoted again in the CSV)",
    "café": "an accent",
    "中文": "CJK characters only: nothing ASCII is left",
    "😀 score": "an emoji",
    "2nd": "a leading digit (TensorFlow renames such a signature argument to arg_2nd)",
    "arg_2nd": "the name TensorFlow would rename '2nd' to",
    "a/b": "sanitizes to the next column's name",
    "a_b": "a valid name another column sanitizes to",
    "b-c": "a '-' (TensorFlow renames it b_c)",
    "b.c": "a '.' (TensorFlow renames it b_c too)",
    "if": "a Python keyword",
    "x" * 300: "300 characters",
    "features": "the network's dense input",
    "pixels": "an image network's input",
    "embed__0__x": "the form of an embedded column's network input",
    "network": "the trained network nested in the exported model",
    "standardize_impute": "a preprocessing layer",
    "numeric_columns": "a preprocessing layer",
    "dense_features": "a preprocessing layer",
    "col0__od280_od315_of_diluted_wines": "the first numeric column's reshape layer",
    "lookup0__cat__": "the first categorical column's lookup layer",
    "label": "an output of the signature and of `autoann predict`",
    "probabilities": "an output of the signature",
    "prediction": "a regression output of the signature",
    "proba_yes": "a column of `autoann predict`'s output",
    "output": "the network's output layer",
    "cat/é": "a categorical (one-hot) column with '/' and an accent",
    EMBEDDED: "a categorical (embedded) column with '/' and CJK",
}
TARGET = "wine class/type é"  # the target's own name is awkward too
IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def awkward_frame(n: int = 120, seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.normal(size=n) for name in list(NAMES)[:-2]})
    frame["cat/é"] = rng.choice(["p", "q", "r"], n)
    frame[EMBEDDED] = rng.choice([f"l{i}" for i in range(40)], n)
    frame[TARGET] = np.where(frame["od280/od315_of_diluted_wines"] + frame["中文"] > 0, "yes", "no")
    return frame


def cli(*args) -> object:
    return CliRunner().invoke(app, [*map(str, args)], env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One `autoann train` on a CSV with every awkward name: (run directory, feature rows, their CSV)."""
    root = tmp_path_factory.mktemp("names")
    frame = awkward_frame()
    data = root / "awkward.csv"
    frame.to_csv(data, index=False)
    result = cli("train", data, "-t", TARGET, "--max-trials", "1", "--max-epochs", "2", "--time-budget", "5m",
                 "--seed", SEED, "--export-format", "onnx", "-o", root / "run")
    assert result.exit_code == 0, result.output + err(result)
    rows = frame.drop(columns=TARGET).head(12)
    rows_csv = root / "rows.csv"
    rows.to_csv(rows_csv, index=False)
    return root / "run", rows, rows_csv


def test_the_csv_round_trip_keeps_every_name(run):
    run_dir, rows, _ = run
    meta = json.loads((run_dir / "metadata.json").read_text(encoding="utf-8"))
    assert [c["name"] for c in meta["schema"]] == list(NAMES)
    assert meta["target_names"] == [TARGET]


def test_the_documented_mappings_are_valid_distinct_and_complete(run):
    meta = json.loads((run[0] / "metadata.json").read_text(encoding="utf-8"))
    signature, keras_inputs = meta["serving"]["inputs"], meta["serving"]["model_inputs"]
    for mapping in (signature, keras_inputs):
        assert set(mapping) == set(NAMES) and len(set(mapping.values())) == len(NAMES)
    for name, why in NAMES.items():
        arg = signature[name]
        assert IDENTIFIER.fullmatch(arg) and not keyword.iskeyword(arg), (name, why, arg)
        assert arg not in meta["serving"]["outputs"], (name, why)
        assert "/" not in keras_inputs[name] and keras_inputs[name] != "network", (name, why)
    assert signature["label"] != "label" and signature["2nd"] != "2nd" and signature["a_b"] == "a_b"
    assert keras_inputs["café"] == "café" and keras_inputs["a/b"] != keras_inputs["a_b"]


def test_model_keras_reloads_with_the_recorded_input_names(run):
    import keras

    import autoann.layers  # noqa: F401  (registers autoann's layers for loading)
    from autoann.schema import schema_from_list, to_model_inputs

    run_dir, rows, _ = run
    meta = json.loads((run_dir / "metadata.json").read_text(encoding="utf-8"))
    model = keras.models.load_model(run_dir / "model.keras", safe_mode=True)
    assert sorted(t.name for t in model.inputs) == sorted(meta["serving"]["model_inputs"].values())
    inputs = to_model_inputs(rows, schema_from_list(meta["schema"]))
    want = autoann.load(run_dir).predict_proba(rows)[:, 1]
    np.testing.assert_allclose(model.predict(inputs, verbose=0)[:, 0], want, atol=1e-5)


def test_the_saved_model_signature_takes_the_recorded_names(run):
    import tensorflow as tf

    run_dir, rows, _ = run
    meta = json.loads((run_dir / "metadata.json").read_text(encoding="utf-8"))
    names, kinds = meta["serving"]["inputs"], {c["name"]: c["kind"] for c in meta["schema"]}
    serve = tf.saved_model.load(str(run_dir / "saved_model" / "1")).signatures["serving_default"]
    assert set(serve.structured_input_signature[1]) == set(names.values())  # TensorFlow renamed none of them
    args = {names[c]: tf.constant(rows[c].to_numpy("float32") if kinds[c] == "numeric" else rows[c].astype(str))
            for c in NAMES}
    served = serve(**args)["probabilities"].numpy()
    np.testing.assert_allclose(served[:, 1], autoann.load(run_dir).predict_proba(rows)[:, 1], atol=1e-5)


def test_autoann_predict_reads_the_names_from_a_csv(run, tmp_path):
    run_dir, rows, rows_csv = run
    out = tmp_path / "p.csv"
    result = cli("predict", run_dir, rows_csv, "-o", out)
    assert result.exit_code == 0, result.output + err(result)
    want = autoann.load(run_dir).predict_frame(rows)
    assert pd.read_csv(out)["label"].tolist() == want["label"].tolist()


def test_autoann_serve_takes_column_names_and_signature_names(run):
    from fastapi.testclient import TestClient

    from autoann.serve import create_app

    run_dir, rows, _ = run
    meta = json.loads((run_dir / "metadata.json").read_text(encoding="utf-8"))
    instances = [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
                 for r in rows.astype(object).to_dict("records")]
    by_signature = {meta["serving"]["inputs"][c]: [r[c] for r in instances] for c in NAMES}
    with TestClient(create_app({"wine": run_dir})) as client:
        want = autoann.load(run_dir).predict_frame(rows)["label"].tolist()
        by_row = client.post("/v1/models/wine:predict", json={"instances": instances})
        by_column = client.post("/v1/models/wine:predict", json={"inputs": by_signature})
        metadata = client.get("/v1/models/wine/metadata")
    assert by_row.status_code == by_column.status_code == metadata.status_code == 200, by_row.text + by_column.text
    assert [p["label"] for p in by_row.json()["predictions"]] == want
    assert by_column.json()["outputs"]["label"] == want
    listed = metadata.json()["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]
    assert set(listed) == set(meta["serving"]["inputs"].values())


def test_onnx_takes_the_signature_names(run):
    from autoann.export import export_format
    from autoann.export._formats import TOLERANCE

    run_dir, rows, _ = run
    assert (run_dir / "model.onnx").exists()  # train --export-format onnx converted and verified it
    path, gaps = export_format(run_dir, "onnx", output=run_dir / "again.onnx", rows=rows)
    assert path.exists() and max(gaps.values()) <= TOLERANCE


def test_the_estimator_fits_and_predicts_on_a_frame_of_these_names(tmp_path):
    frame = awkward_frame(90, seed=1)
    X, y = frame.drop(columns=TARGET), frame[TARGET]
    clf = autoann.AutoANNClassifier(time_budget="5m", max_trials=1, max_epochs=2, random_state=SEED).fit(X, y)
    assert list(clf.feature_names_in_) == list(NAMES)
    predicted = clf.predict(X.head(10))
    exported = autoann.load(clf.export(tmp_path / "run")).predict(X.head(10))
    assert set(predicted) <= {"yes", "no"} and list(exported) == list(predicted)


def test_load_wine_trains_with_the_estimator():
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True, as_frame=True)
    assert "od280/od315_of_diluted_wines" in X
    clf = autoann.AutoANNClassifier(time_budget=20, max_trials=2, max_epochs=3, random_state=SEED).fit(X, y)
    assert clf.score(X, y) > 0.5  # three balanced classes: chance is 0.4
