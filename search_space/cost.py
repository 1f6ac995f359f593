"""What a candidate costs, known before it trains: parameters, multiply-adds, latency.

Convention (stated in the README): MACs are multiply-accumulates per image of one forward
pass, counted for convolutions, linear layers and the fusion ops' learned weightings; batch
norm, activations, pooling and additions count as zero.  An scFusion conv counts only the
taps its SC kernels keep (scFusion eq. 1), not the zeros of the dense kernel it runs as.
torch's FlopCounterMode would count those zeros and miss einsum-free fusions, hence hooks.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Any

import torch
from torch import nn

from search_space.build import PARTS, build_model
from search_space.default_data import DEFAULT_CLASSES, DEFAULT_IMAGE_SIZE, DEFAULT_IN_CHANNELS
from search_space.modules.table import CountsItsWork
from search_space.spec import ArchSpec

MAC_CONVENTION = "multiply-accumulates per image, forward pass (conv, linear, fusion weightings)"


@dataclasses.dataclass(frozen=True)
class Cost:
    params: int
    macs: int
    params_by_part: dict[str, int]
    macs_by_part: dict[str, int]
    latency_ms: float | None = None
    latency_device: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "macs": self.macs,
            "breakdown": {"params": self.params_by_part, "macs": self.macs_by_part},
            "latency_ms": self.latency_ms,
            "latency_device": self.latency_device,
            "mac_convention": MAC_CONVENTION,
        }


def part_of(qualified_name: str) -> str:
    """The innermost part named in a module/parameter path ('nets.0.head.weight' -> 'head')."""
    found = "backbone"
    for piece in qualified_name.split("."):
        if piece in PARTS:
            found = piece
    return found


def count_params(model: nn.Module) -> dict[str, int]:
    by_part = dict.fromkeys(PARTS, 0)
    for name, p in model.named_parameters():
        by_part[part_of(name)] += p.numel()
    return by_part


def _module_macs(module: nn.Module, inputs: tuple, output: Any) -> int:
    """torch's two primitives are counted here; every other module answers the cost protocol
    (``modules/table.py: CountsItsWork``) for the work it does beyond them."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return output[0].numel() * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return output[0].numel() * module.in_features
    if isinstance(module, CountsItsWork):
        return module.extra_macs(inputs, output)
    return 0


def count_macs(model: nn.Module, in_channels: int, image_size: int) -> dict[str, int]:
    by_part = dict.fromkeys(PARTS, 0)
    hooks = []
    for name, module in model.named_modules():
        def hook(m, i, o, part=part_of(name)):
            by_part[part] += _module_macs(m, i, o)
        hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, in_channels, image_size, image_size,
                              device=next(model.parameters()).device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return by_part


def measure_latency(model: nn.Module, in_channels: int, image_size: int, device: str = "cpu",
                    batch_size: int = 1, warmup: int = 5, repeats: int = 20) -> float:
    """Median wall time of one eval forward pass, in milliseconds, on ``device``."""
    model = model.to(device).eval()
    x = torch.randn(batch_size, in_channels, image_size, image_size, device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    times = []
    with torch.no_grad():
        for i in range(warmup + repeats):
            sync()
            start = time.perf_counter()
            model(x)
            sync()
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def model_cost(model: nn.Module, in_channels: int, image_size: int, latency: bool = False,
               device: str = "cpu", latency_batch: int = 1) -> Cost:
    params, macs = count_params(model), count_macs(model, in_channels, image_size)
    lat = measure_latency(model, in_channels, image_size, device, latency_batch) if latency else None
    return Cost(sum(params.values()), sum(macs.values()), params, macs, lat, device if latency else None)


def spec_cost(spec: ArchSpec, num_classes: int = DEFAULT_CLASSES, in_channels: int = DEFAULT_IN_CHANNELS,
              image_size: int = DEFAULT_IMAGE_SIZE,
              latency: bool = False, device: str = "cpu", latency_batch: int = 1) -> Cost:
    model = build_model(spec, num_classes, in_channels, image_size)
    return model_cost(model, in_channels, image_size, latency, device, latency_batch)
