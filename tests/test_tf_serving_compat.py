"""The SavedModel as TensorFlow Serving's C++ server uses it, without its binary (none installs here).

TF Serving reads ``<model_base_path>/<version>/saved_model.pb`` with the V1 loader into a graph
session and runs the signature by its tensor names: no Python object graph, no Python ops.
This test does the same (``tf.compat.v1.saved_model.loader.load``) and compares the outputs with
``autoann.load``; an op audit fails if any op is a Python function or is not registered.
"""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import op_def_registry

from _runkit import artifacts, export_run, raw_frame
from autoann.export import SIGNATURE, saved_model_path
from autoann.predict import load
from autoann.schema import category_strings

pytestmark = pytest.mark.train

PYTHON_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}
RUNS = {"multiclass": ("multiclass", ["1", "2", "10"], "int"), "regression": ("regression", None, None)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tfserving")
    return {name: export_run(artifacts(*spec), root / name) for name, spec in RUNS.items()}


def test_saved_model_sits_in_a_numbered_version_folder(runs):
    for run in runs.values():
        assert [p.name for p in (run / "saved_model").iterdir()] == ["1"]
        assert saved_model_path(run) == run / "saved_model" / "1"
        assert (run / "saved_model" / "1" / "saved_model.pb").is_file()


def test_flat_saved_model_of_older_run_directories_is_still_found_and_served(runs, tmp_path):
    old = shutil.copytree(runs["regression"], tmp_path / "old")
    shutil.move(old / "saved_model" / "1", tmp_path / "v1")
    shutil.rmtree(old / "saved_model")
    shutil.move(tmp_path / "v1", old / "saved_model")
    assert saved_model_path(old) == old / "saved_model"
    rows = raw_frame(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(load(old).predict(rows), load(runs["regression"]).predict(rows), rtol=1e-6)


def graph_session_outputs(path, feed_by_input: dict) -> dict:
    """Load as the C++ server does and run the signature by its tensor names."""
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(path))
        signature = meta_graph.signature_def[SIGNATURE]
        assert signature.method_name == "tensorflow/serving/predict"
        feed = {signature.inputs[name].name: values for name, values in feed_by_input.items()}
        names = {key: info.name for key, info in signature.outputs.items()}
        fetched = session.run(names, feed_dict=feed)
        ops = {node.op for node in meta_graph.graph_def.node}
        ops |= {node.op for function in meta_graph.graph_def.library.function for node in function.node_def}
    return fetched, ops


@pytest.mark.parametrize("name", sorted(RUNS))
def test_graph_session_by_tensor_names_matches_autoann_load(runs, name):
    run = runs[name]
    rows = raw_frame(10, seed=4)
    rows.loc[3, "colour"] = "never seen"
    feed = {"a": rows["a"].to_numpy("float32"), "b_c": rows["b c"].to_numpy("float32"),
            "colour": category_strings(rows["colour"]).astype(bytes)}
    fetched, ops = graph_session_outputs(saved_model_path(run), feed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predictor = load(run)
        if predictor.is_classifier:
            np.testing.assert_allclose(fetched["probabilities"], predictor.predict_proba(rows), rtol=1e-5, atol=1e-6)
            labels = [str(c) for c in predictor.predict(rows)]
            assert [b.decode() for b in fetched["label"]] == labels
        else:
            np.testing.assert_allclose(fetched["prediction"][:, 0], predictor.predict(rows), rtol=1e-5, atol=1e-6)
    assert not ops & PYTHON_OPS, f"Python ops cannot run in TF Serving: {ops & PYTHON_OPS}"
    unregistered = sorted(op for op in ops if op_def_registry.get(op) is None)
    assert not unregistered, f"ops TF Serving would not know: {unregistered}"
