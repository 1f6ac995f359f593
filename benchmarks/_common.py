"""Shared helpers of the benchmark scripts: machine facts, versions, a bare training loop,
load sampling, and the results file.

Nothing here imports the project's trainer (``trials.training.train``): the bare loop below is the
reference the project's loop is measured against, so it is written independently.  It
uses the project's *model* (``search_space.build.build_model``) and *data tensors*
(``trials.data.load_data``) so that only the loop differs.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


# --- facts about the run -------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return sorted(f for f in flags if f in {"avx", "avx2", "avx512f", "avx512_bf16", "amx_bf16", "fma"})
    except OSError:
        pass
    return []


def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu_model": cpu_model(),
            "cpu_flags": cpu_flags(), "cores": os.cpu_count(), "hostname": platform.node(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}


def device_info() -> dict[str, Any]:
    if torch.cuda.is_available():
        return {"cuda": True, "name": torch.cuda.get_device_name(0), "count": torch.cuda.device_count()}
    return {"cuda": False, "name": "cpu only (no GPU in this session)"}


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"torch": torch.__version__}
    for name in ("optuna", "ray", "fusionscope", "numpy", "scipy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def loadavg() -> list[float]:
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def _busy_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _own_cpu_s() -> float:
    """CPU seconds of this process and its waited-for children (Ray workers are not waited for)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class LoadProbe:
    """How busy the machine was during a measurement, and how much of that was us.

    ``machine_busy_cores`` counts every process (ours, our Ray workers', other engineers');
    ``own_cores`` only this process.  When a measurement runs in this process alone, the
    difference is other load; when Ray workers train, they are part of the difference too.
    """

    def __enter__(self) -> "LoadProbe":
        self.t0, self.cpu0, self.jif0, self.load0 = time.perf_counter(), _own_cpu_s(), _busy_jiffies(), loadavg()
        return self

    def __exit__(self, *exc) -> None:
        wall = time.perf_counter() - self.t0
        busy1, total1 = _busy_jiffies()
        busy = busy1 - self.jif0[0]
        total = total1 - self.jif0[1]
        cores = os.cpu_count() or 1
        self.result = {
            "wall_s": wall,
            "machine_busy_cores": round(cores * busy / total, 3) if total else None,
            "own_cores": round((_own_cpu_s() - self.cpu0) / wall, 3) if wall > 0 else None,
            "loadavg_before": self.load0, "loadavg_after": loadavg(),
        }


def command() -> str:
    return " ".join(shlex.quote(a) for a in [".venv/bin/python", os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])


_BEFORE_RUN: dict[str, Any] = {}  # what wait_for_quiet saw, written into the results file
_GIT_AT_START: dict[str, Any] = {}  # filled by wait_for_quiet: the code as the measurement starts


def git_state() -> dict[str, Any]:
    """The product code measured: HEAD and whether product files differ from it."""
    import subprocess

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    changed = git("status", "--porcelain", "--", "trials", "search_space", "analysis")
    return {"head": git("rev-parse", "HEAD"), "product_files_changed": changed.splitlines() if changed else []}


def results_name(name: str) -> str:
    """``--quick`` runs are smoke checks: they write ``<name>_quick.json``, never the real file."""
    return f"{name}_quick" if "--quick" in sys.argv[1:] else name


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = results_name(name)
    out = {"benchmark": name, "command": command(), "started": payload.pop("_started", None),
           "machine": machine(), "device": device_info(), "versions": versions(),
           "machine_note": ("2 CPU cores shared with other engineers running tests: load from other processes "
                            "is sampled per measurement (machine_busy_cores, loadavg) and disturbs timings"),
           "machine_before_run": dict(_BEFORE_RUN), "code": _GIT_AT_START or git_state(),
           **payload}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(out, indent=2, default=_json_default) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")
    return path


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


# --- statistics ----------------------------------------------------------------------------
def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def mean_ci95(xs: list[float]) -> tuple[float, float, float]:
    """Mean and a Student-t 95% interval over independent repeats (seeds)."""
    n = len(xs)
    m = sum(xs) / n
    if n < 2:
        return m, m, m
    from scipy import stats

    half = stats.t.ppf(0.975, n - 1) * statistics.stdev(xs) / math.sqrt(n)
    return m, m - half, m + half


# --- the bare loop -------------------------------------------------------------------------
def bare_train(model: nn.Module, x_train: torch.Tensor, y_train: torch.Tensor, x_val: torch.Tensor | None,
               y_val: torch.Tensor | None, epochs: int, batch_size: int, lr: float, momentum: float,
               weight_decay: float, nesterov: bool, cosine: bool, seed: int, channels_last: bool = True,
               bf16: bool = False, evaluate_each_epoch: bool = True) -> dict[str, Any]:
    """A plain PyTorch loop: shuffled mini-batches from in-memory tensors, SGD, cross-entropy.

    Cosine decay is applied by setting the learning rate by hand each step (no scheduler
    object).  Returns the training time (without evaluation), the total time, images/s
    and the validation accuracy after each epoch.
    """
    device = x_train.device
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device, memory_format=fmt)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay,
                          nesterov=nesterov)
    gen = torch.Generator().manual_seed(seed)
    n = len(x_train)
    steps = epochs * math.ceil(n / batch_size)
    step, seen, train_s, history, timeline = 0, 0, 0.0, [], []
    amp = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else torch.autocast(device.type, enabled=False)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    t_all = time.perf_counter()
    for _ in range(epochs):
        sync()
        t0, wall0, seen0 = time.perf_counter(), time.time(), seen
        order = torch.randperm(n, generator=gen).to(device)
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            xb = x_train[idx].contiguous(memory_format=fmt)
            if cosine:
                for g in opt.param_groups:
                    g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
            with amp:
                loss = F.cross_entropy(model(xb), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            seen += len(idx)
        sync()
        train_s += time.perf_counter() - t0
        timeline.append((wall0, time.time(), seen - seen0))
        if evaluate_each_epoch and x_val is not None:
            history.append(_bare_eval(model, x_val, y_val, fmt, amp))
    total_s = time.perf_counter() - t_all
    return {"train_s": train_s, "total_s": total_s, "images": seen, "images_per_s": seen / train_s,
            "history": history, "timeline": timeline}


def _bare_eval(model: nn.Module, x: torch.Tensor, y: torch.Tensor, fmt, amp) -> float:
    model.eval()
    correct = 0
    with torch.no_grad(), amp:
        for i in range(0, len(x), 1024):
            correct += (model(x[i:i + 1024].contiguous(memory_format=fmt)).argmax(1) == y[i:i + 1024]).sum().item()
    model.train()
    return correct / len(x)


def restart_ray() -> float:
    """Shut Ray down if it runs and start it as ``run_search`` does; seconds ``ray.init`` took."""
    import ray

    from trials.running.search import start_ray

    if ray.is_initialized():
        ray.shutdown()
    t = time.perf_counter()
    start_ray()
    return time.perf_counter() - t


def overlap_throughput(timelines: list[list[tuple[float, float, int]]], skip_epochs: int = 0) -> dict[str, float] | None:
    """Aggregate images/s of concurrent runs over the window in which all of them trained.

    Each timeline is [(start, end, images)] per epoch's training phase (Unix seconds).  The
    window runs from the last first-start to the first last-end, so staggered starts and
    ends (a Ray actor starting late) count against nobody, and ``skip_epochs`` leaves each
    run's first epochs (cuDNN autotuning, allocator warm-up) out; within an epoch images are
    taken as spread evenly, and the validation gaps between epochs count as no images.
    """
    timelines = [tl[skip_epochs:] for tl in timelines]  # skip: warm-up (cuDNN autotuning) epochs
    if not timelines or not all(timelines):
        return None
    lo = max(t[0][0] for t in timelines)
    hi = min(t[-1][1] for t in timelines)
    if hi <= lo:
        return None
    images = 0.0
    for tl in timelines:
        for start, end, n in tl:
            overlap = min(end, hi) - max(start, lo)
            if overlap > 0 and end > start:
                images += n * overlap / (end - start)
    return {"images_per_s": images / (hi - lo), "window_s": hi - lo}


def _busy_cores(window_s: float) -> float:
    """Cores kept busy by all processes over the next ``window_s`` seconds."""
    b0, tot0 = _busy_jiffies()
    time.sleep(window_s)
    b1, tot1 = _busy_jiffies()
    return (os.cpu_count() or 1) * (b1 - b0) / max(tot1 - tot0, 1)


def wait_for_quiet(max_wait_s: float = 180, threshold_cores: float = 0.6, window_s: float = 5) -> dict[str, Any]:
    """Sleep until other processes use fewer than ``threshold_cores`` for ``window_s``, at most
    ``max_wait_s``; returns what was seen, for the results file.  The machine is shared."""
    t0 = time.perf_counter()
    seen = []
    while True:
        busy = _busy_cores(window_s)
        seen.append(round(busy, 2))
        waited = time.perf_counter() - t0
        if busy < threshold_cores or waited >= max_wait_s:
            _GIT_AT_START.update(git_state())
            _BEFORE_RUN.clear()
            _BEFORE_RUN.update({"waited_s": round(waited, 1), "busy_cores_samples": seen, "quiet": busy < threshold_cores,
                    "threshold_cores": threshold_cores})
            return dict(_BEFORE_RUN)


def settle_after_ray_start(max_wait_s: float = 30, threshold_cores: float = 0.3) -> float:
    """Wait for the work Ray starts in the background (its prestarted workers importing torch)
    to end, as it has for a Ray started earlier; seconds waited (recorded, never hidden)."""
    t0 = time.perf_counter()
    while _busy_cores(1.0) >= threshold_cores and time.perf_counter() - t0 < max_wait_s:
        pass
    return time.perf_counter() - t0


def parser(doc: str, quick_help: str = "tiny sizes: a smoke check, not a measurement") -> Any:
    """The options every benchmark has: --quick and --max-wait."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--max-wait", type=float, default=None,
                    help="seconds to wait for the shared machine to go quiet first (default 180, 0 with --quick)")
    return ap


def begin(args: Any) -> tuple[dict[str, Any], str]:
    """Wait for a quiet machine (recorded in the results), then note the start time."""
    quiet = wait_for_quiet(max_wait_s=args.max_wait if args.max_wait is not None else (0 if args.quick else 180))
    print("machine before the run:", quiet, flush=True)
    return quiet, now_iso()
