"""Issue item 3: several trials sharing one GPU through Ray's fractional GPUs, against the
same number of bare PyTorch processes sharing it.

For N = 1, 2, 4, 8 and batch 512 and 128 (width 32), and batch 512 at width 64, two runs:

- **explorer**: ``run_search`` with a grid of exactly N width-32 (or 64) specs (plain, depth 2,
  3 stages, GAP fusion over branches "1,2"; N = 1: LC/EFLP, 2: LC x EFLP/EPLF, 4: + conv,
  8: + sum, attention), ``resources.concurrent = N``, ``gpus_per_trial = 1/N``,
  ``cpus_per_trial = min(4, cores // N)``: all N trials run at once, each a Ray actor.
- **bare**: N processes (``multiprocessing`` spawn), each training one of the same N specs
  with ``_common.bare_train`` (bf16 autocast + channels_last, the same batch, epochs and
  per-epoch validation), released together by a barrier once their data sit on the GPU.

The figure is the aggregate training images/s over the window in which all N runs were
training, after each run's first epoch (``_common.overlap_throughput``, from each run's per-epoch training timeline: the
project's trainer records it as the ``train_timeline`` user attr), so Ray's staggered
actor starts are not charged to the GPU sharing itself; the end-to-end figures (span from
the first trial's start to the last one's finish, ``run_search`` wall time, trials/hour)
are reported beside it.  Epochs are set so that each run trains about ``--seconds``.

Data: Fashion-MNIST resized to 32x32 (``image_size: 32``; 1 channel, where the issue's
reference used 3 — only the first convolution differs).  ``--root`` points at the IDX
files (default: Debian's ``/usr/share/datasets/fashion-mnist``).

Needs CUDA.  Without it the results file says "not measured"; ``--quick`` then runs the
same code path on the CPU (N = 1, 2, tiny data) as a smoke check only, and labels it so.

Run: ``.venv/bin/python benchmarks/gpu_sharing.py [--quick] [--root DIR] [--seconds S]``
"""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

BASE = dict(backbone="plain", depth=2, stages=3, fusion_site="gap", branches="1,2", side_channels=64, alpha=1,
            combination="single")
FUSIONS = {1: (["lc"], ["eflp"]), 2: (["lc"], ["eflp", "eplf"]), 4: (["lc", "conv"], ["eflp", "eplf"]),
           8: (["lc", "conv", "sum", "attention"], ["eflp", "eplf"])}
TRAINING = dict(optimizer="sgd", lr=0.05, momentum=0.9, nesterov=False, weight_decay=5e-4,
                schedule="cosine",
                replicates=1, seed=0, save_weights=False)
SKIP_EPOCHS = 1  # each run's first epoch (cuDNN autotuning in a fresh process) is left out of the window
#: the issue's reference: N bare processes sharing one H100 (images/s, aggregate)
REFERENCE = {(32, 512): {1: 99.8e3, 2: 138e3, 4: 140e3, 8: 141e3},
             (32, 128): {1: 21e3, 2: 47e3, 4: 78e3, 8: 88e3},
             (64, 512): {1: 95e3, 2: 101e3, 4: 101e3, 8: 101e3}}


def space(n: int, width: int) -> dict:
    fusion, strategy = FUSIONS[n]
    return dict(BASE, width=width, fusion=fusion, strategy=strategy)


def specs(n: int, width: int) -> list:
    from trials.config import from_dict

    return list(from_dict({"space": space(n, width)}).search_space().grid())


def epochs_for(n: int, width: int, batch: int, train_images: int, seconds: float, cuda: bool) -> int:
    """Enough epochs for each run to train about ``seconds``, from the reference rates."""
    if not cuda:
        return SKIP_EPOCHS + 1
    per_run = REFERENCE.get((width, batch), REFERENCE[(32, 512)])[n] / n
    return SKIP_EPOCHS + max(2, round(seconds * per_run / train_images))


# --- bare: N processes --------------------------------------------------------------------
def _bare_worker(spec_params: dict, data_cfg: dict, batch: int, epochs: int, threads: int, device: str,
                 barrier, queue) -> None:
    import torch

    from search_space.build import build_model
    from search_space.spec import ArchSpec
    from trials.data import DataConfig, load_data

    torch.set_num_threads(threads)
    if device == "cuda":
        torch.backends.cudnn.benchmark = True
    data = load_data(DataConfig(**data_cfg)).to(device)
    torch.manual_seed(TRAINING["seed"])
    model = build_model(ArchSpec.from_params(spec_params), data.num_classes, data.in_channels, data.image_size)
    barrier.wait()
    r = C.bare_train(model, data.x_train, data.y_train, data.x_val, data.y_val, epochs, batch, TRAINING["lr"],
                     TRAINING["momentum"], TRAINING["weight_decay"], nesterov=TRAINING["nesterov"], cosine=True,
                     seed=TRAINING["seed"], channels_last=True, bf16=device == "cuda", evaluate_each_epoch=True)
    queue.put({"images_per_s": r["images_per_s"], "timeline": r["timeline"], "history": r["history"]})


def run_bare(n: int, width: int, batch: int, epochs: int, data_cfg: dict, threads: int, device: str) -> dict:
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_bare_worker, args=(s.to_params(), data_cfg, batch, epochs, threads, device,
                                                    barrier, queue)) for s in specs(n, width)]
    t = time.perf_counter()
    for p in procs:
        p.start()
    runs = [queue.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    window = C.overlap_throughput([r["timeline"] for r in runs], SKIP_EPOCHS)
    return {"wall_s": time.perf_counter() - t, "window": window,
            "per_run_images_per_s": [r["images_per_s"] for r in runs],
            "final_accuracy": [r["history"][-1] for r in runs], "timelines": [r["timeline"] for r in runs]}


# --- explorer: run_search with N concurrent trials ----------------------------------------
def run_explorer(n: int, width: int, batch: int, epochs: int, data_cfg: dict, cpus: int, gpus_per_trial: float,
                 work: Path, storage: str) -> dict:
    import optuna

    from trials import record
    from trials.config import from_dict
    from trials.running.search import run_search

    name = f"gpu_share_w{width}_b{batch}_n{n}"
    config = from_dict({"study": name, "storage": storage, "data": data_cfg, "space": space(n, width),
                        "objectives": ["accuracy", "macs"], "sampler": {"name": "grid"},
                        "budget": {"trials": n, "epochs": epochs}, "training": dict(TRAINING, batch_size=batch),
                        "resources": {"cpus_per_trial": cpus, "concurrent": n, "gpus_per_trial": gpus_per_trial}})
    ray_init_s = C.restart_ray()
    with C.LoadProbe() as probe:
        run_search(config, progress=False, runs_dir=work)
    trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    done = [t for t in trials if t.state.name == "COMPLETE"]
    out = {"ray_init_s": ray_init_s, "run_search_s": probe.result["wall_s"], "trials": len(done),
           "errors": [t.user_attrs.get(record.ERROR) for t in trials if t.state.name == "FAIL"], "load": probe.result}
    if len(done) != n:
        return out
    timelines = [t.user_attrs[record.TRAIN_TIMELINE] for t in done]
    span = (max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)).total_seconds()
    images = sum(sum(e[2] for e in tl) for tl in timelines)
    out.update({"window": C.overlap_throughput(timelines, SKIP_EPOCHS), "span_s": span, "span_images_per_s": images / span,
                "trials_per_hour": 3600 * n / probe.result["wall_s"],
                "per_trial_images_per_s": [t.user_attrs[record.IMAGES_PER_S] for t in done],
                "devices": sorted({str(t.user_attrs.get(record.DEVICE)) for t in done}),
                "final_accuracy": [t.values[0] for t in done], "timelines": timelines})
    return out


def main() -> None:
    ap = C.parser(__doc__, "tiny sizes; on a machine without CUDA a CPU smoke check")
    ap.add_argument("--root", default=None, help="folder of the Fashion-MNIST IDX files")
    ap.add_argument("--seconds", type=float, default=8.0, help="training time of each run, about")
    ap.add_argument("--ns", default="1,2,4,8")
    ap.add_argument("--settings", default="32x512,32x128,64x512", help="WIDTHxBATCH pairs, comma-separated")
    args = ap.parse_args()
    quiet, started = C.begin(args)
    import ray
    import torch

    cuda = torch.cuda.is_available()
    payload: dict = {"_started": started, "base_spec": BASE, "fusions_by_n": FUSIONS, "training": TRAINING,
                     "reference_bare_h100": {f"w{w} b{b}": v for (w, b), v in REFERENCE.items()}}
    if not cuda and not args.quick:
        payload["status"] = payload["summary"] = "not measured: no GPU in this session"
        C.write_results("gpu_sharing", payload)
        print(payload["status"])
        return
    from trials.data import DataConfig, load_data

    ns = (1, 2) if args.quick else tuple(int(v) for v in args.ns.split(","))
    settings = [(32, 128)] if args.quick else [tuple(int(v) for v in p.split("x")) for p in args.settings.split(",")]
    data_cfg = {"dataset": "fashion-mnist", "root": str(Path(args.root).resolve()) if args.root else None, "image_size": 32, "val_fraction": 0.1, "seed": 0,
                "subset": 1000 if args.quick else None}
    train_images = len(load_data(DataConfig(**data_cfg)).x_train)
    cores = C.os.cpu_count() or 1
    payload.update(status="measured" if cuda else "CPU smoke check of the code path only (no GPU)",
                   data=data_cfg, train_images=train_images, seconds_per_run=args.seconds)
    work = Path(tempfile.mkdtemp(prefix="fusionscope-bench-gpu-"))
    rows, summary = [], {}
    try:
        for width, batch in settings:
            for n in ns:
                epochs = epochs_for(n, width, batch, train_images, args.seconds, cuda)
                cpus = max(1, min(4, cores // n))
                bare = run_bare(n, width, batch, epochs, data_cfg, cpus, "cuda" if cuda else "cpu")
                explorer = run_explorer(n, width, batch, epochs, data_cfg, cpus, (1.0 / n) if cuda else 0.0, work,
                                        f"sqlite:///{work}/gpu.db")
                row = {"width": width, "batch": batch, "n": n, "epochs": epochs, "cpus_per_run": cpus,
                       "bare": bare, "explorer": explorer}
                rows.append(row)
                e, b = (explorer.get("window") or {}), (bare.get("window") or {})
                ref = REFERENCE[(width, batch)][n]
                summary[f"w{width} b{batch} N={n}"] = s = {
                    "explorer_images_per_s": e.get("images_per_s"), "bare_images_per_s": b.get("images_per_s"),
                    "explorer_vs_bare": (e["images_per_s"] / b["images_per_s"]) if e and b else None,
                    "issue_reference_images_per_s": ref,
                    "explorer_vs_issue_reference": (e["images_per_s"] / ref) if e else None,
                    "explorer_span_images_per_s": explorer.get("span_images_per_s"),
                    "explorer_trials_per_hour": explorer.get("trials_per_hour"),
                    "errors": explorer.get("errors")}
                print(f"w{width} b{batch} N={n} epochs {epochs}: explorer {s['explorer_images_per_s'] or 0:,.0f} "
                      f"img/s, bare {s['bare_images_per_s'] or 0:,.0f} img/s, ratio {s['explorer_vs_bare'] or 0:.3f}"
                      f" (issue ref {ref:,.0f})", flush=True)
                # written after every setting: a run cut short keeps what it measured
                C.write_results("gpu_sharing", dict(payload, _started=started, raw=rows, summary=summary,
                                                    complete=False))
    finally:
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    C.write_results("gpu_sharing", dict(payload, raw=rows, summary=summary, complete=True))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
