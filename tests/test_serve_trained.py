"""Serving real runs: `autoann.train` on the shipped penguins (strings, NaN) and on 40 digits images,
then `autoann serve` (in-process), ONNX and LiteRT answer what `autoann predict` answers.

Tiny searches, as in test_trained_exports.py and test_image_training.py: one trial of at most
2 epochs; the properties checked are about serving, not the model's quality.
"""

from __future__ import annotations

import math
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from PIL import Image

import autoann
from autoann.export import export_format
from autoann.export._formats import TOLERANCE
from autoann.serve import create_app

pytestmark = pytest.mark.train

SEARCH = {"time_budget": "5m", "max_trials": 1, "max_epochs": 2, "seed": 0}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, datasets_dir):
    root = tmp_path_factory.mktemp("trained")
    penguins = pd.read_csv(datasets_dir / "penguins.csv").sample(150, random_state=0).reset_index(drop=True)
    result = autoann.train(penguins, "species", output=root / "penguins", export_formats=["onnx"], **SEARCH)
    assert result.exports == [root / "penguins" / "model.onnx"]  # train --export-format: written and verified
    digits = root / "digits_images"
    for label in ("0", "1", "7", "8"):
        (digits / label).mkdir(parents=True)
        for src in sorted((datasets_dir / "digits" / label).glob("*.png"))[:10]:
            shutil.copy(src, digits / label / src.name)
    autoann.train(digits, output=root / "digits", **SEARCH)
    rows = penguins.drop(columns="species").head(10).copy()
    rows.loc[1, "bill_length_mm"] = np.nan
    rows.loc[2, "island"] = "never seen in training"
    pixels = np.stack([np.asarray(Image.open(f)) for f in sorted(digits.glob("*/*.png"))[::4]])[..., None]
    return {"penguins": (root / "penguins", rows), "digits": (root / "digits", pixels)}


def as_json(frame: pd.DataFrame) -> list[dict]:
    return [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
            for r in frame.astype(object).to_dict("records")]


def test_serve_answers_both_formats_as_autoann_predict(trained):
    models = {name: run for name, (run, _) in trained.items()}
    with TestClient(create_app(models)) as client, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (run, rows) in trained.items():
            want = autoann.load(run).predict_frame(rows)
            if name == "digits":
                bodies = {"instances": rows.tolist()}, {"inputs": {"image": rows.tolist()}}
            else:
                bodies = {"instances": as_json(rows)}, {"inputs": {k: [r[k] for r in as_json(rows)] for k in rows}}
            by_row, by_column = (client.post(f"/v1/models/{name}:predict", json=body) for body in bodies)
            assert by_row.status_code == by_column.status_code == 200, by_row.text + by_column.text
            assert [p["label"] for p in by_row.json()["predictions"]] == want["label"].tolist()
            assert by_column.json()["outputs"]["label"] == want["label"].tolist()
            probabilities = want[[c for c in want if c.startswith("proba_")]].to_numpy()
            np.testing.assert_allclose(by_column.json()["outputs"]["probabilities"], probabilities, atol=1e-6)


@pytest.mark.parametrize("fmt", ["onnx", "litert"])
@pytest.mark.parametrize("name", ["penguins", "digits"])
def test_trained_runs_convert_and_verify(trained, name, fmt):
    run, rows = trained[name]
    path, gaps = export_format(run, fmt, rows=rows)
    assert path.exists() and max(gaps.values()) <= TOLERANCE
