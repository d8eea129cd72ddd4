"""Cell-level anomaly scores of the SUPN / diag / L2 VAEs (spec supn-cells §3), one code path for all three.

Per-pixel map m = (Lᵀ(x − μ))² at a latent z (`CellVAE.mahalanobis_map`). Cell score = the maximum, over the
aligned 4×4 tiles that overlap the cell mask, of the tile sum of m.
- ``sampled``: the mean of that maximum over K latent samples z ~ q(z|x) (paper K = 100);
- ``restoration``: z optimised by Adam (paper lr 0.01, 100 steps) to minimise Σ m (no log-det, no prior),
  starting from one posterior sample, then scored once.
Higher = more anomalous.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from anoloc.models.cell_vae import CellVAE
from anoloc.scores.names import CELL_INFERENCES

Inference = Literal["sampled", "restoration"]


def tile_scores(maps: torch.Tensor, masks: torch.Tensor, tile: int = 4) -> torch.Tensor:
    """Max over the tile×tile tiles that overlap the mask of the tile sums of `maps` (B,1,H,W) → (B,).

    A cell whose mask is empty is scored over all tiles.
    """
    sums = F.avg_pool2d(maps, tile) * (tile * tile)
    valid = F.max_pool2d(masks.to(maps.dtype), tile) > 0
    valid = valid | ~valid.flatten(1).any(1).view(-1, 1, 1, 1)
    return sums.masked_fill(~valid, float("-inf")).flatten(1).amax(1)


def gaussian_blur(x: torch.Tensor, kernel_size: int = 5, sigma: float = 2.0) -> torch.Tensor:
    """torchvision's GaussianBlur (reflect padding) — the released evaluation's test-time blur (k5, σ 2)."""
    from torchvision.transforms.functional import gaussian_blur as tv_blur

    return tv_blur(x, [kernel_size, kernel_size], [sigma, sigma])


@torch.no_grad()
def sampled_scores(
    model: CellVAE, x: torch.Tensor, masks: torch.Tensor, n_samples: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Mean over `n_samples` posterior samples of the tile score (B,)."""
    mu, logvar = model.encode(x)
    total = torch.zeros(len(x), dtype=x.dtype, device=x.device)
    for _ in range(n_samples):
        z = model.sample_z(mu, logvar, generator)
        total += tile_scores(model.mahalanobis_map(x, z), masks)
    return total / n_samples


def restore_latent(
    model: CellVAE,
    x: torch.Tensor,
    steps: int = 100,
    lr: float = 0.01,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """z minimising Σ_pixels (Lᵀ(z)(x − μ(z)))² by Adam, from one posterior sample (weights untouched).

    The images of a batch are optimised jointly on the summed objective, which for Adam (element-wise)
    is the same as optimising each image alone.
    """
    requires = [p.requires_grad for p in model.parameters()]
    model.requires_grad_(False)
    try:
        with torch.no_grad():
            mu, logvar = model.encode(x)
            z0 = model.sample_z(mu, logvar, generator)
        z = z0.clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        with torch.enable_grad():
            for _ in range(steps):
                opt.zero_grad(set_to_none=True)
                model.mahalanobis_map(x, z).sum().backward()
                opt.step()
    finally:
        for p, r in zip(model.parameters(), requires, strict=True):
            p.requires_grad_(r)
    return z.detach()


def restoration_scores(
    model: CellVAE,
    x: torch.Tensor,
    masks: torch.Tensor,
    steps: int = 100,
    lr: float = 0.01,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Tile score (B,) at the restored latent."""
    z = restore_latent(model, x, steps, lr, generator)
    with torch.no_grad():
        return tile_scores(model.mahalanobis_map(x, z), masks)


def score_cells(
    model: CellVAE,
    x: torch.Tensor,
    masks: torch.Tensor,
    inference: Inference,
    *,
    n_samples: int = 100,
    steps: int = 100,
    lr: float = 0.01,
    batch_size: int = 64,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """Scores (N,) of preprocessed images `x` (N,1,H,W) with cell `masks` (N,1,H,W), in batches."""
    if inference not in CELL_INFERENCES:
        raise ValueError(f"inference must be one of {CELL_INFERENCES}, got {inference!r}")
    device = torch.device(device)
    model.eval().to(device)
    gen = torch.Generator(device=device).manual_seed(int(seed))
    out = []
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size].to(device)
        mb = masks[start : start + batch_size].to(device)
        if inference == "sampled":
            s = sampled_scores(model, xb, mb, n_samples, gen)
        else:
            s = restoration_scores(model, xb, mb, steps, lr, gen)
        out.append(s.double().cpu().numpy())
    return np.concatenate(out)
