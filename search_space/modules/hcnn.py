"""HCNN's combinations of two base networks (HCNN §2.2): averaging and a combination network.

Where the features are concatenated (§2.2): "remove as many top layers from each base network
as the number of layers in the combination network", so [A,B]+kCL is exactly as deep as a
single net.  Here the classifier FC is a base's top layer, and below it the layers of its
trunk from the top: `plain`'s 1×1 conv, a `vgg` conv-BN-ReLU, a `resnet` basic block (its
stem conv too); pooling is no layer.  k = 1 removes the classifier and concatenates the GAP
features; k = 2 also removes the trunk's top layer, and so on.  The removed layers are gone
(replaced by identities), so they count neither as parameters nor as work.

How the bases are trained (staged, §2.3) is the trainer's business (``trials.training.train``); the
modules only say which parameters the final stage trains: with ``finetune`` False the bases
are frozen (and their batch norm keeps its running statistics), as in the paper's standard
setting; with True everything is fine-tuned (Table 4).
"""

from __future__ import annotations

import torch
from torch import nn

from search_space.dimensions import SpecError


class AverageCombination(nn.Module):
    """HCNN's [A,B]+avg: average the class probabilities of two separately trained nets
    (returned as log-probabilities, so accuracy and a loss read them like logits)."""

    def __init__(self, a: nn.Module, b: nn.Module) -> None:
        super().__init__()
        self.nets = nn.ModuleList([a, b])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.nets
        probs = (a(x).softmax(1) + b(x).softmax(1)) / 2
        return probs.clamp_min(1e-12).log()

    def extra_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        return 0  # averaging two probability vectors: no multiply-adds worth counting


def trunk_layers(net: nn.Module) -> list[tuple[nn.Module, int]]:
    """A base network's trunk layers from the top: (parent Sequential, index) pairs."""
    stages = getattr(getattr(net, "backbone", None), "stages", None)
    if stages is None:
        raise SpecError("a combination network with cl_layers >= 2 removes trunk layers, which a "
                        "'tv:' backbone does not expose; use cl_layers=1 with torchvision backbones")
    return [(stage, i) for stage in reversed(stages) for i in reversed(range(len(stage)))]


def cut_top_layers(net: nn.Module, layers: int, in_channels: int, image_size: int) -> int:
    """Remove ``layers`` trunk layers from the top of a base network (its classifier is already
    left out); returns the width of the features it now hands to the combination network."""
    if layers > 0:
        found = trunk_layers(net)
        if layers >= len(found):
            raise SpecError(f"cl_layers={layers + 1} would remove {layers} of the {len(found)} trunk layers of a "
                            "base network; use fewer combination layers or deeper bases")
        for stage, i in found[:layers]:
            stage[i] = nn.Identity()
    with torch.no_grad():
        was = net.training
        width = net.eval().features(torch.zeros(1, in_channels, image_size, image_size)).shape[1]
        net.train(was)
    net.feature_dim = width
    return width


class ConcatCombination(nn.Module):
    """HCNN's [A,B]+kCL: the two bases' features concatenated, then k FC layers (§2.2)."""

    def __init__(self, a: nn.Module, b: nn.Module, layers: int, width: int | None, num_classes: int,
                 finetune: bool) -> None:
        super().__init__()
        self.nets = nn.ModuleList([a, b])
        self.finetune = finetune
        self.bases_frozen = False  # the trainer freezes them for the combination stage
        dims = [a.feature_dim + b.feature_dim] + [width or 0] * (layers - 1) + [num_classes]
        mods: list[nn.Module] = []
        for i in range(layers):
            mods.append(nn.Linear(dims[i], dims[i + 1]))
            if i < layers - 1:
                mods.append(nn.ReLU(inplace=True))
        self.head = nn.Sequential(*mods)

    def extra_repr(self) -> str:
        return f"finetune={self.finetune}"  # which parameters the last stage trains: part of the design

    def freeze_bases(self, frozen: bool) -> None:
        self.bases_frozen = frozen
        for p in self.nets.parameters():
            p.requires_grad_(not frozen)
        self.train(self.training)

    def train(self, mode: bool = True) -> "ConcatCombination":
        super().train(mode)
        if self.bases_frozen:
            self.nets.eval()  # frozen bases keep their batch-norm statistics
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.nets
        if self.bases_frozen:
            with torch.no_grad():
                feats = torch.cat([a.features(x), b.features(x)], 1)
        else:
            feats = torch.cat([a.features(x), b.features(x)], 1)
        return self.head(feats)

    def extra_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        return 0  # its FC layers are counted as Linear layers
