"""Stages compose: a Dataset, Profile and SearchSpace (or Recommendation) handed to a fit are used, not rebuilt.

The checks that refuse parts that do not belong together run before any
training; one pair of tiny searches shows that a fit from handed-on parts
does no loading, profiling or recommending and gives the leaderboard the
same fit from the file gives.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

import autoann
from autoann.data import load_data
from autoann.errors import DataError, SpaceError
from autoann.profiling import profile_dataset
from autoann.rules import recommend
from autoann.search import fit_run
from autoann.fitted_run import MEASURED_COLUMNS

pytestmark = pytest.mark.usefixtures("quiet_tensorflow_logger")
#: A search bounded by its trial cap, never by the budget: the trial set does not depend on the machine.
SEARCH = {"max_trials": 2, "time_budget": "5m", "seed": 0}
#: Leaderboard columns that measure time; everything else repeats with the seed.
TIMING = list(MEASURED_COLUMNS)


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    """A binary target ``y`` from 3 numeric columns and a string column."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["colour"] = rng.choice(["red", "green", "blue"], len(frame))
    frame["y"] = np.where(x[:, 0] + 0.5 * x[:, 1] > 0, "yes", "no")
    path = tmp_path_factory.mktemp("data") / "tiny.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def parts(csv):
    """(Dataset, Profile, Recommendation) of ``csv``, the recommendation capped at 3 epochs."""
    dataset = load_data(csv, "y")
    profile = profile_dataset(dataset)
    return dataset, profile, recommend(profile, pins=["max_epochs=3"])


@pytest.fixture
def no_rework(monkeypatch):
    """Make load_data, profile_dataset and recommend raise wherever autoann bound them."""
    for name, original in (("load_data", load_data), ("profile_dataset", profile_dataset), ("recommend", recommend)):
        def refuse(*args, _name=name, **kwargs):
            raise AssertionError(f"{_name} was called although its result was given")

        for module in [m for n, m in sys.modules.items() if n.startswith("autoann") and m is not None]:
            if getattr(module, name, None) is original:
                monkeypatch.setattr(module, name, refuse)


# -- what does not belong together is refused, before any training --------------------------------


def test_a_target_or_another_task_with_a_dataset_is_refused(parts, tmp_path):
    dataset, _, _ = parts
    with pytest.raises(DataError, match=r"target='y' was given with a Dataset, which already holds its target \('y'\)"):
        fit_run(dataset, "y", workdir=tmp_path / "w")
    with pytest.raises(DataError, match="task='regression' was given with a Dataset whose task is binary"):
        fit_run(dataset, workdir=tmp_path / "w", task="regression")
    assert not (tmp_path / "w").exists()


def test_a_profile_of_other_data_is_refused_naming_what_differs(parts, csv, tmp_path):
    dataset, _, _ = parts
    other = profile_dataset(load_data(pd.read_csv(csv).iloc[:60], "y"))
    with pytest.raises(DataError, match=r"other data than the dataset: source '<DataFrame>' in the profile, "
                                        r"'.*tiny.csv' in the dataset; rows with a target 60 in the profile, 120"):
        fit_run(dataset, workdir=tmp_path / "w", profile=other)
    assert not (tmp_path / "w").exists()


def test_a_recommendation_for_other_data_is_refused(parts, csv, tmp_path):
    dataset, profile, _ = parts
    regression = load_data(pd.read_csv(csv).assign(y=np.arange(120.0)), "y")
    elsewhere = recommend(profile_dataset(regression))
    with pytest.raises(SpaceError, match="recommendation was made for other data: task 'regression' "
                                         r"\(the data: 'binary'\)"):
        fit_run(dataset, workdir=tmp_path / "w", profile=profile, space=elsewhere)


def test_weights_are_given_once(parts, tmp_path):
    dataset, _, _ = parts
    weighted = dataset.with_sample_weight(np.ones(120))
    with pytest.raises(DataError, match="given both to load_data and with the Dataset"):
        fit_run(weighted, workdir=tmp_path / "w", sample_weight=np.ones(120))
    with pytest.raises(DataError, match="sample_weight has 7 values but the data has 120 rows"):
        fit_run(dataset, workdir=tmp_path / "w", sample_weight=np.ones(7))


def test_a_given_space_is_copied_not_pinned_in_place(parts):
    from autoann.search._resolve import resolve_space

    _, profile, rec = parts
    space = resolve_space(profile, rec, goal="balanced", sparse=False, uncertainty=False, rules=(),
                          pins=["n_layers=1", "max_epochs=2"])
    assert space.fixed("n_layers") == 1 and space.fixed("max_epochs") == 2
    assert rec.space.fixed("max_epochs") == 3 and rec.space.fixed("n_layers") is None


def test_without_the_parts_the_stages_run(parts, csv, tmp_path, no_rework):
    """The guard of the next test works: each stage function is reached when its result is not given."""
    dataset, profile, _ = parts
    for call, stage in ((lambda: fit_run(csv, "y", workdir=tmp_path / "w"), "load_data"),
                        (lambda: fit_run(dataset, workdir=tmp_path / "w"), "profile_dataset"),
                        (lambda: fit_run(dataset, workdir=tmp_path / "w", profile=profile), "recommend")):
        with pytest.raises(AssertionError, match=f"{stage} was called"):
            call()


# -- handed-on parts are used as they are ------------------------------------------------------------


@pytest.fixture(scope="module")
def from_file(csv, tmp_path_factory):
    """The run ``autoann.train`` makes from the file, the way the CLI does."""
    return autoann.train(csv, "y", output=tmp_path_factory.mktemp("file") / "run", max_epochs=3, **SEARCH)


def test_a_fit_from_handed_on_parts_does_no_rework_and_finds_the_same(parts, from_file, tmp_path, no_rework):
    dataset, profile, rec = parts
    composed = autoann.train(dataset, profile=profile, space=rec, output=tmp_path / "run", **SEARCH)
    assert (tmp_path / "run" / "metadata.json").exists()
    assert composed.best_hyperparameters == from_file.best_hyperparameters
    pd.testing.assert_frame_equal(from_file.leaderboard.drop(columns=TIMING, errors="ignore"),
                                  composed.leaderboard.drop(columns=TIMING, errors="ignore"))
    assert composed.metrics["test"] == pytest.approx(from_file.metrics["test"])


# -- the estimators hand X and y on as one Dataset -----------------------------------------------


class Handed(Exception):
    """Raised by the stand-in fit_run, carrying the Dataset it was given."""


@pytest.fixture
def handed(monkeypatch):
    """fit_run replaced by a stand-in that raises :class:`Handed` with its data; task inference made to raise."""
    import autoann.data._task as task_module
    import autoann.search

    def stand_in(data, target=None, **knobs):
        raise Handed(data, target, knobs)

    def no_inference(*args, **kwargs):
        raise AssertionError("the task was inferred again although the estimator fixed it")

    monkeypatch.setattr(autoann.search, "fit_run", stand_in)
    monkeypatch.setattr(task_module, "infer_task", no_inference)


def test_the_classifier_hands_x_and_y_through_without_merging(handed):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=30), "y": rng.normal(size=30)})  # a feature that is named y
    labels = np.array(["cat", "dog", "cow"] * 10)
    with pytest.raises(Handed) as info:
        autoann.AutoANNClassifier().fit(X, labels, sample_weight=np.arange(30.0))
    dataset, target, knobs = info.value.args
    assert target is None and "task" not in knobs and "sample_weight" not in knobs
    assert list(dataset.features.columns) == ["a", "y"] and dataset.target_names == ["__autoann_target__"]
    assert dataset.target.iloc[:, 0].tolist() == [0, 2, 1] * 10  # class codes, in sorted label order
    assert dataset.task == "multiclass" and "AutoANNClassifier" in dataset.task_reason
    assert dataset.sample_weight.tolist() == list(np.arange(30.0))


def test_the_regressor_hands_images_and_targets_through(handed):
    x = np.random.default_rng(0).integers(0, 255, size=(12, 4, 4), dtype=np.uint8)
    y = np.linspace(0, 1, 24).reshape(12, 2)
    with pytest.raises(Handed) as info:
        autoann.AutoANNRegressor().fit(x, y)
    dataset = info.value.args[0]
    assert dataset.images.images.shape == (12, 4, 4, 1) and dataset.target_names == ["y0", "y1"]
    assert dataset.task == "multi_regression" and np.allclose(dataset.target.to_numpy(), y)
