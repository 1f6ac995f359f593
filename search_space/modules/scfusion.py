"""scFusion (Chen, Fan, Pistoia, Lee): sparse complementary kernels fused pairwise.

The two SC kernels of a pair keep the even (an "x" with the centre) and the odd (a "+" with
the centre) flat indices of a k x k kernel: ceil(k^2/2) taps each, so a pair covers the whole
receptive field (scFusion §3.1).  Only those taps are parameters: the masked taps are not
stored at all, so they are exactly zero through any training and the parameter count is the
paper's.  Both kernels of all n pairs run as one dense convolution over a scattered weight,
which is what the paper's "skip the zero weights" implementation would speed up on a GPU.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def sc_taps(kernel_size: int) -> tuple[list[int], list[int]]:
    """Flat indices kept by the even and the odd SC kernel (both keep the centre)."""
    k2 = kernel_size * kernel_size
    centre = k2 // 2
    even = [i for i in range(k2) if i % 2 == 0]
    odd = sorted([i for i in range(k2) if i % 2 == 1] + [centre])
    return even, odd


class SCFusionConv(nn.Module):
    """Drop-in for a dense k x k conv: SC pair -> addition / inverse -> ReLU -> 1x1 fusion.

    ``parts`` = 2 (the SC responses) + 1 with ``add`` + 1 with ``inverse``: the channel-wise
    fusion reads ``parts * n`` channels (scFusion Fig. 2; ablation B/C/D of Fig. 7).
    """

    def __init__(self, in_channels: int, out_channels: int, alpha: int, add: bool = True,
                 inverse: bool = True, kernel_size: int = 3, stride: int = 1, padding: int = 1) -> None:
        super().__init__()
        if out_channels % alpha:
            raise ValueError(f"alpha={alpha} does not divide out_channels={out_channels}")
        if inverse and not add:
            raise ValueError("inverse needs add: it negates the pairwise-added responses")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.alpha, self.add, self.inverse = alpha, add, inverse
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.n = out_channels // alpha
        even, odd = sc_taps(kernel_size)
        self.taps = len(even)  # == ceil(k^2 / 2) == len(odd)
        self.register_buffer("even_idx", torch.tensor(even), persistent=False)
        self.register_buffer("odd_idx", torch.tensor(odd), persistent=False)
        self.weight_even = nn.Parameter(torch.empty(self.n, in_channels, self.taps))
        self.weight_odd = nn.Parameter(torch.empty(self.n, in_channels, self.taps))
        for w in (self.weight_even, self.weight_odd):  # He init over the taps that exist
            nn.init.normal_(w, 0.0, math.sqrt(2.0 / (in_channels * self.taps)))
        self.parts = 2 + int(add) + int(inverse)
        self.fuse = nn.Conv2d(self.parts * self.n, out_channels, 1, bias=False)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, alpha={self.alpha}, add={self.add}, "
                f"inverse={self.inverse}, stride={self.stride}")

    def dense_weight(self) -> torch.Tensor:
        """The 2n sparse kernels as a dense (2n, C_in, k, k) tensor with exact zeros."""
        k2 = self.kernel_size * self.kernel_size
        zeros = self.weight_even.new_zeros(self.n, self.in_channels, k2)
        even = zeros.index_copy(2, self.even_idx, self.weight_even)
        odd = zeros.index_copy(2, self.odd_idx, self.weight_odd)
        return torch.cat([even, odd]).view(2 * self.n, self.in_channels, self.kernel_size, self.kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv2d(x, self.dense_weight(), stride=self.stride, padding=self.padding)
        even, odd = y.split(self.n, dim=1)
        parts = [even, odd]
        if self.add:
            added = even + odd
            parts.append(added)
            if self.inverse:
                parts.append(-added)
        return self.fuse(F.relu(torch.cat(parts, dim=1)))

    def extra_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        """The SC pair's real multiply-adds: masked taps do no work (scFusion eq. 1).  It runs as one
        dense ``F.conv2d`` (not a Conv2d module), so only this counts it; the 1x1 fusion is a Conv2d."""
        return output.shape[-2] * output.shape[-1] * 2 * self.taps * self.in_channels * self.n


def sparsify(model: nn.Module, alpha: int, add: bool, inverse: bool) -> nn.Module:
    """Replace every dense 3x3 conv but the first by scFusion (scFusion §4.1.3 keeps it dense)."""
    convs = [(name, m) for name, m in model.named_modules()
             if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3) and m.groups == 1
             and m.dilation == (1, 1) and m.stride[0] == m.stride[1] and m.padding[0] == m.padding[1]]
    for name, conv in convs[1:]:
        if conv.out_channels % alpha:
            raise ValueError(
                f"alpha={alpha} does not divide the {conv.out_channels} output channels of conv '{name}'"
            )
        replacement = SCFusionConv(conv.in_channels, conv.out_channels, alpha, add, inverse,
                                   3, conv.stride[0], conv.padding[0])
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, replacement)
    return model
