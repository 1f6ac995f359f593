"""One real search on Fashion-MNIST with ``budget.early_stopping: moasha`` against the same search
without early stopping: final hypervolume (one reference point for both), epochs trained and wall
time.  Writes ``benchmarks/results/moasha_search.json``.

    .venv/bin/python benchmarks/moasha_search.py [--trials 16] [--epochs 4] [--subset 4000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import optuna  # noqa: E402

from analysis.hypervolume import hypervolume_history  # noqa: E402
from analysis.load import study_objectives, trial_rows  # noqa: E402
from analysis.hypervolume import data_reference_point  # noqa: E402
from trials import record  # noqa: E402
from trials.config import from_dict  # noqa: E402
from trials.running.search import run_search  # noqa: E402


def config(name: str, storage: str, args: argparse.Namespace, early: str) -> dict:
    return {
        "study": name, "storage": storage,
        "data": {"dataset": "fashion-mnist", "subset": args.subset, "val_fraction": 0.2},
        "space": {"backbone": ["plain", "resnet"], "width": [8, 16, 32], "depth": 1, "side_channels": [16, 32],
                  "fusion_site": "gap", "fusion": ["none", "sum", "conv", "lc"], "strategy": "eflp", "alpha": 1,
                  "combination": "single"},
        "objectives": ["accuracy", "macs"],
        "sampler": {"name": "random", "seed": 0},  # the same proposals in both searches
        "budget": {"trials": args.trials, "epochs": args.epochs, "early_stopping": early, "grace_epochs": 1},
        "training": {"batch_size": 64, "lr": 0.05, "replicates": 1},
        "resources": {"cpus_per_trial": 1, "concurrent": 2},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--subset", type=int, default=4000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    storage = f"sqlite:///{tmp / 'moasha.db'}"
    runs = {}
    for early in ("none", "moasha"):
        start = time.perf_counter()
        run_search(from_dict(config(f"es-{early}", storage, args, early)), progress=False, runs_dir=tmp / "runs")
        runs[early] = {"wall_s": round(time.perf_counter() - start, 1)}
    studies = {e: optuna.load_study(study_name=f"es-{e}", storage=storage) for e in runs}
    rows = [r for s in studies.values() for r in trial_rows(s) if r.complete]
    reference = data_reference_point(rows, study_objectives(studies["none"]))  # one point for both
    for early, study in studies.items():
        trials = study.get_trials(deepcopy=False)
        history = hypervolume_history(study, reference)
        runs[early].update({
            "final_hypervolume": round(history.values[-1], 4) if history.values else None,
            "complete": sum(t.state.name == "COMPLETE" for t in trials),
            "stopped_early": sum(t.state.name == "PRUNED" and record.EPOCHS_DONE in t.user_attrs for t in trials),
            "epochs_trained": sum(t.user_attrs.get(record.EPOCHS_DONE, 0) for t in trials),
        })
    out = {"benchmark": "moasha_search", "command": "benchmarks/moasha_search.py " + " ".join(sys.argv[1:]),
           "setting": vars(args), "reference_point": reference, "runs": runs}
    path = ROOT / "benchmarks" / "results" / "moasha_search.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
