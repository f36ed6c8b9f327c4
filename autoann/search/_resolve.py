"""The space a run searches: the recommended one, or the caller's with ``--set`` pins applied, checked
against the data whoever set its outputs (a rule, a space file or a pin), so a run never trains a network
whose output the data cannot fill or ``predict`` cannot read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from autoann.data import CLASSIFICATION
from autoann.errors import SpaceError
from autoann.profiling import Profile
from autoann.rules import Recommendation
from autoann.search._inputs import given_space
from autoann.space import SearchSpace


#: Hyperparameters the data decides. A user's space must set them: without them
#: the network falls back to a one-unit linear output trained with mse.
OUTPUT_KEYS = ("task", "output_units", "output_activation", "loss")


def resolve_space(profile: Profile, space: SearchSpace | Recommendation | str | Path | None, *, goal: str,
                  sparse: bool, uncertainty: bool, rules: Sequence[str | Path], pins: Sequence[str],
                  backbone: bool = False, metric: str | None = None) -> SearchSpace:
    """The recommended space, or the caller's (a SearchSpace, a Recommendation or a YAML path; copied, with
    ``pins`` and the ``metric`` asked for applied) checked against the data."""
    from autoann.rules import recommend
    from autoann.space import parse_assignment

    if space is None:
        space = recommend(profile, goal=goal, sparse=sparse, uncertainty=uncertainty,
                          rules=list(rules), pins=list(pins), backbone=backbone, metric=metric).space
        check_outputs(space, profile, "--set")
        return space
    space, where = given_space(space, profile)
    for pin in [*pins, *([f"metric={metric}"] if metric else [])]:
        space.pin(*parse_assignment(pin))
    missing = [name for name in OUTPUT_KEYS if name not in space]
    if missing:
        wanted = recommend(profile, goal=goal).space
        example = ", ".join(f"{n}: {wanted.fixed(n)}" for n in missing if wanted.fixed(n) is not None)
        raise SpaceError(
            f"{where} does not set {', '.join(missing)}, which this {profile.target.task} target decides (the network "
            f"would otherwise get a one-unit linear output trained with mse). Add {example or 'them'} (or --set them), "
            "or start from `autoann recommend DATA --target COL -o space.yaml`."
        )
    check_outputs(space, profile, where)
    return space


def _numeric_labels(target: Any) -> bool:
    """Whether every class label of a classification target reads as a number (so --task regression can work)."""
    try:
        [float(label) for label in target.class_counts]
    except ValueError:
        return False
    return True


def check_outputs(space: SearchSpace, profile: Profile, where: str) -> None:
    """Refuse a space whose task or output units disagree with the data, whoever pinned them (file or --set)."""
    target = profile.target
    task = space.fixed("task")
    if task is not None and task != target.task:
        fix = f"Recommend a space for this data (or drop the task from {where})"
        if task in CLASSIFICATION or target.task not in CLASSIFICATION or _numeric_labels(target):
            fix += f", or pass --task {task}"
        else:
            fix += f"; --task {task} would not help: target {', '.join(map(repr, target.names))} holds text labels"
        raise SpaceError(f"{where} sets task: {task}, but the data is {target.task} ({target.task_reason}). {fix}.")
    units = {"binary": 1, "multiclass": target.n_classes, "multi_regression": len(target.names)}.get(target.task, 1)
    given = space.fixed("output_units")
    if given is not None and int(given) != units:
        raise SpaceError(f"{where} sets output_units: {given}, but this {target.task} target needs {units} "
                         f"(target {', '.join(map(repr, target.names))}). Set output_units: {units} (or leave it "
                         "out of --set: the data decides it).")
