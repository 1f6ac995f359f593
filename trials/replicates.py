"""Seed replicates of one spec trained together: one stacked forward and backward for all seeds.

An ablation needs several seeds of each design, and ``trials.train.train_spec`` trains them one
after another.  Here the R replicates become one functional model: ``torch.func.stack_module_state``
stacks their parameters and buffers along a new leading dimension, ``vmap`` over
``functional_call`` runs all R forwards as one batched computation, and one backward fills every
replicate's gradient (the loss is the sum of the per-replicate means, so replicate r's gradient is
exactly its own).  Batch-norm running statistics are stacked buffers, so each replicate keeps its
own.  SGD (momentum, Nesterov, weight decay) and AdamW act elementwise, so one optimizer over the
stacked tensors updates each replicate exactly as its own optimizer would.

Same semantics as ``train_spec``, so a replicate's curve matches training its seed alone:
replicate r is initialised after ``torch.manual_seed(cfg.seed + r)`` and draws its data order from
``torch.Generator().manual_seed(cfg.seed + r)`` and its augmentation (``data.augment``) from
``trials.data.augmenter(data, cfg.seed + r)``; same optimizer, schedule (per step) and
evaluation.  Differences are floating-point only (batched kernels sum in another order), so the
curves agree to float tolerance early and within seed noise late.

Whether this is faster depends on the device: small nets are launch-bound on a GPU, where R
replicates in one launch approach R times the throughput, but on this CPU stacking was slower
(``benchmarks/results/replicates.json``); ``choose_mode`` holds the rule measured there.
"""

from __future__ import annotations

import math
import time
import types
from typing import Callable

import torch
from torch import nn
from torch.func import functional_call, stack_module_state
from torch.nn import functional as F

from search_space.build import build_model
from search_space.spec import ArchSpec
from trials.config import TrainingConfig
from trials.data import TensorData, augmenter
from trials.train import CandidateError, TrainResult, _autocast, _optimizer, _schedule, evaluate, test_accuracies

#: ``choose_mode`` on CPU: together only where ``benchmarks/replicates.py`` measured it faster than
#: sequential at R = 4.  Keys (width, threads); widths between measured ones use the next wider.
#: Filled from benchmarks/results/replicates.json (see benchmarks/README.md, "Replicates").
CPU_TOGETHER_FASTER: dict[tuple[int, int], bool] = {
    (8, 1): False, (16, 1): False, (32, 1): False,  # together/sequential 1.68, 3.45, 1.69
    (8, 2): True, (16, 2): False, (32, 2): False,  # together/sequential 0.66, 1.60, 1.17
}


def choose_mode(width: int | None, threads: int, device: torch.device | str = "cpu") -> str:
    """``"together"`` or ``"sequential"`` for R replicates of a net of ``width`` on ``device``.

    The rule (from ``benchmarks/results/replicates.json``): on CUDA, together (small nets are
    launch-bound, one stacked launch serves R replicates); on CPU, together only for a (width,
    threads) the benchmark measured faster together, else sequential (the CPU is compute-bound
    and the batched kernels were slower).  Unmeasured CPU settings stay sequential.
    """
    if torch.device(device).type == "cuda":
        return "together"
    if width is None:  # a network fixed by its paper or by torchvision (no width): never measured together
        return "sequential"
    for (w, t), faster in sorted(CPU_TOGETHER_FASTER.items()):
        if t == threads and width <= w:
            return "together" if faster else "sequential"
    return "sequential"


def train_together(spec: ArchSpec, data: TensorData, cfg: TrainingConfig, epochs: int,
                   device: torch.device | str = "cpu",
                   on_epoch: Callable[[int, float], None] | None = None) -> TrainResult:
    """Train ``cfg.replicates`` seeds of ``spec`` in one stacked model; same result as ``train_spec``."""
    device = torch.device(device)
    data = data.to(device)
    R = cfg.replicates
    models: list[nn.Module] = []
    for r in range(R):
        torch.manual_seed(cfg.seed + r)
        models.append(build_model(spec, data.num_classes, data.in_channels, data.image_size).to(device))
    params, buffers = stack_module_state(models)
    # the template whose tensors functional_call swaps for each replicate's slice
    template = build_model(spec, data.num_classes, data.in_channels, data.image_size).to("meta")
    template.train()

    def forward(p: dict, b: dict, x: torch.Tensor) -> torch.Tensor:
        return functional_call(template, (p, b), (x,))

    batched = torch.vmap(forward, in_dims=(0, 0, 0))
    # trials.train's optimizer and schedule read only ``.parameters()``: one definition of both
    stacked = types.SimpleNamespace(parameters=lambda: list(params.values()))
    steps_per_epoch = math.ceil(len(data.x_train) / cfg.batch_size)
    opt = _optimizer(stacked, cfg)
    sched = _schedule(opt, cfg, epochs * steps_per_epoch)
    gens = [torch.Generator(device="cpu").manual_seed(cfg.seed + r) for r in range(R)]
    augs = [augmenter(data, cfg.seed + r, device) for r in range(R)]  # as train_spec: each seed's own stream
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    history, seen, train_time = [], 0, 0.0
    accs: list[float] = []
    by_replicate: list[list[float]] = []
    timeline: list[tuple[float, float, int]] = []
    n = len(data.x_train)
    for epoch in range(epochs):
        start, wall_start, seen_before = time.perf_counter(), time.time(), seen
        orders = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(device)  # [R, n]
        loss_sum = torch.zeros(R, device=device)
        for i in range(0, n, cfg.batch_size):
            idx = orders[:, i:i + cfg.batch_size]  # [R, B]
            xb, yb = data.x_train[idx], data.y_train[idx]  # [R, B, C, H, W], [R, B]
            if augs[0] is not None:  # one batched transform per replicate, never per image
                xb = torch.stack([aug(xb[r]) for r, aug in enumerate(augs)])
            with _autocast(device):
                logits = batched(params, buffers, xb)  # [R, B, K]
                per_replicate = F.cross_entropy(logits.transpose(1, 2).float(), yb, reduction="none").mean(1)
            opt.zero_grad(set_to_none=True)
            per_replicate.sum().backward()
            opt.step()
            sched.step()
            loss_sum += per_replicate.detach()
            seen += idx.numel()
        if not torch.isfinite(loss_sum).all():
            bad = int((~torch.isfinite(loss_sum)).nonzero()[0])
            raise CandidateError(f"non-finite training loss (replicate {bad}, epoch {epoch + 1})")
        if device.type == "cuda":
            torch.cuda.synchronize()
        train_time += time.perf_counter() - start
        timeline.append((wall_start, time.time(), seen - seen_before))
        _unstack(params, buffers, models)
        accs = [evaluate(m, data.x_val, data.y_val) for m in models]
        by_replicate = [row + [a] for row, a in zip(by_replicate, accs)] if by_replicate else [[a] for a in accs]
        history.append(sum(accs) / len(accs))
        if on_epoch is not None:
            on_epoch(epoch + 1, history[-1])
    return TrainResult(accs, history, train_time, epochs, seen / max(train_time, 1e-9), models, timeline,
                       history_by_replicate=by_replicate, test_accuracy_replicates=test_accuracies(models, data))


def _unstack(params: dict, buffers: dict, models: list[nn.Module]) -> None:
    """Copy each replicate's slice back into its own module (for evaluation and saved weights)."""
    with torch.no_grad():
        for r, model in enumerate(models):
            for name, t in model.named_parameters():
                t.copy_(params[name][r])
            for name, t in model.named_buffers():
                t.copy_(buffers[name][r])
