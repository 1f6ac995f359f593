"""The ``pareto``, ``report`` and ``compare`` commands of the ``fusionscope`` CLI.

``fusionscope.cli`` calls ``register(subparsers)``; each command stores its handler as
``args.func``, which returns 0 or raises a ``FusionscopeError`` (``main`` prints it once:
exit 2 for a bad study, objective or storage, 1 when only the optional PNG is impossible).
Both commands open the storage read-only and never overwrite a file.
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from analysis.formatting import MACS_CONVENTION
from search_space.errors import FusionscopeError

# The handlers import what they use: building the CLI's parser must not pay for plotly,
# statsmodels, pandas or torch (``fusionscope --help`` in well under a second).

_STORAGE_HELP = (
    "Optuna storage URL of the search, e.g. sqlite:///runs/search.db or "
    "postgresql+psycopg2://user:password@host/db (opened read-only; passwords are never printed)"
)
_PNG_HELP = (
    "also write PNGs (needs kaleido and a Chrome/Chromium; set BROWSER_PATH if it is not on PATH)"
)


#: what ``report`` writes into its folder (analysis/report.py write_report)
REPORT_FILES = ("report.md", "report.html", "report.json", "pareto.html", "pareto.png", "hypervolume.png")
#: what ``compare`` writes into its folder
COMPARE_FILES = ("compare.html", "compare.md")


def _refuse_existing_outputs(folder: Path, names: tuple[str, ...]) -> None:
    """``-o`` never overwrites: a folder already holding one of the files is refused (a report.md
    the user edited, an earlier report)."""
    there = [name for name in names if (folder / name).exists()]
    if there:
        raise FusionscopeError(f"-o {str(folder)!r} already holds {', '.join(there)}; name a new folder "
                               "(nothing was overwritten)")


def _refuse_existing_file(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise FusionscopeError(f"-o {str(path)!r} exists; name a new path (nothing was overwritten)")


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """An OSError while writing output (no space, no permission) as one line naming the path."""
    try:
        yield
    except OSError as err:
        raise FusionscopeError(f"cannot write {str(path)!r}: {err.strerror or err}") from None


def cmd_pareto(args: argparse.Namespace) -> int:
    """Write the interactive Pareto plot of one study (and optionally a PNG of it)."""
    from analysis.load import open_study
    from analysis.pareto import pareto_figure, pareto_info
    from analysis.png import write_pngs
    from trials.record.storage import reading

    output = Path(args.output)
    _refuse_existing_file(output)
    if output.is_dir():
        raise FusionscopeError(f"-o {str(output)!r} is a folder; name the HTML file to write")
    study = open_study(args.storage, args.study)
    with reading(args.storage):
        try:
            info = pareto_info(study, x=args.x, y=args.y)
        except ValueError as exc:  # one objective only, or --x equal to --y
            if isinstance(exc, FusionscopeError):
                raise
            raise FusionscopeError(str(exc)) from None
    figure = pareto_figure(info)
    with _writing(output):
        output.parent.mkdir(parents=True, exist_ok=True)
        figure.write_html(output, include_plotlyjs=True, config={"displaylogo": False})
    print(f"wrote {output} ({len(info.points)} complete trials, {len(info.front)} on the front)")
    if args.png:
        (png,) = write_pngs([figure], [output.with_suffix(".png")])
        print(f"wrote {png}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write report.md, report.html, report.json and pareto.html (and optionally PNGs) for one study."""
    from analysis.load import open_study
    from analysis.report import write_report
    from trials.record.storage import reading

    output = Path(args.output)
    _refuse_existing_file(output)
    _refuse_existing_outputs(output, REPORT_FILES)
    open_study(args.storage, args.study)  # refuse a missing or foreign storage before making the folder
    with reading(args.storage), _writing(output):
        paths = write_report(args.storage, args.study, output, png=args.png)
    for path in paths.values():
        print(f"wrote {path}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Write compare.html and compare.md: two or more studies on one reference point."""
    from analysis.compare import write_comparison
    from analysis.load import open_study
    from trials.record.storage import reading

    output = Path(args.output)
    _refuse_existing_file(output)
    _refuse_existing_outputs(output, COMPARE_FILES)
    for name in args.study:
        open_study(args.storage, name)  # refuse a missing or foreign storage before making the folder
    with reading(args.storage), _writing(output):
        paths = write_comparison(args.storage, args.study, output)
    for path in paths.values():
        print(f"wrote {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``pareto`` and ``report`` to the CLI's subcommands."""
    pareto = subparsers.add_parser(
        "pareto",
        help="interactive Pareto-front plot of a study (HTML, optional PNG)",
        description=(
            "Plot every complete trial of a study on two objectives, the Pareto front "
            "(over all of the study's objectives) highlighted and joined; hover shows the "
            "architecture spec. Without --x/--y: accuracy against a cost for two objectives, "
            f"a scatter matrix of all objectives for three or more. {MACS_CONVENTION}."
        ),
    )
    pareto.add_argument("--storage", required=True, metavar="URL", help=_STORAGE_HELP)
    pareto.add_argument("--study", required=True, metavar="NAME", help="study name in that storage")
    pareto.add_argument(
        "--x", metavar="OBJECTIVE", help="objective on the x axis, e.g. macs, params, latency"
    )
    pareto.add_argument("--y", metavar="OBJECTIVE", help="objective on the y axis, e.g. accuracy")
    pareto.add_argument(
        "-o", "--output", default="pareto.html", metavar="FILE",
        help="HTML file to write (default: pareto.html; an existing file is refused)",
    )
    pareto.add_argument("--png", action="store_true", help=_PNG_HELP + ", beside the HTML")
    pareto.set_defaults(func=cmd_pareto)

    report = subparsers.add_parser(
        "report",
        help="full study report: Pareto front, hypervolume, ablation tables, importance",
        description=(
            "Write report.md, a self-contained report.html, report.json (every number) and "
            "pareto.html for a study: the Pareto front, the hypervolume history with its "
            "reference point, one ablation table per param (each level's effect against the "
            "reference from an additive model over all trials, Holm-adjusted, followed across "
            "epochs and marked settled or not; exact paired differences; accuracy mean ± sd, "
            "params, MACs), HCNN gains, param importance and failed trials."
        ),
    )
    report.add_argument("--storage", required=True, metavar="URL", help=_STORAGE_HELP)
    report.add_argument("--study", required=True, metavar="NAME", help="study name in that storage")
    report.add_argument(
        "-o", "--output", default="report", metavar="DIR",
        help="directory to write into (default: report/; an existing file is refused)",
    )
    report.add_argument("--png", action="store_true", help=_PNG_HELP)
    report.set_defaults(func=cmd_report)

    compare = subparsers.add_parser(
        "compare",
        help="overlay the Pareto fronts and hypervolume histories of several studies",
        description=(
            "Write compare.html (plots) and compare.md for two or more studies with the same "
            "objectives: their Pareto fronts overlaid, their hypervolume histories against one "
            "shared reference point, and tables of hypervolume, front sizes, each study's share "
            "of the union front, where it leads, and whose front dominates whose."
        ),
    )
    compare.add_argument("--storage", required=True, metavar="URL", help=_STORAGE_HELP)
    compare.add_argument("--study", required=True, action="append", metavar="NAME",
                         help="a study in that storage; give it twice or more")
    compare.add_argument("-o", "--output", default="compare", metavar="DIR",
                         help="directory to write into (default: compare/)")
    compare.set_defaults(func=cmd_compare)

    from analysis.claims import register as register_claims  # fusionscope claims (analysis/claims.py)

    register_claims(subparsers)
