"""Images end to end: `autoann train` on a folder of the shipped digits, the exported model served
from raw uint8 images (autoann.load and a TensorFlow-only SavedModel in a fresh process), predict
and evaluate on folders and .npz files, the estimator on image arrays, and bad image input.

Tiny searches: one trial of at most 2 epochs on 40 digits of 4 classes; the properties checked are
about the pipeline and the export, not the model's quality.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

import autoann
from autoann.cli._app import app
from autoann.predict import SchemaWarning

from _helpers import err
from _runkit import WITHOUT_AUTOANN

pytestmark = [pytest.mark.train, pytest.mark.usefixtures("quiet_tensorflow_logger")]
runner = CliRunner()
CLASSES = ("0", "1", "7", "8")
PER_CLASS = 10
SEARCH = ["--max-trials", "1", "--max-epochs", "2", "--time-budget", "5m", "--seed", "0"]
#: augmentation pinned on, so the run's model holds autoann's Augmentation layer; a CNN, not the dense network
#: tiny images may also get (tests/test_tiny_images.py)
AUGMENT = ["--set", "augment_flip=horizontal", "--set", "augment_zoom=0.1", "--set", "image_network=conv"]

SERVE = WITHOUT_AUTOANN + textwrap.dedent("""
    import numpy as np
    path, images = sys.argv[1], np.load(sys.argv[2])
    serve = tf.saved_model.load(path).signatures["serving_default"]
    result = serve(image=tf.constant(images))
    out = {k: [x.decode() if isinstance(x, bytes) else x for x in v.numpy().tolist()] for k, v in result.items()}
    out["autoann_loaded"] = any(m.split(".")[0] == "autoann" for m in sys.modules)
    print(json.dumps(out))
""")


def cli(*args) -> object:
    return runner.invoke(app, [*map(str, args)], env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def digits(tmp_path_factory, datasets_dir) -> Path:
    """A folder of the shipped digits: 10 PNGs of each of 4 classes."""
    root = tmp_path_factory.mktemp("digits") / "digits"
    for label in CLASSES:
        (root / label).mkdir(parents=True)
        for src in sorted((datasets_dir / "digits" / label).glob("*.png"))[:PER_CLASS]:
            shutil.copy(src, root / label / src.name)
    return root


def pixels(folder: Path) -> np.ndarray:
    """The folder's images as (N, 8, 8, 1) uint8, in the loader's order (class folder, then file name)."""
    files = sorted(folder.glob("*/*.png"), key=lambda p: (p.parent.name, p.name))
    return np.stack([np.asarray(Image.open(f)) for f in files])[..., None]


@pytest.fixture(scope="module")
def run(digits, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("train") / "run"
    result = cli("train", digits, *SEARCH, *AUGMENT, "-o", run_dir)
    assert result.exit_code == 0, result.output + err(result)
    return run_dir


@pytest.fixture(scope="module")
def meta(run) -> dict:
    return json.loads((run / "metadata.json").read_text())


def test_run_is_an_image_model_built_by_the_image_rules(meta):
    assert meta["schema"] == [{"name": "image", "kind": "image", "shape": [8, 8, 1], "dtype": "uint8"}]
    assert meta["task"] == "multiclass" and meta["classes"] == list(CLASSES)
    assert meta["profile"]["data_kind"] == "image" and meta["profile"]["image"]["height"] == 8
    fired = meta["space"]["fired"]
    assert {"IMG-INPUT", "IMG-BLOCKS-TINY", "IMG-FILTERS", "IMG-ACTIVATION", "IMG-DROPOUT"} <= set(fired)
    assert not {"ARCH-DEPTH-SMALL", "ARCH-WIDTH-SMALL", "REG-MAX-NORM", "IN-SCALE"} & set(fired)
    best = meta["best_hyperparameters"]
    assert 1 <= best["conv_blocks"] <= 2 and best["activation_family"] in ("elu", "relu", "leaky_relu")
    assert 0.4 <= best["dropout"] <= 0.5 and "n_layers" not in best
    assert meta["splits"]["train"] + meta["splits"]["validation"] + meta["splits"]["test"] == 40
    assert 0.0 <= meta["metrics"]["test"]["accuracy"] <= 1.0


def test_model_takes_raw_uint8_and_standardizes_inside(run, meta, digits):
    import keras

    import autoann.layers  # noqa: F401  (registers the Augmentation layer)
    import autoann.search._preprocessing  # noqa: F401

    model = keras.models.load_model(run / "model.keras", safe_mode=True)
    assert model.inputs[0].dtype == "uint8" and tuple(model.inputs[0].shape) == (None, 8, 8, 1)
    names = {layer.name for layer in model.layers}
    assert "standardize_pixels" in names
    inner = [layer.name for layer in model.get_layer("network").layers]
    assert "augmentation" in inner and "global_average" in inner
    direct = np.asarray(model.predict(pixels(digits), verbose=0))
    np.testing.assert_allclose(autoann.load(run).predict_proba(digits), direct, rtol=1e-5, atol=1e-6)


def test_saved_model_in_a_fresh_process_serves_raw_uint8_images(run, digits, tmp_path):
    images = pixels(digits)
    np.save(tmp_path / "batch.npy", images)
    done = subprocess.run([sys.executable, "-c", SERVE, str(run / "saved_model" / "1"), str(tmp_path / "batch.npy")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-3000:]
    served = json.loads(done.stdout.strip().splitlines()[-1])
    assert served["autoann_loaded"] is False
    expected = autoann.load(run).predict_frame(digits)
    np.testing.assert_allclose(served["probabilities"], expected.filter(like="proba_").to_numpy(), atol=1e-5)
    assert served["label"] == expected["label"].tolist()


def test_predict_cli_on_a_folder_writes_file_label_and_probabilities(run, digits, tmp_path):
    out = tmp_path / "pred.csv"
    result = cli("predict", run, digits, "-o", out)
    assert result.exit_code == 0, result.output + err(result)
    table = pd.read_csv(out, dtype={"label": str})
    assert list(table.columns) == ["file", "label", *[f"proba_{c}" for c in CLASSES]]
    assert table["file"].iloc[0] == "0/" + sorted(p.name for p in (digits / "0").glob("*.png"))[0]
    assert set(table["label"]) <= set(CLASSES) and len(table) == 4 * PER_CLASS
    np.testing.assert_allclose(table.filter(like="proba_").sum(axis=1), 1.0, rtol=1e-5)


def test_predict_on_a_flat_folder_and_on_an_npz(run, digits, tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for i, src in enumerate(sorted(digits.glob("*/*.png"))[:5]):
        shutil.copy(src, flat / f"{i}.png")
    model = autoann.load(run)
    by_folder = model.predict_frame(flat)
    assert list(by_folder["file"]) == [f"{i}.png" for i in range(5)]
    np.savez(tmp_path / "batch.npz", x=pixels(digits)[:, :, :, 0])  # (N, H, W): no channel axis
    by_npz = model.predict_proba(tmp_path / "batch.npz")
    np.testing.assert_allclose(by_npz, model.predict_proba(digits), rtol=1e-5, atol=1e-6)


def test_evaluate_uses_the_class_folders_or_y(run, digits, tmp_path):
    result = cli("evaluate", run, digits, "--json")
    assert result.exit_code == 0, result.output + err(result)
    scores = json.loads(result.stdout)
    assert {"accuracy", "log_loss"} <= set(scores)
    labels = np.repeat(np.array(CLASSES), PER_CLASS)
    np.savez(tmp_path / "labelled.npz", x=pixels(digits), y=labels)
    assert autoann.load(run).evaluate(tmp_path / "labelled.npz")["accuracy"] == pytest.approx(scores["accuracy"])


def test_other_sizes_and_colours_are_conformed_with_a_warning(run, digits):
    rgb = np.repeat(pixels(digits)[:6], 3, axis=-1)
    big = np.stack([np.asarray(Image.fromarray(im).resize((16, 16))) for im in rgb])
    model = autoann.load(run)
    with pytest.warns(SchemaWarning) as caught:
        proba = model.predict_proba(big)
    assert proba.shape == (6, 4)
    text = " ".join(str(w.message) for w in caught)
    assert "8x8" in text.replace(" ", "") or "8 x 8" in text


def test_monte_carlo_dropout_reaches_the_nested_network_and_skips_augmentation(run, digits):
    from autoann.layers import Augmentation

    model = autoann.load(run)
    assert model.has_dropout  # the dropout layer sits inside the nested "network" model
    mean, std = model.predict_uncertainty(digits, samples=8)
    assert mean.shape == std.shape == (40, 4) and (std.max(axis=1) > 0).any()
    layers = [layer for layer in model._layers() if isinstance(layer, Augmentation)]
    assert layers and not any(layer.enabled for layer in layers)


def test_recommend_explains_the_image_rules(digits):
    result = cli("recommend", digits, "--explain")
    assert result.exit_code == 0, err(result)
    text = " ".join(result.stdout.split())
    for rule in ("IMG-BLOCKS-TINY", "IMG-DENSE-TINY", "IMG-ACTIVATION", "IMG-AUGMENT", "IMG-RESIZE-LARGE"):
        assert rule in text
    assert "conv_blocks" in text and "augment_flip" in text and "image_network" in text
    assert "max_norm" not in text  # the tabular dense-stack rules stay quiet


def test_profile_reports_images_and_skipped_files(digits, tmp_path):
    folder = tmp_path / "mixed"
    shutil.copytree(digits, folder)
    (folder / "0" / "broken.png").write_bytes(b"not a png")
    (folder / "1" / "readme.txt").write_text("hello")
    result = cli("profile", folder)
    assert result.exit_code == 0, err(result)
    text = " ".join(result.stdout.split())
    assert "40 images, 8 x 8 pixels, 1 channel(s), uint8" in text
    assert "skipped 2 file(s)" in text and "0/broken.png" in text and "1/readme.txt" in text


@pytest.mark.parametrize("case, expected", [
    ("empty", "No image files found"),
    ("one class", "2 classes"),
    ("npz without y", "'y'"),
    ("npz lengths", "40"),
])
def test_bad_image_data_exits_2_with_nothing_written(case, expected, digits, tmp_path):
    if case == "empty":
        data = tmp_path / "empty"
        data.mkdir()
    elif case == "one class":
        data = tmp_path / "one"
        shutil.copytree(digits / "7", data / "7")
    else:
        data = tmp_path / "bad.npz"
        y = {"npz without y": {}, "npz lengths": {"y": np.zeros(3)}}[case]
        np.savez(data, x=pixels(digits), **y)
    result = cli("train", data, *SEARCH, "-o", tmp_path / "run")
    assert result.exit_code == 2, result.output + err(result)
    assert expected in err(result) and "Traceback" not in result.output
    assert not (tmp_path / "run").exists() and not list(tmp_path.glob(".run*"))


def test_a_table_given_to_an_image_model_is_refused_clearly(run, tmp_path):
    table = tmp_path / "rows.csv"
    table.write_text("a,b\n1,2\n")
    result = cli("predict", run, table)
    assert result.exit_code == 2
    assert "rows.csv" in err(result) and "Traceback" not in result.output


def test_estimator_fits_image_arrays_and_pickles(tiny_search, digits):
    from autoann import AutoANNClassifier

    x = pixels(digits)[:, :, :, 0].astype("float32") / 255.0  # (N, H, W) floats, as from load_digits
    y = np.repeat(np.arange(4), PER_CLASS)
    clf = AutoANNClassifier(time_budget=60, max_trials=1, max_epochs=2, random_state=0).fit(x, y)
    assert clf.image_shape_ == (8, 8, 1) and clf.n_features_in_ == 64
    assert list(clf.classes_) == [0, 1, 2, 3] and clf.metadata_["schema"][0]["dtype"] == "float32"
    proba = clf.predict_proba(x)
    assert proba.shape == (40, 4) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(again.predict_proba(x), proba, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"shape \(4, 8, 1\).*fitted on images of shape \(8, 8, 1\)"):
        clf.predict(x[:, :4])


# -- transfer learning from a local backbone (G-ARCH-8) ------------------------------------------


@pytest.fixture(scope="module")
def backbone(tmp_path_factory) -> Path:
    """A small "pretrained" network on disk: 3-channel 12x12 images, its own rescaling, 4-D feature maps."""
    import keras

    keras.utils.set_random_seed(1)
    net = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Rescaling(1 / 255),
                            keras.layers.Conv2D(6, 3, activation="relu"), keras.layers.BatchNormalization(),
                            keras.layers.Conv2D(5, 3, activation="relu")], name="pretrained")
    path = tmp_path_factory.mktemp("backbone") / "net.keras"
    net.save(path)
    return path


def test_backbone_is_frozen_inside_the_exported_model_on_small_data(backbone, digits, tmp_path):
    import keras

    result = cli("train", digits, *SEARCH, "--backbone", backbone, "-o", tmp_path / "run")
    assert result.exit_code == 0, result.output + err(result)
    meta = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert {"IMG-TRANSFER", "IMG-TRANSFER-SMALL"} <= set(meta["space"]["fired"])
    assert "IMG-BLOCKS-TINY" not in meta["space"]["fired"] and "conv_blocks" not in meta["best_hyperparameters"]
    assert meta["best_hyperparameters"]["backbone_trainable"] == "frozen"
    assert meta["preprocessing"]["image"]["backbone"] == str(backbone.resolve())
    assert meta["preprocessing"]["image"]["std"] == [1.0]  # the backbone rescales by itself
    moved = backbone.parent / "moved" / backbone.name
    moved.parent.mkdir(exist_ok=True)
    backbone.rename(moved)  # the run must not need the file any more
    try:
        model = autoann.load(tmp_path / "run")
        inner = model.model.get_layer("network")
        names = [layer.name for layer in inner.layers]
        assert "pretrained" in names and "grey_to_rgb" in names and "resize" in names
        original = keras.models.load_model(moved, compile=False)
        for trained, before in zip(inner.get_layer("pretrained").get_weights(), original.get_weights()):
            np.testing.assert_array_equal(trained, before)  # frozen: not one weight moved
        assert model.predict_proba(digits).shape == (40, 4)
    finally:
        moved.rename(backbone)


def test_backbone_rules_are_listed_as_not_applicable_without_weights(digits):
    result = cli("recommend", digits, "--explain")
    text = " ".join(result.stdout.split())
    assert "IMG-TRANSFER" in text and "backbone=false" in text and "backbone_trainable" not in text


@pytest.mark.parametrize("case, expected", [
    ("missing file", "No backbone file"),
    ("not a model", "is not a Keras model file"),
    ("tabular data", "--backbone is for image data"),
])
def test_bad_backbone_exits_2_before_any_search(case, expected, digits, tmp_path, datasets_dir):
    data, path = digits, tmp_path / "net.keras"
    if case == "not a model":
        path.write_text("not a keras file")
    elif case == "tabular data":  # a file that passes the cheap check (a zip), so the data decides
        data, path = datasets_dir / "penguins.csv", tmp_path / "whatever.keras"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("config.json", "{}")
    result = cli("recommend", data, "--target", "species", "--backbone", path)
    assert result.exit_code == 2 and expected in err(result), result.output + err(result)


def test_image_profile_round_trips_and_gives_the_image_facts(digits):
    from autoann.profiling._profile import Profile

    profile = autoann.profile(digits)
    again = Profile.from_dict(json.loads(profile.to_json()))
    assert again == profile and again.image.original_sizes == {"8x8": 40}
    facts = again.facts(backbone=True)
    assert (facts["data_kind"], facts["image_height"], facts["image_width"], facts["image_channels"]) == \
        ("image", 8, 8, 1)
    assert facts["input_width"] == 64 and facts["n_classes"] == 4 and facts["backbone"] is True
    assert not facts["image_sizes_vary"]


@pytest.mark.parametrize("kind", ["labels", "numbers"])
def test_train_on_an_npz_classifies_labels_and_regresses_numbers(kind, digits, tmp_path):
    x = pixels(digits)
    y = np.repeat(np.array([0, 1, 7, 8]), PER_CLASS) if kind == "labels" else x.mean(axis=(1, 2, 3)) / 255
    np.savez(tmp_path / "data.npz", x=x, y=y)
    result = cli("train", tmp_path / "data.npz", *SEARCH, "-o", tmp_path / "run")
    assert result.exit_code == 0, result.output + err(result)
    meta = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert meta["schema"][0]["shape"] == [8, 8, 1] and meta["target_names"] == ["y"]
    model = autoann.load(tmp_path / "run")
    if kind == "labels":
        assert meta["task"] == "multiclass" and meta["class_dtype"] == "int"
        assert set(model.predict(tmp_path / "data.npz")) <= {0, 1, 7, 8}
    else:
        assert meta["task"] == "regression" and "OUT-REGRESSION" in meta["space"]["fired"]
        assert model.predict(tmp_path / "data.npz").shape == (40,)
        assert {"rmse", "mae", "r2"} <= set(model.evaluate(tmp_path / "data.npz"))
