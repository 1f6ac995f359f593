"""How numbers and names are written in hovers, tables and reports (one place, one style)."""

from __future__ import annotations

import math
from typing import Any, Mapping

from trials.record.objectives import MAC_CONVENTION, OBJECTIVES

#: The FLOP convention, stated wherever costs are shown (the one definition, search_space/convention.py).
MACS_CONVENTION = MAC_CONVENTION


def objective_label(name: str) -> str:
    """Axis and column title of an objective (the objective table's); unknown names as they are."""
    entry = OBJECTIVES.get(name)
    return entry.label if entry is not None else name


def format_count(value: float | None) -> str:
    """Parameter and MAC counts the way the papers print them: 272k, 1.23M, 4.56G."""
    if value is None or not math.isfinite(value):
        return "n/a"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def format_percent(value: float | None, signed: bool = False) -> str:
    """An accuracy (a fraction) as percent with two decimals."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{100 * value:+.2f}" if signed else f"{100 * value:.2f}"


def format_interval(interval: tuple[float, float] | None, signed: bool = False) -> str:
    """A 95% interval of accuracies, in percent: ``[90.10, 92.30]``."""
    if interval is None:
        return "n/a"
    low, high = interval
    return f"[{format_percent(low, signed)}, {format_percent(high, signed)}]"


def format_points(estimate: float, low: float, high: float) -> str:
    """An effect in accuracy points with its interval: ``+1.83 [+0.11, +3.55]``."""
    return f"{estimate:+.2f} [{low:+.2f}, {high:+.2f}]"


def format_objective(name: str, value: float | None) -> str:
    """One objective value in its natural unit."""
    if value is None:
        return "n/a"
    unit = OBJECTIVES[name].unit if name in OBJECTIVES else None
    if unit == "fraction":
        return f"{format_percent(value)}%"
    if unit == "count":
        return format_count(value)
    if unit == "ms":
        return f"{value:.3g} ms"
    return f"{value:.4g}"


def format_spec(spec: Mapping[str, Any], separator: str = ", ") -> str:
    """An architecture spec as ``key=value`` pairs in the order the spec lists them."""
    return separator.join(f"{key}={value}" for key, value in spec.items())
