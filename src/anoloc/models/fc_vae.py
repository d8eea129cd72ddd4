"""Fully connected VAE of the sample-wise (Fashion)MNIST experiment (vae-kl-grad spec §2.2–§2.3)."""

from __future__ import annotations

import torch
from torch import nn

from anoloc.models.vae import GaussianVAE


class FCVAE(GaussianVAE):
    """784·s → hidden → (μ, log σ²) of size z; z → hidden → 784·s with a sigmoid mean.

    The flattened image is tiled `scaling` times (s); the Gaussian likelihood has fixed std c = exp(log_c).
    `legacy_sigma=True` reproduces the released script's σ mix-up (std exp(h/2) to sample, exp(h) in the KL).
    """

    def __init__(
        self,
        in_pixels: int = 784,
        hidden: int = 400,
        z: int = 20,
        scaling: int = 1,
        log_c: float = 0.0,
        legacy_sigma: bool = False,
    ) -> None:
        super().__init__()
        self.hparams = {
            "in_pixels": in_pixels,
            "hidden": hidden,
            "z": z,
            "scaling": scaling,
            "log_c": log_c,
            "legacy_sigma": legacy_sigma,
        }
        self.scaling = scaling
        self.log_c = float(log_c)
        self.legacy_sigma = "fc" if legacy_sigma else None
        d = in_pixels * scaling
        self.enc = nn.Sequential(nn.Linear(d, hidden), nn.ReLU())
        self.enc_mu = nn.Linear(hidden, z)
        self.enc_h = nn.Linear(hidden, z)
        self.dec = nn.Sequential(nn.Linear(z, hidden), nn.ReLU(), nn.Linear(hidden, d), nn.Sigmoid())

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        return flat.repeat(1, self.scaling) if self.scaling > 1 else flat

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hid = self.enc(x)
        return self.enc_mu(hid), self.enc_h(hid)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.dec(z)
