"""`autoann export --format onnx|litert`: converted from the SavedModel, run in onnxruntime / LiteRT,
outputs equal to the SavedModel's (and so Keras') to 1e-5 on rows with NaN, missing and unseen
categories; image runs too; a model that cannot be converted gets a message saying why."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
import tensorflow as tf
from typer.testing import CliRunner

from _runkit import artifacts, export_run, raw_frame
from autoann.cli import _app as cli_app
from autoann.errors import ExportError, ParameterError
from autoann.export import export_format, saved_model_path
from autoann.export._formats import TOLERANCE, signature_inputs
from autoann.export._litert import run as run_litert
from autoann.export._onnx import run as run_onnx
from autoann.predict import load
from test_serve import image_artifacts

pytestmark = pytest.mark.train

RUNS = {"binary": ("binary", ["no", "yes"], "str"), "multiclass": ("multiclass", ["1", "2", "10"], "int"),
        "multi_regression": ("multi_regression", None, None)}
RUNNERS = {"onnx": run_onnx, "litert": run_litert}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("formats")
    made = {name: export_run(artifacts(*spec), root / name) for name, spec in RUNS.items()}
    made["image"] = export_run(image_artifacts(), root / "image")
    return made


@pytest.mark.parametrize("fmt", ["onnx", "litert"])
@pytest.mark.parametrize("name", [*RUNS, "image"])
def test_converted_model_runs_in_its_runtime_with_the_keras_outputs(runs, name, fmt):
    path, gaps = export_format(runs[name], fmt)
    assert path == runs[name] / ("model.onnx" if fmt == "onnx" else "model.tflite") and path.stat().st_size > 0
    assert gaps and max(gaps.values()) <= TOLERANCE
    predictor = load(runs[name])
    rows = np.random.default_rng(1).integers(0, 256, (6, 8, 8, 1)) if name == "image" else raw_frame(16, seed=5)
    if name != "image":
        rows.loc[3, "colour"] = "never seen in training"
    got = RUNNERS[fmt](path, signature_inputs(predictor.metadata, rows))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if predictor.is_classifier:
            np.testing.assert_allclose(got["probabilities"], predictor.predict_proba(rows), atol=TOLERANCE)
        else:
            np.testing.assert_allclose(got["prediction"], predictor.predict(rows), atol=TOLERANCE)
    assert not np.isnan(got["probabilities" if predictor.is_classifier else "prediction"]).any(), \
        "NaN inputs are imputed in the converted model too"


def test_cli_export_reports_the_file_and_the_verified_gap(runs, tmp_path):
    target = tmp_path / "out" / "binary.onnx"
    result = CliRunner().invoke(cli_app.app, ["export", str(runs["binary"]), "--format", "onnx", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.exists() and "verified" in result.output and "probabilities" in result.output


def test_unknown_format_and_missing_run_are_user_errors(runs, tmp_path):
    with pytest.raises(ParameterError, match="choose one of onnx, litert"):
        export_format(runs["binary"], "coreml")
    with pytest.raises(ExportError, match="holds no SavedModel"):
        export_format(tmp_path, "onnx")
    result = CliRunner().invoke(cli_app.app, ["export", str(tmp_path), "--format", "litert"])
    # the command checks the folder is a run before importing TensorFlow
    assert result.exit_code == 2 and "is not an autoann run directory" in " ".join(result.output.split())


def test_model_litert_cannot_run_with_builtin_ops_is_refused_with_the_reason(runs, tmp_path):
    run = shutil.copytree(runs["binary"], tmp_path / "run", ignore=shutil.ignore_patterns("model.tflite", "model.onnx"))
    module = tf.Module()
    module.serve = tf.function(lambda colour: {"prediction": tf.strings.to_number(tf.strings.lower(colour))},
                               input_signature=[tf.TensorSpec([None], tf.string, name="colour")])
    shutil.rmtree(saved_model_path(run))
    tf.saved_model.save(module, str(run / "saved_model" / "1"), signatures={"serving_default": module.serve})
    refused = "(?s)cannot be converted to LiteRT with built-in ops only.*StringLower.*Flex"
    with pytest.raises(ExportError, match=refused):
        export_format(run, "litert")
    assert not (run / "model.tflite").exists(), "nothing half-converted is left"
