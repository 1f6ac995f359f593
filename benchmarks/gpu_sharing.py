"""Issue item 3: several trials sharing one GPU through Ray's fractional GPUs.

For N = 1, 2, 4, 8 concurrent trials (``resources.gpus_per_trial = 1/N``,
``resources.concurrent = N``, ``cpus_per_trial = max(1, cores // N)`` capped at 4) and batch
512 and 128, a grid search of 2N width-32 specs (plain depth 2, fusion
sum/conv/lc/attention x EFLP/EPLF x branches "1,2"/"2": equally sized) runs through
``run_search``.  Per setting: aggregate training images/s (all trials' images / time
from the first trial's start to the last one's finish, Optuna timestamps), the per-trial
``images_per_s`` the trainer reports, trials per hour, and ``ray.init`` apart.

Needs CUDA.  Without it the results file records "not measured: no GPU in this session";
``--quick`` then runs the same code path on the CPU (gpus_per_trial = 0, N = 1, 2, tiny
data) as a smoke check only, and labels it so.

Run: ``.venv/bin/python benchmarks/gpu_sharing.py [--quick] [--dataset fashion-mnist] [--root DIR]``
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

SPACE = dict(backbone="plain", width=32, depth=2, stages=3, fusion_site="gap",
             fusion=["sum", "conv", "lc", "attention"], strategy=["eflp", "eplf"], branches=["1,2", "2"],
             side_channels=64, alpha=1, combination="single")
TRAINING = dict(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4, schedule="cosine",
                replicates=1, seed=0, save_weights=False)


def run_setting(n: int, batch: int, gpus_per_trial: float, data_cfg: dict, epochs: int, work: Path,
                storage: str) -> dict:
    import optuna
    import ray

    from trials.config import from_dict
    from trials.search import run_search

    cores = C.os.cpu_count() or 1
    cpus = max(1, min(4, cores // n))
    name = f"gpu_share_n{n}_b{batch}"
    config = from_dict({"study": name, "storage": storage, "data": data_cfg, "space": SPACE,
                        "objectives": ["accuracy", "macs"], "sampler": {"name": "grid"},
                        "budget": {"trials": 2 * n, "epochs": epochs}, "training": dict(TRAINING, batch_size=batch),
                        "resources": {"cpus_per_trial": cpus, "concurrent": n}})
    # set after loading: trials.config rejects a fractional resources.gpus_per_trial ("expected int",
    # the type check follows the int default 0), so it cannot come through from_dict / YAML today
    config = dataclasses.replace(config, resources=dataclasses.replace(config.resources,
                                                                       gpus_per_trial=gpus_per_trial))
    if ray.is_initialized():
        ray.shutdown()
    t = time.perf_counter()
    ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray_init_s = time.perf_counter() - t
    with C.LoadProbe() as probe:
        run_search(config, progress=False, runs_dir=work)
    trials = [t for t in optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
              if t.state.name == "COMPLETE"]
    if not trials:
        return {"n": n, "batch": batch, "error": "no trial completed", "load": probe.result}
    span = (max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)).total_seconds()
    from trials.data import DataConfig, load_data

    train_images = len(load_data(DataConfig(**data_cfg)).x_train)
    images = train_images * epochs * len(trials)
    return {"n": n, "batch": batch, "gpus_per_trial": gpus_per_trial, "cpus_per_trial": cpus,
            "trials": len(trials), "ray_init_s": ray_init_s, "run_search_s": probe.result["wall_s"],
            "span_s": span, "aggregate_images_per_s": images / span,
            "per_trial_images_per_s": [t.user_attrs.get("images_per_s") for t in trials],
            "per_trial_train_time_s": [t.user_attrs.get("train_time_s") for t in trials],
            "devices": sorted({str(t.user_attrs.get("device")) for t in trials}),
            "trials_per_hour": 3600 * len(trials) / probe.result["wall_s"], "load": probe.result}


def main() -> None:
    ap = C.parser(__doc__, "tiny sizes; on a machine without CUDA a CPU smoke check")
    ap.add_argument("--dataset", default="fashion-mnist")
    ap.add_argument("--root", default=None)
    ap.add_argument("--epochs", type=int, default=None)
    args = ap.parse_args()
    quiet, started = C.begin(args)
    import ray
    import torch

    cuda = torch.cuda.is_available()
    payload: dict = {"_started": started, "space": SPACE, "training": TRAINING}
    if not cuda and not args.quick:
        payload["status"] = "not measured: no GPU in this session"
        payload["what_would_run"] = ("N = 1, 2, 4, 8 concurrent trials with gpus_per_trial = 1/N, batch 512 and "
                                     "128, 2N width-32 specs per setting through run_search: aggregate images/s, "
                                     "per-trial images/s, trials per hour")
        payload["summary"] = payload["status"]
        C.write_results("gpu_sharing", payload)
        print(payload["status"])
        return
    if args.quick:
        ns, batches, epochs = (1, 2), (128,), args.epochs or 1
        data_cfg = {"dataset": args.dataset, "root": args.root, "subset": 1000, "val_fraction": 0.2, "seed": 0}
    else:
        ns, batches, epochs = (1, 2, 4, 8), (512, 128), args.epochs or 3
        data_cfg = {"dataset": args.dataset, "root": args.root, "subset": None, "val_fraction": 0.1, "seed": 0}
    payload["status"] = "measured" if cuda else "not measured: no GPU in this session (CPU smoke check of the code path only)"
    payload["data"] = data_cfg
    payload["epochs"] = epochs
    work = Path(tempfile.mkdtemp(prefix="fusionscope-bench-gpu-"))
    storage = f"sqlite:///{work}/gpu.db"
    rows = []
    try:
        for batch in batches:
            for n in ns:
                row = run_setting(n, batch, (1.0 / n) if cuda else 0.0, data_cfg, epochs, work, storage)
                rows.append(row)
                print(f"batch {batch} N {n}: aggregate {row.get('aggregate_images_per_s', 0):.0f} img/s, "
                      f"{row.get('trials_per_hour', 0):.0f} trials/h", flush=True)
    finally:
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    payload["raw"] = rows
    summary = {}
    for batch in batches:
        base = next((r for r in rows if r["batch"] == batch and r["n"] == 1 and "aggregate_images_per_s" in r), None)
        for r in rows:
            if r["batch"] == batch and "aggregate_images_per_s" in r:
                summary[f"batch {batch}, N={r['n']}"] = {
                    "aggregate_images_per_s": r["aggregate_images_per_s"],
                    "speedup_vs_N1": r["aggregate_images_per_s"] / base["aggregate_images_per_s"] if base else None,
                    "per_trial_images_per_s_median": C.median([v for v in r["per_trial_images_per_s"] if v]),
                    "trials_per_hour": r["trials_per_hour"]}
    payload["summary"] = summary if cuda else payload["status"]
    payload["smoke_check_summary" if not cuda else "measured_summary"] = summary
    C.write_results("gpu_sharing", payload)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
