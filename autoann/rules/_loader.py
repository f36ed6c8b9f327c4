"""Rule files: their schema, checked on load, and the built-in rule base.

A rule file (``autoann/rules/builtin/*.yaml``) is::

    autoann_rules: 1
    min_autoann_version: "0.1"
    rules:
      - id: ACT-FAMILY                  # stable, unique, UPPER-KEBAB
        guideline: [G-ACT-1, G-ACT-2]   # ids of shared/guidelines.md
        when: {fact: n_rows, ge: 1000}  # optional (absent = always); autoann.rules._conditions
        then: {n_layers: {int: [1, 3]}} # hyperparameter -> autoann.space spec
        why: "one line"
        note: "optional warning added to the space when the rule fires"
        docs: {known_problems: "...", example: "..."}
        examples: {fires: [{n_rows: 500}], quiet: [{n_rows: 50000}]}

Everything is checked when the file loads, like pre-commit's manifest schema:
unknown keys, unknown guideline ids, conditions against the declared facts,
``then`` against :data:`autoann.space.KNOWN`, and the examples (partial facts
over :data:`DEFAULT_FACTS`) must fire / stay quiet. Errors raise
:class:`RuleFileError` pointing at file ==> rule id ==> key. The only
expression a value may hold is a fact reference, ``value: {fact: n_classes}``,
resolved when the rule is applied.

``python -m autoann.rules --markdown > docs/rules.md`` writes the rule
reference (a test keeps it up to date).
"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

import autoann
from autoann._io import load_yaml, read_user_text
from autoann.errors import RuleFileError, SpaceError, did_you_mean
from autoann.profiling import FACTS
from autoann.rules._conditions import Condition, check_fact_value, compile_condition, format_value, plain_fact
from autoann.rules._guidelines import AUTOANN_GUIDELINES, GUIDELINES
from autoann.space import KNOWN, Hyperparameter, default_of

RULES_FORMAT = 1
#: the built-in files, in the order their rules are applied (later rules win)
BUILTIN_FILES = (
    "inputs_outputs.yaml", "features.yaml", "architecture.yaml", "activation.yaml", "regularization.yaml",
    "optimization.yaml", "batch_epochs.yaml", "images.yaml", "goals.yaml",
)
RULE_KEYS = {"id", "guideline", "when", "then", "why", "note", "docs", "examples"}
#: the usual ``docs`` sections, shown first (any other key is shown after them, in file order)
DOC_KEYS = ("known_problems", "example")
ID_PATTERN = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")

#: A mid-sized binary tabular dataset; rule examples are partial facts merged over it.
DEFAULT_FACTS: dict[str, Any] = {
    "data_kind": "tabular", "task": "binary", "n_rows": 5000, "n_features": 20, "n_numeric": 16,
    "n_categorical": 4, "n_dropped": 0, "input_width": 40, "max_cardinality": 8,
    "missing_fraction": 0.0, "has_missing": False, "scale_spread": 1.0, "rows_per_input": 125.0,
    "suspected_leaks": 0, "n_datetime": 0, "n_text": 0, "n_skewed": 0, "target_skew": 0.0, "n_targets": 1, "n_classes": 2, "imbalance_ratio": 1.2,
    "minority_fraction": 0.45, "target_min": 0.0, "target_max": 0.0, "target_positive": False,
    "target_in_unit_interval": False, "target_symmetric_bounded": False,
    "target_outlier_fraction": 0.0, "image_height": 0, "image_width": 0, "image_channels": 0,
    "image_sizes_vary": False, "backbone": False,
    "goal": "balanced", "sparse": False, "uncertainty": False, "cpu_count": 2, "metric": "",
}


@dataclass
class Rule:
    """One loaded, validated rule."""

    id: str
    guideline: list[str]
    why: str
    then: dict[str, Any] = field(default_factory=dict)  # name -> spec (may hold {fact: ...})
    when: Condition | None = None
    note: str = ""
    docs: dict[str, str] = field(default_factory=dict)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    source: str = ""
    override: bool = False  # from a user file: replaces a built-in rule with the same id

    def fires(self, facts: Mapping[str, Any]) -> bool:
        return self.when is None or self.when.evaluate(facts)

    def reason(self, facts: Mapping[str, Any]) -> str:
        """The facts checked and their values, e.g. 'n_rows=569 < 1000'."""
        return "always" if self.when is None else self.when.explain(facts)

    def doc_sections(self) -> list[tuple[str, str]]:
        """The ``docs`` sections in the order ``rules show`` and docs/rules.md print them: :data:`DOC_KEYS`
        first, then the others in file order."""
        return sorted(self.docs.items(), key=lambda item: DOC_KEYS.index(item[0]) if item[0] in DOC_KEYS else len(DOC_KEYS))

    def apply(self, facts: Mapping[str, Any]) -> dict[str, Hyperparameter]:
        """The hyperparameters this rule sets, with fact references resolved."""
        out = {}
        for name, spec in self.then.items():
            hp = _build(name, _resolve(spec, facts), f"rule '{self.id}'")
            hp.rules = [self.id]
            hp.why = list(hp.why) or [self.why]
            out[name] = hp
        return out


def _fact_ref(spec: Any) -> str | None:
    if isinstance(spec, dict) and isinstance(spec.get("value"), dict) and set(spec["value"]) == {"fact"}:
        return spec["value"]["fact"]
    return None


def _resolve(spec: Any, facts: Mapping[str, Any]) -> Any:
    ref = _fact_ref(spec)
    if ref is None:
        return spec
    return {**spec, "value": plain_fact(ref, facts[ref])}


def _build(name: str, spec: Any, where: str) -> Hyperparameter:
    if isinstance(spec, dict) and isinstance(spec.get("why"), str):
        spec = {**spec, "why": [spec["why"]]}
    hp = Hyperparameter.from_dict(name, spec, where)
    if hp.default is not None:
        if hp.kind == "choice" and hp.default not in (hp.values or []):
            raise SpaceError(f"{where}: '{name}.default' {hp.default!r} is not one of {hp.values}.")
        if hp.kind in ("int", "float") and not (hp.low <= hp.default <= hp.high):
            raise SpaceError(f"{where}: '{name}.default' {hp.default!r} is outside [{hp.low}, {hp.high}].")
    return hp


_COMPATIBLE = {"int": ("int",), "float": ("int", "float"), "bool": ("bool",), "str": ("str",)}


def _check_then(then: Any, where: str) -> dict[str, Any]:
    if not isinstance(then, dict):
        raise RuleFileError(f"{where}: 'then' maps hyperparameter names to specs; got {then!r}.")
    for name, spec in then.items():
        at = f"{where}.{name}"
        if name not in KNOWN:
            raise RuleFileError(f"{at}: unknown hyperparameter {name!r}{did_you_mean(name, KNOWN)}.")
        if isinstance(spec, dict) and "rules" in spec:
            raise RuleFileError(f"{at}.rules: set by the engine (the rule's id); remove it.")
        ref = _fact_ref(spec)
        if ref is not None:
            if ref not in FACTS:
                raise RuleFileError(f"{at}.value.fact: unknown fact {ref!r}{did_you_mean(ref, FACTS)}.")
            if FACTS[ref].kind not in _COMPATIBLE[KNOWN[name].kind]:
                raise RuleFileError(
                    f"{at}.value.fact: '{name}' takes {KNOWN[name].kind} values but fact '{ref}' is "
                    f"{FACTS[ref].kind}."
                )
            spec = {**spec, "value": default_of(name)}  # a valid stand-in for the fact
        try:
            _build(str(name), spec, at)
        except SpaceError as exc:
            raise RuleFileError(str(exc)) from None
    return then


def _check_examples(rule: Rule, data: Any, where: str) -> dict[str, list[dict[str, Any]]]:
    if data is None:
        return {}
    if not isinstance(data, dict) or set(data) - {"fires", "quiet"}:
        raise RuleFileError(f"{where}: 'examples' is {{fires: [facts...], quiet: [facts...]}}; got {data!r}.")
    out: dict[str, list[dict[str, Any]]] = {}
    for kind in ("fires", "quiet"):
        cases = data.get(kind, [])
        if not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases):
            raise RuleFileError(f"{where}.{kind}: a list of partial fact mappings; got {cases!r}.")
        for i, case in enumerate(cases):
            at = f"{where}.{kind}[{i}]"
            for name, value in case.items():
                if name not in FACTS:
                    raise RuleFileError(f"{at}: unknown fact {name!r}{did_you_mean(name, FACTS)}.")
                check_fact_value(name, value, f"{at}.{name}")
            facts = {**DEFAULT_FACTS, **case}
            if rule.fires(facts) != (kind == "fires"):
                raise RuleFileError(
                    f"{at}: the rule {'does not fire' if kind == 'fires' else 'fires'} on these facts "
                    f"({rule.reason(facts)}), but the example says it should {'' if kind == 'fires' else 'not '}fire."
                )
            if kind == "fires":
                try:
                    rule.apply(facts)
                except SpaceError as exc:
                    raise RuleFileError(f"{at}: applying the rule fails: {exc}") from None
        out[kind] = [dict(c) for c in cases]
    return out


def _parse_rule(data: Any, index: int, source: str, override: bool) -> Rule:
    label = f"rule #{index + 1}"
    if not isinstance(data, dict):
        raise RuleFileError(f"{source} ==> {label}: a rule is a mapping with id, guideline, then, why; got {data!r}.")
    rule_id = data.get("id")
    if not isinstance(rule_id, str) or not ID_PATTERN.match(rule_id):
        raise RuleFileError(
            f"{source} ==> {label} ==> id: every rule needs a stable UPPER-KEBAB id whose prefix names "
            f"its concern, e.g. ACT-SELU-SHALLOW; got {rule_id!r}."
        )
    where = f"{source} ==> rule '{rule_id}' ==> "
    unknown = sorted(str(k) for k in set(data) - RULE_KEYS)
    if unknown:
        raise RuleFileError(f"{where}{unknown[0]}: unknown key{did_you_mean(unknown[0], RULE_KEYS)}; "
                            f"rule keys are {', '.join(sorted(RULE_KEYS))}.")
    for key in ("guideline", "then", "why"):
        if key not in data:
            raise RuleFileError(f"{where}{key}: required key is missing.")
    guideline = data["guideline"]
    if isinstance(guideline, str):
        guideline = [guideline]
    if not isinstance(guideline, list) or not guideline:
        raise RuleFileError(f"{where}guideline: a non-empty list of guideline ids; got {data['guideline']!r}.")
    for i, gid in enumerate(guideline):
        if gid not in GUIDELINES and gid not in AUTOANN_GUIDELINES:
            known = [*GUIDELINES, *AUTOANN_GUIDELINES]
            raise RuleFileError(f"{where}guideline[{i}]: unknown guideline id {gid!r}{did_you_mean(gid, known)}.")
    if not isinstance(data["why"], str) or not data["why"].strip():
        raise RuleFileError(f"{where}why: one line saying why, as text; got {data['why']!r}.")
    note = data.get("note", "")
    if not isinstance(note, str):
        raise RuleFileError(f"{where}note: text; got {note!r}.")
    docs = data.get("docs") or {}
    if not isinstance(docs, dict) or not all(isinstance(v, str) for v in docs.values()):
        raise RuleFileError(f"{where}docs: a mapping of section -> text, e.g. {{known_problems: ...}}; got {docs!r}.")
    when = compile_condition(data["when"], f"{where}when") if "when" in data else None
    then = _check_then(data["then"], f"{where}then")
    if not then and not note:
        raise RuleFileError(f"{where}then: the rule sets nothing and has no note; it would do nothing.")
    rule = Rule(id=rule_id, guideline=[str(g) for g in guideline], why=data["why"].strip(), then=dict(then),
                when=when, note=note.strip(), docs={str(k): v.strip() for k, v in docs.items()},
                source=source, override=override)
    rule.examples = _check_examples(rule, data.get("examples"), f"{where}examples")
    return rule


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", str(text))[:3])


def parse_rules(text: str, source: str, *, override: bool = False) -> list[Rule]:
    """Parse and validate rule-file text; ``source`` names it in error messages."""
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise RuleFileError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or "rules" not in data:
        raise RuleFileError(f"{source}: a rule file is a mapping with 'autoann_rules: {RULES_FORMAT}' and a 'rules' list.")
    unknown = sorted(str(k) for k in set(data) - {"autoann_rules", "min_autoann_version", "rules"})
    if unknown:
        raise RuleFileError(f"{source} ==> {unknown[0]}: unknown top-level key{did_you_mean(unknown[0], ['autoann_rules', 'min_autoann_version', 'rules'])}.")
    if data.get("autoann_rules") != RULES_FORMAT:
        raise RuleFileError(
            f"{source} ==> autoann_rules: format {data.get('autoann_rules')!r} is not supported; "
            f"this autoann reads 'autoann_rules: {RULES_FORMAT}'."
        )
    needed = data.get("min_autoann_version")
    if needed is not None and not re.fullmatch(r"\d+(\.\d+){0,2}", str(needed)):
        raise RuleFileError(f"{source} ==> min_autoann_version: a version such as \"0.1\" (quoted); got {needed!r}.")
    if needed is not None and _version(needed) > _version(autoann.__version__):
        raise RuleFileError(
            f"{source} ==> min_autoann_version: the file needs autoann >= {needed}; this is "
            f"{autoann.__version__}. Upgrade autoann (pip install -U autoann)."
        )
    if not isinstance(data["rules"], list):
        raise RuleFileError(f"{source} ==> rules: a list of rules; got {data['rules']!r}.")
    rules = [_parse_rule(item, i, source, override) for i, item in enumerate(data["rules"])]
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise RuleFileError(f"{source} ==> rule '{rule.id}' ==> id: duplicate id in this file.")
        seen.add(rule.id)
    return rules


def load_rule_file(path: str | Path, *, override: bool = True) -> list[Rule]:
    """Load and validate one user rule file (its rules may override built-ins by id)."""
    path = Path(path)
    text = read_user_text(path, "Rule file", RuleFileError)
    return parse_rules(text, str(path), override=override)


def load_builtin_rules() -> list[Rule]:
    """The built-in rules, from the package ``autoann.rules``, in application order."""
    package = importlib.resources.files("autoann.rules") / "builtin"
    rules: list[Rule] = []
    for name in BUILTIN_FILES:
        text = package.joinpath(name).read_text(encoding="utf-8")
        rules.extend(parse_rules(text, f"autoann/rules/builtin/{name}", override=False))
    return merge_rules(rules)


def merge_rules(rules: Iterable[Rule]) -> list[Rule]:
    """Rules in order; an override rule replaces the earlier one with its id, in place.

    A duplicate id is an error unless the later rule comes from a user file
    (``override``): that is how users replace a built-in rule. New ids are added
    at the end, so user rules are applied after the built-ins.
    """
    merged: list[Rule] = []
    index: dict[str, int] = {}
    for rule in rules:
        if rule.id in index:
            first = merged[index[rule.id]]
            if not rule.override:
                raise RuleFileError(
                    f"{rule.source} ==> rule '{rule.id}' ==> id: duplicate id, already defined in {first.source}."
                )
            merged[index[rule.id]] = rule
        else:
            index[rule.id] = len(merged)
            merged.append(rule)
    return merged


def load_rules(extra: Sequence[str | Path] = ()) -> list[Rule]:
    """Built-ins, then each user file in order (overriding by id, adding new ids)."""
    rules = load_builtin_rules()
    for path in extra:
        rules = merge_rules([*rules, *load_rule_file(path)])
    return rules


def find_rule(rule_id: str, rules: Sequence[Rule] | None = None) -> Rule:
    """The built-in rule ``rule_id`` (case-insensitive); near matches listed if unknown."""
    rules = load_builtin_rules() if rules is None else rules
    for rule in rules:
        if rule.id == rule_id.upper():
            return rule
    ids = [r.id for r in rules]
    raise RuleFileError(f"No rule {rule_id!r}{did_you_mean(rule_id.upper(), ids)}. `autoann rules list` shows all {len(ids)}.")


def describe_hp(hp: Hyperparameter) -> str:
    """A hyperparameter spec in a few words: '16..128 (int, log, default 64)', 'one of [a, b]'."""
    if hp.kind == "fixed":
        text = format_value(hp.value)
    elif hp.kind == "choice":
        text = f"one of {format_value(hp.values)}"
    else:
        extras = [hp.kind] + (["log"] if hp.log else []) + ([f"step {format_value(hp.step)}"] if hp.step else [])
        text = f"{format_value(hp.low)}..{format_value(hp.high)} ({', '.join(extras)})"
    if hp.kind != "fixed" and hp.default is not None:
        text += f", default {format_value(hp.default)}"
    if hp.active_if:
        text += " if " + " and ".join(f"{p} in {format_value(v)}" for p, v in hp.active_if.items())
    return text


def describe_then(rule: Rule) -> list[tuple[str, str]]:
    """(name, description) for each hyperparameter the rule sets; fact references shown as such."""
    out = []
    for name, spec in rule.then.items():
        ref = _fact_ref(spec)
        hp = _build(name, {**spec, "value": default_of(name)} if ref else spec, rule.id)
        text = f"the fact {ref}" + describe_hp(hp)[len(format_value(hp.value)):] if ref else describe_hp(hp)
        if hp.why:
            text += f" ({hp.why[0]})"
        out.append((name, text))
    return out
