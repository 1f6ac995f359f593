"""The ``cost`` command: parameters, MACs (and latency) of a spec, before any training.

Registered into the ``fusionscope`` CLI by ``fusionscope.cli``; torch is imported only when the
command runs, so this floor stays importable without it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Sequence

from search_space.default_data import DEFAULT_CLASSES, DEFAULT_IMAGE_SIZE, DEFAULT_IN_CHANNELS
from search_space.errors import FusionscopeError
from search_space.spec import ArchSpec, SpecError
#: sizes the command refuses to build: beyond them a model takes minutes and gigabytes to build
#: (a plain net at width 4096 already has ~10^9 parameters), which is never what was meant
MAX_CHANNELS = 4096
MAX_IMAGE_SIZE = 1024
MAX_CLASSES = 100_000
_CHANNEL_KEYS = ("width", "side_channels", "partner_width", "cl_width")


def _scalar(text: str) -> Any:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        return text


def parse_assignments(items: Sequence[str]) -> dict[str, Any]:
    """``key=value`` words as a spec mapping (branches stays a string: '1,2')."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SpecError(f"{item!r}: expected key=value, e.g. fusion=lc")
        out[key] = value if key in ("branches", "backbone", "partner_backbone") else _scalar(value)
    return out


def _check_limits(spec: ArchSpec, args: argparse.Namespace) -> None:
    for option, value, limit in (("--classes", args.classes, MAX_CLASSES),
                                 ("--in-channels", args.in_channels, MAX_CHANNELS),
                                 ("--image-size", args.image_size, MAX_IMAGE_SIZE)):
        if value < 1 or value > limit:
            raise FusionscopeError(f"{option} {value}: must be between 1 and {limit}")
    params = spec.to_params()
    for key in _CHANNEL_KEYS:
        value = params.get(key)
        if isinstance(value, int) and value > MAX_CHANNELS:
            raise SpecError(f"{key}={value} is above the {MAX_CHANNELS} channels the cost command builds")
    if args.batch < 1:
        raise FusionscopeError(f"--batch {args.batch}: must be at least 1")


def _check_device(device: str) -> None:
    """Name the device problem before building anything: torch's own errors are tracebacks."""
    import torch

    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise FusionscopeError(f"--device {device!r}: expected cpu, cuda or cuda:N") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise FusionscopeError(f"--device {device!r}: no CUDA GPU is available here (use --device cpu)")
    if parsed.type == "cuda" and parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise FusionscopeError(f"--device {device!r}: this machine has {torch.cuda.device_count()} GPU(s)")
    if parsed.type not in ("cpu", "cuda"):
        raise FusionscopeError(f"--device {device!r}: expected cpu, cuda or cuda:N")


def cmd_cost(args: argparse.Namespace) -> int:
    from search_space.cost import spec_cost

    spec = ArchSpec.from_params(parse_assignments(args.assignments))
    _check_limits(spec, args)
    if args.latency:
        _check_device(args.device)
    cost = spec_cost(spec, args.classes, args.in_channels, args.image_size, latency=args.latency,
                     device=args.device, latency_batch=args.batch)
    print(json.dumps({"spec": spec.to_params(), "input": [args.in_channels, args.image_size, args.image_size],
                      "classes": args.classes, **cost.to_dict()}, indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``cost`` to the CLI's subcommands."""
    p = sub.add_parser("cost", help="parameters, MACs (and latency) of a spec, before training",
                       description="Example: fusionscope cost backbone=plain fusion=lc branches=1,2 side_channels=192")
    p.add_argument("assignments", nargs="*", metavar="key=value", help="spec fields; the rest take defaults")
    p.add_argument("--classes", type=int, default=DEFAULT_CLASSES,
                   help=f"output classes (default {DEFAULT_CLASSES}, as Fashion-MNIST)")
    p.add_argument("--in-channels", type=int, default=DEFAULT_IN_CHANNELS,
                   help=f"input channels (default {DEFAULT_IN_CHANNELS}: grayscale, as Fashion-MNIST)")
    p.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE,
                   help=f"input height and width in pixels (default {DEFAULT_IMAGE_SIZE}, as Fashion-MNIST)")
    p.add_argument("--latency", action="store_true", help="also measure forward latency (median, ms)")
    p.add_argument("--device", default="cpu", help="device for --latency: cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--batch", type=int, default=1, help="batch size for --latency (default 1)")
    p.set_defaults(func=cmd_cost)
