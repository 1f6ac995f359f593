"""Issue #19, CPU bar: where the fixed cost of a fresh one-trial ``fusionscope search`` goes.

Each repeat runs ``fusionscope search`` of one trial as a fresh process (the CLI's ``main``,
as the shell runs it) with time stamps around its phases, and beside it the bare loop twice on the
same spec and data: in this process (data loaded, torch imported: as ``overhead.py`` measures it)
and as a fresh script from the shell (interpreter start, ``import torch``, ``load_data``, model
build, training: what a user's own script pays, the fair partner of a fresh search).  Phases are
the gaps between consecutive marks in the order they happened (``MARKS``): the CLI's imports and
parser, the config (which imports the search modules, torch among them), ``load_data``,
``open_study``, ``ray.init`` (``trials.running.search.start_ray``), the driver's imports of Tune
and the trainable, ``Tuner.fit``, the trial's Optuna ask (``datetime_start``), its first epoch's
start (``train_timeline``: the actor's placement on a worker, that worker's imports, the data
fetch, latency probe and model build lie between), the last epoch's end, the tell
(``datetime_complete``), ``fit``'s return, and the process's exit (Ray's shutdown at exit).
The worker's own steps are timed on their own too (``worker_steps``): fetching the data from
the object store, the latency probe, a model build.

Run: ``.venv/bin/python benchmarks/startup_profile.py [--quick] [--repeats N] [--epochs E]``
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

CHILD = r"""
import json, sys, time
marks = {"start": float(sys.argv[1])}
def mark(name):
    marks[name] = time.time()
import fusionscope.cli as cli
mark("cli_imported")
parser = cli.build_parser()
mark("parser_built")
import trials.running.search as S
import trials.config as TC
for mod, name in ((TC, "load"), (S, "load_data"), (S, "open_study"), (S, "start_ray")):
    def wrap(fn, name=name):
        def inner(*a, **k):
            mark(name + "_begin"); out = fn(*a, **k); mark(name + "_end"); return out
        return inner
    setattr(mod, name, wrap(getattr(mod, name)))
start_ray = S.start_ray
def start_ray_then_time_fit(*a, **k):  # ray is imported by run_search itself (it sets Ray's env first)
    out = start_ray(*a, **k)
    from ray import tune
    fit = tune.Tuner.fit
    def timed_fit(self):
        mark("fit_begin"); out = fit(self); mark("fit_end"); return out
    tune.Tuner.fit = timed_fit
    return out
S.start_ray = start_ray_then_time_fit
code = cli.main(sys.argv[3:])
mark("main_returned")
with open(sys.argv[2], "w") as f:
    json.dump({"marks": marks, "code": code}, f)
cli.exit_now(code)  # as the console script's cli.run ends
"""

SPEC = dict(backbone="plain", width=16, depth=1, stages=3, fusion_site="gap", fusion="lc", strategy="eflp",
            branches="1,2", side_channels=32, alpha=1, combination="single")
TRAINING = dict(optimizer="sgd", lr=0.05, momentum=0.9, nesterov=False, weight_decay=5e-4,
                schedule="cosine", batch_size=64,
                replicates=1, seed=0)


def one_fresh_search(work: Path, name: str, data_cfg: dict, epochs: int) -> dict:
    import optuna
    import yaml

    db = f"sqlite:///{work}/{name}.db"
    cfg = {"study": name, "storage": db, "data": data_cfg, "space": SPEC, "objectives": ["accuracy", "macs"],
           "sampler": {"name": "random", "seed": 0}, "budget": {"trials": 1, "epochs": epochs},
           "training": TRAINING, "resources": {"cpus_per_trial": 1, "concurrent": 1}}
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = work / f"{name}.marks.json"
    env = dict(os.environ, PYTHONPATH=str(C.ROOT), RAY_ADDRESS="")
    with C.LoadProbe() as probe:
        t0 = time.time()
        proc = subprocess.run([sys.executable, "-c", CHILD, repr(t0), str(out), "search", "--config", str(path),
                               "--no-progress"], cwd=work, env=env, capture_output=True, text=True, timeout=900)
        t_exit = time.time()
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    m = json.loads(out.read_text())["marks"]
    (trial,) = optuna.load_study(study_name=name, storage=db).get_trials(deepcopy=False)
    ask, tell = trial.datetime_start.timestamp(), trial.datetime_complete.timestamp()
    timeline = trial.user_attrs["train_timeline"]
    epoch0, train_end = timeline[0][0], timeline[-1][1]
    events = dict(m, ask=ask, first_epoch=epoch0, last_epoch_end=train_end, tell=tell, exit=t_exit)
    phases = phases_between(events)
    return {"wall_s": t_exit - t0, "phases_s": phases, "train_time_s": trial.user_attrs["train_time_s"],
            "latency_ms": trial.user_attrs.get("latency_ms"), "history": trial.user_attrs["val_accuracy_history"],
            "timeline": timeline, "load": probe.result}


#: what each mark is, in words; a phase is named after the two marks around it, in the order they
#: happened (``run_search`` may start Ray before or after its own imports)
MARKS = {"start": "process start", "cli_imported": "CLI imported", "parser_built": "parser built",
         "load_begin": "config read (search modules imported)", "load_end": "config checked",
         "load_data_begin": "load_data", "load_data_end": "data loaded", "open_study_begin": "open_study",
         "open_study_end": "study open", "start_ray_begin": "ray.init", "start_ray_end": "Ray up",
         "fit_begin": "Tuner.fit", "ask": "first ask", "first_epoch": "first epoch", "last_epoch_end": "last epoch",
         "tell": "tell", "fit_end": "fit returned", "main_returned": "main returned", "exit": "process exit"}


def phases_between(events: dict[str, float]) -> dict[str, float]:
    """Seconds between consecutive marks, in time order: ``"load_data_end -> start_ray_begin": 1.2``."""
    order = sorted((t, name) for name, t in events.items() if name in MARKS)
    return {f"{a} -> {b}": tb - ta for (ta, a), (tb, b) in zip(order, order[1:])}


BARE_CHILD = r"""
import json, sys, time
t0 = float(sys.argv[1])
sys.path.insert(0, sys.argv[2])
import torch
import _common as C
from search_space.build import build_model
from search_space.spec import ArchSpec
from trials.data import DataConfig, load_data
spec, training, data_cfg, epochs = json.loads(sys.argv[3])
torch.set_num_threads(1)
data = load_data(DataConfig(**data_cfg))
torch.manual_seed(training["seed"])
model = build_model(ArchSpec.from_params(spec), data.num_classes, data.in_channels, data.image_size)
t_train = time.time()
r = C.bare_train(model, data.x_train, data.y_train, data.x_val, data.y_val, epochs, training["batch_size"],
                 training["lr"], training["momentum"], training["weight_decay"], nesterov=training["nesterov"],
                 cosine=True, seed=training["seed"], channels_last=True)
print(json.dumps({"before_training_s": t_train - t0, "train_s": r["train_s"], "history": r["history"]}))
"""


def bare_process(data_cfg: dict, epochs: int) -> dict:
    """The bare loop as a user's own script runs it from the shell: a fresh interpreter that imports
    torch, loads the data, builds the model and trains; the fair partner of a fresh ``fusionscope search``."""
    env = dict(os.environ, PYTHONPATH=str(C.ROOT))
    with C.LoadProbe() as probe:
        t0 = time.time()
        proc = subprocess.run([sys.executable, "-c", BARE_CHILD, repr(t0), str(Path(__file__).resolve().parent),
                               json.dumps([SPEC, TRAINING, data_cfg, epochs])], env=env, capture_output=True,
                              text=True, timeout=900)
        wall = time.time() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return dict(out, wall_s=wall, load=probe.result)


def bare(data, epochs: int) -> dict:
    import torch

    from search_space.build import build_model
    from search_space.spec import ArchSpec

    torch.set_num_threads(1)
    with C.LoadProbe() as probe:
        torch.manual_seed(TRAINING["seed"])
        model = build_model(ArchSpec.from_params(SPEC), data.num_classes, data.in_channels, data.image_size)
        r = C.bare_train(model, data.x_train, data.y_train, data.x_val, data.y_val, epochs, TRAINING["batch_size"],
                         TRAINING["lr"], TRAINING["momentum"], TRAINING["weight_decay"], nesterov=TRAINING["nesterov"], cosine=True,
                         seed=TRAINING["seed"], channels_last=True)
    return {"wall_s": probe.result["wall_s"], "train_s": r["train_s"], "history": r["history"], "load": probe.result}


def worker_steps(data_cfg: dict) -> dict:
    """The worker's start-up steps on their own, in this process: fetching the data set from the
    object store, the latency probe, one model build."""
    import ray
    import torch

    from search_space.build import build_model
    from search_space.cost import measure_latency
    from search_space.spec import ArchSpec
    from trials.data import DataConfig, load_data

    data = load_data(DataConfig(**data_cfg))
    spec = ArchSpec.from_params(SPEC)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        ref = ray.put(data)
        t = time.perf_counter()
        ray.get(ref)
        fetch = time.perf_counter() - t
    finally:
        ray.shutdown()
    t = time.perf_counter()
    model = build_model(spec, data.num_classes, data.in_channels, data.image_size)
    build = time.perf_counter() - t
    t = time.perf_counter()
    measure_latency(model, data.in_channels, data.image_size)
    probe = time.perf_counter() - t
    torch.set_num_threads(1)
    return {"object_store_fetch_s": fetch, "model_build_s": build, "latency_probe_s": probe,
            "train_images": len(data.x_train)}


def main() -> None:
    ap = C.parser(__doc__)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=None)
    args = ap.parse_args()
    _, started = C.begin(args)
    subset = 2000 if args.quick else 12000
    epochs = args.epochs or (1 if args.quick else 3)
    repeats = args.repeats or (1 if args.quick else 3)
    data_cfg = dict(dataset="fashion-mnist", subset=subset, val_fraction=0.2, seed=0)
    from trials.data import DataConfig, load_data

    data = load_data(DataConfig(**data_cfg))
    work = Path(tempfile.mkdtemp(prefix="fusionscope-startup-"))
    rows = []
    for rep in range(repeats):  # interleaved: a change in the shared machine's load hits both
        fresh = one_fresh_search(work, f"startup_{rep}", data_cfg, epochs)
        b = bare(data, epochs)
        bp = bare_process(data_cfg, epochs)
        rows.append({"fresh_search": fresh, "bare": b, "bare_process": bp, "ratio": fresh["wall_s"] / b["wall_s"],
                     "ratio_shell": fresh["wall_s"] / bp["wall_s"]})
        print(f"rep {rep}: fresh search {fresh['wall_s']:.2f}s (train {fresh['train_time_s']:.2f}s) vs bare "
              f"{b['wall_s']:.2f}s in this process, {bp['wall_s']:.2f}s as a fresh script; busy cores "
              f"{fresh['load']['machine_busy_cores']}/{b['load']['machine_busy_cores']}", flush=True)
        print("   " + ", ".join(f"{k} {v:.2f}" for k, v in fresh["phases_s"].items()), flush=True)
    steps = worker_steps(data_cfg)
    phases = {k: C.median([r["fresh_search"]["phases_s"][k] for r in rows]) for k in rows[0]["fresh_search"]["phases_s"]
              if all(k in r["fresh_search"]["phases_s"] for r in rows)}
    summary = {"spec": SPEC, "training": TRAINING, "data": data_cfg, "epochs": epochs, "repeats": repeats,
               "fresh_search_s": C.median([r["fresh_search"]["wall_s"] for r in rows]),
               "bare_s": C.median([r["bare"]["wall_s"] for r in rows]),
               "bare_process_s": C.median([r["bare_process"]["wall_s"] for r in rows]),
               "ratio_median": C.median([r["ratio"] for r in rows]),
               "ratio_shell_median": C.median([r["ratio_shell"] for r in rows]),
               "fixed_cost_s": C.median([r["fresh_search"]["wall_s"] - r["bare"]["wall_s"] for r in rows]),
               "fixed_cost_shell_s": C.median([r["fresh_search"]["wall_s"] - r["bare_process"]["wall_s"] for r in rows]),
               "phases_median_s": phases, "worker_steps": steps,
               "same_accuracy_history": all(r["fresh_search"]["history"] == r["bare"]["history"]
                                            == r["bare_process"]["history"] for r in rows),
               "load_busy_cores": [r["fresh_search"]["load"]["machine_busy_cores"] for r in rows]}
    C.write_results("startup_profile", {"_started": started, "raw": rows, "summary": summary})
    print(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    main()
