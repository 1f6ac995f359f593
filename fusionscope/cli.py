"""The ``fusionscope`` command: each package registers its own commands here, and every
user-facing failure is caught once.

``search_space``: cost; ``trials``: search, ablate, export, dashboard; ``analysis``: pareto,
report.  Adding a command is a function and one ``register`` line in its package.  ``main``
turns a ``FusionscopeError`` into one ``error: <message>`` line and its ``exit_code``; any
other exception is a real bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn, Sequence

from search_space.errors import FusionscopeError

def version() -> str:
    """The installed distribution's version, else the one pyproject.toml declares (source tree)."""
    from trials.record.versions import fusionscope_version

    return fusionscope_version()


def write_report(storage: str, study: str, out_dir: str) -> dict:
    """``search --report DIR``: the analysis floor's report writer, imported only when a search
    asks for it (plotly and statsmodels stay out of the parser)."""
    from analysis.report import write_report as write

    return write(storage, study, out_dir)


def judge_look(storage: str, study: str, look: int):
    """``ablate --until-clear``: the analysis floor's judge of a look (``trials.running.until_clear.Judge``):
    which designs need more seeds, and the lines to print (imported only when the rounds run)."""
    from analysis.until_clear import look_lines, study_until_clear
    from trials.running.until_clear import Verdict

    info = study_until_clear(storage, study)
    if info is None or len(info.looks) < look:
        raise RuntimeError(f"look {look} of study {study!r} cannot be replayed from its until-clear record")
    result = info.looks[look - 1]
    return Verdict(result.designs_needing_seeds, tuple(look_lines(result, info.schedule, info.labels)))


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; imports no torch, statsmodels, pandas or plotly (each handler
    imports what it runs), so ``--help`` and every bad-argument error answer at once."""
    from analysis import commands as analysis_commands
    from search_space import commands as search_space_commands
    from trials import commands as trials_commands

    parser = argparse.ArgumentParser(
        prog="fusionscope",
        description="Architecture search and ablations over CNN feature-fusion designs "
                    "(CFN, SCFF, scFusion, HCNN), recorded in an Optuna study.")
    parser.add_argument("--version", action="version", version=f"fusionscope {version()}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    write_report.outputs = analysis_commands.REPORT_FILES  # what ``search --report DIR`` refuses to overwrite
    trials_commands.register(sub, write_report=write_report, judge=judge_look)
    search_space_commands.register(sub)
    analysis_commands.register(sub)
    return parser


def _disk_full(err: BaseException) -> bool:
    """ENOSPC from Python, or SQLite's own 'database or disk is full', anywhere in the exception
    chain (Optuna's StorageInternalError wraps SQLAlchemy's error, which wraps sqlite3's)."""
    from trials.record.storage import disk_full

    return disk_full(err)


#: the one line for Ctrl-C before a search has its own handler (imports, data, storage, Ray start)
INTERRUPTED_LINE = "error: stopped by SIGINT (Ctrl-C) before any trial started; nothing was recorded"


def main(argv: Sequence[str] | None = None) -> int:
    from trials.running import interrupts

    interrupts.install()  # a Ctrl-C Python cannot raise (inside a finaliser) is kept, not lost
    words = list(sys.argv[1:] if argv is None else argv)
    running = words[:1] in (["search"], ["ablate"])
    try:
        code = _main(argv)
    except KeyboardInterrupt:  # a search's own handler takes over once trials run; this is the moment before
        print(INTERRUPTED_LINE if running else "error: stopped by SIGINT (Ctrl-C)", file=sys.stderr)
        return 130
    if interrupts.take() and code == 0:  # lost, and the command ended before a search could act on it
        print("error: stopped by SIGINT (Ctrl-C)", file=sys.stderr)
        return 130
    return code


def run() -> NoReturn:
    """The ``fusionscope`` command (and ``python -m fusionscope``): ``main``, then the process ends
    without the interpreter's teardown of the modules a command imported: tearing down torch and
    Ray costs seconds after a search has printed its summary (benchmarks/README.md, "Where a fresh
    one-trial search's fixed cost goes").  The exit handlers still run first (Ray's shutdown,
    logging's flush, ours), then the output is flushed.  An exception from ``main`` (a real bug) keeps Python's own exit and traceback,
    and ``SystemExit`` (``--help``, a usage error) its own exit."""
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """Run the exit handlers, flush stdout and stderr, and end the process with ``code``."""
    import atexit

    # private but documented as what the interpreter itself calls at exit: os._exit skips the
    # handlers, and Ray's shutdown (stopping the processes this command started) is one of them
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (``| head``) or stream: nothing more can reach it
            pass
    os._exit(code)


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except FusionscopeError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except Exception as err:
        if _disk_full(err):
            where = f" ({err.filename})" if getattr(err, "filename", None) else ""
            print(f"error: no space left on the device{where}; free some and run the command again",
                  file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
