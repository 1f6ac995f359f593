"""Issue item 1: framework overhead of one search trial (Ray Tune + Optuna) against a bare loop.

(a) ``trials.running.search.run_search`` with a space fixed to one spec, ``budget.trials = 1``,
    1 CPU per trial, 1 concurrent trial;
(b) ``_common.bare_train``: its own loop (SGD, same lr/momentum/nesterov/weight decay,
    cosine decay, batch size, seed, channels_last, 1 thread, validation after every
    epoch as the trial does) on the same spec's ``build_model`` and the same data tensors.

Both for a short (~10 s) and a long (~60 s) trial: same spec and data, only the epochs
differ.  Repeats are interleaved (framework, bare, framework, bare, ...) so a change in
the machine's other load hits both sides alike.  For each framework repeat Ray is shut
down and started again, ``ray.init`` is timed on its own, and two one-trial searches run:
- "after ray.init": ``run_search`` at once, while Ray's prestarted workers still import
  torch (``trials.running.search.WORKER_PRELOAD``); with ``ray.init`` added this is "cold", what
  ``fusionscope search`` from a shell pays;
- "Ray running": ``run_search`` again from the same process once the machine has settled
  (``settle_s``, recorded), as a notebook or script calling ``run_search`` again does.

Fixed costs, measured separately:
- first ``import ray`` + ``ray.tune`` in a process, ``ray.init`` per repeat;
- first ``load_data`` in a process (IDX decode) against a cached one;
- a 6-trial grid search of 6 equally tiny specs, 1 concurrent trial: per trial, the
  Optuna duration (``datetime_start`` = ask, ``datetime_complete`` = tell), the training
  time the trainer reports, Ray's ``time_total_s`` (inside the trainable), and the gap
  between one trial's tell and the next one's ask, so the first trial's extra cost
  (actor start on a prestarted worker, Tune setup) shows against the later trials' (actor
  reused).

Run: ``.venv/bin/python benchmarks/overhead.py [--quick] [--repeats N]``
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

SPEC = dict(backbone="plain", width=16, depth=1, stages=3, fusion_site="gap", fusion="lc", strategy="eflp",
            branches="1,2", side_channels=32, alpha=1, combination="single")
TRAINING = dict(optimizer="sgd", lr=0.05, momentum=0.9, nesterov=False, weight_decay=5e-4,
                schedule="cosine", batch_size=64,
                replicates=1, seed=0, save_weights=True)
MULTI_SPACE = dict(backbone="plain", width=8, depth=1, stages=3, fusion_site="gap", fusion=["sum", "conv", "lc"],
                   strategy=["eflp", "eplf"], branches="1,2", side_channels=16, alpha=1, combination="single")


def main() -> None:
    ap = C.parser(__doc__, "tiny sizes: a smoke check, not a measurement")
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args()
    quiet, started = C.begin(args)
    if args.quick:
        subset, lengths, repeats, multi_subset = 2000, {"short": 1, "long": 2}, args.repeats or 1, 1000
    else:
        # 9600 training images of 28x28: ~3 s an epoch for this spec on 1 thread here
        subset, lengths, repeats, multi_subset = 12000, {"short": 3, "long": 20}, args.repeats or 3, 2000

    fixed: dict = {}
    t = time.perf_counter()
    import ray
    from ray import tune  # noqa: F401  (what run_search imports)
    fixed["import_ray_tune_s"] = time.perf_counter() - t

    import optuna
    import torch

    from search_space.build import build_model
    from search_space.spec import ArchSpec
    from trials.config import from_dict
    from trials.data import DataConfig, load_data
    from trials.running.search import run_search

    torch.set_num_threads(1)  # the trial runs with cpus_per_trial = 1, so the bare loop does too
    data_cfg = dict(dataset="fashion-mnist", subset=subset, val_fraction=0.2, seed=0)
    t = time.perf_counter()
    data = load_data(DataConfig(**data_cfg))
    fixed["load_data_first_s"] = time.perf_counter() - t
    t = time.perf_counter()
    load_data(DataConfig(**data_cfg))
    fixed["load_data_cached_raw_s"] = time.perf_counter() - t
    spec = ArchSpec.from_params(SPEC)

    work = Path(tempfile.mkdtemp(prefix="fusionscope-bench-overhead-"))
    storage = f"sqlite:///{work}/overhead.db"

    def one_search(name: str, epochs: int) -> dict:
        config = from_dict({"study": name, "storage": storage, "data": data_cfg, "space": spec.to_params(),
                            "objectives": ["accuracy", "macs"], "sampler": {"name": "random", "seed": 0},
                            "budget": {"trials": 1, "epochs": epochs}, "training": TRAINING,
                            "resources": {"cpus_per_trial": 1, "concurrent": 1}})
        with C.LoadProbe() as probe:
            summary = run_search(config, progress=False, runs_dir=work)
        study = optuna.load_study(study_name=name, storage=storage)
        (trial,) = study.get_trials(deepcopy=False)
        ray_result = _ray_last_result(work / "ray" / name)
        return {"run_search_s": probe.result["wall_s"], "state": trial.state.name, "complete": summary.complete,
                "optuna_trial_s": (trial.datetime_complete - trial.datetime_start).total_seconds(),
                "ray_time_total_s": ray_result.get("time_total_s"),
                "train_time_s": trial.user_attrs.get("train_time_s"),
                "images_per_s": trial.user_attrs.get("images_per_s"),
                "history": trial.user_attrs.get("val_accuracy_history"), "load": probe.result,
                "outside_trainer_s": probe.result["wall_s"] - (trial.user_attrs.get("train_time_s") or 0)}

    def framework(length: str, epochs: int, rep: int) -> dict:
        """Two one-trial searches: right after ``ray.init`` (what ``fusionscope search`` from a
        shell pays, with ``ray.init`` on top), then on the same Ray from the same process once
        it has settled (a notebook calling ``run_search`` again)."""
        ray_init_s = C.restart_ray()
        fresh = one_search(f"overhead_{length}_{rep}", epochs)
        settle_s = C.settle_after_ray_start()
        running = one_search(f"overhead_{length}_{rep}_ray_running", epochs)
        return dict(fresh, ray_init_s=ray_init_s, cold_s=ray_init_s + fresh["run_search_s"], settle_s=settle_s,
                    ray_running=running)

    def bare(epochs: int) -> dict:
        if ray.is_initialized():  # a bare process: no Ray daemons beside it
            ray.shutdown()
        with C.LoadProbe() as probe:
            torch.manual_seed(TRAINING["seed"])
            model = build_model(spec, data.num_classes, data.in_channels, data.image_size)
            r = C.bare_train(model, data.x_train, data.y_train, data.x_val, data.y_val, epochs,
                             TRAINING["batch_size"], TRAINING["lr"], TRAINING["momentum"], TRAINING["weight_decay"],
                             nesterov=TRAINING["nesterov"], cosine=True, seed=TRAINING["seed"], channels_last=True)
        return {"wall_s": probe.result["wall_s"], "train_s": r["train_s"], "images_per_s": r["images_per_s"],
                "history": r["history"], "load": probe.result}

    raw: dict = {length: {"framework": [], "bare": []} for length in lengths}
    try:
        for length, epochs in lengths.items():
            for rep in range(repeats):
                f = framework(length, epochs, rep)
                b = bare(epochs)
                raw[length]["framework"].append(f)
                raw[length]["bare"].append(b)
                print(f"{length} rep {rep}: framework after ray.init {f['run_search_s']:.2f}s (+ray.init "
                      f"{f['ray_init_s']:.2f}s), Ray running {f['ray_running']['run_search_s']:.2f}s, train "
                      f"{f['train_time_s']:.2f}s | bare {b['wall_s']:.2f}s train {b['train_s']:.2f}s | "
                      f"busy cores {f['load']['machine_busy_cores']}/{b['load']['machine_busy_cores']}", flush=True)
        multi = multi_trial(work, storage, dict(data_cfg, subset=multi_subset), run_search, from_dict, optuna,
                            n_trials=6)
    finally:
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)

    summary = {"spec": SPEC, "training": TRAINING, "data": data_cfg, "threads": 1, "repeats": repeats,
               "epochs": lengths, "train_images": len(data.x_train), "val_images": len(data.x_val)}
    for length in lengths:
        fw, bw = raw[length]["framework"], raw[length]["bare"]
        med = lambda rows, k: C.median([r[k] for r in rows])  # noqa: E731
        running = [f["ray_running"] for f in fw]
        summary[length] = {
            "framework_cold_s": med(fw, "cold_s"), "ray_init_s": med(fw, "ray_init_s"),
            "framework_after_ray_init_s": med(fw, "run_search_s"), "framework_ray_running_s": med(running, "run_search_s"),
            "settle_s": med(fw, "settle_s"), "bare_s": med(bw, "wall_s"),
            "ratio_cold": med(fw, "cold_s") / med(bw, "wall_s"),
            "ratio_after_ray_init": med(fw, "run_search_s") / med(bw, "wall_s"),
            "ratio_ray_running": med(running, "run_search_s") / med(bw, "wall_s"),
            "ratio_per_repeat_ray_running": [r["run_search_s"] / b["wall_s"] for r, b in zip(running, bw)],
            "framework_train_time_s": med(fw + running, "train_time_s"), "bare_train_s": med(bw, "train_s"),
            "train_loop_ratio": med(fw + running, "train_time_s") / med(bw, "train_s"),
            "fixed_cost_after_ray_init_s": med(fw, "run_search_s") - med(bw, "wall_s"),
            "fixed_cost_ray_running_s": med(running, "run_search_s") - med(bw, "wall_s"),
            "same_accuracy_history": all(f["history"] == b["history"] == r["history"]
                                         for f, r, b in zip(fw, running, bw)),
        }
    summary["bar"] = "framework / bare wall time <= 1.05 for the long trial"
    for case in ("cold", "after_ray_init", "ray_running"):
        summary[f"bar_met_{case}"] = summary["long"][f"ratio_{case}"] <= 1.05
    summary["multi_trial"] = multi["summary"]
    C.write_results("overhead", {"_started": started, "fixed_costs": fixed, "raw": raw,
                                 "multi_trial_raw": multi["raw"], "summary": summary})
    print(json.dumps(summary, indent=2, default=str))


def multi_trial(work: Path, storage: str, data_cfg: dict, run_search, from_dict, optuna,
                n_trials: int) -> dict:
    """A grid search of six equally tiny specs, one trial at a time, actors reused."""
    name = "overhead_multi"
    config = from_dict({"study": name, "storage": storage, "data": data_cfg, "space": MULTI_SPACE,
                        "objectives": ["accuracy", "macs"], "sampler": {"name": "grid", "seed": 0},
                        "budget": {"trials": n_trials, "epochs": 1}, "training": TRAINING,
                        "resources": {"cpus_per_trial": 1, "concurrent": 1}})
    assert config.search_space().size() == n_trials, config.search_space().size()
    ray_init_s = C.restart_ray()
    with C.LoadProbe() as probe:
        run_search(config, progress=False, runs_dir=work)
    study = optuna.load_study(study_name=name, storage=storage)
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.datetime_start)
    ray_results = {r.get("config", {}).get("number"): r for r in _ray_all_results(work / "ray" / name)}
    rows = []
    for i, t in enumerate(trials):
        dur = (t.datetime_complete - t.datetime_start).total_seconds()
        gap = (t.datetime_start - trials[i - 1].datetime_complete).total_seconds() if i else None
        rr = ray_results.get(t.number, {})
        rows.append({"number": t.number, "state": t.state.name, "optuna_trial_s": dur, "gap_after_previous_s": gap,
                     "train_time_s": t.user_attrs.get("train_time_s"), "ray_time_total_s": rr.get("time_total_s"),
                     "ray_pid": rr.get("pid"),
                     "overhead_s": dur - (t.user_attrs.get("train_time_s") or 0),
                     "outside_trainable_s": dur - rr["time_total_s"] if rr.get("time_total_s") else None,
                     "inside_trainable_not_training_s": (rr["time_total_s"] - t.user_attrs["train_time_s"])
                     if rr.get("time_total_s") and t.user_attrs.get("train_time_s") else None})
    later = rows[1:]
    wall = probe.result["wall_s"]
    first_start = trials[0].datetime_start
    last_complete = max(t.datetime_complete for t in trials)
    summary = {
        "space": MULTI_SPACE, "data": data_cfg, "trials": n_trials, "ray_init_s": ray_init_s,
        "run_search_s": wall, "per_trial_wall_s": wall / n_trials,
        "search_setup_and_teardown_s": wall - (last_complete - first_start).total_seconds(),
        "first_trial_overhead_s": rows[0]["overhead_s"],
        "later_trial_overhead_median_s": C.median([r["overhead_s"] for r in later]),
        "gap_between_trials_median_s": C.median([r["gap_after_previous_s"] for r in later]),
        "first_trial_outside_trainable_s": rows[0]["outside_trainable_s"],
        "later_outside_trainable_median_s": C.median([r["outside_trainable_s"] for r in later
                                                      if r["outside_trainable_s"] is not None]),
        "first_trial_inside_trainable_not_training_s": rows[0]["inside_trainable_not_training_s"],
        "later_inside_trainable_not_training_median_s": C.median(
            [r["inside_trainable_not_training_s"] for r in later if r["inside_trainable_not_training_s"] is not None]),
        "worker_pids": sorted({r["ray_pid"] for r in rows if r["ray_pid"]}),
        "train_time_median_s": C.median([r["train_time_s"] for r in rows if r["train_time_s"]]),
        "load": probe.result,
    }
    print(f"multi-trial: {n_trials} trials in {wall:.2f}s; first-trial overhead {summary['first_trial_overhead_s']:.2f}s, "
          f"later {summary['later_trial_overhead_median_s']:.2f}s, gap {summary['gap_between_trials_median_s']:.2f}s",
          flush=True)
    return {"raw": rows, "summary": summary}


def _ray_all_results(folder: Path) -> list[dict]:
    out = []
    for path in sorted(folder.glob("*/result.json")):
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        if lines:
            out.append(json.loads(lines[-1]))
    return out


def _ray_last_result(folder: Path) -> dict:
    results = _ray_all_results(folder)
    return results[-1] if results else {}


if __name__ == "__main__":
    main()
