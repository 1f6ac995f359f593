"""How many epochs the ablation presets need: the reference design's learning curve.

The presets' default budget must be one at which the reference design's validation accuracy has
stopped rising on the default data (issue #11: at 2 epochs LC fusion looked 11.5 points worse than
the plain CNN and was level by epoch 8).  This trains the ``cfn-fusion`` reference design (plain
backbone, width 16, fusion none) and, for contrast, its LC-fusion level, at the preset's data
settings with the project's own loop (``trials.training.train.train_spec``), 2 seeds, and records each seed's
validation accuracy after every epoch in ``benchmarks/results/preset_budget.json``.

The cosine schedule spans the whole run, so epoch e of a 12-epoch run is not the end of an e-epoch
run: the curve says when learning has flattened, and the default is chosen where the last epochs
gain less than a point (see ``plateau_epoch``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from benchmarks._common import RESULTS, command, git_state, loadavg, machine, versions  # noqa: E402
from trials.config import TrainingConfig  # noqa: E402
from trials.config import from_dict as config_from_dict  # noqa: E402
from trials.data import DataConfig, load_data  # noqa: E402
from trials.presets import PRESETS, preset_config  # noqa: E402
from trials.training.train import train_spec  # noqa: E402

PLATEAU_GAIN = 0.01  # "stopped rising": the mean curve gains < 1 point over the following epochs


def plateau_epoch(curve: list[float], gain: float = PLATEAU_GAIN) -> int:
    """The first epoch after which the curve never rises by ``gain`` or more again."""
    for e in range(len(curve)):
        if max(curve[e:]) - curve[e] < gain:
            return e + 1
    return len(curve)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--replicates", type=int, default=2)
    parser.add_argument("--subset", type=int, default=None, help="default: the preset's subset")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.subset = 2, 600
    torch.set_num_threads(1)
    raw = preset_config("cfn-fusion")
    data_cfg = DataConfig(**{**raw["data"], **({"subset": args.subset} if args.subset else {})})
    data = load_data(data_cfg)
    training = TrainingConfig(**raw["training"])
    grid = {spec.fusion: spec for spec in config_from_dict(raw).search_space().grid()}
    curves = {}
    for fusion in ("none", "lc"):
        spec = grid[fusion]
        start = time.perf_counter()
        by_seed = []
        for seed in range(args.replicates):  # one run per seed: train_spec keeps only the mean per epoch
            cfg = TrainingConfig(**{**raw["training"], "replicates": 1, "seed": seed, "save_weights": False})
            by_seed.append(train_spec(spec, data, cfg, args.epochs).history)
        mean = [sum(col) / len(col) for col in zip(*by_seed)]
        curves[fusion] = {"spec": spec.to_dict(), "by_seed": by_seed, "mean_by_epoch": mean,
                          "wall_s": round(time.perf_counter() - start, 1)}
        print(fusion, [round(a, 4) for a in mean], flush=True)
    reference = curves["none"]["mean_by_epoch"]
    out = {
        "about": __doc__.splitlines()[0],
        "command": command(), "machine": machine(), "versions": versions(), "git": git_state(),
        "loadavg_end": loadavg(),
        "data": {**raw["data"], "subset": data_cfg.subset, "train_images": len(data.x_train)},
        "training": {"replicates": args.replicates, "batch_size": training.batch_size, "epochs": args.epochs,
                     "schedule": training.schedule, "lr": training.lr},
        "curves": curves,
        "plateau_gain": PLATEAU_GAIN,
        "reference_plateau_epoch": plateau_epoch(reference),
        "lc_plateau_epoch": plateau_epoch(curves["lc"]["mean_by_epoch"]),
        "presets": sorted(PRESETS),
    }
    name = "preset_budget_quick.json" if args.quick else "preset_budget.json"
    (RESULTS / name).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {RESULTS / name}: reference plateau at epoch {out['reference_plateau_epoch']}")


if __name__ == "__main__":
    main()
