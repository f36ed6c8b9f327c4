"""Every door, every bad input: one table row each, in the spirit of scikit-learn's ``check_estimator``.

A row is a command line built by an input maker in an empty folder, the exit
code it must give and the words its message must hold (the problem and the
fix). Every row also checks that nothing in that folder was written, replaced
or left half-made (no staging folder, no ``runs/``), that no traceback is
shown, and - unless the row is marked ``tensorflow`` - that the command
refused the input before importing TensorFlow (``autoann._tf.import_quietly``
is replaced by a tripwire, and in a session that has not imported TensorFlow
yet, ``sys.modules`` must still lack it afterwards;
``test_missing_data_never_imports_tensorflow`` checks two commands in a fresh
interpreter). Rows marked ``tensorflow`` need
Keras to tell (a pin checked against the data, a model file Keras cannot
load) and run in the train tier. A new command fails
``test_every_command_has_rows`` until rows for it are added.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from typer.testing import CliRunner

import autoann._tf
from _helpers import err
from autoann.cli._app import app

runner = CliRunner()
PENGUINS = Path(__file__).resolve().parents[1] / "datasets" / "penguins.csv"


# -- input makers: each writes what a row needs into the folder and returns the command line -------------------


def penguins(folder: Path) -> str:
    return str(shutil.copy(PENGUINS, folder / "penguins.csv"))


def table(folder: Path, name: str, data: bytes) -> str:
    (folder / name).write_bytes(data)
    return str(folder / name)


def images_with_a_broken_file(folder: Path) -> str:
    """Two class folders of the shipped digits, plus a corrupt PNG that reading must skip and say so."""
    root = folder / "digits"
    for label in ("0", "1"):
        (root / label).mkdir(parents=True)
        for src in sorted((PENGUINS.parent / "digits" / label).glob("*.png"))[:5]:
            shutil.copy(src, root / label / src.name)
    (root / "1" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    return str(root)


def fake_run(folder: Path, model: bytes | None = None) -> str:
    """A folder with metadata.json and a model.keras that is a zip (the cheap checks pass) or ``model`` bytes."""
    run = folder / "run"
    run.mkdir()
    (run / "metadata.json").write_text("{}")
    if model is None:
        with zipfile.ZipFile(run / "model.keras", "w") as archive:
            archive.writestr("config.json", "{}")
    else:
        (run / "model.keras").write_bytes(model)
    return str(run)


def space_file(folder: Path, task: str) -> str:
    spec = {"hyperparameters": {"task": task, "output_units": 1, "output_activation": "linear", "loss": "mse"}}
    return table(folder, "space.yaml", json.dumps(spec).encode())


def zip_file(folder: Path, name: str) -> str:
    with zipfile.ZipFile(folder / name, "w") as archive:
        archive.writestr("config.json", "{}")
    return str(folder / name)


GZIP_CSV = gzip.compress(PENGUINS.read_bytes()[:2000])
BINARY = bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8))
LATIN1 = "name,y\ncafé,1\nthé,0\n".encode("latin-1")


@dataclass(frozen=True)
class Row:
    """``args(folder)`` -> the command line; ``code`` and ``words`` (all in the message) are what it must give."""

    id: str
    args: Callable[[Path], list[str]]
    words: tuple[str, ...]
    code: int = 2
    tensorflow: bool = False


P = penguins
ROWS = [
    # -- profile --------------------------------------------------------------------------------------------
    Row("profile: missing file", lambda f: ["profile", str(f / "nope.csv")], ("File not found", "Check the path")),
    Row("profile: gzip saved as .csv", lambda f: ["profile", table(f, "d.csv", GZIP_CSV)], ("gzip-compressed", "gunzip")),
    Row("profile: binary saved as .csv", lambda f: ["profile", table(f, "d.csv", BINARY)], ("binary data", "plain-text")),
    Row("profile: Latin-1 csv", lambda f: ["profile", table(f, "d.csv", LATIN1), "-t", "y"], ("not UTF-8", "iconv")),
    Row("profile: text saved as .npz", lambda f: ["profile", table(f, "d.npz", b"x,y\n1,2\n")],
        ("not a valid .npz archive", "np.savez")),
    Row("profile: no target", lambda f: ["profile", P(f)], ("No target given", "--target NAME")),
    Row("profile: empty image folder", lambda f: ["profile", str((f / "imgs").mkdir() or f / "imgs")],
        ("No image files found", "the folder is empty", "one sub-folder per class")),
    Row("profile: unknown target", lambda f: ["profile", P(f), "-t", "nosuch"], ("'nosuch' is not in the data", "Columns")),
    Row("profile: unknown task", lambda f: ["profile", P(f), "-t", "species", "--task", "nope"], ("Unknown task", "Valid tasks")),
    Row("profile: -o exists", lambda f: ["profile", P(f), "-t", "species", "-o", table(f, "p.json", b"{}")],
        ("already exists", "--overwrite")),
    Row("profile: -o under a file", lambda f: ["profile", P(f), "-t", "species", "-o", table(f, "x", b"") + "/p.json"],
        ("is a file, not a folder", "Choose another -o")),
    # -- recommend -----------------------------------------------------------------------------------------
    Row("recommend: missing file", lambda f: ["recommend", str(f / "nope.csv"), "-t", "y"], ("File not found",)),
    Row("recommend: output_units for 3 classes", lambda f: ["recommend", P(f), "-t", "species", "--set", "output_units=5"],
        ("output_units=5 disagrees with the data", "needs output_units: 3", "Drop the --set")),
    Row("recommend: regression task on classes", lambda f: ["recommend", P(f), "-t", "species", "--set", "task=regression"],
        ("task=regression disagrees", "multiclass", "Drop the --set")),
    Row("recommend: max_epochs beyond the cap", lambda f: ["recommend", P(f), "-t", "species", "--set", "max_epochs=1000000"],
        ("max_epochs", "[1, 10000]")),
    Row("recommend: 1e-3 is a number", lambda f: ["recommend", P(f), "-t", "species", "--set", "learning_rate=1e-3"],
        ("learning_rate", "0.001"), code=0),
    Row("recommend: 1e-4 in a rule file is a number", lambda f: ["recommend", P(f), "-t", "species", "--rules", table(
        f, "r.yaml", b"autoann_rules: 1\nrules:\n  - id: MY-LR\n    then: {learning_rate: {float: [1e-4, 1e-2], log: true}}\n"
        b"    why: mine\n    guideline: [G-LR-1]\n")], ("learning_rate", "0.0001..0.01", "MY-LR"), code=0),
    Row("recommend: images with a corrupt file", lambda f: ["recommend", images_with_a_broken_file(f)],
        ("Skipped 1 file", "1/broken.png"), code=0),
    Row("recommend: text for a number", lambda f: ["recommend", P(f), "-t", "species", "--set", "learning_rate=abc"],
        ("'learning_rate' cannot be 'abc'", "a number in [0.0, inf]")),
    Row("recommend: unknown name", lambda f: ["recommend", P(f), "-t", "species", "--set", "n_layer=2"],
        ("no hyperparameter is called 'n_layer'", "did you mean 'n_layers'")),
    Row("recommend: --set without =", lambda f: ["recommend", P(f), "-t", "species", "--set", "n_layers"],
        ("--set expects name=value", "--set n_layers=3")),
    Row("recommend: unknown goal", lambda f: ["recommend", P(f), "-t", "species", "--goal", "fast"],
        ("'goal' parameter", "'balanced'", "Got 'fast'")),
    Row("recommend: missing rule file", lambda f: ["recommend", P(f), "-t", "species", "--rules", str(f / "r.yaml")],
        ("--rules", "does not exist")),
    Row("recommend: rule file not YAML", lambda f: ["recommend", P(f), "-t", "species", "--rules", table(f, "r.yaml", b"x: [")],
        ("r.yaml", "not valid YAML")),
    Row("recommend: text file as backbone", lambda f: ["recommend", P(f), "-t", "species", "--backbone", table(f, "b.keras", b"hi")],
        ("not a Keras model file", "model.save")),
    Row("recommend: backbone on a table", lambda f: ["recommend", P(f), "-t", "species", "--backbone", zip_file(f, "b.keras")],
        ("--backbone is for image data", "Drop --backbone"), tensorflow=True),
    Row("recommend: -o exists", lambda f: ["recommend", P(f), "-t", "species", "-o", table(f, "s.yaml", b"x: 1")],
        ("already exists", "--overwrite")),
    # -- train ---------------------------------------------------------------------------------------------
    Row("train: missing file", lambda f: ["train", str(f / "nope.csv"), "-t", "y"], ("File not found", "Check the path")),
    Row("train: missing space file", lambda f: ["train", P(f), "-t", "species", "--space", str(f / "s.yaml")],
        ("--space", "does not exist")),
    Row("train: text file as backbone", lambda f: ["train", P(f), "-t", "species", "--backbone", table(f, "b.keras", b"hi")],
        ("not a Keras model file",)),
    Row("train: negative budget", lambda f: ["train", P(f), "-t", "species", "-b", "-5"], ("'time_budget'", "'90s'")),
    Row("train: max-epochs 0", lambda f: ["train", P(f), "-t", "species", "--max-epochs", "0"], ("'max_epochs'", "[1, 10000]")),
    Row("train: test-size 2", lambda f: ["train", P(f), "-t", "species", "--test-size", "2"], ("'test_size'", "[0.0, 0.9)")),
    Row("train: -o under a file", lambda f: ["train", P(f), "-t", "species", "-o", table(f, "x", b"") + "/run"],
        ("is a file, not a folder", "Choose another -o")),
    Row("train: -o exists", lambda f: ["train", P(f), "-t", "species", "-o", str((f / "old").mkdir() or f / "old")],
        ("already exists", "--overwrite")),
    Row("train: --overwrite on a non-run folder",
        lambda f: ["train", P(f), "-t", "species", "--overwrite", "-o", str(Path(table(f, "keep.txt", b"mine")).parent)],
        ("not an autoann run directory", "Choose another -o")),
    Row("train: --resume with nothing kept", lambda f: ["train", P(f), "-t", "species", "--resume", "-o", str(f / "r")],
        ("Nothing to resume", "Run without --resume")),
    Row("train: output_units for 3 classes", lambda f: ["train", P(f), "-t", "species", "--set", "output_units=5"],
        ("output_units=5 disagrees with the data", "Drop the --set"), tensorflow=True),
    Row("train: regression task on classes", lambda f: ["train", P(f), "-t", "species", "--set", "task=regression"],
        ("task=regression disagrees", "Drop the --set"), tensorflow=True),
    Row("train: unknown export format", lambda f: ["train", P(f), "-t", "species", "--export-format", "pdf"],
        ("Unknown export format 'pdf'", "onnx, litert"), tensorflow=True),
    Row("train: regression space on a text target", lambda f: ["train", P(f), "-t", "species", "--space", space_file(f, "regression")],
        ("sets task: regression", "multiclass", "would not help", "text labels"), tensorflow=True),
    Row("train: --workers -1", lambda f: ["train", P(f), "-t", "species", "--workers", "-1"], ("'workers'", "[0, inf]")),
    Row("train: --listen not an address", lambda f: ["train", P(f), "-t", "species", "--listen", "here:port"],
        ("is not an address", "HOST:PORT")),
    # -- worker -------------------------------------------------------------------------------------------
    Row("worker: no such folder", lambda f: ["worker", str(f / "run")], ("is not a folder", "chief printed")),
    Row("worker: a folder with no search", lambda f: ["worker", str(f), "--wait", "0.5"],
        ("No search is serving workers", "autoann train")),
    Row("worker: --threads 0", lambda f: ["worker", str(f), "--threads", "0"], ("'threads'", "[1, inf]")),
    Row("worker: --connect not an address", lambda f: ["worker", str(f), "--connect", "a:b:c"],
        ("is not an address", "HOST:PORT")),
    # -- predict / evaluate --------------------------------------------------------------------------------
    Row("predict: no run directory", lambda f: ["predict", str(f / "run"), P(f)], ("No run directory", "autoann train -o")),
    Row("predict: folder without a run", lambda f: ["predict", str(f), P(f)],
        ("not an autoann run directory", "metadata.json and model.keras are missing")),
    Row("predict: truncated model.keras", lambda f: ["predict", fake_run(f, b"PK\x03\x04trunc"), P(f)],
        ("not a Keras model file", "truncated", "copy it again")),
    Row("predict: missing data", lambda f: ["predict", fake_run(f), str(f / "nope.csv")], ("File not found",)),
    Row("predict: -o exists", lambda f: ["predict", fake_run(f), P(f), "-o", table(f, "p.csv", b"a\n1\n")],
        ("already exists", "--overwrite")),
    Row("predict: -o is a folder", lambda f: ["predict", fake_run(f), P(f), "-o", str(f)],
        ("is a folder", "-o takes a file name")),
    Row("predict: metadata.json of no run", lambda f: ["predict", fake_run(f), P(f)],
        ("is not autoann run metadata", "lacks task, schema, target_names"), tensorflow=True),
    Row("evaluate: no run directory", lambda f: ["evaluate", str(f / "run"), P(f)], ("No run directory",)),
    Row("evaluate: missing data", lambda f: ["evaluate", fake_run(f), str(f / "nope.csv")], ("File not found",)),
    # -- serve / export ------------------------------------------------------------------------------------
    Row("serve: no run directory", lambda f: ["serve", str(f / "run")], ("No run directory",)),
    Row("serve: --model to a missing run", lambda f: ["serve", "--model", f"m={f / 'run'}"], ("No run directory",)),
    Row("serve: nothing to serve", lambda f: ["serve"], ("No model to serve", "--model NAME=RUN_DIR"), tensorflow=True),
    Row("serve: --model without =", lambda f: ["serve", "--model", fake_run(f)], ("--model takes NAME=RUN_DIR",),
        tensorflow=True),
    Row("serve: no workers", lambda f: ["serve", fake_run(f), "--workers", "0"], ("--workers must be >= 1",),
        tensorflow=True),
    Row("export: no run directory", lambda f: ["export", str(f / "run"), "-f", "onnx"], ("No run directory",)),
    Row("export: -o exists", lambda f: ["export", fake_run(f), "-f", "onnx", "-o", table(f, "m.onnx", b"mine")],
        ("already exists", "--overwrite")),
    Row("export: unknown format", lambda f: ["export", fake_run(f), "-f", "pdf"], ("Unknown export format", "onnx, litert"),
        tensorflow=True),
    # -- rules ---------------------------------------------------------------------------------------------
    Row("rules check: missing file", lambda f: ["rules", "check", str(f / "r.yaml")], ("Rule file not found",)),
    Row("rules check: not YAML", lambda f: ["rules", "check", table(f, "r.yaml", b"x: [")], ("not valid YAML",)),
    Row("rules show: unknown id", lambda f: ["rules", "show", "NOPE"], ("No rule 'NOPE'", "autoann rules list")),
    Row("rules list: unexpected argument", lambda f: ["rules", "list", "extra"], ("unexpected extra argument",)),
]


def _snapshot(folder: Path) -> dict[str, str]:
    """Every path below ``folder`` (hidden ones too) -> a hash of its bytes ("dir" for folders)."""
    return {str(p.relative_to(folder)): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))}


def _tripwire() -> None:
    raise AssertionError("the command imported TensorFlow before refusing its input")


@pytest.mark.parametrize("row", [pytest.param(r, id=r.id, marks=[pytest.mark.train] if r.tensorflow else [])
                                 for r in ROWS])
def test_bad_input(row: Row, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a default run directory would land here
    args = row.args(tmp_path)
    before = _snapshot(tmp_path)
    tensorflow_before = "tensorflow" in sys.modules
    if not row.tensorflow:
        monkeypatch.setattr(autoann._tf, "import_quietly", _tripwire)
    result = runner.invoke(app, args, env={"COLUMNS": "200", "AUTOANN_DEBUG": ""})
    if not (row.tensorflow or tensorflow_before):  # in the unit tier: no other import path either
        assert "tensorflow" not in sys.modules, "the command imported TensorFlow before refusing its input"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == row.code, result.output
    message = err(result) if row.code else " ".join(result.stdout.split())
    missing = [word for word in row.words if word not in message]
    assert not missing, f"{missing} not in: {message}"
    assert "Traceback" not in result.output
    assert _snapshot(tmp_path) == before, "the command wrote, replaced or left something in the user's folder"


def test_every_command_has_rows():
    """Adding a command to the CLI without rows in this table fails here."""
    commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    commands |= {f"{g.name} {c.name}" for g in app.registered_groups for c in g.typer_instance.registered_commands}
    covered = {row.id.split(":")[0] for row in ROWS}
    assert commands <= covered, f"commands without bad-input rows: {sorted(commands - covered)}"


def test_missing_data_never_imports_tensorflow(tmp_path):
    """`autoann train nope.csv` used to import TensorFlow (seconds) before it looked for the file."""
    script = ("import sys\nfrom autoann.cli._app import main\n"
              "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
              "heavy = sorted({'tensorflow', 'keras'} & set(sys.modules))\n"
              "sys.exit(f'imported {heavy}' if heavy else code)\n")
    for args in (["train", "nope.csv", "-t", "y"], ["predict", "run", "nope.csv"]):
        result = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=300,
                                cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
        assert result.returncode == 2, result.stderr
        assert "File not found" in result.stderr or "No run directory" in result.stderr


def test_output_in_a_read_only_folder_is_refused_before_any_work(tmp_path, monkeypatch):
    """As root every folder is writable, so the permission is denied by os.access, which the check asks."""
    import autoann._io

    monkeypatch.chdir(tmp_path)
    data = penguins(tmp_path)
    (tmp_path / "locked").mkdir()
    monkeypatch.setattr(autoann._io.os, "access", lambda path, mode: Path(path).name != "locked")
    monkeypatch.setattr(autoann._tf, "import_quietly", _tripwire)
    before = _snapshot(tmp_path)
    for args in (["train", data, "-t", "species", "-o", "locked/run"],
                 ["profile", data, "-t", "species", "-o", "locked/p.json"],
                 ["recommend", data, "-t", "species", "-o", "locked/new/s.yaml"]):
        result = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 2, result.output
        assert "is not writable" in err(result) and "Choose another -o" in err(result)
    assert _snapshot(tmp_path) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_output_in_a_really_read_only_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = runner.invoke(app, ["profile", penguins(tmp_path), "-t", "species", "-o", str(locked / "p.json")])
    finally:
        locked.chmod(0o755)
    assert result.exit_code == 2 and "is not writable" in err(result)
