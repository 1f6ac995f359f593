"""CFN's fusion ops over stacked GAP vectors (CFN §3.1, eq. 3, Fig. 3), one class each.

Input ``G`` is (batch, K, S): K positions (channels, or class scores under EPLF) and S
branches, the last being the main branch.  ``activation`` is CFN's sigma (ReLU) when the
output is a feature (EFLP) and the identity when it is a prediction (EPLF), since a ReLU
would forbid negative logits.
"""

from __future__ import annotations

import torch
from torch import nn

from search_space.modules.table import ModuleTable


class SumFusion(nn.Module):
    """Sum-pooling fusion: no weights (CFN's CNN-Sum)."""

    def __init__(self, positions: int, branches: int, activation: bool) -> None:
        super().__init__()
        self.out_features = positions

    def forward(self, g: torch.Tensor) -> torch.Tensor:
        return g.sum(-1)

    def extra_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        return 0


class ConvFusion(nn.Module):
    """One 1x1xS filter shared over the K positions: S + 1 parameters (CFN's CNN-Conv)."""

    def __init__(self, positions: int, branches: int, activation: bool) -> None:
        super().__init__()
        self.out_features, self.positions = positions, positions
        self.weight = nn.Parameter(torch.full((branches,), 1.0 / branches))
        self.bias = nn.Parameter(torch.zeros(1))
        self.act = nn.ReLU() if activation else nn.Identity()

    def forward(self, g: torch.Tensor) -> torch.Tensor:
        return self.act(torch.einsum("bks,s->bk", g, self.weight) + self.bias)

    def extra_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        return self.positions * self.weight.numel()


class LCFusion(nn.Module):
    """K unshared 1x1xS filters: K(S + 1) parameters, initialised to 1/S (CFN eq. 3)."""

    def __init__(self, positions: int, branches: int, activation: bool) -> None:
        super().__init__()
        self.out_features = positions
        self.weight = nn.Parameter(torch.full((positions, branches), 1.0 / branches))
        self.bias = nn.Parameter(torch.zeros(positions))
        self.act = nn.ReLU() if activation else nn.Identity()

    def forward(self, g: torch.Tensor) -> torch.Tensor:
        return self.act(torch.einsum("bks,ks->bk", g, self.weight) + self.bias)

    def extra_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        return self.weight.numel()


class AttentionFusion(nn.Module):
    """SK-style weights over the branches (SCFF §2.3.3 applied to CFN's stack).

    The branches' sum is squeezed through a K -> d -> S*K funnel and a softmax over S turns it
    into per-position branch weights, so the net can prefer a branch per channel.
    """

    def __init__(self, positions: int, branches: int, activation: bool, reduction: int = 4) -> None:
        super().__init__()
        self.out_features, self.positions, self.branches = positions, positions, branches
        hidden = max(positions // reduction, 4)
        self.squeeze = nn.Sequential(nn.Linear(positions, hidden), nn.ReLU())
        self.excite = nn.Linear(hidden, positions * branches)

    def forward(self, g: torch.Tensor) -> torch.Tensor:
        logits = self.excite(self.squeeze(g.sum(-1))).view(-1, self.positions, self.branches)
        return (g * logits.softmax(-1)).sum(-1)

    def extra_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        return self.positions * self.branches  # the weighting; its squeeze/excite are Linear layers


class ConcatFusion(nn.Module):
    """Concatenation: keeps all S*K numbers and leaves the weighting to the classifier."""

    def __init__(self, positions: int, branches: int, activation: bool) -> None:
        super().__init__()
        self.out_features = positions * branches

    def forward(self, g: torch.Tensor) -> torch.Tensor:
        return g.flatten(1)

    def extra_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        return 0


#: ``fusion`` -> op, one convention: ``(positions K, branches S, activation)``; ``none`` builds no op.
GAP_FUSION_OPS = ModuleTable("fusion", {
    "sum": SumFusion,
    "conv": ConvFusion,
    "lc": LCFusion,
    "attention": AttentionFusion,
    "concat": ConcatFusion,
})
