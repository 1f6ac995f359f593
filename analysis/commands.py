"""The ``pareto``, ``report`` and ``compare`` subcommands of the ``fusionscope`` CLI.

``trials.cli`` calls ``register(subparsers)``; each subcommand stores its handler as
``args.func``, which returns the process exit code (0 ok, 1 PNG export impossible,
2 bad study/objective/storage).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from analysis.compare import CompareError, write_comparison
from analysis.formatting import MACS_CONVENTION
from analysis.load import StudyNotFoundError, mask_url, open_study
from analysis.pareto import UnknownObjectiveError, pareto_figure, pareto_info
from analysis.png import PngExportError, write_pngs
from analysis.report import write_report

_STORAGE_HELP = (
    "Optuna storage URL of the search, e.g. sqlite:///runs/search.db or "
    "postgresql+psycopg2://user:password@host/db (passwords are never printed)"
)
_PNG_HELP = (
    "also write PNGs (needs kaleido and a Chrome/Chromium; set BROWSER_PATH if it is not on PATH)"
)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _storage_error(storage: str, exc: SQLAlchemyError | ImportError) -> int:
    cause = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    if isinstance(exc, ImportError) and storage.startswith("postgresql://"):
        # SQLAlchemy ≥ 2.1 maps a bare postgresql:// to psycopg 3, not psycopg2.
        cause = cause.rstrip(".") + "; with psycopg2 installed, write the URL as postgresql+psycopg2://..."
    return _fail(f"cannot read the storage {mask_url(storage)}: {cause}")


def cmd_pareto(args: argparse.Namespace) -> int:
    """Write the interactive Pareto plot of one study (and optionally a PNG of it)."""
    try:
        study = open_study(args.storage, args.study)
        info = pareto_info(study, x=args.x, y=args.y)
    except (StudyNotFoundError, UnknownObjectiveError) as exc:
        return _fail(exc.args[0])
    except (SQLAlchemyError, ImportError) as exc:
        return _storage_error(args.storage, exc)
    except ValueError as exc:  # one objective only, or --x equal to --y
        return _fail(str(exc))
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure = pareto_figure(info)
    figure.write_html(output, include_plotlyjs=True, config={"displaylogo": False})
    print(f"wrote {output} ({len(info.points)} complete trials, {len(info.front)} on the front)")
    if args.png:
        try:
            (png,) = write_pngs([figure], [output.with_suffix(".png")])
        except PngExportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {png}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write report.md, report.html, report.json and pareto.html (and optionally PNGs) for one study."""
    try:
        paths = write_report(args.storage, args.study, args.output, png=args.png)
    except StudyNotFoundError as exc:
        return _fail(exc.args[0])
    except (SQLAlchemyError, ImportError) as exc:
        return _storage_error(args.storage, exc)
    except PngExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in paths.values():
        print(f"wrote {path}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Write compare.html and compare.md: two or more studies on one reference point."""
    try:
        paths = write_comparison(args.storage, args.study, args.output)
    except (StudyNotFoundError, CompareError) as exc:
        return _fail(exc.args[0])
    except (SQLAlchemyError, ImportError) as exc:
        return _storage_error(args.storage, exc)
    for path in paths.values():
        print(f"wrote {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``pareto``, ``report`` and ``compare`` subcommands to the main CLI's subparsers."""
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
        help="HTML file to write (default: pareto.html)",
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
            "params, MACs), param importance and failed trials."
        ),
    )
    report.add_argument("--storage", required=True, metavar="URL", help=_STORAGE_HELP)
    report.add_argument("--study", required=True, metavar="NAME", help="study name in that storage")
    report.add_argument(
        "-o", "--output", default="report", metavar="DIR",
        help="directory to write into (default: report/)",
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
