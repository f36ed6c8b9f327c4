"""The import surface: old module paths still work with a FutureWarning, every subpackage's ``__all__``
holds, and the stages before the search import without TensorFlow (scikit-learn's
test_import_deprecations.py, for autoann's move to stage subpackages).

Cases that import TensorFlow are marked ``train``, so the unit tier stays free of it.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import subprocess
import sys

import pytest

import autoann
from autoann._deprecated import MOVED

#: modules whose import pulls in TensorFlow (they hold or load Keras layers and models)
NEEDS_TENSORFLOW = {"autoann.layers", "autoann.export", "autoann.predict"}
#: the stages before training, which must import without TensorFlow (``autoann profile`` stays fast)
WITHOUT_TENSORFLOW = ["autoann", "autoann.data", "autoann.profiling", "autoann.space", "autoann.rules",
                      "autoann.search", "autoann.cli"]
SUBPACKAGES = sorted(f"autoann.{m.name}" for m in pkgutil.iter_modules(autoann.__path__) if m.ispkg)


def _tiered(value: str, module: str):
    """``value`` as a test parameter, in the train tier when importing ``module`` imports TensorFlow."""
    return pytest.param(value, marks=pytest.mark.train) if module in NEEDS_TENSORFLOW else value


@pytest.fixture
def fresh_import(monkeypatch):
    """Import a module as if for the first time: an earlier import of it is set aside for this test."""

    def load(name: str):
        monkeypatch.delitem(sys.modules, name, raising=False)
        monkeypatch.delattr(autoann, name.rsplit(".", 1)[1], raising=False)
        return importlib.import_module(name)

    return load


@pytest.mark.parametrize("old", [_tiered(old, new) for old, new in sorted(MOVED.items())])
def test_old_path_warns_and_gives_the_new_module(old, fresh_import):
    new = MOVED[old]
    with pytest.warns(FutureWarning, match=rf"{old} has moved to {new}; import {new} instead"):
        module = fresh_import(old)
    assert module is importlib.import_module(new)


@pytest.mark.train
def test_old_paths_give_the_new_names(fresh_import):
    """What users typed before the move: a name from the old module, and the import that registers
    autoann's layers before ``keras.models.load_model``."""
    import keras

    from autoann.layers import StandardizeImpute
    from autoann.predict import SchemaWarning

    with pytest.warns(FutureWarning, match="autoann.predictor has moved to autoann.predict"):
        assert fresh_import("autoann.predictor").SchemaWarning is SchemaWarning
    with pytest.warns(FutureWarning, match="autoann.preprocessing has moved to autoann.layers"):
        fresh_import("autoann.preprocessing")
    assert keras.saving.get_registered_object("autoann>StandardizeImpute") is StandardizeImpute


def test_every_old_path_has_its_shim():
    for old, new in MOVED.items():
        assert importlib.util.find_spec(old) is not None, f"{old} is in MOVED but has no module"
        assert new in SUBPACKAGES or new == "autoann.layers", (old, new)


@pytest.mark.parametrize("name", [pytest.param("autoann", marks=pytest.mark.train),  # autoann.load: TensorFlow
                                  *(_tiered(name, name) for name in SUBPACKAGES)])
def test_public_names_exist(name):
    module = importlib.import_module(name)
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ lists names it does not have: {missing}"
    assert len(set(module.__all__)) == len(module.__all__), f"{name}.__all__ repeats a name"


def test_stages_before_the_search_import_without_tensorflow():
    """Each module is imported in turn in a fresh interpreter; the first that pulls in TensorFlow or Keras
    is named."""
    script = (
        "import importlib, sys\n"
        f"for name in {WITHOUT_TENSORFLOW!r}:\n"
        "    importlib.import_module(name)\n"
        "    heavy = sorted({'tensorflow', 'keras', 'keras_tuner'} & set(sys.modules))\n"
        "    if heavy:\n"
        "        sys.exit(f'importing {name} imported {heavy}')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
