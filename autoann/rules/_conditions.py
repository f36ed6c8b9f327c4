"""Rule conditions: data with a fixed set of operators, never ``eval``.

A condition is a mapping in one of four forms::

    {all: [cond, ...]}    every one holds
    {any: [cond, ...]}    at least one holds
    {not: cond}           the condition does not hold
    {fact: NAME, OP: V}   a test of one profile fact, OP one of OPERATORS

:func:`compile_condition` checks a condition against the fact declarations in
:data:`autoann.profiling._facts.FACTS` when a rule file is *loaded* (unknown fact, an
operator that does not fit the fact's type, a value of the wrong type, unknown
keys) and returns a small tree of :class:`Condition` objects that can evaluate
itself, explain its outcome with the facts' values ("n_rows=569 < 1000") and
render itself readably ("n_rows >= 1000 and task in [binary, multiclass]").
Anything that is not this grammar (a string, a number, a list) is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from autoann.data import TASKS
from autoann.errors import RuleFileError, did_you_mean
from autoann.params import GOALS
from autoann.profiling import FACTS

#: operator -> (symbol when it holds, symbol when it does not)
SYMBOLS: dict[str, tuple[str, str]] = {
    "eq": ("==", "!="), "ne": ("!=", "=="), "lt": ("<", ">="), "le": ("<=", ">"),
    "gt": (">", "<="), "ge": (">=", "<"), "in": ("in", "not in"), "not_in": ("not in", "in"),
    "between": ("in", "outside"), "is": ("is", "is not"),
}
OPERATORS = tuple(SYMBOLS)

#: which operators each fact type accepts
OPERATORS_BY_KIND: dict[str, tuple[str, ...]] = {
    "int": ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "between"),
    "float": ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "between"),
    "str": ("eq", "ne", "in", "not_in"),
    "bool": ("is",),
}

#: the values a string fact can take, where they are a closed set
STR_FACT_VALUES: dict[str, tuple[str, ...]] = {
    "task": TASKS,
    "data_kind": ("tabular", "image"),
    "goal": GOALS,
}

_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "in": lambda a, b: a in b,
    "not_in": lambda a, b: a not in b,
    "between": lambda a, b: b[0] <= a <= b[1],
    "is": lambda a, b: bool(a) is b,
}


def format_value(value: Any) -> str:
    """A fact or rule value as a person writes it: true, 0.05, [binary, multiclass]."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = f"{value:.4g}"
        return text + ".0" if text.lstrip("-").isdigit() else text
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def plain_fact(name: str, value: Any) -> Any:
    """``value`` as the plain Python type FACTS declares (numpy scalars included)."""
    kind = FACTS[name].kind
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    return str(value)


class Condition:
    """A compiled condition: evaluate, explain, render."""

    def evaluate(self, facts: Mapping[str, Any]) -> bool:
        raise NotImplementedError

    def explain(self, facts: Mapping[str, Any]) -> str:
        """Why the condition holds or not, stated with the facts' values."""
        raise NotImplementedError

    def render(self) -> str:
        """The condition as one readable line."""
        raise NotImplementedError


@dataclass(frozen=True)
class Leaf(Condition):
    fact: str
    op: str
    value: Any

    def evaluate(self, facts: Mapping[str, Any]) -> bool:
        return _TESTS[self.op](facts[self.fact], self.value)

    def explain(self, facts: Mapping[str, Any]) -> str:
        actual = facts[self.fact]
        symbol = SYMBOLS[self.op][0 if self.evaluate(facts) else 1]
        if self.op == "is" or (self.op == "eq" and self.evaluate(facts)):
            return f"{self.fact}={format_value(actual)}"
        return f"{self.fact}={format_value(actual)} {symbol} {format_value(self.value)}"

    def render(self) -> str:
        if self.op == "is":
            return self.fact if self.value else f"not {self.fact}"
        return f"{self.fact} {SYMBOLS[self.op][0]} {format_value(self.value)}"


@dataclass(frozen=True)
class All(Condition):
    parts: tuple[Condition, ...]

    def evaluate(self, facts: Mapping[str, Any]) -> bool:
        return all(p.evaluate(facts) for p in self.parts)

    def explain(self, facts: Mapping[str, Any]) -> str:
        if self.evaluate(facts):
            return " and ".join(p.explain(facts) for p in self.parts)
        return " and ".join(p.explain(facts) for p in self.parts if not p.evaluate(facts))

    def render(self) -> str:
        return " and ".join(_wrap(p, "and") for p in self.parts)


@dataclass(frozen=True)
class AnyOf(Condition):
    parts: tuple[Condition, ...]

    def evaluate(self, facts: Mapping[str, Any]) -> bool:
        return any(p.evaluate(facts) for p in self.parts)

    def explain(self, facts: Mapping[str, Any]) -> str:
        if self.evaluate(facts):
            return " or ".join(p.explain(facts) for p in self.parts if p.evaluate(facts))
        return " and ".join(p.explain(facts) for p in self.parts)

    def render(self) -> str:
        return " or ".join(_wrap(p, "or") for p in self.parts)


@dataclass(frozen=True)
class Not(Condition):
    part: Condition

    def evaluate(self, facts: Mapping[str, Any]) -> bool:
        return not self.part.evaluate(facts)

    def explain(self, facts: Mapping[str, Any]) -> str:
        # each leaf states the relation that actually holds, so negation needs no rewording
        return self.part.explain(facts)

    def render(self) -> str:
        inner = self.part.render()
        return f"not ({inner})" if not isinstance(self.part, Leaf) else f"not {inner}"


def _wrap(part: Condition, joiner: str) -> str:
    text = part.render()
    if isinstance(part, (All, AnyOf)) and len(part.parts) > 1 and (
        (joiner == "and") != isinstance(part, All)
    ):
        return f"({text})"
    return text


def compile_condition(data: Any, where: str = "when") -> Condition:
    """Check ``data`` against the grammar and FACTS; raise :class:`RuleFileError` naming ``where``."""
    if not isinstance(data, dict):
        raise RuleFileError(
            f"{where}: a condition must be a mapping such as {{fact: n_rows, ge: 1000}}, "
            f"{{all: [...]}}, {{any: [...]}} or {{not: ...}}; got {data!r}. "
            f"Conditions are data, never code."
        )
    groups = [k for k in ("all", "any", "not") if k in data]
    if groups:
        key = groups[0]
        extra = sorted(str(k) for k in data if k != key)
        if extra:
            raise RuleFileError(f"{where}: '{key}' must be the only key of its mapping; also got {extra}.")
        if key == "not":
            return Not(compile_condition(data["not"], f"{where}.not"))
        parts = data[key]
        if not isinstance(parts, list) or not parts:
            raise RuleFileError(f"{where}.{key}: expected a non-empty list of conditions; got {parts!r}.")
        compiled = tuple(compile_condition(p, f"{where}.{key}[{i}]") for i, p in enumerate(parts))
        return All(compiled) if key == "all" else AnyOf(compiled)
    if "fact" not in data:
        raise RuleFileError(
            f"{where}: unknown condition keys {sorted(map(str, data))}{did_you_mean(next(iter(data), ''), ['all', 'any', 'not', 'fact'])}; "
            f"expected 'all', 'any', 'not', or 'fact' with one operator."
        )
    return _compile_leaf(data, where)


def _compile_leaf(data: dict, where: str) -> Leaf:
    name = data["fact"]
    if not isinstance(name, str) or name not in FACTS:
        raise RuleFileError(
            f"{where}.fact: unknown fact {name!r}{did_you_mean(name, FACTS)}. "
            f"Known facts: {', '.join(sorted(FACTS))}."
        )
    ops = [k for k in data if k != "fact"]
    unknown = [str(k) for k in ops if k not in SYMBOLS]
    if unknown:
        raise RuleFileError(
            f"{where}.{unknown[0]}: unknown operator {unknown[0]!r}{did_you_mean(unknown[0], OPERATORS)}; "
            f"operators are {', '.join(OPERATORS)}."
        )
    if len(ops) != 1:
        raise RuleFileError(
            f"{where}: a fact test needs exactly one operator; got {ops or 'none'} for fact '{name}'."
        )
    op = ops[0]
    kind = FACTS[name].kind
    if op not in OPERATORS_BY_KIND[kind]:
        raise RuleFileError(
            f"{where}.{op}: operator '{op}' does not apply to '{name}', {'an' if kind == 'int' else 'a'} {kind} fact; "
            f"use one of {', '.join(OPERATORS_BY_KIND[kind])}."
        )
    return Leaf(name, op, _check_operand(name, kind, op, data[op], f"{where}.{op}"))


def check_fact_value(name: str, value: Any, where: str) -> Any:
    """``value`` if it is a valid value of fact ``name`` (floats from ints); else RuleFileError."""
    kind = FACTS[name].kind
    ok = {
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool)
        and math.isfinite(value),
        "str": isinstance(value, str),
    }[kind]
    if not ok:
        article = "an" if kind == "int" else "a"
        raise RuleFileError(f"{where}: '{name}' is {article} {kind} fact; {value!r} is not {article} {kind}.")
    if kind == "str" and name in STR_FACT_VALUES and value not in STR_FACT_VALUES[name]:
        raise RuleFileError(
            f"{where}: '{name}' is never {value!r}{did_you_mean(value, STR_FACT_VALUES[name])}; "
            f"it is one of {', '.join(STR_FACT_VALUES[name])}."
        )
    return float(value) if kind == "float" else value


def _check_operand(name: str, kind: str, op: str, value: Any, where: str) -> Any:
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise RuleFileError(f"{where}: '{op}' takes a non-empty list of values; got {value!r}.")
        return tuple(check_fact_value(name, v, f"{where}[{i}]") for i, v in enumerate(value))
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise RuleFileError(f"{where}: 'between' takes [low, high] (inclusive); got {value!r}.")
        low, high = (check_fact_value(name, v, f"{where}[{i}]") for i, v in enumerate(value))
        if low > high:
            raise RuleFileError(f"{where}: 'between' range is empty: {low} > {high}. Swap the bounds.")
        return (low, high)
    if op == "is" and not isinstance(value, bool):
        raise RuleFileError(f"{where}: 'is' takes true or false; got {value!r}.")
    return check_fact_value(name, value, where)
