"""The ``fusionscope`` command: search, ablate, cost, pareto, report, export, dashboard."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

from search_space.spec import ArchSpec, SpecError
from trials import record
from trials.config import ConfigError
from trials.study import StudyError, mask_url


def _fail(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _scalar(text: str) -> Any:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        return text


def parse_assignments(items: Sequence[str]) -> dict[str, Any]:
    """``key=value`` words as a spec mapping (branches stays a string: '1,2')."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SpecError(f"{item!r}: expected key=value, e.g. fusion=lc")
        out[key] = value if key in ("branches", "backbone", "partner_backbone") else _scalar(value)
    return out


# --- search / ablate -------------------------------------------------------------------
def _print_summary(summary, config) -> None:
    print(f"study {summary.study!r} in {summary.storage}: {summary.complete} complete, "
          f"{summary.pruned} pruned/skipped, {summary.failed} failed; Pareto front: {summary.front_size} trials")
    print(f"next: fusionscope report --storage {summary.storage} --study {summary.study} -o report/")


def _run(config, args) -> int:
    from trials.search import run_search

    try:
        summary = run_search(config, storage_url=args.storage, address=args.address, progress=not args.no_progress)
    except (StudyError, ConfigError, SpecError) as err:
        return _fail(str(err))
    except Exception as err:  # data problems and the like: name them, exit non-zero
        from trials.data import DataError

        if isinstance(err, DataError):
            return _fail(f"data: {err}")
        raise
    _print_summary(summary, config)
    if getattr(args, "report", None):
        from analysis.report import write_report

        paths = write_report(args.storage or config.storage_url, config.study, args.report)
        for kind, path in paths.items():
            print(f"wrote {kind}: {path}")
    return 0


def _override(config, args):
    import dataclasses

    if args.study:
        config = dataclasses.replace(config, study=args.study)
    if getattr(args, "trials", None):
        config = dataclasses.replace(config, budget=dataclasses.replace(config.budget, trials=args.trials))
    return config


def cmd_search(args: argparse.Namespace) -> int:
    from trials import config as config_mod

    try:
        config = _override(config_mod.load(args.config), args)
    except ConfigError as err:
        return _fail(str(err))
    if args.resume:
        import optuna

        from trials.study import make_storage

        try:
            names = optuna.get_all_study_names(make_storage(args.storage or config.storage_url))
        except StudyError as err:
            return _fail(str(err))
        if config.study not in names:
            return _fail(f"--resume: no study {config.study!r} in {mask_url(args.storage or config.storage_url)}; "
                         f"studies there: {names or 'none'}")
    return _run(config, args)


def cmd_ablate(args: argparse.Namespace) -> int:
    from trials import config as config_mod
    from trials.presets import apply_overrides, preset_config

    try:
        raw = apply_overrides(preset_config(args.preset, args.replicates, args.epochs, args.subset), args.set)
        config = _override(config_mod.from_dict(raw), args)
    except (KeyError, ConfigError) as err:
        return _fail(str(err.args[0]))
    print(f"ablation {args.preset}: {len(config.search_space().grid())} specs x {config.training.replicates} replicates")
    return _run(config, args)


# --- cost ------------------------------------------------------------------------------
def cmd_cost(args: argparse.Namespace) -> int:
    from search_space.cost import spec_cost

    try:
        spec = ArchSpec.from_params(parse_assignments(args.assignments))
        cost = spec_cost(spec, args.classes, args.in_channels, args.image_size, latency=args.latency,
                         device=args.device, latency_batch=args.batch)
    except SpecError as err:
        return _fail(str(err))
    print(json.dumps({"spec": spec.to_params(), "input": [args.in_channels, args.image_size, args.image_size],
                      "classes": args.classes, **cost.to_dict()}, indent=2))
    return 0


# --- export / dashboard -----------------------------------------------------------------
def cmd_export(args: argparse.Namespace) -> int:
    from analysis.load import StudyNotFoundError, open_study
    from trials.export import ExportError, export_trial, pick_trial

    try:
        study = open_study(args.storage, args.study)
        trial = pick_trial(study, args.trial, args.best)
        classes, channels, size = study.user_attrs.get(
            record.STUDY_DATA_SHAPE, [args.classes, args.in_channels, args.image_size])
        paths = export_trial(trial, classes, channels, size, args.output)
    except (StudyNotFoundError, ExportError, SpecError) as err:
        return _fail(str(err.args[0]))
    for kind, path in paths.items():
        print(f"wrote {kind}: {path}")
    if "weights" not in paths:
        print("no weights: the trial did not save any (training.save_weights, or it failed)")
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    import optuna_dashboard

    from trials.study import make_storage

    try:
        storage = make_storage(args.storage)
    except StudyError as err:
        return _fail(str(err))
    print(f"optuna-dashboard for {mask_url(args.storage)} at http://{args.host}:{args.port}/ (Ctrl-C stops)")
    optuna_dashboard.run_server(storage, host=args.host, port=args.port)
    return 0


# --- parser ----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from trials.presets import DEFAULT_EPOCHS, DEFAULT_REPLICATES, DEFAULT_SUBSET, PRESETS

    parser = argparse.ArgumentParser(
        prog="fusionscope",
        description="Architecture search and ablations over CNN feature-fusion designs "
                    "(CFN, SCFF, scFusion, HCNN), recorded in an Optuna study.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_run_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--storage", help="SQLAlchemy URL of the Optuna storage (default: the config's, "
                                         "else sqlite:///runs/<study>.db); PostgreSQL for many machines")
        p.add_argument("--study", help="study name (default: the config's)")
        p.add_argument("--address", help="address of a running Ray cluster (default: start Ray locally)")
        p.add_argument("--trials", type=int, help="override budget.trials")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.add_argument("--report", metavar="DIR", help="when done, write the Pareto plot and report into DIR")

    p = sub.add_parser("search", help="run or continue a multi-objective search",
                       description="Run a search from a YAML config; the same command again continues it.")
    p.add_argument("--config", required=True, help="YAML config (see configs/quickstart.yaml)")
    p.add_argument("--resume", action="store_true", help="continue an existing study (error if there is none)")
    add_run_options(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ablate", help="run a ready-made ablation that mirrors a paper's table",
                       description="Presets: " + "; ".join(f"{k}: {v['about']}" for k, v in PRESETS.items()))
    p.add_argument("--preset", required=True, choices=sorted(PRESETS))
    p.add_argument("--replicates", type=int, default=DEFAULT_REPLICATES, help=f"seeds per spec (default {DEFAULT_REPLICATES})")
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help=f"default {DEFAULT_EPOCHS}: the reference design has stopped rising (benchmarks/preset_budget.py)")
    p.add_argument("--subset", type=int, default=DEFAULT_SUBSET, help=f"Fashion-MNIST training images (default {DEFAULT_SUBSET})")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override the space (width=32) or a section (training.lr=0.1, data.subset=8000); repeatable")
    add_run_options(p)
    p.set_defaults(func=cmd_ablate)

    p = sub.add_parser("cost", help="parameters, MACs (and latency) of a spec, before training",
                       description="Example: fusionscope cost backbone=plain fusion=lc branches=1,2 side_channels=192")
    p.add_argument("assignments", nargs="*", metavar="key=value", help="spec fields; the rest take defaults")
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--in-channels", type=int, default=3)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--latency", action="store_true", help="also measure forward latency (median, ms)")
    p.add_argument("--device", default="cpu", help="device for --latency: cpu or cuda")
    p.add_argument("--batch", type=int, default=1, help="batch size for --latency")
    p.set_defaults(func=cmd_cost)

    from analysis.commands import register

    register(sub)

    p = sub.add_parser("export", help="write a trial's spec, weights and a loadable module",
                       description="Load it back with trials.export.load_exported(DIR).")
    p.add_argument("--storage", required=True)
    p.add_argument("--study", required=True)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--trial", type=int, help="trial number")
    which.add_argument("--best", metavar="OBJECTIVE", help="best complete trial for this objective")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--classes", type=int, default=10, help="used only if the study did not record its data shape")
    p.add_argument("--in-channels", type=int, default=1)
    p.add_argument("--image-size", type=int, default=28)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("dashboard", help="serve optuna-dashboard for a storage on 127.0.0.1")
    p.add_argument("--storage", required=True)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1: local only)")
    p.add_argument("--port", type=int, default=8080)
    p.set_defaults(func=cmd_dashboard)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
