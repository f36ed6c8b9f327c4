"""Tiny images also get a dense network (issue 12, rule IMG-DENSE-TINY): with ``image_network=dense`` forced,
`autoann train` on 8x8 digits builds dense layers on the flattened, standardized pixels (no convolution), and
the exported model still takes the stored uint8 images: model.keras, the SavedModel signature, `autoann serve`.

A tiny search, as in test_image_training.py: one trial of at most 2 epochs on 40 digits of 4 classes.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import autoann
from _helpers import err
from autoann.cli._app import app

pytestmark = [pytest.mark.train, pytest.mark.usefixtures("quiet_tensorflow_logger")]
CLASSES = ("0", "1", "7", "8")


@pytest.fixture(scope="module")
def digits(tmp_path_factory, datasets_dir):
    root = tmp_path_factory.mktemp("tiny") / "digits"
    for label in CLASSES:
        (root / label).mkdir(parents=True)
        for src in sorted((datasets_dir / "digits" / label).glob("*.png"))[:10]:
            shutil.copy(src, root / label / src.name)
    return root


@pytest.fixture(scope="module")
def run(digits):
    run_dir = digits.parent / "run"
    result = CliRunner().invoke(app, [str(a) for a in (
        "train", digits, "--max-trials", "1", "--max-epochs", "2", "--time-budget", "5m", "--seed", "0",
        "--set", "image_network=dense", "--set", "augment_shift=0.1", "-o", run_dir)])
    assert result.exit_code == 0, result.output + err(result)
    return run_dir


def images(folder) -> np.ndarray:
    files = sorted(folder.glob("*/*.png"), key=lambda p: (p.parent.name, p.name))
    return np.stack([np.asarray(Image.open(f)) for f in files])[..., None]


def test_the_forced_dense_family_is_a_dense_network_on_the_pixels(run):
    import keras

    import autoann.layers  # noqa: F401  (registers autoann's layers for loading)

    meta = json.loads((run / "metadata.json").read_text())
    assert "IMG-DENSE-TINY" in meta["space"]["fired"]
    best = meta["best_hyperparameters"]
    assert best["image_network"] == "dense" and 1 <= best["n_layers"] <= 3 and best["units_first"] in (64, 128, 256)
    model = keras.models.load_model(run / "model.keras", safe_mode=True)
    inner = model.get_layer("network").layers
    kinds = {type(layer).__name__ for layer in inner}
    assert "flat_pixels" in {layer.name for layer in inner} and "augmentation" in {layer.name for layer in inner}
    assert "Dense" in kinds and not {"Conv2D", "SeparableConv2D", "GlobalAveragePooling2D"} & kinds
    dense = [layer for layer in inner if isinstance(layer, keras.layers.Dense) and layer.name != "output"]
    assert len(dense) == best["n_layers"] and dense[0].kernel.shape[0] == 8 * 8  # one input per pixel (G-IN-1)


def test_the_exported_dense_model_still_takes_uint8_images(run, digits):
    import tensorflow as tf
    from fastapi.testclient import TestClient

    from autoann.serve import create_app

    pixels = images(digits)
    want = autoann.load(run).predict_frame(digits)
    serve = tf.saved_model.load(str(run / "saved_model" / "1")).signatures["serving_default"]
    assert serve.structured_input_signature[1]["image"].dtype == tf.uint8
    served = serve(image=tf.constant(pixels))
    np.testing.assert_allclose(served["probabilities"].numpy(), want.filter(like="proba_").to_numpy(), atol=1e-5)
    with TestClient(create_app({"digits": run})) as client:
        answer = client.post("/v1/models/digits:predict", json={"instances": pixels[:5].tolist()})
    assert answer.status_code == 200, answer.text
    assert [p["label"] for p in answer.json()["predictions"]] == want["label"].head(5).tolist()
