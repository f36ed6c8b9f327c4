"""The search space: what the rules propose and what the search explores.

A :class:`SearchSpace` maps hyperparameter names to :class:`Hyperparameter`
specs (a fixed value, an int or float range, or a choice set), each carrying
the ids of the rules that set it and why. Its YAML form is meant to be read,
edited by hand and fed back to ``autoann train --space``; ``to_dict`` and
``from_dict`` are exact inverses.

Which names exist, what values they accept and their defaults are declared
once in :data:`autoann.space._vocabulary.KNOWN`; :func:`normalized` checks
every hyperparameter against it (the rule loader, the ``--set`` parser and
the space loader all go through it).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from autoann._io import load_yaml, read_user_text
from autoann.errors import SpaceError
from autoann.space._vocabulary import KNOWN, Declared, default_of, is_number, unknown_name

SPACE_FORMAT = 1


@dataclass
class Hyperparameter:
    """One hyperparameter: a fixed value, an int/float range, or a choice set.

    ``active_if`` makes it conditional: it only matters (and is only searched)
    while the named parent hyperparameter takes one of the listed values.
    """

    name: str
    kind: str  # "fixed", "int", "float", "choice"
    value: Any = None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    values: list[Any] | None = None
    default: Any = None
    active_if: dict[str, list[Any]] | None = None
    rules: list[str] = field(default_factory=list)
    why: list[str] = field(default_factory=list)

    def candidates(self) -> list[Any]:
        """Every value this hyperparameter can take (ranges give their ends)."""
        if self.kind == "fixed":
            return [self.value]
        if self.kind == "choice":
            return list(self.values or [])
        return [self.low, self.high]

    def to_dict(self) -> dict[str, Any]:
        """The YAML form: only the keys that mean something for this kind."""
        out: dict[str, Any] = {}
        if self.kind == "fixed":
            out["value"] = self.value
        elif self.kind == "choice":
            out["choice"] = list(self.values or [])
            if self.default is not None:
                out["default"] = self.default
        else:
            out[self.kind] = [self.low, self.high]
            if self.step is not None:
                out["step"] = self.step
            if self.log:
                out["log"] = True
            if self.default is not None:
                out["default"] = self.default
        if self.active_if:
            out["active_if"] = {k: list(v) for k, v in self.active_if.items()}
        if self.rules:
            out["rules"] = list(self.rules)
        if self.why:
            out["why"] = list(self.why)
        return out

    @classmethod
    def from_dict(cls, name: str, spec: Any, where: str = "space") -> "Hyperparameter":
        """Parse the YAML form; a bare scalar means a fixed value."""
        if not isinstance(spec, dict):
            return normalized(cls(name=name, kind="fixed", value=spec), where)
        kinds = [k for k in ("value", "choice", "int", "float") if k in spec]
        if len(kinds) != 1:
            raise SpaceError(
                f"{where}: hyperparameter '{name}' must have exactly one of "
                f"'value', 'choice', 'int: [low, high]' or 'float: [low, high]'; got keys {sorted(spec)}."
            )
        allowed = {"value", "choice", "int", "float", "step", "log", "default",
                   "active_if", "rules", "why"}
        unknown = sorted(set(spec) - allowed)
        if unknown:
            raise SpaceError(
                f"{where}: hyperparameter '{name}' has unknown key(s) {unknown}; "
                f"allowed keys are {sorted(allowed)}."
            )
        kind = kinds[0]
        hp = cls(name=name, kind="fixed" if kind == "value" else kind)
        if kind == "value":
            hp.value = spec["value"]
        elif kind == "choice":
            values = spec["choice"]
            if not isinstance(values, list) or not values:
                raise SpaceError(f"{where}: '{name}.choice' must be a non-empty list; got {values!r}.")
            hp.values = list(values)
        else:
            bounds = spec[kind]
            if not (isinstance(bounds, list) and len(bounds) == 2
                    and all(is_number(b) for b in bounds)):
                raise SpaceError(
                    f"{where}: '{name}.{kind}' must be a list [low, high] of two numbers; got {bounds!r}."
                )
            hp.low, hp.high = bounds
            hp.step = spec.get("step")
            hp.log = bool(spec.get("log", False))
        hp.default = spec.get("default")
        active_if = spec.get("active_if")
        if active_if is not None:
            if not isinstance(active_if, dict) or not all(isinstance(v, list) for v in active_if.values()):
                raise SpaceError(
                    f"{where}: '{name}.active_if' must map a parent name to a list of values, "
                    f"e.g. {{optimizer: [sgd_nesterov]}}; got {active_if!r}."
                )
            hp.active_if = {str(k): list(v) for k, v in active_if.items()}
        hp.rules = [str(r) for r in spec.get("rules", [])]
        hp.why = [str(w) for w in spec.get("why", [])]
        return normalized(hp, where)


def normalized(hp: Hyperparameter, where: str = "space") -> Hyperparameter:
    """``hp`` checked against its declaration and returned in canonical form; ``hp`` itself is left as it was.

    Canonical: a number range of a float name is a ``float`` range, int bounds
    are ints, a fixed float is a float. Raises :class:`SpaceError` naming
    ``where``, the name and the fix for an unknown name, a range or choice of
    a ``fixed_only`` name, an empty or ill-formed range, or a value the name
    does not take.
    """
    declared = KNOWN.get(hp.name)
    if declared is None:
        raise SpaceError(f"{where}: unknown hyperparameter {unknown_name(hp.name)}")
    if declared.fixed_only:
        _check_one_value(hp, declared, where)
    hp = replace(hp, values=None if hp.values is None else list(hp.values))
    if hp.kind in ("int", "float"):
        _check_range(hp, declared, where)
        if declared.kind == "float":
            hp.kind = "float"
        if hp.kind == "int":
            hp.low, hp.high = int(hp.low), int(hp.high)
    for candidate in hp.candidates():
        if declared.kind == "float" and is_number(candidate):
            candidate = float(candidate)
        if not declared.accepts(candidate):
            raise SpaceError(
                f"{where}: '{hp.name}' cannot be {candidate!r}: it takes {declared.expected()} ({declared.doc})."
            )
    if hp.kind == "fixed" and declared.kind == "float" and is_number(hp.value):
        hp.value = float(hp.value)
    return hp


#: how a spec that offers several values is called in messages, by kind
_FORMS = {"fixed": "a list", "choice": "a choice", "int": "a range", "float": "a range"}


def _check_one_value(hp: Hyperparameter, declared: Declared, where: str) -> None:
    """Raise unless the ``fixed_only`` name ``hp`` has one value (not a choice, range or list)."""
    if hp.kind == "fixed" and not isinstance(hp.value, (list, tuple, dict)):
        return
    offered = {"fixed": hp.value, "choice": hp.values}.get(hp.kind, f"[{hp.low}, {hp.high}]")
    example = offered[0] if isinstance(offered, list) and offered else declared.default
    raise SpaceError(
        f"{where}: '{hp.name}' takes one value per run ({declared.doc}), so it cannot be "
        f"{_FORMS[hp.kind]} ({offered}); fix one value, "
        f"e.g. '{hp.name}{'=' if where == '--set' else ': '}{example}'."
    )


def _check_range(hp: Hyperparameter, declared: Declared, where: str) -> None:
    """Raise unless ``hp``'s int/float range suits a number name and is well formed."""
    if declared.kind not in ("int", "float"):
        raise SpaceError(
            f"{where}: '{hp.name}' takes {declared.expected()}, so it cannot be a "
            f"{hp.kind} range; use 'value:' or 'choice:'."
        )
    if hp.kind == "int" and declared.kind == "int" and not all(float(b).is_integer() for b in (hp.low, hp.high)):
        raise SpaceError(f"{where}: '{hp.name}.int' bounds must be whole numbers; got [{hp.low}, {hp.high}].")
    if hp.low > hp.high:
        raise SpaceError(f"{where}: '{hp.name}' range is empty: low {hp.low} > high {hp.high}. Swap the bounds.")
    if hp.log and hp.low <= 0:
        raise SpaceError(f"{where}: '{hp.name}' uses log sampling, so its low bound must be > 0; got {hp.low}.")
    if hp.step is not None and not (is_number(hp.step) and hp.step > 0):
        raise SpaceError(f"{where}: '{hp.name}.step' must be a positive number; got {hp.step!r}.")


@dataclass
class SearchSpace:
    """The hyperparameters to search, with where each one came from.

    ``fired`` lists the ids of every rule that fired, in order, and ``notes``
    carries warnings and facts worth showing next to the space.
    """

    hyperparameters: dict[str, Hyperparameter] = field(default_factory=dict)
    fired: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> Hyperparameter:
        return self.hyperparameters[name]

    def __contains__(self, name: object) -> bool:
        return name in self.hyperparameters

    def fixed(self, name: str, default: Any = None) -> Any:
        """The value of a fixed hyperparameter, or ``default`` if absent or searched."""
        hp = self.hyperparameters.get(name)
        if hp is None or hp.kind != "fixed":
            return default
        return hp.value

    def setting(self, name: str) -> Any:
        """The one value a run uses for the ``fixed_only`` name ``name``: as fixed, or its declared default."""
        if not KNOWN[name].fixed_only:
            raise ValueError(f"'{name}' can be searched, so no single setting exists; read it per trial.")
        return self.fixed(name, default_of(name))

    def largest(self, name: str) -> Any:
        """The largest value ``name`` can take in this space (its declared default if absent)."""
        if name not in self.hyperparameters:
            return default_of(name)
        return max(v for v in self.hyperparameters[name].candidates() if v is not None)

    def pin(self, name: str, value: Any, why: str = "pinned by --set") -> None:
        """Fix ``name`` to ``value`` (the ``--set name=value`` of the CLI)."""
        hp = Hyperparameter(name=name, kind="fixed", value=value, rules=["user"], why=[why])
        self.hyperparameters[name] = normalized(hp, "--set")
        self.validate()

    def validate(self) -> None:
        """Check cross-references: every ``active_if`` parent exists and can take its values."""
        for hp in self.hyperparameters.values():
            for parent, values in (hp.active_if or {}).items():
                if parent not in self.hyperparameters:
                    raise SpaceError(
                        f"space: '{hp.name}.active_if' names '{parent}', which is not in the space."
                    )
                possible = self.hyperparameters[parent].candidates()
                if self.hyperparameters[parent].kind in ("choice", "fixed") and not any(
                    v in possible for v in values
                ):
                    raise SpaceError(
                        f"space: '{hp.name}' is only active when {parent} is one of {values}, "
                        f"but {parent} can only be {possible}."
                    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "autoann_space": SPACE_FORMAT,
            "hyperparameters": {n: hp.to_dict() for n, hp in self.hyperparameters.items()},
            "fired": list(self.fired),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "space") -> "SearchSpace":
        if not isinstance(data, dict) or not isinstance(data.get("hyperparameters"), dict):
            raise SpaceError(
                f"{where}: a search space is a mapping with a 'hyperparameters' mapping; "
                f"write one with `autoann recommend DATA --target COL -o space.yaml`."
            )
        version = data.get("autoann_space", SPACE_FORMAT)
        if version != SPACE_FORMAT:
            raise SpaceError(f"{where}: space format {version!r} is not supported (expected {SPACE_FORMAT}).")
        space = cls(
            hyperparameters={
                str(n): Hyperparameter.from_dict(str(n), spec, where)
                for n, spec in data["hyperparameters"].items()
            },
            fired=[str(x) for x in data.get("fired", [])],
            notes=[str(x) for x in data.get("notes", [])],
        )
        space.validate()
        return space

    def to_yaml(self) -> str:
        header = (
            "# autoann search space. Edit freely and pass it back with\n"
            "#   autoann train DATA --target COL --space THIS_FILE\n"
            "# Forms: 'value: x' (fixed), 'choice: [a, b]', 'int: [lo, hi]', 'float: [lo, hi]'\n"
            "# (+ 'log: true', 'step: s'); 'active_if: {parent: [values]}' makes one conditional.\n"
        )
        return header + yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=100)

    @classmethod
    def from_yaml(cls, text: str, where: str = "space") -> "SearchSpace":
        try:
            data = load_yaml(text)
        except yaml.YAMLError as exc:
            raise SpaceError(f"{where}: not valid YAML: {exc}") from None
        return cls.from_dict(data, where)

    @classmethod
    def load(cls, path: str | Path) -> "SearchSpace":
        path = Path(path)
        text = read_user_text(path, "Search space file", SpaceError)
        return cls.from_yaml(text, where=str(path))

    def save(self, path: str | Path) -> None:
        from autoann._io import write_text_atomic

        write_text_atomic(Path(path), self.to_yaml())


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse one ``--set name=value``; the value is read as a YAML scalar."""
    if "=" not in text:
        raise SpaceError(f"--set expects name=value (e.g. --set n_layers=3); got {text!r}.")
    name, raw = text.split("=", 1)
    name = name.strip()
    if name not in KNOWN:
        raise SpaceError(f"--set {text!r}: no hyperparameter is called {unknown_name(name)}")
    try:
        value = load_yaml(raw)
    except yaml.YAMLError:
        value = raw
    return name, value
