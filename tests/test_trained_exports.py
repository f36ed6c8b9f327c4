"""Runs trained by ``autoann.train`` on the shipped data: a multiclass target with string columns
and NaN, and a regression. Their SavedModel, loaded in a fresh interpreter that cannot import
autoann, gives what ``autoann.load`` gives on raw rows with NaN and an unseen category.

Tiny searches: one trial of at most 2 epochs; the properties checked are about the export,
not the model's quality.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest

import autoann
from autoann.schema import category_strings

from _runkit import WITHOUT_AUTOANN

pytestmark = pytest.mark.train

CASES = {  # name -> (file, target, rows kept)
    "multiclass": ("penguins.csv", "species", 150),
    "regression": ("diabetes.csv", "progression", 150),
}

SERVE = WITHOUT_AUTOANN + textwrap.dedent("""
    path, feed = sys.argv[1], json.loads(sys.argv[2])
    serve = tf.saved_model.load(path).signatures["serving_default"]
    args = {name: tf.constant(values["values"], tf.float32 if values["numeric"] else tf.string)
            for name, values in feed.items()}
    result = serve(**args)
    out = {k: [x.decode() if isinstance(x, bytes) else x for x in v.numpy().tolist()] for k, v in result.items()}
    out["autoann_loaded"] = any(m.split(".")[0] == "autoann" for m in sys.modules)
    print(json.dumps(out))
""")


@pytest.fixture(scope="module", params=sorted(CASES))
def trained(request, tmp_path_factory, datasets_dir):
    file, target, n = CASES[request.param]
    frame = pd.read_csv(datasets_dir / file).sample(n, random_state=0).reset_index(drop=True)
    run_dir = tmp_path_factory.mktemp(request.param) / "run"
    autoann.train(frame, target, output=run_dir, time_budget="5m", max_trials=1, max_epochs=2, seed=0)
    return request.param, run_dir, frame.drop(columns=target)


def raw_rows(features: pd.DataFrame) -> pd.DataFrame:
    """Eight rows as a client sends them: a NaN in every numeric column, an unseen category."""
    rows = features.head(8).copy()
    numeric = [c for c in rows.columns if pd.api.types.is_numeric_dtype(rows[c])]
    for i, col in enumerate(numeric):
        rows.loc[i % len(rows), col] = np.nan
    for col in rows.columns.difference(numeric):
        rows[col] = rows[col].astype(object)
        rows.loc[1, col] = "never seen in training"
    return rows


def test_saved_model_in_a_fresh_process_matches_autoann_load(trained, tmp_path):
    task, run_dir, features = trained
    rows = raw_rows(features)
    meta = json.loads((run_dir / "metadata.json").read_text())
    names = meta["serving"]["inputs"]
    feed = {}
    for column in meta["schema"]:
        values = rows[column["name"]]
        numeric = column["kind"] == "numeric"
        feed[names[column["name"]]] = {"numeric": numeric, "values": (  # json writes and reads NaN
            [float(v) for v in values] if numeric else category_strings(values).tolist())}
    done = subprocess.run([sys.executable, "-c", SERVE, str(run_dir / "saved_model" / "1"), json.dumps(feed)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-3000:]
    served = json.loads(done.stdout.strip().splitlines()[-1])
    assert served["autoann_loaded"] is False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unseen category is reported; that is tested elsewhere
        expected = autoann.load(run_dir).predict_frame(rows)
    if task == "multiclass":
        np.testing.assert_allclose(served["probabilities"], expected.filter(like="proba_").to_numpy(), atol=1e-5)
        assert served["label"] == [str(v) for v in expected["label"]]
    else:
        np.testing.assert_allclose(np.ravel(served["prediction"]), expected.to_numpy().ravel(), rtol=1e-5, atol=1e-3)
    assert np.isfinite(np.asarray(served["probabilities" if task == "multiclass" else "prediction"])).all()


def test_model_keras_loads_in_safe_mode_and_matches(trained):
    import keras

    from autoann.schema import schema_from_list, to_model_inputs

    _, run_dir, features = trained
    rows = raw_rows(features)
    meta = json.loads((run_dir / "metadata.json").read_text())
    model = keras.models.load_model(run_dir / "model.keras", safe_mode=True)
    direct = np.asarray(model.predict(to_model_inputs(rows, schema_from_list(meta["schema"])), verbose=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = autoann.load(run_dir).raw_output(rows)
    np.testing.assert_allclose(raw, direct.reshape(raw.shape), rtol=1e-5, atol=1e-5)
