"""The training loop: plain PyTorch, no Ray, so benchmarks and tests run it bare.

Replicates (seeds) of one spec train in lockstep, one epoch each in turn, so every epoch
reports the mean validation accuracy over seeds and an early-stopping scheduler judges the
spec, not one lucky seed.  Replicate r uses seed ``seed + r`` for every spec: paired
comparisons then share initialisation seeds and data order (common random numbers).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from search_space.build import build_model
from search_space.spec import ArchSpec
from trials.config import TrainingConfig
from trials.data import TensorData


class CandidateError(RuntimeError):
    """The candidate itself failed (non-finite loss, forward error): record FAIL, go on."""


@dataclasses.dataclass
class TrainResult:
    accuracy_replicates: list[float]
    history: list[float]  # mean validation accuracy after each epoch
    train_time_s: float
    epochs_done: int
    images_per_s: float
    models: list[nn.Module]
    # (start, end, images) of each epoch's training phase, Unix seconds: lets concurrent trials
    # (several on one GPU) be compared over the window in which they really overlapped
    timeline: list[tuple[float, float, int]] = dataclasses.field(default_factory=list)


def pick_device(gpus: float = 0) -> torch.device:
    return torch.device("cuda") if gpus > 0 and torch.cuda.is_available() else torch.device("cpu")


def _optimizer(model: nn.Module, cfg: TrainingConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay, nesterov=cfg.momentum > 0)
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def _schedule(opt: torch.optim.Optimizer, cfg: TrainingConfig, total_steps: int):
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total_steps)))
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.MultiStepLR(opt, [int(total_steps * 0.5), int(total_steps * 0.75)], 0.1)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> float:
    model.eval()
    correct = 0
    with torch.no_grad(), _autocast(x.device):
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size].contiguous(memory_format=torch.channels_last)
            correct += (model(xb).argmax(1) == y[i:i + batch_size]).sum().item()
    model.train()
    return correct / max(len(x), 1)


def _autocast(device: torch.device):
    # bf16 autocast only on CUDA: on this CPU (no AVX512-BF16/AMX) it trains ~15x slower
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_spec(spec: ArchSpec, data: TensorData, cfg: TrainingConfig, epochs: int,
               device: torch.device | str = "cpu",
               on_epoch: Callable[[int, float], None] | None = None) -> TrainResult:
    """Train ``cfg.replicates`` seeds of ``spec`` for ``epochs``; ``on_epoch(epoch, mean_acc)``."""
    device = torch.device(device)
    data = data.to(device)
    models, opts, scheds, gens = [], [], [], []
    steps_per_epoch = math.ceil(len(data.x_train) / cfg.batch_size)
    for r in range(cfg.replicates):
        torch.manual_seed(cfg.seed + r)
        model = build_model(spec, data.num_classes, data.in_channels, data.image_size)
        model = model.to(device, memory_format=torch.channels_last)
        opt = _optimizer(model, cfg)
        models.append(model)
        opts.append(opt)
        scheds.append(_schedule(opt, cfg, epochs * steps_per_epoch))
        gens.append(torch.Generator(device="cpu").manual_seed(cfg.seed + r))
    history, seen, train_time = [], 0, 0.0
    accs: list[float] = []
    timeline: list[tuple[float, float, int]] = []
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # one input shape all run long: autotuned kernels pay off
    for epoch in range(epochs):
        start, wall_start, seen_before = time.perf_counter(), time.time(), seen
        for r, (model, opt, sched, gen) in enumerate(zip(models, opts, scheds, gens)):
            loss_sum = torch.zeros((), device=device)
            order = torch.randperm(len(data.x_train), generator=gen).to(device)
            for i in range(0, len(order), cfg.batch_size):
                idx = order[i:i + cfg.batch_size]
                xb = data.x_train[idx].contiguous(memory_format=torch.channels_last)
                with _autocast(device):
                    loss = F.cross_entropy(model(xb), data.y_train[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                loss_sum += loss.detach()
                seen += len(idx)
            if not torch.isfinite(loss_sum):  # checked once an epoch: no per-step GPU sync
                raise CandidateError(f"non-finite training loss (replicate {r}, epoch {epoch + 1})")
        if device.type == "cuda":
            torch.cuda.synchronize()
        train_time += time.perf_counter() - start
        timeline.append((wall_start, time.time(), seen - seen_before))
        accs = [evaluate(m, data.x_val, data.y_val) for m in models]
        history.append(sum(accs) / len(accs))
        if on_epoch is not None:
            on_epoch(epoch + 1, history[-1])
    return TrainResult(accs, history, train_time, epochs, seen / max(train_time, 1e-9), models, timeline)
