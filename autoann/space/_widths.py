"""Widths and parameter counts of the dense stacks autoann builds.

Shared by the recommender (the parameter-count guard, G-ARCH-6) and the
network builder, so the guard counts exactly the network that gets built.
"""

from __future__ import annotations


def layer_widths(units_first: int, n_layers: int, shrink: float, units_min: int = 1) -> list[int]:
    """Hidden widths: an inverted pyramid from ``units_first`` (G-ARCH-4).

    Each layer is ``shrink`` times the previous one, never narrower than
    ``units_min``; ``shrink=1.0`` gives equal widths. Widths never grow with
    depth.
    """
    widths: list[int] = []
    width = float(units_first)
    for _ in range(n_layers):
        current = max(int(units_min), int(round(width)))
        if widths:
            current = min(current, widths[-1])
        widths.append(current)
        width *= shrink
    return widths


def count_dense_params(input_width: int, widths: list[int], output_units: int) -> int:
    """Weights + biases of a dense stack ``input -> widths... -> output``."""
    sizes = [input_width, *widths, output_units]
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))
