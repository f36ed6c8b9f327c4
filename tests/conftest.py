"""Fixtures shared by the tests: the global random state reset per test, tiny frames and files, seeded.

The suite has two tiers: modules marked ``pytestmark = pytest.mark.train`` import TensorFlow (they build,
train, save or serve Keras models); the rest is the unit tier, ``pytest -m "not train"``, pure Python.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(autouse=True)
def _same_global_random_state():
    """Every test starts from the same global ``random`` and ``numpy.random`` state, so no test depends on
    which tests ran before it (as Keras Tuner's conftest does). The seeds autoann's own calls take stay
    explicit in the tests."""
    random.seed(0)
    np.random.seed(0)


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """The shipped datasets (datasets/README.md)."""
    return Path(__file__).resolve().parents[1] / "datasets"


@pytest.fixture
def make_frame():
    """``make_frame(n=60, seed=0, **extra_columns)``: a numeric feature, a string feature and a binary
    string target ``y`` (not a function of any single column), plus any extra columns given."""

    def make(n: int = 60, seed: int = 0, **extra) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        a, b = rng.normal(size=n), rng.normal(size=n)
        frame = pd.DataFrame({"a": a, "colour": rng.choice(["red", "green", "blue"], n)})
        frame["y"] = np.where(a + b > 0, "yes", "no")
        for name, values in extra.items():
            frame[name] = values
        return frame

    return make


@pytest.fixture
def write_file(tmp_path):
    """``write_file(name, content)``: a file in tmp_path from text, bytes or a DataFrame (as CSV)."""

    def write(name: str, content) -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, pd.DataFrame):
            content.to_csv(path, index=False)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return write


@pytest.fixture(autouse=True, scope="session")
def _one_process_searches():
    """Searches run their trials in the test's own process unless a test asks for workers (``workers=2``):
    a worker process costs a TensorFlow import, and the search's results must not depend on it.
    tests/test_workers.py covers the workers, and the default of one per core."""
    from autoann.search import _options

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_options, "DEFAULT", _options.SearchOptions(workers=1))
        yield


@pytest.fixture(scope="module")
def tiny_search():
    """Searches without calibration or refit, for the estimator tests: the module's fits run with
    ``autoann.search._options.DEFAULT`` replaced, which reaches fits made through scikit-learn's
    ``clone()`` (the estimators pass no options, so ``run_search`` reads the default at call time)."""
    from autoann.search import _options

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_options, "DEFAULT", _options.SearchOptions(calibrate=False, refit=False, workers=1))
        yield


@pytest.fixture(scope="module")
def quiet_tensorflow_logger():
    """TensorFlow's Python logger keeps the ``sys.stderr`` of its first use; under CliRunner that is one
    invocation's capture, closed afterwards, so a later TF warning (e.g. retracing) would print a
    '--- Logging error ---' traceback into another invocation's stderr. Silence TF's Python warnings here."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)
