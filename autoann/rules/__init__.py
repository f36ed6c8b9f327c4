"""Stage 3, :class:`~autoann.profiling.Profile` -> :class:`Recommendation`: the rule base and its engine.

Rules are data: the built-in YAML files in ``autoann/rules/builtin/`` (one
per concern, applied in ``BUILTIN_FILES`` order) plus any user file. Each
rule cites the guideline ids it encodes (``GUIDELINES``); its conditions are
parsed into typed operators, never evaluated as text. The engine applies the
rules that fire to a :class:`~autoann.space.SearchSpace`, then the parameter
guard, and keeps the trace of every rule, fired or not.
"""

from autoann.rules._conditions import format_value
from autoann.rules._engine import Recommendation, recommend
from autoann.rules._guidelines import GUIDELINES, guideline_summary
from autoann.rules._loader import (
    BUILTIN_FILES,
    Rule,
    describe_hp,
    describe_then,
    find_rule,
    load_builtin_rules,
    load_rule_file,
    load_rules,
)

__all__ = [
    "BUILTIN_FILES",
    "GUIDELINES",
    "guideline_summary",
    "Recommendation",
    "Rule",
    "describe_hp",
    "describe_then",
    "find_rule",
    "format_value",
    "load_builtin_rules",
    "load_rule_file",
    "load_rules",
    "recommend",
]
