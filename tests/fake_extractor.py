"""A fake backbone for the kNN tests: fixed random strided convs, 64² input → 16², 8², 4², 2² feature maps."""

from __future__ import annotations

import torch
from torch import nn

from anoloc.features import STAGES


class FakeExtractor(nn.Module):
    """Fixed random strided convs standing in for a backbone; features `offset + scale·tanh(conv(x))`."""

    backbone = "fake"
    label = "fake:random"

    def __init__(self, seed: int = 0, offset: float = 0.0, scale: float = 1.0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        specs = {"layer1": (8, 4), "layer2": (12, 8), "layer3": (16, 16), "layer4": (20, 32)}
        self.convs = nn.ModuleDict()
        for name, (c, s) in specs.items():
            conv = nn.Conv2d(3, c, s, stride=s)
            conv.weight.data = torch.randn(conv.weight.shape, generator=gen) / s
            conv.bias.data.zero_()
            self.convs[name] = conv
        self.stages = STAGES
        self.channels = {k: v[0] for k, v in specs.items()}
        self.offset, self.scale = offset, scale

    @torch.no_grad()
    def forward(self, x):
        return {s: self.offset + self.scale * torch.tanh(conv(x)) for s, conv in self.convs.items()}
