"""Issue #19: one prepared GPU run of a search's real speed, in at most 8 minutes.

Five parts, each time-boxed (``PARTS``: seconds, in the order they run: replicates, search, warm,
sharing, cfn), each in a process of its own in the full mode, so a part that crashes, hangs or runs
out of time costs only itself; the results file is rewritten after every part (``complete: false``
until the last), so a run cut short keeps what it measured.  The issue's numbering:

1. ``search``: a 32-trial search of 1-epoch trials on full Fashion-MNIST (54,000 training
   images), ``resources: auto``, batch 512, 32 distinct CFN-style nets (plain backbone, widths
   16/32/48/64 x GAP fusions sum/conv/LC/attention x EFLP/EPLF).  The GPU's training share =
   sum of the trials' training windows (``train_timeline``) / (GPU slots x span), span = the first
   trial's ask to the last one's tell (and over ``run_search``'s wall time beside it); images/s
   over the span against the bare loop (``_common.bare_train``) on the same nets, one after
   another in one warm process.  With it, ``warm``: a worker's later trials, 4 trials x 3 epochs
   in one slot (one reused actor); for the second and later trials, first epoch / median of the
   later epochs (bar: <= 1.1).
2. ``replicates`` (first: it needs no Ray): R = 1, 2, 4, 8 replicates of one spec together
   (``trials.training.replicates``) and one after another (``trials.training.train``), widths 32 and 64, batch 128
   and 512; wall and images/s of the last epoch (the first carries cuDNN autotuning);
   ``r4_together_over_one`` = R = 4 together / one replicate alone (bar: <= 1.5 where launch-bound,
   width 32; the headline is width 32, batch 128).
3. ``sharing``: N = 1, 2, 4, 8 trials sharing the GPU (``gpus_per_trial = 1/N``) at batch 512,
   width 64 (``gpu_sharing.run_explorer``): aggregate images/s over the window all N trained.
4. ``cfn`` (last, with whatever time the others left, at least 240 s): the CFN Table-1 analogue
   end to end, ``fusionscope ablate --preset cfn-fusion`` with 4 designs x 5 seeds x full
   Fashion-MNIST x 10 epochs, ``resources.auto=true``, from the command's start to its report
   (bar: <= 300 s).

``--smoke`` runs every part on the CPU with tiny sizes, in this process (the CLI part still as a
command), as a check of the code path in seconds: it writes ``results/gpu_search_quick.json``
(or ``--out``), never the real file.  ``--root`` names the folder of the Fashion-MNIST IDX
files (default: Debian's).  Missing modules are listed in the file (``missing_modules``); a part
that needs one is recorded as not run.

Run: ``python benchmarks/gpu_search.py [--smoke] [--root DIR] [--budget-s 480] [--parts a,b]``
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _common as C  # noqa: E402

#: part -> seconds it may take in the full mode, in the order they run (sum within the 8 minutes)
PARTS = {"replicates": 50, "search": 95, "warm": 40, "sharing": 55, "cfn": 240}
#: the part that gets whatever the others left of the run's time box (at least its own entry)
LAST = "cfn"
#: what each part imports beyond torch
_SEARCH = ("ray", "optuna", "sqlalchemy", "yaml", "tqdm", "pandas")
NEEDS = {"replicates": ("yaml",), "search": _SEARCH, "warm": _SEARCH, "sharing": _SEARCH,
         "cfn": _SEARCH + ("statsmodels", "plotly", "scipy")}
SEARCH_SPACE = dict(backbone="plain", width=[16, 32, 48, 64], depth=1, stages=3, fusion_site="gap",
                    fusion=["sum", "conv", "lc", "attention"], strategy=["eflp", "eplf"], branches="1,2",
                    side_channels=32, alpha=1, combination="single")
TRAINING = dict(optimizer="sgd", lr=0.05, momentum=0.9, nesterov=False, weight_decay=5e-4,
                schedule="cosine", replicates=1, seed=0,
                save_weights=False)


# --- sizes ----------------------------------------------------------------------------------
def sizes(smoke: bool) -> dict:
    if smoke:
        return {"subset": 600, "trials": 4, "search_space": dict(SEARCH_SPACE, width=[8], fusion=["sum", "lc"]),
                "batch": 64, "warm_trials": 3, "warm_epochs": 3, "replicate_subset": 320, "Rs": (1, 4),
                "widths": (8,), "batches": (64,), "cfn": ["--replicates", "2", "--epochs", "1", "--subset", "300"],
                "share_ns": (1, 2), "share_width": 8, "share_subset": 600}
    return {"subset": None, "trials": 32, "search_space": SEARCH_SPACE, "batch": 512, "warm_trials": 4,
            "warm_epochs": 3, "replicate_subset": 8192 + 1024, "Rs": (1, 4, 2, 8), "widths": (32, 64),
            "batches": (128, 512), "cfn": ["--replicates", "5", "--epochs", "10", "--subset", "60000"],
            "share_ns": (1, 2, 4, 8), "share_width": 64, "share_subset": 16000 + 1600}


def data_cfg(args, subset: int | None, val_fraction: float = 0.1) -> dict:
    return {"dataset": "fashion-mnist", "root": str(Path(args.root).resolve()) if args.root else None,
            "subset": subset, "val_fraction": val_fraction, "seed": 0}


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# --- part 1: the 32-trial search, training share --------------------------------------------
def _search(args, name: str, space: dict, trials: int, epochs: int, batch: int, dcfg: dict,
            resources: dict | str, work: Path, sampler: str = "grid") -> dict:
    from trials.running import search as S

    S._quiet(False, local=True)  # Ray's env settings as run_search makes them, before Ray starts here
    import optuna
    import ray

    from trials import record
    from trials.config import from_dict
    from trials.running.search import run_search, start_ray

    storage = f"sqlite:///{work}/{name}.db"
    config = from_dict({"study": name, "storage": storage, "data": dcfg, "space": space,
                        "objectives": ["accuracy", "macs"], "sampler": {"name": sampler, "seed": 0},
                        "budget": {"trials": trials, "epochs": epochs}, "training": dict(TRAINING, batch_size=batch),
                        "resources": resources})
    t = time.perf_counter()
    start_ray()
    ray_init_s = time.perf_counter() - t
    res = config.resources.resolve(ray.cluster_resources().get("CPU", 1), ray.cluster_resources().get("GPU", 0), batch)
    with C.LoadProbe() as probe:
        run_search(config, progress=False, runs_dir=work)
    done = [t for t in optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
            if t.state.name == "COMPLETE"]
    failed = [t.user_attrs.get(record.ERROR) for t in optuna.load_study(study_name=name, storage=storage).get_trials()
              if t.state.name == "FAIL"]
    rows = [{"number": t.number, "params": t.params, "ask": t.datetime_start.timestamp(),
             "tell": t.datetime_complete.timestamp(), "timeline": t.user_attrs[record.TRAIN_TIMELINE],
             "pid": None, "device": t.user_attrs.get(record.DEVICE), "latency_ms": t.user_attrs.get(record.LATENCY_MS),
             "accuracy": t.values[0]} for t in done]
    return {"ray_init_s": ray_init_s, "run_search_s": probe.result["wall_s"], "resources": res.describe(),
            "slots": res.concurrent, "trials": rows, "errors": failed, "load": probe.result}


def part_search(args, work: Path) -> dict:
    s = sizes(args.smoke)
    dcfg = data_cfg(args, s["subset"])
    out = _search(args, "gpu_search_32", s["search_space"], s["trials"], 1, s["batch"], dcfg, "auto", work)
    rows = out["trials"]
    if not rows:
        return dict(out, error="no trial completed")
    span = max(r["tell"] for r in rows) - min(r["ask"] for r in rows)
    training = sum(end - start for r in rows for start, end, _ in r["timeline"])
    images = sum(n for r in rows for _, _, n in r["timeline"])
    out.update(span_s=span, training_s=training, images=images,
               training_share=training / (out["slots"] * span),
               training_share_over_run_search=training / (out["slots"] * out["run_search_s"]),
               span_images_per_s=images / span)
    out["bare"] = _bare_same_nets(args, [r["params"] for r in rows], dcfg, s["batch"],
                                  deadline=time.time() + (8 if args.smoke else 30))
    if out["bare"].get("images_per_s"):
        out["span_over_bare"] = out["span_images_per_s"] / out["bare"]["images_per_s"]
    return out


def _bare_same_nets(args, params: list[dict], dcfg: dict, batch: int, deadline: float) -> dict:
    """The same nets, 1 epoch each, one after another in this warm process (after one warm-up epoch)."""
    import torch

    from search_space.build import build_model
    from search_space.spec import ArchSpec
    from trials.data import DataConfig, load_data

    dev = device()
    if dev == "cuda":
        torch.backends.cudnn.benchmark = True
    data = load_data(DataConfig(**dcfg)).to(dev)
    kw = dict(batch_size=batch, lr=TRAINING["lr"], momentum=TRAINING["momentum"],
              weight_decay=TRAINING["weight_decay"], nesterov=TRAINING["nesterov"], cosine=True, seed=0,
              channels_last=True,
              bf16=dev == "cuda", evaluate_each_epoch=True)
    rows, train_s, images = [], 0.0, 0
    for i, p in enumerate(params):
        if time.time() > deadline:
            break
        spec = ArchSpec.from_params(p)
        torch.manual_seed(0)
        model = build_model(spec, data.num_classes, data.in_channels, data.image_size)
        r = C.bare_train(model, data.x_train, data.y_train, data.x_val, data.y_val, 2 if i == 0 else 1, **kw)
        start, end, n = r["timeline"][-1]  # the first net's first epoch warms the process up
        rows.append({"params": p, "train_s": end - start, "images": n})
        train_s, images = train_s + end - start, images + n
    return {"nets": len(rows), "of": len(params), "images_per_s": images / train_s if train_s else None,
            "rows": rows}


# --- part 2: a worker's later trials ----------------------------------------------------------
def part_warm(args, work: Path) -> dict:
    s = sizes(args.smoke)
    space = dict(s["search_space"], width=32 if not args.smoke else 8, strategy="eflp",
                 fusion=["sum", "conv", "lc", "attention"][:s["warm_trials"]])
    gpus = 1.0 if device() == "cuda" else 0.0
    out = _search(args, "gpu_search_warm", space, s["warm_trials"], s["warm_epochs"], s["batch"],
                  data_cfg(args, s["subset"]), {"cpus_per_trial": 2 if not args.smoke else 1, "concurrent": 1,
                                                "gpus_per_trial": gpus}, work)
    rows = sorted(out["trials"], key=lambda r: r["ask"])
    ratios = []
    for i, r in enumerate(rows):
        durations = [end - start for start, end, _ in r["timeline"]]
        r["first_over_later"] = durations[0] / C.median(durations[1:]) if len(durations) > 1 else None
        if i > 0 and r["first_over_later"] is not None:
            ratios.append(r["first_over_later"])
    out.update(first_epoch_over_later_in_later_trials=ratios,
               first_epoch_over_later_max=max(ratios) if ratios else None,
               first_trial_first_over_later=rows[0]["first_over_later"] if rows else None,
               bar="in a worker's second and later trials, first epoch <= 1.1x the later epochs",
               bar_met=bool(ratios) and max(ratios) <= 1.1)
    return out


# --- part 3: replicates together -----------------------------------------------------------
def part_replicates(args, work: Path, deadline: float) -> dict:
    import torch

    from search_space.spec import ArchSpec
    from trials.config import TrainingConfig
    from trials.data import DataConfig, load_data
    from trials.training.replicates import train_together
    from trials.training.train import train_spec

    s = sizes(args.smoke)
    dev = device()
    if dev == "cpu":
        torch.set_num_threads(1)
    n = s["replicate_subset"]
    data = load_data(DataConfig(**data_cfg(args, n, val_fraction=(64 if args.smoke else 1024) / n))).to(dev)
    rows = []
    for batch in sorted(s["batches"]):
        for width in s["widths"]:
            spec = ArchSpec.from_params(dict(backbone="plain", width=width, depth=1, side_channels=16,
                                             fusion_site="gap", fusion="lc", strategy="eflp", branches="1,2"))
            for R in s["Rs"]:
                if time.time() > deadline:
                    return {"rows": rows, "cut_short": True}
                row = {"batch": batch, "width": width, "R": R}
                for mode, train in (("sequential", train_spec), ("together", train_together)):
                    if mode == "together" and R == 1:
                        continue
                    cfg = TrainingConfig(batch_size=batch, replicates=R, seed=0, save_weights=False)
                    with C.LoadProbe() as probe:
                        res = train(spec, data, cfg, 2, device=dev)
                    start, end, images = res.timeline[-1]
                    row[mode] = {"wall_s": end - start, "images_per_s": images / (end - start),
                                 "accuracy": res.history[-1], "busy_cores": probe.result["machine_busy_cores"]}
                rows.append(row)
                print(f"replicates b{batch} w{width} R={R}: " + ", ".join(
                    f"{m} {row[m]['wall_s']:.3f}s" for m in ("sequential", "together") if m in row), flush=True)
    one = {(r["batch"], r["width"]): r["sequential"]["wall_s"] for r in rows if r["R"] == 1}
    for r in rows:
        if "together" in r and (r["batch"], r["width"]) in one:
            r["together_over_one"] = r["together"]["wall_s"] / one[(r["batch"], r["width"])]
            r["together_over_sequential"] = r["together"]["wall_s"] / r["sequential"]["wall_s"]
    return {"rows": rows, "cut_short": False, "train_images": len(data.x_train)}


# --- part 4: the CFN Table-1 analogue ------------------------------------------------------
def part_cfn(args, work: Path, timeout_s: float) -> dict:
    import optuna

    s = sizes(args.smoke)
    storage = f"sqlite:///{work}/cfn.db"
    cmd = [sys.executable, "-m", "fusionscope", "ablate", "--preset", "cfn-fusion", *s["cfn"], "--storage", storage,
           "--no-progress", "--report", str(work / "cfn_report"), "--set", "resources.auto=true"]
    if args.root:
        cmd += ["--set", f"data.root={Path(args.root).resolve()}"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(C.ROOT), os.environ.get("PYTHONPATH", "")]),
               RAY_ADDRESS="")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=timeout_s)
        wall, code, tail = time.perf_counter() - t0, proc.returncode, (proc.stdout + proc.stderr)[-3000:]
    except subprocess.TimeoutExpired as err:
        wall, code = time.perf_counter() - t0, None
        tail = ((err.stdout or b"").decode(errors="replace") + (err.stderr or b"").decode(errors="replace"))[-3000:]
    out = {"command": " ".join(cmd[1:]), "wall_s": wall, "exit_code": code, "timed_out": code is None,
           "time_box_s": timeout_s, "output_tail": tail,
           "report_files": sorted(p.name for p in (work / "cfn_report").glob("*")) if (work / "cfn_report").exists()
           else []}
    try:
        study = optuna.load_study(study_name="ablate-cfn-fusion", storage=storage)
        trials = study.get_trials(deepcopy=False)
        out["trials"] = [{"params": t.params, "state": t.state.name, "train_time_s": t.user_attrs.get("train_time_s"),
                          "accuracy_replicates": t.user_attrs.get("accuracy_replicates"),
                          "device": t.user_attrs.get("device")} for t in trials]
    except Exception as err:  # noqa: BLE001 - the study may not exist if the command failed early
        out["trials_error"] = repr(err)
    out["bar"] = "CFN Table-1 analogue end to end <= 300 s on one H100/H200"
    out["bar_met"] = code in (0, 1) and wall <= 300  # 1: only the optional PNG could not be made
    return out


# --- part 5: N trials sharing the GPU ------------------------------------------------------
def part_sharing(args, work: Path, deadline: float) -> dict:
    import gpu_sharing as G

    s = sizes(args.smoke)
    dcfg = data_cfg(args, s["share_subset"])
    cuda = device() == "cuda"
    rows, cut_short = [], False
    for n in s["share_ns"]:
        if time.time() > deadline - (5 if args.smoke else 15):
            cut_short = True
            break
        epochs = G.SKIP_EPOCHS + (1 if not cuda else 3)
        cpus = max(1, min(4, (os.cpu_count() or 1) // n))
        e = G.run_explorer(n, s["share_width"], 512 if cuda else 64, epochs, dcfg, cpus, (1.0 / n) if cuda else 0.0,
                           work, f"sqlite:///{work}/share.db")
        e.pop("timelines", None)
        rows.append({"n": n, "epochs": epochs, "explorer": e,
                     "window_images_per_s": (e.get("window") or {}).get("images_per_s")})
        print(f"sharing N={n}: {rows[-1]['window_images_per_s']}", flush=True)
    base = rows[0]["window_images_per_s"] if rows else None
    for r in rows:
        r["over_n1"] = r["window_images_per_s"] / base if base and r["window_images_per_s"] else None
    return {"rows": rows, "cut_short": cut_short, "width": s["share_width"]}


# --- the run --------------------------------------------------------------------------------
def run_part(name: str, args, work: Path, budget_s: float) -> dict:
    deadline = time.time() + budget_s
    if name == "search":
        return part_search(args, work)
    if name == "warm":
        return part_warm(args, work)
    if name == "replicates":
        return part_replicates(args, work, deadline)
    if name == "cfn":
        return part_cfn(args, work, budget_s)
    return part_sharing(args, work, deadline)


def _isolated(name: str, args, work: Path, budget_s: float) -> dict:
    """The part in a process of its own, killed at its time box; what it wrote is kept."""
    out = work / f"{name}.json"
    cmd = [sys.executable, __file__, "--part", name, "--part-out", str(out), "--part-budget", str(budget_s)]
    if args.root:
        cmd += ["--root", args.root]
    if args.smoke:
        cmd.append("--smoke")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=budget_s + 20)
        tail, code = (proc.stdout + proc.stderr)[-2000:], proc.returncode
    except subprocess.TimeoutExpired as err:
        tail, code = ((err.stderr or b"").decode(errors="replace"))[-2000:], None
    result = json.loads(out.read_text()) if out.exists() else {}
    return dict(result, part_wall_s=time.perf_counter() - t0, exit_code=code, timed_out=code is None,
                output_tail=tail if code != 0 else tail[-300:])


def summary_of(parts: dict) -> dict:
    import torch

    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu (no GPU: smoke check only)"
    search, reps, cfn, warm, share = (parts.get(k, {}) for k in ("search", "replicates", "cfn", "warm", "sharing"))
    r4 = {f"w{r['width']} b{r['batch']}": round(r["together_over_one"], 3)
          for r in reps.get("rows", []) if r["R"] == 4 and "together_over_one" in r}
    # launch-bound: width 32, batch 128 first (the smoke check's tiny net stands in for it)
    headline = r4.get("w32 b128", r4.get("w32 b512", next(iter(r4.values())))) if r4 else None
    return {"device": dev, "training_share": search.get("training_share"),
            "training_share_over_run_search": search.get("training_share_over_run_search"),
            "span_over_bare": search.get("span_over_bare"),
            "r4_together_over_one": headline, "r4_together_over_one_all": r4,
            "cfn_analogue_wall_s": cfn.get("wall_s") if cfn.get("exit_code") in (0, 1) else None,
            "cfn_analogue_exit_code": cfn.get("exit_code"), "cfn_analogue_timed_out": cfn.get("timed_out"),
            "first_epoch_over_later_max": warm.get("first_epoch_over_later_max"),
            "sharing_over_n1": {r["n"]: r.get("over_n1") for r in share.get("rows", [])},
            "packing": packing_of(reps, share),
            "bars": "not judged: a CPU smoke check" if not torch.cuda.is_available() else {
                     "training_share >= 0.90": (search.get("training_share") or 0) >= 0.9,
                     "r4_together_over_one <= 1.5 (width 32)": headline is not None and headline <= 1.5,
                     "cfn_analogue_wall_s <= 300": bool(cfn.get("bar_met")),
                     "first epoch of later trials <= 1.1x later epochs": bool(warm.get("bar_met"))}}


def packing_of(reps: dict, share: dict) -> dict:
    """What ``resources: auto`` and ``replicates_mode: auto`` should read, from this run: the tables
    ``trials.training.replicates.CUDA_TOGETHER_FASTER`` ((width, batch) -> R = 4 together faster than
    sequential) and ``trials.config.AUTO_TRIALS_PER_GPU`` (the fewest trials per GPU within 5 % of
    the best aggregate images/s, at batch 512)."""
    together = {f"({r['width']}, {r['batch']})": r["together_over_sequential"] < 1.0
                for r in reps.get("rows", []) if r["R"] == 4 and "together_over_sequential" in r}
    rates = {r["n"]: r["window_images_per_s"] for r in share.get("rows", []) if r.get("window_images_per_s")}
    best = max(rates.values()) if rates else None
    per_gpu = min(n for n, v in rates.items() if v >= 0.95 * best) if best else None
    return {"replicates_together_faster": together, "trials_per_gpu_at_batch_512": per_gpu,
            "sharing_images_per_s": rates}


def main() -> None:
    ap = C.parser(__doc__, "unused: see --smoke")
    ap.add_argument("--smoke", action="store_true", help="CPU, tiny sizes, in-process: a check of the code path")
    ap.add_argument("--root", default=None, help="folder of the Fashion-MNIST IDX .gz files")
    ap.add_argument("--budget-s", type=float, default=480, help="the whole run's time box (full mode)")
    ap.add_argument("--isolate", action="store_true", help="with --smoke: each part in its own process, as the "
                                                           "full mode runs them")
    ap.add_argument("--parts", default=",".join(PARTS))
    ap.add_argument("--out", default=None, help="results file (default results/gpu_search[_quick].json)")
    ap.add_argument("--part", default=None, help=argparse_hidden())
    ap.add_argument("--part-out", default=None, help=argparse_hidden())
    ap.add_argument("--part-budget", type=float, default=None, help=argparse_hidden())
    args = ap.parse_args()
    if args.part:  # a child of the full mode: one part, its result into --part-out
        work = Path(args.part_out).parent
        try:
            result = run_part(args.part, args, work, args.part_budget)
        except Exception:  # noqa: BLE001 - recorded in the results file, the run goes on
            result = {"error": traceback.format_exc()[-3000:]}
        Path(args.part_out).write_text(json.dumps(result, default=C._json_default))
        return
    t_start = time.time()
    started = C.now_iso()
    out_path = Path(args.out) if args.out else C.RESULTS / ("gpu_search_quick.json" if args.smoke else "gpu_search.json")
    missing = sorted({m for p in PARTS for m in NEEDS[p] if importlib.util.find_spec(m) is None})
    work = Path(tempfile.mkdtemp(prefix="fusionscope-gpu-search-"))
    scale = sum(PARTS.values()) / args.budget_s
    parts: dict = {}
    wanted = [p for p in PARTS if p in args.parts.split(",")]

    def write(complete: bool) -> None:
        payload = {"benchmark": "gpu_search", "command": C.command(), "started": started, "machine": C.machine(),
                   "device": C.device_info(), "versions": C.versions(), "code": C.git_state(),
                   "mode": "smoke (CPU, tiny sizes: not a measurement)" if args.smoke else "full",
                   "missing_modules": missing, "time_boxes_s": {p: PARTS[p] / scale for p in wanted},
                   "elapsed_s": time.time() - t_start, "complete": complete, "summary": summary_of(parts),
                   "parts": parts}
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(payload, indent=2, default=C._json_default) + "\n")

    for name in wanted:
        left = args.budget_s - (time.time() - t_start)
        need = [m for m in NEEDS[name] if m in missing]
        if need:
            parts[name] = {"not_run": f"missing modules: {', '.join(need)}"}
        elif left < 10 and not args.smoke:
            parts[name] = {"not_run": f"the run's time box ({args.budget_s:.0f} s) was spent"}
        else:
            box = left if name == LAST else min(PARTS[name] / scale, left)
            with C.LoadProbe() as probe:
                if args.smoke and not args.isolate:  # in this process: seconds, and the same functions
                    try:
                        parts[name] = run_part(name, args, work, box)
                    except Exception:  # noqa: BLE001 - recorded, the run goes on
                        parts[name] = {"error": traceback.format_exc()[-3000:]}
                else:
                    parts[name] = _isolated(name, args, work, box)
            parts[name]["load"] = probe.result
        print(f"part {name}: done at {time.time() - t_start:.0f}s", flush=True)
        write(complete=False)
    write(complete=True)
    print(json.dumps(summary_of(parts), indent=2, default=C._json_default))
    print(f"wrote {out_path}")


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
