"""`autoann predict` and `autoann evaluate` through Typer's CliRunner."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from _helpers import err
from _runkit import artifacts, export_run, raw_frame
from autoann.cli._app import app

pytestmark = pytest.mark.train

runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return export_run(artifacts("binary", ["0", "1"], "int"), tmp_path_factory.mktemp("cli") / "run")


@pytest.fixture(scope="module")
def data(run):
    frame = raw_frame(30, seed=2).assign(y=np.arange(30) % 2)
    frame.loc[4, "colour"] = "purple"
    path = run.parent / "rows.csv"
    frame.to_csv(path, index=False)
    return path


def test_predict_prints_a_preview_and_the_warnings(run, data):
    result = runner.invoke(app, ["predict", str(run), str(data), "--rows", "3"])
    assert result.exit_code == 0, result.output
    assert "label" in result.stdout and "proba_1" in result.stdout and "first 3 of 30 rows" in result.stdout
    assert "Ignoring 1 column(s) the model does not use: 'y'" in err(result)
    assert "'purple'" in err(result)


def test_predict_writes_a_file_and_never_overwrites_it_by_accident(run, data, tmp_path):
    out = tmp_path / "predictions.csv"
    result = runner.invoke(app, ["predict", str(run), str(data), "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out)
    assert list(written.columns) == ["label", "proba_0", "proba_1"] and len(written) == 30
    assert set(written["label"]) <= {0, 1}
    out.write_text("mine")
    result = runner.invoke(app, ["predict", str(run), str(data), "-o", str(out)])
    assert result.exit_code == 2 and "already exists" in err(result) and "--overwrite" in err(result)
    assert out.read_text() == "mine"
    result = runner.invoke(app, ["predict", str(run), str(data), "-o", str(out), "--overwrite"])
    assert result.exit_code == 0 and pd.read_csv(out).equals(written)


def test_evaluate_prints_metrics_and_json(run, data):
    result = runner.invoke(app, ["evaluate", str(run), str(data)])
    assert result.exit_code == 0, result.output
    for name in ("accuracy", "balanced_accuracy", "f1", "roc_auc", "log_loss"):
        assert name in result.stdout
    result = runner.invoke(app, ["evaluate", str(run), str(data), "--target", "y", "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert 0.0 <= scores["accuracy"] <= 1.0 and "Ignoring" not in err(result)


def test_bad_run_directory_exits_2_without_a_traceback(tmp_path, data):
    result = runner.invoke(app, ["predict", str(tmp_path / "nope"), str(data)])
    assert result.exit_code == 2 and "No run directory" in err(result)
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["evaluate", str(tmp_path), str(data)])
    assert result.exit_code == 2 and "not an autoann run directory" in err(result)


def test_missing_column_and_missing_target_exit_2(run, data, tmp_path):
    partial = tmp_path / "partial.csv"
    pd.read_csv(data).drop(columns=["b c"]).to_csv(partial, index=False)
    result = runner.invoke(app, ["predict", str(run), str(partial)])
    assert result.exit_code == 2 and "'b c'" in err(result) and "Traceback" not in result.output
    result = runner.invoke(app, ["evaluate", str(run), str(data), "--target", "label"])
    assert result.exit_code == 2 and "'label'" in err(result)


def test_cli_import_stays_light():
    code = "import sys, autoann.cli._app; print(any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
