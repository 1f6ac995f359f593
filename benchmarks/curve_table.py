"""Learning-curve table: per-epoch validation accuracy of 100+ fusion specs x 2 seeds on Fashion-MNIST.

The table is trained once and then read by the early-stopping simulator
(``benchmarks/early_stopping.py``), the ablation-statistics tests and the sampler benchmark, so a
search strategy can be replayed hundreds of times without training again.  Each spec is trained
with the project's own loop (``trials.training.train.train_spec``), one seed at a time so every seed keeps
its own curve; two worker processes with one thread each (two 1-thread trials beat one 2-thread
trial on this CPU, see DESIGN.md).  The file is rewritten after every finished spec and a rerun
skips the specs already in it, so an interrupted run resumes where it stopped.

Run: ``nice -n 19 python benchmarks/curve_table.py`` (``--quick`` for a smoke check).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common  # noqa: E402

#: The fusion space of the table: the three backbones at widths 8 and 16, depth 1, both fusion
#: sites with every GAP fusion and strategy, two D-S types and two merges, alpha 1 or 2.
SPACE: dict[str, Any] = {
    "backbone": ["plain", "resnet", "vgg"], "width": [8, 16], "depth": 1, "fusion_site": ["gap", "pyramid"],
    "side_channels": 16, "alpha": [1, 2], "sc_add": True, "sc_inverse": True, "combination": "single",
    "detach": False, "merge": ["add", "sk"], "downsample": ["avgpool_conv", "conv2x2"],
}
DATA = {"dataset": "fashion-mnist", "subset": 800, "val_fraction": 0.375, "seed": 0}  # 500 train / 300 val
TRAINING = {"lr": 0.05, "batch_size": 64, "schedule": "cosine", "save_weights": False}
SEEDS = (0, 1)


def _specs(n: int, seed: int) -> list:
    from search_space.space import SearchSpace

    grid = SearchSpace.from_config(SPACE).grid()
    return random.Random(seed).sample(grid, min(n, len(grid)))


def _train_one(job: tuple[str, int, dict, dict]) -> dict[str, Any]:
    """One spec, every seed: per-epoch curves, wall time, cost (runs in a 1-thread worker)."""
    import torch

    torch.set_num_threads(1)
    from search_space.cost import spec_cost
    from search_space.spec import ArchSpec
    from trials.config import TrainingConfig
    from trials.data import DataConfig, load_data
    from trials.training.train import train_spec

    spec_json, epochs, data_cfg, training = job
    spec = ArchSpec.from_json(spec_json)
    data = load_data(DataConfig(**data_cfg))
    cost = spec_cost(spec, data.num_classes, data.in_channels, data.image_size)
    curves, times = {}, {}
    t0 = time.perf_counter()
    for seed in SEEDS:
        cfg = TrainingConfig(**training, seed=seed, replicates=1)
        t = time.perf_counter()
        res = train_spec(spec, data, cfg, epochs)
        curves[str(seed)] = [round(a, 5) for a in res.history]
        times[str(seed)] = round(time.perf_counter() - t, 2)
    return {"key": spec.key(), "params": spec.to_params(), "total_params": cost.params, "macs": cost.macs,
            "curves": curves, "wall_s_per_seed": times, "wall_s": round(time.perf_counter() - t0, 2)}


def main() -> None:
    ap = _common.parser(__doc__)
    ap.add_argument("--specs", type=int, default=120)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()
    data_cfg = dict(DATA)
    if args.quick:
        args.specs, args.epochs, data_cfg["subset"] = 3, 2, 300
    name = _common.results_name("curve_table")
    path = _common.RESULTS / f"{name}.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    setting = {"space": SPACE, "data": data_cfg, "training": TRAINING, "seeds": list(SEEDS), "epochs": args.epochs}
    rows = {r["key"]: r for r in old.get("rows", [])} if old.get("setting") == setting else {}
    specs = _specs(args.specs, seed=0)
    todo = [(s.to_json(), args.epochs, data_cfg, TRAINING) for s in specs if s.key() not in rows]
    print(f"{len(rows)} specs already in the table, {len(todo)} to train", flush=True)
    started = old.get("started") or _common.now_iso()
    ctx = mp.get_context("spawn")  # fresh interpreters: no torch thread pool inherited from the parent
    with ctx.Pool(args.processes) as pool:
        for row in pool.imap_unordered(_train_one, todo):
            rows[row["key"]] = row
            _write(setting, rows, started)
            print(f"{len(rows)}/{len(specs)} {row['key']} {row['wall_s']} s "
                  f"final {[c[-1] for c in row['curves'].values()]}", flush=True)
    _write(setting, rows, started)


def _write(setting: dict, rows: dict, started: str) -> None:
    order = sorted(rows.values(), key=lambda r: r["key"])
    payload = {"_started": started, "setting": setting,
               "note": ("per-epoch validation accuracy of each seed (curves[seed][epoch-1]); params/MACs from "
                        "search_space.spec_cost at 1x28x28; trained with trials.training.train.train_spec, 1 thread per "
                        f"process, {os.cpu_count()} shared cores"),
               "rows": order}
    _common.write_results("curve_table", payload)


if __name__ == "__main__":
    main()
