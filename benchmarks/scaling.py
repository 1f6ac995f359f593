"""Issue item 5: scaling on this machine.

A. Trials per hour through the real search (``run_search``, Ray Tune + Optuna): a grid of
   8 equally sized specs (plain, width 16, fusion sum/conv/lc/attention x EFLP/EPLF),
   1 epoch each on 6400 Fashion-MNIST images, under three resource settings:
   1 worker x 1 thread, 1 worker x 2 threads, 2 concurrent workers x 1 thread.
   Ray is restarted before each setting and ``ray.init`` is timed apart.  Two rates:
   wall (8 trials / run_search wall time, first actor start included) and steady
   (trials finished after the first one / time from the first to the last finish).

B. How a trial's training time grows with data and width: the project's trainer
   (``train_spec``), 1 epoch, 1 thread, batch 64, subsets 1000/2000/4000 (80% train)
   x widths 8/16/32 of a plain LC-fusion net; 2 repeats, median.

Run: ``.venv/bin/python benchmarks/scaling.py [--quick]``
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

SEARCH_SPACE = dict(backbone="plain", width=16, depth=1, stages=3, fusion_site="gap",
                    fusion=["sum", "conv", "lc", "attention"], strategy=["eflp", "eplf"], branches="1,2",
                    side_channels=32, alpha=1, combination="single")
TRAINING = dict(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4, schedule="cosine", batch_size=64,
                replicates=1, seed=0, save_weights=False)
SETTINGS = {"1 worker x 1 thread": (1, 1), "1 worker x 2 threads": (1, 2), "2 workers x 1 thread": (2, 1)}


def trials_per_hour(quick: bool) -> dict:
    import optuna
    import ray

    from trials.config import from_dict
    from trials.running.search import run_search

    data_cfg = dict(dataset="fashion-mnist", subset=2000 if quick else 8000, val_fraction=0.2, seed=0)
    work = Path(tempfile.mkdtemp(prefix="fusionscope-bench-scaling-"))
    storage = f"sqlite:///{work}/scaling.db"
    out: dict = {"space": SEARCH_SPACE, "data": data_cfg, "training": TRAINING, "epochs": 1, "settings": {}}
    try:
        for label, (concurrent, cpus) in SETTINGS.items():
            name = f"scaling_c{concurrent}_t{cpus}"
            config = from_dict({"study": name, "storage": storage, "data": data_cfg, "space": SEARCH_SPACE,
                                "objectives": ["accuracy", "macs"], "sampler": {"name": "grid"},
                                "budget": {"trials": 8, "epochs": 1}, "training": TRAINING,
                                "resources": {"cpus_per_trial": cpus, "concurrent": concurrent}})
            n = config.search_space().size()
            ray_init_s = C.restart_ray()
            with C.LoadProbe() as probe:
                run_search(config, progress=False, runs_dir=work)
            trials = [t for t in optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
                      if t.state.name == "COMPLETE"]
            ends = sorted(t.datetime_complete for t in trials)
            steady_span = (ends[-1] - ends[0]).total_seconds()
            wall = probe.result["wall_s"]
            row = {"concurrent": concurrent, "cpus_per_trial": cpus, "trials": len(trials), "grid_size": n,
                   "ray_init_s": ray_init_s, "run_search_s": wall,
                   "trials_per_hour_wall": 3600 * len(trials) / wall,
                   "trials_per_hour_steady": 3600 * (len(trials) - 1) / steady_span if steady_span > 0 else None,
                   "train_time_s": [t.user_attrs.get("train_time_s") for t in trials],
                   "images_per_s": [t.user_attrs.get("images_per_s") for t in trials],
                   "trial_s": [(t.datetime_complete - t.datetime_start).total_seconds() for t in trials],
                   "load": probe.result}
            out["settings"][label] = row
            print(f"{label}: {len(trials)} trials in {wall:.1f}s -> {row['trials_per_hour_wall']:.0f}/h wall, "
                  f"{row['trials_per_hour_steady'] or 0:.0f}/h steady; busy cores {probe.result['machine_busy_cores']}",
                  flush=True)
    finally:
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    base = out["settings"]["1 worker x 1 thread"]
    for row in out["settings"].values():
        row["speedup_wall_vs_1x1"] = row["trials_per_hour_wall"] / base["trials_per_hour_wall"]
        if row["trials_per_hour_steady"] and base["trials_per_hour_steady"]:
            row["speedup_steady_vs_1x1"] = row["trials_per_hour_steady"] / base["trials_per_hour_steady"]
    return out


def size_and_width(quick: bool) -> dict:
    import torch

    from search_space.cost import spec_cost
    from search_space.spec import ArchSpec
    from trials.config import TrainingConfig
    from trials.data import DataConfig, load_data
    from trials.training.train import train_spec

    torch.set_num_threads(1)
    subsets, widths, repeats = ((500, 1000), (8, 16), 1) if quick else ((1000, 2000, 4000), (8, 16, 32), 2)
    cfg = TrainingConfig(**TRAINING)
    rows = []
    for subset in subsets:
        data = load_data(DataConfig(dataset="fashion-mnist", subset=subset, val_fraction=0.2, seed=0))
        for width in widths:
            spec = ArchSpec(backbone="plain", width=width, depth=1, side_channels=32, fusion="lc", branches=(1, 2))
            cost = spec_cost(spec, 10, 1, 28)
            train_spec(spec, data, cfg, 1, "cpu")  # warm-up, untimed
            reps = []
            for _ in range(repeats):
                with C.LoadProbe() as probe:
                    r = train_spec(spec, data, cfg, 1, "cpu")
                reps.append({"wall_s": probe.result["wall_s"], "train_time_s": r.train_time_s,
                             "images_per_s": r.images_per_s, "load": probe.result})
            row = {"subset": subset, "train_images": len(data.x_train), "width": width, "params": cost.params,
                   "macs": cost.macs, "raw": reps,
                   "wall_s": C.median([x["wall_s"] for x in reps]),
                   "train_time_s": C.median([x["train_time_s"] for x in reps]),
                   "images_per_s": C.median([x["images_per_s"] for x in reps])}
            rows.append(row)
            print(f"subset {subset} width {width}: {row['wall_s']:.2f}s ({row['images_per_s']:.0f} img/s)", flush=True)
    return {"threads": 1, "epochs": 1, "batch_size": TRAINING["batch_size"], "repeats": repeats, "rows": rows}


def main() -> None:
    ap = C.parser(__doc__, "tiny sizes: a smoke check, not a measurement")
    args = ap.parse_args()
    quiet, started = C.begin(args)
    a = trials_per_hour(args.quick)
    b = size_and_width(args.quick)
    summary = {
        "trials_per_hour": {k: {"wall": v["trials_per_hour_wall"], "steady": v["trials_per_hour_steady"],
                                "speedup_wall_vs_1x1": v["speedup_wall_vs_1x1"],
                                "speedup_steady_vs_1x1": v.get("speedup_steady_vs_1x1"),
                                "machine_busy_cores": v["load"]["machine_busy_cores"]}
                            for k, v in a["settings"].items()},
        "train_time_s_by_subset_width": {f"{r['subset']}/{r['width']}": round(r["train_time_s"], 3) for r in b["rows"]},
        "wall_s_by_subset_width": {f"{r['subset']}/{r['width']}": round(r["wall_s"], 3) for r in b["rows"]},
        "images_per_s_by_subset_width": {f"{r['subset']}/{r['width']}": round(r["images_per_s"], 1) for r in b["rows"]},
    }
    C.write_results("scaling", {"_started": started, "trials_per_hour": a, "size_and_width": b, "summary": summary})
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
