"""From profile facts to an explained search space, through the guideline rules.

Engine semantics (the rules themselves are data in ``autoann/rules/builtin/*.yaml``):

1. Rules are evaluated in order (the built-in files in a fixed order, then
   user files); a rule that fires sets its hyperparameters, and a later rule
   setting the same name *replaces* it, so ``goals.yaml`` has the last word
   among the built-ins. The trace keeps every rule, fired or not, with the
   facts it checked, and marks replaced settings "overridden by X".
2. ``--set`` pins are applied (hyperparameters that a pin makes unreachable,
   e.g. ``batch_norm`` once ``activation_family=selu``, are dropped); a pin
   of a name the data decides (``DATA_DECIDED``: task, output units) must
   agree with the rules' value.
3. The parameter-count guard (G-ARCH-6, :func:`autoann.rules._guard.apply_param_guard`):
   rules set ``max_params_per_row`` and ``min_params_cap``; if the largest
   network the space allows has more weights than ``max(min_params_cap,
   max_params_per_row * n_rows)``, the ``units_first`` upper bound, then the
   ``n_layers`` one, is lowered until it fits. Pinned values are never changed.
4. Consistency: batch norm is never active for SELU (G-ACT-2), conditionals
   whose parent can no longer take their values are dropped, and
   :meth:`SearchSpace.validate` checks every ``active_if`` parent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from autoann.errors import ParameterError, SpaceError
from autoann.params import validate_params
from autoann.profiling import FACTS
from autoann.rules._conditions import format_value, plain_fact
from autoann.rules._guard import apply_param_guard
from autoann.rules._loader import Rule, load_rules
from autoann.space import KNOWN, Hyperparameter, SearchSpace, parse_assignment

__all__ = ["Recommendation", "RuleOutcome", "apply_pin", "recommend", "recommend_from_facts"]


@dataclass
class RuleOutcome:
    """What one rule did: whether it fired, on which facts, and what it set."""

    rule_id: str
    guideline: list[str]
    fired: bool
    reason: str  # the facts checked and their values, e.g. "n_rows=569 < 1000"
    why: str
    set: list[str] = field(default_factory=list)
    overridden: dict[str, str] = field(default_factory=dict)  # name -> id of the rule that replaced it
    note: str = ""


@dataclass
class Recommendation:
    """The proposed space, the trace of every rule, and the facts they saw."""

    space: SearchSpace
    trace: list[RuleOutcome]
    facts: dict[str, Any]

    def outcome(self, rule_id: str) -> RuleOutcome:
        """The trace entry of ``rule_id`` (KeyError if no such rule ran)."""
        for outcome in self.trace:
            if outcome.rule_id == rule_id:
                return outcome
        raise KeyError(rule_id)


def _check_facts(facts: Mapping[str, Any]) -> dict[str, Any]:
    missing = sorted(set(FACTS) - set(facts))
    if missing:
        raise ParameterError(f"The facts given to the recommender lack {missing}; Profile.facts() returns them all.")
    return {name: plain_fact(name, facts[name]) for name in FACTS}


def recommend_from_facts(facts: Mapping[str, Any], rule_sets: Sequence[Rule] | None = None,
                         pins: Sequence[str] = ()) -> Recommendation:
    """Apply ``rule_sets`` (default: the built-in rules) to ``facts``, then pins, guard and checks."""
    facts = _check_facts(facts)
    rules = load_rules() if rule_sets is None else list(rule_sets)
    space = SearchSpace()
    trace: list[RuleOutcome] = []
    setter: dict[str, RuleOutcome] = {}
    for rule in rules:
        fired = rule.fires(facts)
        outcome = RuleOutcome(rule.id, list(rule.guideline), fired, rule.reason(facts), rule.why, note=rule.note)
        trace.append(outcome)
        if not fired:
            continue
        space.fired.append(rule.id)
        if rule.note:
            space.notes.append(rule.note)
        try:
            values = rule.apply(facts)
        except SpaceError as exc:
            raise SpaceError(f"{rule.source} ==> rule '{rule.id}': {exc}") from None
        for name, hp in values.items():
            if name in setter:
                setter[name].overridden[name] = rule.id
            space.hyperparameters[name] = hp
            setter[name] = outcome
            outcome.set.append(name)
    dead = _unreachable(space)  # e.g. batch_norm_position once a goal fixes batch_norm to false
    for name, parent in dead.items():
        setter[name].overridden[name] = (space[parent].rules or [parent])[-1]
    for name in dead:
        del space.hyperparameters[name]
    for name, value in map(parse_assignment, pins):
        _check_data_decided(space, name, value)
        apply_pin(space, name, value)
    guarded = apply_param_guard(space, facts)
    if guarded and "max_params_per_row" in setter:
        setter["max_params_per_row"].set.extend(f"{name} (guard)" for name in guarded)
    _make_consistent(space)
    space.validate()
    # the order of KNOWN (task and outputs, inputs, architecture, ..., epochs) makes the YAML read top-down
    order = {name: i for i, name in enumerate(KNOWN)}
    space.hyperparameters = dict(sorted(space.hyperparameters.items(), key=lambda item: order[item[0]]))
    return Recommendation(space=space, trace=trace, facts=facts)


def recommend(profile: Any, *, goal: str = "balanced", sparse: bool = False, uncertainty: bool = False,
              rules: Sequence[str | Path] = (), pins: Sequence[str] = (), backbone: bool = False,
              metric: str | None = None) -> Recommendation:
    """The explained search space for a profiled dataset.

    ``profile`` is an :class:`autoann.profiling._profile.Profile` (or a mapping of its
    facts); ``rules`` are extra rule files, applied after the built-ins and
    replacing built-in rules with the same id; ``pins`` are ``name=value``
    strings (``--set``), applied after the rules. ``backbone``: local
    pretrained weights were given for transfer learning (``--backbone``).
    ``metric``: what the search optimizes (``--metric``; None: the task's default,
    :data:`autoann.metrics.DEFAULT_METRIC`), checked against the task.
    """
    validate_params("recommend", {"goal": goal})
    asked = {"goal": goal, "sparse": bool(sparse), "uncertainty": bool(uncertainty), "backbone": bool(backbone),
             "metric": metric or ""}
    if isinstance(profile, Mapping):
        facts = {**profile, **asked}
    else:
        facts = profile.facts(**asked)
    if metric:
        from autoann.metrics import check_metric

        check_metric(metric, facts["task"])
    return recommend_from_facts(facts, load_rules(list(rules)), pins)


# -- pins and conditionals ---------------------------------------------------


def _unreachable(space: SearchSpace, assume: Mapping[str, list[Any]] | None = None) -> dict[str, str]:
    """Conditional hyperparameters whose parent can never take a trigger value -> that parent.

    ``assume`` overrides the values a parent can take (a pin about to be applied).
    Cascades: a child of a dropped hyperparameter is dropped too.
    """
    assume = dict(assume or {})
    dead: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for name, hp in space.hyperparameters.items():
            if name in dead or name in assume:
                continue
            for parent, values in (hp.active_if or {}).items():
                if parent in dead or parent not in space.hyperparameters:
                    possible: list[Any] = []
                elif parent in assume:
                    possible = assume[parent]
                elif space[parent].kind in ("choice", "fixed"):
                    possible = space[parent].candidates()
                else:
                    continue
                if not any(v in possible for v in values):
                    dead[name] = parent
                    changed = True
                    break
    return dead


def _when_text(hp: Hyperparameter) -> str:
    return " and ".join(f"{p} in {format_value(v)}" for p, v in (hp.active_if or {}).items())


def apply_pin(space: SearchSpace, name: str, value: Any) -> None:
    """Pin ``name`` to ``value`` (``--set``), dropping what the pin makes unreachable, with a note.

    E.g. ``activation_family=selu`` drops ``batch_norm``, which only applies to
    the other families. :meth:`SearchSpace.pin` alone would refuse that space.
    """
    before = _unreachable(space)
    for dead in _unreachable(space, {name: [value]}):
        if dead not in before:
            space.notes.append(f"{dead} dropped: it only applies when {_when_text(space[dead])}, "
                               f"which --set {name}={format_value(value)} rules out.")
        del space.hyperparameters[dead]
    space.pin(name, value)


#: names whose value the data decides: a pin may only repeat what the rules set from it
DATA_DECIDED = ("task", "output_units")


def _check_data_decided(space: SearchSpace, name: str, value: Any) -> None:
    """Refuse ``--set task=...`` or ``--set output_units=...`` that disagrees with the data (a 5-unit softmax for
    3 classes trains, then cannot predict; a task pin would be silently ignored)."""
    decided = space.fixed(name) if name in DATA_DECIDED else None
    if decided is None or value == decided:
        return
    hint = ("to read the target another way, pass --task instead (regression needs a numeric target)"
            if name == "task" else "the target's classes (or columns) decide it")
    why = "; ".join(w.rstrip(". ") for w in space[name].why) or "set by the rules"
    raise SpaceError(f"--set {name}={format_value(value)} disagrees with the data, which needs {name}: "
                     f"{format_value(decided)} ({why}). Drop the --set; {hint}.")


def _make_consistent(space: SearchSpace) -> None:
    """Batch norm never active for SELU (G-ACT-2); drop conditionals nothing can activate."""
    family, bn = space.hyperparameters.get("activation_family"), space.hyperparameters.get("batch_norm")
    if family is not None and bn is not None and "selu" in family.candidates():
        allowed = [f for f in family.candidates() if f != "selu"]
        active = (bn.active_if or {}).get("activation_family")
        if active is None or "selu" in active:
            bn.active_if = {**(bn.active_if or {}), "activation_family": [f for f in (active or allowed) if f != "selu"]}
            bn.why.append("only for non-SELU families: SELU self-normalizes without batch norm (G-ACT-2)")
    for name in _unreachable(space):
        del space.hyperparameters[name]
    if family is not None and "selu" in family.candidates() and space.setting("numeric_scaling") == "none":
        space.notes.append("SELU is searched but numeric_scaling is 'none': SELU only self-normalizes "
                           "on standardized inputs (G-ACT-2, G-IN-3).")
