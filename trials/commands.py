"""The ``search``, ``ablate``, ``export`` and ``dashboard`` commands of the ``fusionscope`` CLI.

``fusionscope.cli`` calls ``register(subparsers)``; each handler returns the exit code and
raises a ``FusionscopeError`` for anything the user can fix (``main`` prints it once).
This module never imports ``analysis``: the search's ``--report`` option is handed a report
writer by the CLI above both floors.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from pathlib import Path
from typing import Any, Callable

from search_space.errors import FusionscopeError
from trials import record

#: set by ``fusionscope.cli``: ``write_report(storage_url, study, out_dir) -> {kind: path}``
ReportWriter = Callable[[str, str, str], dict]


def positive_int(text: str) -> int:
    """argparse type: an int of at least 1 (``--trials 0`` is refused, not ignored)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def port_number(text: str) -> int:
    """argparse type: a TCP port, 1-65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is between 1 and 65535, got {value}")
    return value


def refuse_existing_file(path: str | Path, option: str = "-o") -> Path:
    """Commands that write never overwrite a file the user already has."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FusionscopeError(f"{option} {str(path)!r} exists and is not a folder; "
                               "name a new path (nothing was overwritten)")
    return path


def refuse_existing_outputs(folder: Path, names: tuple[str, ...], option: str = "-o") -> None:
    """A folder that already holds a file this command would write is refused: ``-o`` never
    overwrites (another trial's export, a user-edited report.md)."""
    there = [name for name in names if (folder / name).exists()]
    if there:
        raise FusionscopeError(f"{option} {str(folder)!r} already holds {', '.join(there)}; name a new folder "
                               "(nothing was overwritten)")


#: what ``export`` writes into its folder (trials/training/export.py)
EXPORT_FILES = ("spec.json", "weights.pt")


# --- search / ablate -------------------------------------------------------------------
def _print_summary(summary: Any) -> None:
    print(f"study {summary.study!r} in {summary.storage}: {summary.complete} complete, "
          f"{summary.pruned} pruned/skipped, {summary.failed} failed; Pareto front: {summary.front_size} trials")
    if getattr(summary, "exhausted", None) is not None:
        print(f"the space holds {summary.exhausted} designs and every one has been tried, so the search stopped "
              f"asking before budget.trials={summary.budget}; widen the space for more")
    print(f"next: fusionscope report --storage {shlex.quote(summary.storage)} "
          f"--study {shlex.quote(summary.study)} -o report/")


def _run(config: Any, args: argparse.Namespace) -> int:
    from trials.running.search import run_search

    if getattr(args, "report", None):
        refuse_existing_file(args.report, "--report")
        # checked before the search, not after hours of it: the writer names what it writes
        refuse_existing_outputs(Path(args.report), getattr(args.write_report, "outputs", ()), "--report")
    from trials.running.search import SearchInterrupted

    try:
        summary = run_search(config, storage_url=args.storage, address=args.address, progress=not args.no_progress,
                             verbose=args.verbose)
    except SearchInterrupted as stop:  # the line says how to resume: the same command
        stop.args = (f"{stop}; to resume, run the same command again: "
                     f"{shlex.join(['fusionscope', *sys.argv[1:]])}",)
        raise
    _print_summary(summary)
    if getattr(args, "report", None):
        paths = args.write_report(args.storage or config.storage_url, config.study, args.report)
        for kind, path in paths.items():
            print(f"wrote {kind}: {path}")
    return 0


def _override(config: Any, args: argparse.Namespace) -> Any:
    """``--study``/``--trials``/``--storage`` over the config; the config re-checks itself."""
    if args.study is not None:
        config = dataclasses.replace(config, study=args.study)
    if getattr(args, "trials", None) is not None:
        config = dataclasses.replace(config, budget=dataclasses.replace(config.budget, trials=args.trials))
    if args.storage is not None:
        config = dataclasses.replace(config, storage=args.storage)
    return config


def cmd_search(args: argparse.Namespace) -> int:
    import optuna

    from trials import config as config_mod
    from trials.record import storage as storage_mod

    config = _override(config_mod.load(args.config), args)
    if args.resume:  # read-only look: a missing file or study is an error, nothing is created
        url = config.storage_url
        with storage_mod.reading(url):
            names = optuna.get_all_study_names(storage_mod.open_storage_readonly(url))
        if config.study not in names:
            raise FusionscopeError(f"--resume: no study {config.study!r} in {storage_mod.mask_url(url)}; "
                                   f"studies there: {names or 'none'}")
    return _run(config, args)


def ablate_config(args: argparse.Namespace) -> tuple[Any, str | None]:
    """The checked config ``ablate`` runs for these arguments, and the paper scale's data note."""
    from trials import config as config_mod
    from trials.presets import apply_overrides, paper_data, preset_config

    raw = apply_overrides(preset_config(args.preset, args.scale, args.replicates, args.epochs, args.subset), args.set)
    note = None
    if args.scale == "paper":
        raw, note = paper_data(raw)
    return _override(config_mod.from_dict(raw), args), note


def _yaml_ready(value: Any) -> Any:
    """Tuples as lists, so ``yaml.safe_dump`` writes what ``from_dict`` reads back."""
    if isinstance(value, dict):
        return {k: _yaml_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_yaml_ready(v) for v in value]
    return value


def show_ablation(config: Any, args: argparse.Namespace, note: str | None) -> str:
    """The complete config as YAML (``trials.config.from_dict`` reads it back), then the designs with
    their params and MACs as YAML comments; nothing is trained or written."""
    import yaml

    from search_space.cost import spec_cost
    from search_space.spec import SpecError
    from trials.data import data_shape

    classes, channels, size = data_shape(config.data)
    specs = config.search_space().grid()
    lines = [f"# fusionscope ablate --preset {args.preset} --scale {args.scale}: the config it would run "
             "(fusionscope search --config FILE runs the same)"]
    if note:
        lines.append(f"# {note}")
    lines.append(yaml.safe_dump(_yaml_ready(config.to_dict()), sort_keys=False, allow_unicode=True).rstrip())
    lines.append(f"# designs: {len(specs)} specs x {config.training.replicates} replicates, "
                 f"cost per {channels}x{size}x{size} image, {classes} classes")
    for i, spec in enumerate(specs, 1):
        shown = ", ".join(f"{k}={v}" for k, v in spec.to_params().items())
        try:  # as the search records it: a design that cannot be built is a FAIL trial, not a crash
            cost = spec_cost(spec, classes, channels, size)
        except (SpecError, RuntimeError, ValueError) as err:
            lines.append(f"#  {i:2d}. cannot be built ({type(err).__name__}: {str(err).splitlines()[0]})  {shown}")
            continue
        lines.append(f"#  {i:2d}. params {cost.params:>11,}  MACs {cost.macs:>15,}  {shown}")
    return "\n".join(lines)


def cmd_ablate(args: argparse.Namespace) -> int:
    config, note = ablate_config(args)
    if args.show:
        print(show_ablation(config, args, note))
        return 0
    if note:
        print(note)
    if getattr(args, "until_clear", False):
        return _until_clear(config, args)
    for option, value in (("--max-replicates", args.max_replicates), ("--margin", args.margin)):
        if value is not None:
            raise FusionscopeError(f"{option} applies to --until-clear only; add --until-clear or drop {option}")
    print(f"ablation {args.preset} (--scale {args.scale}): {len(config.search_space().grid())} specs x "
          f"{config.training.replicates} replicates x {config.budget.epochs} epochs")
    return _run(config, args)


def _until_clear(config: Any, args: argparse.Namespace) -> int:
    """``ablate --until-clear``: rounds of ``run_search`` (trials/running/until_clear.py), judged by the
    analysis floor's ``args.judge`` (set by ``fusionscope.cli``)."""
    from trials.running.search import SearchInterrupted, run_search, summarize
    from trials.running.until_clear import Plan, UntilClearError, percent, run_until_clear, schedule

    if config.budget.scheduler != "none":
        raise UntilClearError(f"--until-clear needs every trial trained to the end, not budget.early_stopping="
                              f"{config.budget.scheduler}: the rule reads complete trials only")
    from trials.running.until_clear import DEFAULT_MARGIN, DEFAULT_MAX_REPLICATES

    margin = DEFAULT_MARGIN if args.margin is None else args.margin
    looks = schedule(config.training.replicates,
                     DEFAULT_MAX_REPLICATES if args.max_replicates is None else args.max_replicates)
    plan = Plan(config.training.seed, tuple(looks), float(margin))
    if getattr(args, "report", None):
        refuse_existing_file(args.report, "--report")
        refuse_existing_outputs(Path(args.report), getattr(args.write_report, "outputs", ()), "--report")
    url = config.storage_url
    print(f"ablation {args.preset} until clear: {len(config.search_space().grid())} specs; seeds per design at "
          f"each look {', '.join(map(str, looks))} (at most {len(looks)} looks, every interval at "
          f"{percent(1 - 0.05 / len(looks))}: Bonferroni over the looks); resolved = interval excludes 0 or "
          f"lies inside ±{margin:g} points")

    def run_round(round_config: Any, designs: Any) -> None:
        run_search(round_config, storage_url=url, address=args.address, progress=not args.no_progress,
                   verbose=args.verbose, designs=designs)

    try:
        run_until_clear(config, plan, args.judge, run_round, url)
    except SearchInterrupted as stop:
        stop.args = (f"{stop}; to resume, run the same command again: "
                     f"{shlex.join(['fusionscope', *sys.argv[1:]])}",)
        raise
    import optuna

    _print_summary(summarize(optuna.load_study(study_name=config.study, storage=url), url))
    if getattr(args, "report", None):
        for kind, path in args.write_report(url, config.study, args.report).items():
            print(f"wrote {kind}: {path}")
    return 0


# --- export / dashboard -----------------------------------------------------------------
def cmd_export(args: argparse.Namespace) -> int:
    import optuna

    from trials.record import storage as storage_mod
    from trials.training.export import export_trial, pick_trial

    out = refuse_existing_file(args.output)
    refuse_existing_outputs(out, EXPORT_FILES)
    url = args.storage
    rdb = storage_mod.open_storage_readonly(url)
    with storage_mod.reading(url):
        names = optuna.get_all_study_names(rdb)
        if args.study not in names:
            raise FusionscopeError(f"no study {args.study!r} in {storage_mod.mask_url(url)}; "
                                   f"studies there: {', '.join(map(repr, sorted(names))) or 'none'}")
        study = optuna.load_study(study_name=args.study, storage=rdb)
        trial = pick_trial(study, args.trial, args.best)
        classes, channels, size = study.user_attrs.get(
            record.STUDY_DATA_SHAPE, [args.classes, args.in_channels, args.image_size])
    paths = export_trial(trial, classes, channels, size, out)
    for kind, path in paths.items():
        print(f"wrote {kind}: {path}")
    if "weights" not in paths:
        print("no weights: the trial did not save any (training.save_weights, or it failed)")
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    import optuna_dashboard

    import socket

    with socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET) as probe:
        try:  # a busy port is one line before the storage is opened, not OSError from deep in the server
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((args.host, args.port))
        except OSError as err:
            raise FusionscopeError(f"--port {args.port}: cannot listen on {args.host}:{args.port} "
                                   f"({err.strerror or err}); choose another port") from None

    from trials.record import storage as storage_mod

    storage, created = storage_mod.open_storage_to_serve(args.storage)
    print(f"optuna-dashboard for {storage_mod.mask_url(args.storage)} at http://{args.host}:{args.port}/ "
          "(read-only; Ctrl-C stops)")
    if created:
        print("the database had no tables: Optuna's tables were created (as a first search would), "
              "so studies appear here as searches start")
    optuna_dashboard.run_server(storage, host=args.host, port=args.port)
    return 0


# --- parser ----------------------------------------------------------------------------
_STORAGE_HELP = ("SQLAlchemy URL of the Optuna storage, e.g. sqlite:///runs/search.db or "
                 "postgresql+psycopg2://user:password@host/db (passwords are never printed)")


def positive_float(text: str) -> float:
    """argparse type: a finite number above 0 (``--margin``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def register(sub: argparse._SubParsersAction, write_report: ReportWriter, judge: Any = None) -> None:
    """Add search, ablate, export and dashboard; ``write_report`` serves ``--report DIR``, ``judge``
    (``trials.running.until_clear.Judge``) ``ablate --until-clear``."""
    from trials.presets import DEFAULT_EPOCHS, DEFAULT_REPLICATES, DEFAULT_SUBSET, PRESETS, SCALES
    from trials.running.until_clear import DEFAULT_MARGIN, DEFAULT_MAX_REPLICATES

    def add_run_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--storage", help="SQLAlchemy URL of the Optuna storage (default: the config's, "
                                         "else sqlite:///runs/<study>.db); PostgreSQL for many machines")
        p.add_argument("--study", help="study name (default: the config's); one file name, no '/'")
        p.add_argument("--address", help="address of a running Ray cluster (default: start Ray locally)")
        p.add_argument("--trials", type=positive_int, help="override budget.trials (at least 1)")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.add_argument("--verbose", action="store_true", help="also show Ray's, Tune's and Optuna's own output")
        p.add_argument("--report", metavar="DIR", help="when done, write the Pareto plot and report into DIR")
        p.set_defaults(write_report=write_report)

    p = sub.add_parser("search", help="run or continue a multi-objective search",
                       description="Run a search from a YAML config; the same command again continues it.")
    p.add_argument("--config", required=True, help="YAML config (see configs/quickstart.yaml)")
    p.add_argument("--resume", action="store_true", help="continue an existing study (error if there is none)")
    add_run_options(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ablate", help="run a ready-made ablation that mirrors a paper's table",
                       description="Presets: " + "; ".join(f"{k}: {v['about']}" for k, v in PRESETS.items()))
    p.add_argument("--preset", required=True, choices=sorted(PRESETS), help="which ablation to run")
    p.add_argument("--scale", choices=SCALES, default="cpu",
                   help="cpu (default): small nets on a Fashion-MNIST subset; paper: the paper's network, recipe, "
                        "data (CIFAR when its files are under data.root, else all of Fashion-MNIST) and seeds")
    p.add_argument("--show", action="store_true",
                   help="print the complete config as YAML and the designs with their params and MACs; train nothing")
    p.add_argument("--replicates", type=positive_int, default=None,
                   help=f"seeds per spec (default {DEFAULT_REPLICATES}; at --scale paper enough to resolve the "
                        "paper's effect)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help=f"training epochs per trial (default {DEFAULT_EPOCHS}: where the reference design has "
                        "stopped rising, benchmarks/preset_budget.py; at --scale paper the paper's)")
    p.add_argument("--subset", type=positive_int, default=None,
                   help=f"training images (default {DEFAULT_SUBSET} Fashion-MNIST images; at --scale paper all)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override the space (width=32) or a section (training.lr=0.1, data.subset=8000); repeatable")
    p.add_argument("--until-clear", action="store_true",
                   help="train seeds in rounds: after each round, add --replicates more seeds only to the designs "
                        "of contrasts still unresolved (interval straddles 0 and reaches past ±--margin), up to "
                        "--max-replicates; every interval is corrected for the data-dependent stopping "
                        "(Bonferroni over the planned looks, e.g. 98.75%% for 4 looks)")
    p.add_argument("--max-replicates", type=positive_int, default=None,
                   help=f"--until-clear: the most seeds a design gets (default {DEFAULT_MAX_REPLICATES}: "
                        "looks at 3, 6, 9, 12 seeds)")
    p.add_argument("--margin", type=positive_float, default=None,
                   help=f"--until-clear: equivalence margin in accuracy points (default {DEFAULT_MARGIN:g}: "
                        "the seed sd at the preset budget is ~1.3 points, so ±2 is the narrowest margin a null "
                        "effect can be shown inside with 12 seeds per design in most studies; ±1 needs ~40)")
    add_run_options(p)
    p.set_defaults(func=cmd_ablate, judge=judge)

    p = sub.add_parser("export", help="write a trial's spec, weights and a loadable module",
                       description="Load it back with trials.training.export.load_exported(DIR). Opens the storage read-only.")
    p.add_argument("--storage", required=True, help=_STORAGE_HELP)
    p.add_argument("--study", required=True, help="study name in that storage")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--trial", type=int, help="trial number")
    which.add_argument("--best", metavar="OBJECTIVE", help="best complete trial for this objective")
    p.add_argument("-o", "--output", required=True, help="output folder (an existing file is refused)")
    p.add_argument("--classes", type=positive_int, default=10,
                   help="used only if the study did not record its data shape")
    p.add_argument("--in-channels", type=positive_int, default=1,
                   help="used only if the study did not record its data shape")
    p.add_argument("--image-size", type=positive_int, default=28,
                   help="used only if the study did not record its data shape")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("dashboard", help="serve optuna-dashboard for a storage on 127.0.0.1 (read-only)")
    p.add_argument("--storage", required=True, help=_STORAGE_HELP + "; opened read-only")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1: local only)")
    p.add_argument("--port", type=port_number, default=8080, help="TCP port, 1-65535 (default 8080)")
    p.set_defaults(func=cmd_dashboard)
