"""The training loop: plain PyTorch, no Ray, so benchmarks and tests run it bare.

Replicates (seeds) of one spec train in lockstep, one epoch each in turn, so every epoch
reports the mean validation accuracy over seeds and an early-stopping scheduler judges the
spec, not one lucky seed.  Replicate r uses seed ``seed + r`` for every spec: paired
comparisons then share initialisation seeds, data order and augmented batches (common random
numbers; the augmentation has its own generator, ``trials.data.augmenter``).

HCNN combinations train in stages, as HCNN §2.3 trains them:
1. base A (seed s) and base B (seed s + ``PARTNER_SEED_OFFSET``) each train alone for the
   full ``epochs``, as a single net would (so [A,A'] is A's architecture with another seed);
2. ``avg`` is then their averaged probabilities, nothing more is trained; ``cl`` trains only
   its combination network, for ``epochs`` epochs, on the frozen bases;
3. with ``hcnn_finetune`` everything is fine-tuned for another ``epochs`` at a tenth of the
   learning rate (Table 4).
The per-epoch history is the last stage's: the ensemble after each base epoch (``avg``), the
combination network after each of its epochs (``cl``), or after each fine-tuning epoch.
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
from search_space.modules.hcnn import AverageCombination
from search_space.spec import ArchSpec
from trials.config import TrainingConfig
from trials.data import TensorData, augmenter


class CandidateError(RuntimeError):
    """The candidate itself failed (non-finite loss, forward error): record FAIL, go on."""


#: HCNN's base B trains with seed ``s + PARTNER_SEED_OFFSET`` where A uses ``s``.
PARTNER_SEED_OFFSET = 10_000
#: Fine-tuning a trained HCNN (``hcnn_finetune``) runs at this fraction of the learning rate.
FINETUNE_LR_FACTOR = 0.1


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
    # one list per seed, one validation accuracy per epoch: effects can be followed over the budget
    history_by_replicate: list[list[float]] = dataclasses.field(default_factory=list)
    # HCNN: per replicate, the [A, B] seeds and the bases' own final validation accuracies
    base_seeds: list[list[int]] = dataclasses.field(default_factory=list)
    base_accuracies: list[list[float]] = dataclasses.field(default_factory=list)
    # per replicate, the final model's accuracy on the official test split (only when the data
    # carry it, ``data.test_accuracy``): recorded for ablations, never an objective
    test_accuracy_replicates: list[float] = dataclasses.field(default_factory=list)


def pick_device(gpus: float = 0) -> torch.device:
    return torch.device("cuda") if gpus > 0 and torch.cuda.is_available() else torch.device("cpu")


def _optimizer(model: nn.Module, cfg: TrainingConfig, lr_factor: float = 1.0) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]  # frozen HCNN bases stay as trained
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr * lr_factor, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay, nesterov=cfg.nesterov)
    return torch.optim.AdamW(params, lr=cfg.lr * lr_factor, weight_decay=cfg.weight_decay)


def _schedule(opt: torch.optim.Optimizer, cfg: TrainingConfig, total_steps: int):
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total_steps)))
    if cfg.schedule == "step":  # 10x down at each milestone, a fraction of this stage's steps
        return torch.optim.lr_scheduler.MultiStepLR(opt, milestone_steps(cfg.milestones, total_steps), 0.1)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)


def milestone_steps(milestones: tuple[float, ...], total_steps: int) -> list[int]:
    """The optimizer steps at which ``schedule: step`` divides the learning rate by 10."""
    return [round(f * total_steps) for f in milestones]


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


@dataclasses.dataclass
class _Run:
    """What the epochs of one stage add up to."""

    train_time: float = 0.0
    seen: int = 0
    timeline: list[tuple[float, float, int]] = dataclasses.field(default_factory=list)


def _fit(models: list[nn.Module], seeds: list[int], data: TensorData, cfg: TrainingConfig, epochs: int,
         device: torch.device, run: _Run, score: Callable[[], list[float]],
         on_epoch: Callable[[int, float], None] | None, lr_factor: float = 1.0) -> list[list[float]]:
    """Train each model with its own seed's data order (and, with ``data.augment``, its own seed's
    augmentation stream) for ``epochs``; after every epoch ``score()`` gives one validation accuracy
    per replicate.  Returns them per replicate, per epoch."""
    steps_per_epoch = math.ceil(len(data.x_train) / cfg.batch_size)
    opts = [_optimizer(m, cfg, lr_factor) for m in models]
    scheds = [_schedule(o, cfg, epochs * steps_per_epoch) for o in opts]
    gens = [torch.Generator(device="cpu").manual_seed(s) for s in seeds]
    augs = [augmenter(data, s, device) for s in seeds]  # each seed's own stream (data.augment)
    by_replicate: list[list[float]] = []
    for epoch in range(epochs):
        start, wall_start, seen_before = time.perf_counter(), time.time(), run.seen
        for r, (model, opt, sched, gen, aug) in enumerate(zip(models, opts, scheds, gens, augs)):
            model.train()
            loss_sum = torch.zeros((), device=device)
            order = torch.randperm(len(data.x_train), generator=gen).to(device)
            for i in range(0, len(order), cfg.batch_size):
                idx = order[i:i + cfg.batch_size]
                xb = data.x_train[idx] if aug is None else aug(data.x_train[idx])
                xb = xb.contiguous(memory_format=torch.channels_last)
                with _autocast(device):
                    loss = F.cross_entropy(model(xb), data.y_train[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                loss_sum += loss.detach()
                run.seen += len(idx)
            if not torch.isfinite(loss_sum):  # checked once an epoch: no per-step GPU sync
                raise CandidateError(f"non-finite training loss (model {r}, epoch {epoch + 1})")
        if device.type == "cuda":
            torch.cuda.synchronize()
        run.train_time += time.perf_counter() - start
        run.timeline.append((wall_start, time.time(), run.seen - seen_before))
        accs = score()
        by_replicate = [row + [a] for row, a in zip(by_replicate, accs)] if by_replicate else [[a] for a in accs]
        if on_epoch is not None:
            on_epoch(epoch + 1, sum(accs) / len(accs))
    return by_replicate


def _seeded(make: Callable[[], nn.Module], seed: int, device: torch.device) -> nn.Module:
    torch.manual_seed(seed)
    return make().to(device, memory_format=torch.channels_last)


def train_spec(spec: ArchSpec, data: TensorData, cfg: TrainingConfig, epochs: int,
               device: torch.device | str = "cpu",
               on_epoch: Callable[[int, float], None] | None = None,
               first_model: nn.Module | None = None) -> TrainResult:
    """Train ``cfg.replicates`` seeds of ``spec`` for ``epochs``; ``on_epoch(epoch, mean_acc)``.
    ``first_model``: replicate 0 already built after ``torch.manual_seed(cfg.seed)`` (a worker's
    latency probe), trained instead of building it again."""
    device = torch.device(device)
    data = data.to(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # one input shape all run long: autotuned kernels pay off
    seeds = cfg.seeds
    run = _Run()
    if spec.combination != "single":
        return _train_hcnn(spec, data, cfg, epochs, device, seeds, run, on_epoch)
    models = [first_model.to(device, memory_format=torch.channels_last) if r == 0 and first_model is not None
              else _seeded(lambda: build_model(spec, data.num_classes, data.in_channels, data.image_size), s, device)
              for r, s in enumerate(seeds)]
    curves = _fit(models, seeds, data, cfg, epochs, device, run,
                  lambda: [evaluate(m, data.x_val, data.y_val) for m in models], on_epoch)
    return _result(curves, run, epochs, models, data)


def test_accuracies(models: list[nn.Module], data: TensorData) -> list[float]:
    """Each final model's accuracy on the data's test split; [] when the data carry none."""
    if data.x_test is None or data.y_test is None:
        return []
    return [evaluate(m, data.x_test, data.y_test) for m in models]


def _result(curves: list[list[float]], run: _Run, epochs: int, models: list[nn.Module], data: TensorData,
            **extra) -> TrainResult:
    finals = [c[-1] for c in curves]
    history = [sum(c[e] for c in curves) / len(curves) for e in range(len(curves[0]))]
    return TrainResult(finals, history, run.train_time, epochs, run.seen / max(run.train_time, 1e-9), models,
                       run.timeline, curves, test_accuracy_replicates=test_accuracies(models, data), **extra)


def _train_hcnn(spec: ArchSpec, data: TensorData, cfg: TrainingConfig, epochs: int, device: torch.device,
                seeds: list[int], run: _Run, on_epoch: Callable[[int, float], None] | None) -> TrainResult:
    """HCNN §2.3, staged: bases alone, then the combination (see the module docstring)."""
    shape = (data.num_classes, data.in_channels, data.image_size)
    base_seeds = [[s, s + PARTNER_SEED_OFFSET] for s in seeds]
    # each base built exactly as it would be alone with its seed, so training it here is training it alone
    bases = [[_seeded(lambda net=net: build_model(net, *shape), seed, device)
              for net, seed in zip((spec.single(), spec.partner()), pair)] for pair in base_seeds]
    flat, flat_seeds = [m for pair in bases for m in pair], [s for pair in base_seeds for s in pair]
    ensembles = [AverageCombination(a, b) for a, b in bases]
    avg = spec.combination == "avg"

    def score_ensembles() -> list[float]:
        return [evaluate(e, data.x_val, data.y_val) for e in ensembles]

    curves = _fit(flat, flat_seeds, data, cfg, epochs, device, run, score_ensembles, on_epoch if avg else None)
    base_acc = [[evaluate(m, data.x_val, data.y_val) for m in pair] for pair in bases]
    if avg:
        return _result(curves, run, epochs, ensembles, data, base_seeds=base_seeds, base_accuracies=base_acc)
    combos = []
    for (a, b), s in zip(bases, seeds):
        combo = _seeded(lambda: build_model(spec, *shape), s, device)
        for trained, net in zip((a, b), combo.nets):  # the kept layers, as trained alone
            kept = net.state_dict()
            net.load_state_dict({k: v for k, v in trained.state_dict().items() if k in kept})
        combo.freeze_bases(True)
        combos.append(combo)

    def score_combos() -> list[float]:
        return [evaluate(c, data.x_val, data.y_val) for c in combos]

    last = not spec.hcnn_finetune
    curves = _fit(combos, seeds, data, cfg, epochs, device, run, score_combos, on_epoch if last else None)
    if spec.hcnn_finetune:
        for combo in combos:
            combo.freeze_bases(False)
        curves = _fit(combos, seeds, data, cfg, epochs, device, run, score_combos, on_epoch, FINETUNE_LR_FACTOR)
    return _result(curves, run, epochs, combos, data, base_seeds=base_seeds, base_accuracies=base_acc)
