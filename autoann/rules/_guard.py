"""The parameter-count guard (G-ARCH-6): the largest network a space allows must fit the data.

Rules set ``max_params_per_row`` and ``min_params_cap``; after every rule and
pin, :func:`apply_param_guard` lowers the ``units_first`` upper bound, then the
``n_layers`` one, until the largest dense network the space allows has at
most ``max(min_params_cap, max_params_per_row * n_rows)`` weights. It counts
with :func:`autoann.space.layer_widths` and the declared defaults of the
names a space leaves out, so it counts the network the builder builds.
Pinned and fixed values are never changed.
"""

from __future__ import annotations

from typing import Any, Mapping

from autoann.space import Hyperparameter, SearchSpace, count_dense_params, layer_widths

#: the id the guard writes into the ``rules`` of every hyperparameter it lowers
GUARD_ID = "ARCH-PARAM-GUARD"


def largest_network(space: SearchSpace, input_width: int, units_first: int | None = None,
                    n_layers: int | None = None) -> int:
    """Weights of the largest dense network ``space`` allows (widest shrink, most layers)."""
    widths = layer_widths(
        int(units_first if units_first is not None else space.largest("units_first")),
        int(n_layers if n_layers is not None else space.largest("n_layers")),
        float(space.largest("shrink")),
        int(space.largest("units_min")),
    )
    return count_dense_params(input_width, widths, int(space.setting("output_units")))


def _values(hp: Hyperparameter) -> list[int]:
    """Every value ``hp`` can take, ascending (int ranges expanded)."""
    if hp.kind == "int":
        return list(range(int(hp.low), int(hp.high) + 1))
    return sorted(int(v) for v in hp.candidates())


def _restrict(hp: Hyperparameter, top: int) -> None:
    """Lower ``hp``'s largest value to ``top``; a range or choice left with one value becomes fixed."""
    if hp.kind == "int":
        hp.high = top
    elif hp.kind == "choice":
        hp.values = [v for v in hp.values or [] if v <= top]
    if hp.default is not None and hp.default > top:
        hp.default = top
    remaining = sorted(set(hp.candidates()))
    if len(remaining) == 1:
        hp.kind, hp.value, hp.low, hp.high, hp.values = "fixed", remaining[0], None, None, None
        hp.step, hp.log, hp.default = None, False, None


def apply_param_guard(space: SearchSpace, facts: Mapping[str, Any]) -> list[str]:
    """Lower the units_first (then n_layers) upper bound until the largest network fits the cap.

    Returns the names it changed. Pinned (``user``) and fixed values are left
    alone; if even the smallest allowed network is over the cap, a note says so.
    """
    if "max_params_per_row" not in space or "units_first" not in space:
        return []
    per_row = float(space.setting("max_params_per_row"))
    cap = int(max(float(space.setting("min_params_cap")), per_row * facts["n_rows"]))
    width = int(facts["input_width"])
    before = largest_network(space, width)
    if before <= cap:
        return []
    units_hp = space["units_first"]
    layers_hp = space.hyperparameters.get("n_layers")
    unit_options = [int(units_hp.value)] if units_hp.kind == "fixed" else _values(units_hp)
    layer_options: list[int | None] = (
        [None] if layers_hp is None or layers_hp.kind == "fixed" else list(_values(layers_hp))
    )
    for n_layers in reversed(layer_options):
        fitting = [u for u in unit_options if largest_network(space, width, u, n_layers) <= cap]
        if not fitting:
            continue
        top, changed = max(fitting), []
        fewer_layers = n_layers is not None and n_layers < max(layer_options)  # type: ignore[type-var]
        why = (f"{facts['n_rows']:,} rows: at most {cap:,} weights, so units_first <= {top}"
               + (f" and n_layers <= {n_layers}" if fewer_layers else "")
               + f" (the largest network had {before:,}; G-ARCH-6)")
        for hp, new_top, lowered in ((units_hp, top, top < max(unit_options)), (layers_hp, n_layers, fewer_layers)):
            if lowered:
                _restrict(hp, new_top)
                hp.rules.append(GUARD_ID)
                hp.why.append(why)
                changed.append(hp.name)
        return changed
    space.notes.append(
        f"Even the smallest network the space allows has more than {cap:,} weights "
        f"(max(min_params_cap, max_params_per_row x {facts['n_rows']:,} rows)); "
        f"the guard does not change fixed or pinned sizes (G-ARCH-6)."
    )
    return []
