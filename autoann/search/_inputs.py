"""What a search starts from: a Dataset, its Profile and a SearchSpace, each taken as given or made once.

``fit_run`` accepts raw data (a path, frame or array with its target) *or* a
:class:`~autoann.data.Dataset`, an optional :class:`~autoann.profiling.Profile`
of it, and a space given as a :class:`~autoann.space.SearchSpace`, a YAML path
or a :class:`~autoann.rules.Recommendation`. Nothing given is computed again;
what is given is checked, cheaply, to belong together, so a profile or a
recommendation of other data is refused before any training with a message
saying what differs.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Sequence

from autoann.data import Dataset
from autoann.errors import DataError, SpaceError
from autoann.profiling import Profile, profile_dataset
from autoann.rules import Recommendation
from autoann.space import SearchSpace


def as_profile(profile: Profile | None, dataset: Dataset) -> Profile:
    """``profile`` after checking it describes ``dataset``; without one, the dataset's profile."""
    if profile is None:
        return profile_dataset(dataset)
    if not isinstance(profile, Profile):
        raise DataError(f"profile must be an autoann Profile (from autoann.profile or profile_dataset) or None; "
                        f"got a {type(profile).__name__}.")
    differences = _differences(profile, dataset)
    if differences:
        raise DataError(f"The profile given describes other data than the dataset: {'; '.join(differences)}. "
                        "Profile this dataset (autoann.profiling.profile_dataset(dataset)), or drop profile.")
    return profile


def _differences(profile: Profile, dataset: Dataset) -> list[str]:
    """What a profile says that the dataset contradicts: source, rows, target, task, columns, image shape."""
    seen = {
        "source": (profile.source, dataset.source),
        "rows with a target": (profile.n_rows, len(dataset.target)),
        "target": (list(profile.target.names), list(dataset.target_names)),
        "task": (profile.target.task, dataset.task),
    }
    if dataset.images is None:
        seen["feature columns"] = ([c.name for c in profile.columns], [str(c) for c in dataset.features.columns])
    else:
        shape = profile.image and (profile.image.height, profile.image.width, profile.image.channels)
        seen["image shape"] = (shape, tuple(dataset.images.images.shape[1:]))
    return [f"{what} {mine!r} in the profile, {theirs!r} in the dataset"
            for what, (mine, theirs) in seen.items() if mine != theirs]


def given_space(space: SearchSpace | Recommendation | str | Path, profile: Profile) -> tuple[SearchSpace, str]:
    """A copy of the space the caller gave (pins must not change the caller's object), and how to name it."""
    if isinstance(space, Recommendation):
        _check_recommendation(space, profile)
        return copy.deepcopy(space.space), "The recommended space"
    if isinstance(space, SearchSpace):
        return copy.deepcopy(space), "The search space"
    if isinstance(space, (str, Path)):
        return SearchSpace.load(space), f"{space}:"
    raise SpaceError(f"space must be a SearchSpace, a Recommendation, a path to a space YAML file or None; "
                     f"got a {type(space).__name__}.")


#: Facts of a recommendation compared with the profile's: the ones that say which data it was made for.
IDENTITY_FACTS: Sequence[str] = ("data_kind", "task", "n_rows", "n_targets", "input_width")


def _check_recommendation(recommendation: Recommendation, profile: Profile) -> None:
    """Refuse a recommendation whose facts are not the profile's (made for other data)."""
    facts = profile.facts()
    differ = [f"{name} {recommendation.facts.get(name)!r} (the data: {facts[name]!r})"
              for name in IDENTITY_FACTS if recommendation.facts.get(name) != facts[name]]
    if differ:
        raise SpaceError(f"The recommendation was made for other data: {', '.join(differ)}. Recommend a space for "
                         "this data (autoann.recommend(profile)), or pass space=None.")
