"""A :class:`SearchSpace` as Keras Tuner hyperparameters, and the search objective.

:func:`declare` maps every hyperparameter of a space 1:1 onto a Keras Tuner
hyperparameter (conditional ones inside ``conditional_scope``, parents first)
and returns the values of one trial, None for the inactive ones; the builder
reads them with :func:`autoann.space.value`, so an absent name gets its
declared default.
"""

from __future__ import annotations

from typing import Any

import keras_tuner as kt

from autoann.search._network import objective_of
from autoann.space import KNOWN, SearchSpace


def objective(space: SearchSpace) -> kt.Objective:
    """What Hyperband optimizes: the space's metric on the validation split, in its direction."""
    name, direction = objective_of(space.setting("metric"))
    return kt.Objective(name, direction)


def _coerce(name: str, value: Any) -> Any:
    return float(value) if KNOWN[name].kind == "float" and not isinstance(value, bool) else value


def _order(space: SearchSpace) -> list[str]:
    """Names with every ``active_if`` parent before its children."""
    done: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        for parent in (space[name].active_if or {}):
            visit(parent)
        done.append(name)

    for name in space.hyperparameters:
        visit(name)
    return done


def declare(hp: kt.HyperParameters, space: SearchSpace) -> dict[str, Any]:
    """Register the space's hyperparameters on ``hp``; returns their values (None if inactive)."""
    values: dict[str, Any] = {}
    for name in _order(space):
        spec = space[name]
        scopes = list((spec.active_if or {}).items())
        with _scopes(hp, scopes):
            values[name] = _declare_one(hp, name, spec)
    return values


class _scopes:
    """Nest ``hp.conditional_scope`` for each (parent, values) pair."""

    def __init__(self, hp: kt.HyperParameters, scopes: list[tuple[str, list[Any]]]):
        self.managers = [hp.conditional_scope(p, [_coerce(p, v) for v in vs]) for p, vs in scopes]

    def __enter__(self):
        for m in self.managers:
            m.__enter__()

    def __exit__(self, *exc):
        for m in reversed(self.managers):
            m.__exit__(*exc)


def _declare_one(hp: kt.HyperParameters, name: str, spec) -> Any:
    if spec.kind == "fixed":
        return hp.Fixed(name, _coerce(name, spec.value))
    if spec.kind == "choice":
        values = [_coerce(name, v) for v in spec.values]
        default = _coerce(name, spec.default) if spec.default is not None else values[0]
        return hp.Choice(name, values, default=default)
    sampling = "log" if spec.log else "linear"
    if spec.kind == "int":
        step = int(spec.step) if (spec.step and not spec.log) else None
        return hp.Int(name, int(spec.low), int(spec.high), step=step, sampling=sampling, default=spec.default)
    step = float(spec.step) if (spec.step and not spec.log) else None
    default = float(spec.default) if spec.default is not None else None
    return hp.Float(name, float(spec.low), float(spec.high), step=step, sampling=sampling, default=default)


