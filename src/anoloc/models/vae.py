"""Gaussian VAE maths shared by every VAE of the project.

Conventions: the encoder's second head `h` is a posterior log-variance (σ = exp(h/2)); KL and Rec are
returned per sample (summed over latent / data dimensions), the loss is their batch mean.
`legacy_sigma` reproduces the released code's σ mix-ups (vae-kl-grad spec §6.1):

- ``"fc"`` (FashionMNIST script): sampling std exp(h/2), KL with std exp(h);
- ``"conv"`` (brain script): sampling std exp(h), KL with std exp(exp(h)).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

LegacySigma = Literal["fc", "conv"] | None
LOG_2PI = math.log(2 * math.pi)


def posterior_log_std(h: torch.Tensor, legacy: LegacySigma = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(log std used for sampling, log std used in the KL) for the encoder output `h`."""
    if legacy is None:
        return 0.5 * h, 0.5 * h
    if legacy == "fc":
        return 0.5 * h, h
    if legacy == "conv":
        return h, torch.exp(h)
    raise ValueError(f"unknown legacy_sigma mode {legacy!r}")


def kl_std_normal(mu: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """Analytic KL(N(μ, σ²) ‖ N(0, 1)) summed over all but the batch dimension."""
    kl = -log_std + 0.5 * (torch.exp(2 * log_std) + mu**2) - 0.5
    return kl.flatten(1).sum(1)


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, log_std: float | torch.Tensor) -> torch.Tensor:
    """Per-element −log N(x; mean, σ²) with σ = exp(log_std) (no reduction)."""
    log_std = torch.as_tensor(log_std, dtype=x.dtype, device=x.device)
    return 0.5 * ((x - mean) / torch.exp(log_std)) ** 2 + log_std + 0.5 * LOG_2PI


class GaussianVAE(nn.Module):
    """Base class: subclasses define `encode(x) -> (mu, h)`, `decode(z) -> mean` and `prepare(x)`.

    `prepare` maps the input image batch to the tensor the likelihood is defined on (e.g. flattened
    and tiled for the fully connected VAE). `log_c` is the log std of the fixed-variance Gaussian
    likelihood. In train mode z is sampled; in eval mode z = μ unless `sample=True` is asked for.
    """

    log_c: float = 0.0
    legacy_sigma: LegacySigma = None

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def terms(self, x: torch.Tensor, sample: bool | None = None) -> dict[str, torch.Tensor]:
        """Per-sample `kl`, `rec` (Gaussian NLL summed over the data), `elbo` (= kl + rec, the negative ELBO),
        plus `rec_map` (per element NLL, shaped like `prepare(x)`), `mean`, `mu`, `z`."""
        sample = self.training if sample is None else sample
        target = self.prepare(x)
        mu, h = self.encode(target)
        sample_log_std, kl_log_std = posterior_log_std(h, self.legacy_sigma)
        z = mu + torch.exp(sample_log_std) * torch.randn_like(mu) if sample else mu
        mean = self.decode(z)
        rec_map = gaussian_nll(target, mean, self.log_c)
        kl = kl_std_normal(mu, kl_log_std)
        rec = rec_map.flatten(1).sum(1)
        return {"kl": kl, "rec": rec, "elbo": kl + rec, "rec_map": rec_map, "mean": mean, "mu": mu, "z": z}


def elbo_loss(model: GaussianVAE, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
    """Training loss of a `GaussianVAE`: batch mean of KL + Rec (β = 1); `batch[0]` is the input."""
    t = model.terms(batch[0])
    return {"loss": t["elbo"].mean(), "kl": t["kl"].mean().detach(), "rec": t["rec"].mean().detach()}
