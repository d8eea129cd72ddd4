"""Convolutional VAE of the pixel-wise brain MRI experiment (vae-kl-grad spec §3.6).

Encoder: four Conv2d(k4, s2, p1) + LeakyReLU(0.01) with widths `h_sizes` (16-32-64-256), then one conv
over the whole remaining map (4×4 for a 64×64 input) to 2·z channels at 1×1, split into μ and the second
head h. Decoder: the mirror image with ConvTranspose2d and a linear output (the mean of a Gaussian with
fixed std c = exp(log_c)). No normalisation layers, no biases, PyTorch's default initialisation.
With the defaults the model has 3,752,448 parameters, as the released code.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from anoloc.models.vae import GaussianVAE


class ConvVAE(GaussianVAE):
    """Fully convolutional VAE for 1×S×S slices (S a multiple of 16).

    `legacy_sigma=True` reproduces the released brain script (spec §6.1): the second encoder head h is used
    as σ = exp(h) for sampling but the KL is computed with σ = exp(exp(h)). The default is a consistent VAE
    (h = log σ²).
    """

    def __init__(
        self,
        image_size: int = 64,
        h_sizes: Sequence[int] = (16, 32, 64, 256),
        z: int = 256,
        log_c: float = 0.0,
        legacy_sigma: bool = False,
        negative_slope: float = 0.01,
    ) -> None:
        super().__init__()
        h_sizes = [int(h) for h in h_sizes]
        factor = 2 ** len(h_sizes)
        if image_size % factor or image_size < factor:
            raise ValueError(f"image_size must be a positive multiple of {factor}, got {image_size}")
        self.hparams = {
            "image_size": int(image_size),
            "h_sizes": h_sizes,
            "z": int(z),
            "log_c": float(log_c),
            "legacy_sigma": bool(legacy_sigma),
            "negative_slope": float(negative_slope),
        }
        self.z_dim = int(z)
        self.log_c = float(log_c)
        self.legacy_sigma = "conv" if legacy_sigma else None
        last = image_size // factor  # spatial size before the "to 1×1" layer

        enc: list[nn.Module] = []
        c = 1
        for h in h_sizes:
            enc += [nn.Conv2d(c, h, 4, 2, 1, bias=False), nn.LeakyReLU(negative_slope)]
            c = h
        enc.append(nn.Conv2d(c, 2 * self.z_dim, last, 1, 0, bias=False))
        self.encoder = nn.Sequential(*enc)

        rev = h_sizes[::-1]
        dec: list[nn.Module] = [
            nn.ConvTranspose2d(self.z_dim, rev[0], last, 1, 0, bias=False),
            nn.LeakyReLU(negative_slope),
        ]
        for c_in, c_out in itertools.pairwise(rev):
            dec += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.LeakyReLU(negative_slope)]
        dec.append(nn.ConvTranspose2d(rev[-1], 1, 4, 2, 1, bias=False))
        self.decoder = nn.Sequential(*dec)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, h = torch.chunk(self.encoder(x), 2, dim=1)
        return mu, h  # (B, z, 1, 1) each

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)
