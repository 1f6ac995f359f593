"""Issue #13 item 3: R seed replicates trained together (``trials.training.replicates.train_together``)
against the same R trained one after another (``trials.training.train.train_spec``, ``replicates: R``).

CPU (default): R = 4, widths 8 and 16 (the quickstart's) and 32, 1 and 2 threads, a CFN-style
fusion net (plain backbone, LC fusion of two side branches, EFLP) on 28x28x1 Fashion-MNIST, batch
64, one epoch of 512 training images per measurement after a one-epoch warm-up; one run each
(the issue asks for one run), with the machine's load sampled beside each figure.  Reported: the
training seconds (``train_time_s``, validation excluded) of each mode and their ratio
together/sequential (< 1: together is faster).  ``choose_mode`` in ``trials/training/replicates.py`` reads
its CPU rule from this file's results.

CUDA (``--device cuda``, written to ``results/replicates_cuda.json``): batch 128 and 512, widths
32 and 64, R = 1, 2, 4, 8, Fashion-MNIST at 28x28 (8,192 training images, two epochs, the second
timed: the first carries cuDNN autotuning); images/s of each mode and the speed-up.

Run: ``nice -n 19 .venv/bin/python benchmarks/replicates.py [--device cpu|cuda] [--quick]``
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _common as C  # noqa: E402

import torch  # noqa: E402

from search_space.spec import ArchSpec  # noqa: E402
from trials.config import TrainingConfig  # noqa: E402
from trials.data import DataConfig, load_data  # noqa: E402
from trials.training.replicates import train_together  # noqa: E402
from trials.training.train import train_spec  # noqa: E402


def spec(width: int) -> ArchSpec:
    return ArchSpec.from_params(dict(backbone="plain", width=width, depth=1, side_channels=16, fusion_site="gap",
                                     fusion="lc", strategy="eflp", branches="1,2"))


def _time(mode: str, width: int, R: int, data, batch: int, device: str, epochs: int) -> dict:
    cfg = TrainingConfig(batch_size=batch, replicates=R, seed=0, save_weights=False)
    train = train_together if mode == "together" else train_spec
    with C.LoadProbe() as probe:
        res = train(spec(width), data, cfg, epochs, device=device)
    start, end, images = res.timeline[-1]  # the last epoch: the earlier ones carry warm-up
    return {"train_s_last_epoch": round(end - start, 3), "images_per_s": round(images / (end - start), 1),
            "final_accuracy_mean": round(res.history[-1], 4), **probe.result}


def cpu(args) -> dict:
    n_train = 128 if args.quick else 512
    data = load_data(DataConfig(subset=n_train + 128, val_fraction=128 / (n_train + 128)))
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for width in ((8,) if args.quick else (8, 16, 32)):
            row = {"threads": threads, "width": width, "R": 4}
            for mode in ("sequential", "together"):
                row[mode] = _time(mode, width, 4, data, 64, "cpu", epochs=2)
            row["ratio_together_over_sequential"] = round(
                row["together"]["train_s_last_epoch"] / row["sequential"]["train_s_last_epoch"], 3)
            print(row["threads"], row["width"], row["ratio_together_over_sequential"], flush=True)
            rows.append(row)
    return {"setting": {"spec": "plain, LC fusion, branches 1,2, EFLP, depth 1", "batch": 64, "R": 4,
                        "train_images": n_train, "epochs": 2, "timed": "second epoch"},
            "rows": rows}


def cuda(args) -> dict:
    data = load_data(DataConfig(subset=1024 if args.quick else 8192 + 1024, val_fraction=1024 / (8192 + 1024)))
    rows = []
    for batch in (128, 512):
        for width in (32, 64):
            for R in ((1, 2) if args.quick else (1, 2, 4, 8)):
                row = {"batch": batch, "width": width, "R": R}
                for mode in ("sequential", "together"):
                    row[mode] = _time(mode, width, R, data, batch, "cuda", epochs=2)
                row["speedup_together"] = round(row["together"]["images_per_s"] / row["sequential"]["images_per_s"], 3)
                print(batch, width, R, row["speedup_together"], flush=True)
                rows.append(row)
    return {"setting": {"spec": "plain, LC fusion, branches 1,2, EFLP, depth 1", "epochs": 2, "timed": "second epoch"},
            "rows": rows}


def main() -> None:
    ap = C.parser(__doc__)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = ap.parse_args()
    quiet, started = C.begin(args)
    payload = cuda(args) if args.device == "cuda" else cpu(args)
    C.write_results("replicates" if args.device == "cpu" else "replicates_cuda",
                    {"_started": started, "quiet_wait": quiet, **payload})


if __name__ == "__main__":
    main()
