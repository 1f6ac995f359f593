"""Several studies side by side: Pareto fronts and hypervolume histories on one reference point.

Hypervolumes of two studies are comparable only against the same reference point, so one is
placed from the union of their complete trials (``data_reference_point``: the worst value per
objective, moved 10% of the range further).  Numbers first (``Comparison``, which a test checks),
then renderers (plotly HTML, Markdown), as in ``analysis.pareto``.
"""

from __future__ import annotations

from search_space.errors import FusionscopeError

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.offline
from plotly.subplots import make_subplots

from analysis.formatting import format_objective
from analysis.hypervolume import HypervolumeHistory, data_reference_point, describe_reference, hypervolume_history
from analysis.load import Objective, TrialRow, losses, mask_url, open_study, study_objectives, trial_rows
from analysis.pareto import non_dominated


class CompareError(FusionscopeError, ValueError):
    """Studies that cannot be compared (too few, or different objectives); the message says which.

    A ``ValueError`` like ``analysis.pareto.UnknownObjectiveError``, caught by ``cmd_compare``:
    on this branch ``search_space/__init__`` still imports torch, so deriving from
    ``search_space.errors.FusionscopeError`` would pull torch into ``analysis``.
    """


@dataclass(frozen=True)
class StudyFront:
    """One study's share of the comparison."""

    name: str
    trials: int  # complete trials
    front: tuple[int, ...]  # its own Pareto front, trial numbers
    union_front: tuple[int, ...]  # its trials on the front of all studies together
    hypervolume: HypervolumeHistory  # against the shared reference point
    points: tuple[TrialRow, ...]  # complete trials


@dataclass(frozen=True)
class Comparison:
    """Every number ``compare`` shows."""

    storage: str
    objectives: tuple[Objective, ...]
    reference_point: dict[str, float]
    studies: tuple[StudyFront, ...]
    union_front_size: int
    dominated: dict[tuple[str, str], int]  # (a, b): points of b's front weakly dominated by a's front
    axes: tuple[str, str]  # (x, y) of the overlay plot

    def share(self, study: StudyFront) -> float:
        return len(study.union_front) / self.union_front_size if self.union_front_size else 0.0


def compare_studies(storage: str, names: Sequence[str]) -> Comparison:
    """Read the studies and compute fronts, shared-reference hypervolumes and who dominates whom."""
    if len(names) < 2 or len(set(names)) != len(names):
        raise CompareError("compare needs at least two different studies (--study A --study B)")
    studies = [open_study(storage, name) for name in names]
    objectives = study_objectives(studies[0])
    for name, study in zip(names[1:], studies[1:]):
        if study_objectives(study) != objectives:
            raise CompareError(
                f"study {name!r} has objectives {', '.join(o.direction + ' ' + o.name for o in study_objectives(study))}"
                f"; {names[0]!r} has {', '.join(o.direction + ' ' + o.name for o in objectives)}: not comparable")
    if len(objectives) < 2:
        raise CompareError("compare needs studies with at least two objectives (a Pareto front)")
    rows = {name: [r for r in trial_rows(study) if r.complete] for name, study in zip(names, studies)}
    empty = [name for name, r in rows.items() if not r]
    if empty:
        raise CompareError(f"study {empty[0]!r} has no complete trial")
    union = [(name, r) for name in names for r in rows[name]]
    reference = data_reference_point([r for _, r in union], objectives)
    union_mask = non_dominated(losses([r for _, r in union], objectives))
    on_union = {(name, r.number) for (name, r), keep in zip(union, union_mask) if keep}
    fronts = {}
    for name in names:
        mask = non_dominated(losses(rows[name], objectives))
        fronts[name] = [r for r, keep in zip(rows[name], mask) if keep]
    dominated = {}
    for a in names:
        la = losses(fronts[a], objectives)
        for b in names:
            if a != b:
                lb = losses(fronts[b], objectives)
                dominated[(a, b)] = int(sum(bool((la <= point).all(axis=1).any()) for point in lb))
    out = tuple(
        StudyFront(
            name=name,
            trials=len(rows[name]),
            front=tuple(r.number for r in fronts[name]),
            union_front=tuple(r.number for r in rows[name] if (name, r.number) in on_union),
            hypervolume=hypervolume_history(study, reference),
            points=tuple(rows[name]),
        )
        for name, study in zip(names, studies)
    )
    y = next((o.name for o in objectives if o.maximize), objectives[0].name)
    x = next(o.name for o in objectives if o.name != y)
    return Comparison(mask_url(storage), objectives, reference, out, int(union_mask.sum()), dominated, (x, y))


def comparison_rows(comparison: Comparison) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """The per-study table: hypervolume, front size, share of the union front, where it leads."""
    x = comparison.axes[0]
    header = ("study", "complete trials", "hypervolume", "share of box", "own front",
              "on the union front", "share of union front", f"leads where ({x})")
    table = []
    for s in comparison.studies:
        hv = s.hypervolume
        lead = [r.values[x] for r in s.points if r.number in s.union_front]
        where = "nowhere" if not lead else (
            f"{format_objective(x, min(lead))} – {format_objective(x, max(lead))}")
        table.append((s.name, str(s.trials), f"{hv.final:.6g}", f"{hv.share(hv.final):.1%}", str(len(s.front)),
                      str(len(s.union_front)), f"{comparison.share(s):.0%}", where))
    return header, table


def dominance_rows(comparison: Comparison) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    names = [s.name for s in comparison.studies]
    fronts = {s.name: len(s.front) for s in comparison.studies}
    header = ("front of ↓ dominates front of →", *names)
    table = [
        (a, *("—" if a == b else f"{comparison.dominated[(a, b)]} of {fronts[b]}" for b in names))
        for a in names
    ]
    return header, table


_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def comparison_figure(comparison: Comparison) -> go.Figure:
    """Left: every study's trials and front on the overlay axes; right: hypervolume histories."""
    x, y = comparison.axes
    fig = make_subplots(rows=1, cols=2, subplot_titles=(f"Pareto fronts: {y} vs {x}",
                                                         "Hypervolume (shared reference point)"))
    for i, s in enumerate(comparison.studies):
        colour = _COLOURS[i % len(_COLOURS)]
        front = sorted((r for r in s.points if r.number in s.front), key=lambda r: r.values[x])
        fig.add_trace(go.Scatter(
            x=[r.values[x] for r in s.points], y=[r.values[y] for r in s.points], mode="markers",
            marker={"color": colour, "opacity": 0.35, "size": 7}, name=f"{s.name}: trials", legendgroup=s.name,
            text=[f"{s.name} trial {r.number}" for r in s.points], hovertemplate="%{text}<extra></extra>",
        ), row=1, col=1)
        fig.add_trace(go.Scatter(
            x=[r.values[x] for r in front], y=[r.values[y] for r in front], mode="lines+markers",
            line={"color": colour, "shape": "hv"}, marker={"color": colour, "size": 10}, name=f"{s.name}: front",
            legendgroup=s.name, text=[f"{s.name} trial {r.number}" for r in front],
            hovertemplate="%{text}<extra></extra>",
        ), row=1, col=1)
        hv = s.hypervolume
        fig.add_trace(go.Scatter(
            x=list(range(1, len(hv.values) + 1)), y=list(hv.values), mode="lines", line={"color": colour, "shape": "hv"},
            name=f"{s.name}: hypervolume", legendgroup=s.name,
        ), row=1, col=2)
    fig.update_xaxes(title_text=x, row=1, col=1)
    fig.update_yaxes(title_text=y, tickformat=".1%" if y == "accuracy" else None, row=1, col=1)
    fig.update_xaxes(title_text="complete trials so far", row=1, col=2)
    fig.update_yaxes(title_text="hypervolume", rangemode="tozero", row=1, col=2)
    reference = ", ".join(f"{k} {format_objective(k, v)}" for k, v in comparison.reference_point.items())
    fig.update_layout(title={"text": f"Comparing {', '.join(s.name for s in comparison.studies)}"
                                     f"<br><sup>reference point: {reference}</sup>"},
                      template="plotly_white", height=560)
    return fig


def _intro(comparison: Comparison) -> list[str]:
    reference = describe_reference(comparison.studies[0].hypervolume)
    return [
        f"Storage: {comparison.storage}",
        f"Reference point, shared by all studies: {reference} (for each objective, the worst value among "
        "the complete trials of all studies, moved 10% of the range further).",
        f"The union front (non-dominated over all objectives among all studies' complete trials) has "
        f"{comparison.union_front_size} points; a study's share counts its points on it.",
    ]


def to_markdown(comparison: Comparison) -> str:
    lines = ["# Study comparison", ""] + [p for text in _intro(comparison) for p in (text, "")]
    for title, (header, rows) in (("Per study", comparison_rows(comparison)),
                                  ("Who dominates whom", dominance_rows(comparison))):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows] + [""]
    return "\n".join(lines)


def to_html(comparison: Comparison) -> str:
    """One self-contained page: plotly.js embedded, the overlay figure, then both tables."""
    body = ["<h1>Study comparison</h1>"] + [f"<p>{html.escape(p)}</p>" for p in _intro(comparison)]
    body.append(comparison_figure(comparison).to_html(full_html=False, include_plotlyjs=False,
                                                     config={"displaylogo": False}))
    for title, (header, rows) in (("Per study", comparison_rows(comparison)),
                                  ("Who dominates whom", dominance_rows(comparison))):
        head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
        cells = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
        body.append(f"<h2>{html.escape(title)}</h2><table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
    style = ("body{font-family:system-ui,sans-serif;max-width:1300px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.25em .6em}th{background:#f2f2f2}")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>fusionscope: comparison</title>"
            f"<style>{style}</style><script type=\"text/javascript\">{plotly.offline.get_plotlyjs()}</script>"
            "</head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_comparison(storage: str, names: Sequence[str], out_dir: str | Path) -> dict[str, Path]:
    """Write compare.html and compare.md into ``out_dir``; returns the paths by kind."""
    comparison = compare_studies(storage, names)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"html": out / "compare.html", "markdown": out / "compare.md"}
    paths["html"].write_text(to_html(comparison), encoding="utf-8")
    paths["markdown"].write_text(to_markdown(comparison), encoding="utf-8")
    return paths
