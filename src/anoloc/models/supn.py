"""Structured Uncertainty Prediction Networks (SUPN): a Gaussian over the H·W pixels of a one-channel
image whose **precision** is Λ = L Lᵀ, with L a sparse lower-triangular Cholesky factor predicted per pixel
(spec supn-cells §2.1–§2.3; Dorta et al. CVPR 2018).

Parametrisation (pixels in raster order p = i·W + j, connectivity c):
- `log_diag` (B,1,H,W): ℓ_p = log L[p, p];
- `off_diag` (B,F,H,W), F = (2c+1)²//2: w_f[p] = L[p + off_f, p], where `off_f` are the kernel positions
  after the centre in raster order (c = 1: right, bottom-left, bottom, bottom-right). Neighbours outside the
  image do not exist (zero padding, no wrap-around). Column p of L holds exp(ℓ_p) and the couplings of p to its
  F "later" neighbours; equivalently (Lᵀ)[p, p + off_f] = w_f[p].
- connectivity 0 (F = 0) is a diagonal precision: the diag and fixed-variance (L2) models use it.

With r = x − μ: (Lᵀr)_p = exp(ℓ_p)·r_p + Σ_f w_f[p]·r_{p+off_f}, rᵀΛr = ‖Lᵀr‖², log|Λ| = 2·Σ_p ℓ_p.
Everything is vectorised with padding and slicing (a loop over the F offsets, never over pixels) and works in
any floating dtype. Sampling solves the sparse triangular system Lᵀx = ε (x ~ N(0, Λ⁻¹)) with SciPy.
"""

from __future__ import annotations

import math
import warnings
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F
from scipy.sparse import csr_array
from scipy.sparse.linalg import spsolve_triangular

LOG_2PI = math.log(2 * math.pi)


class SingularFactorWarning(RuntimeWarning):
    """The triangular solve of a sample overflowed: Lᵀ is singular to working precision."""


@cache
def neighbour_offsets(connectivity: int) -> tuple[tuple[int, int], ...]:
    """(row, col) offsets of the off-diagonal channels, in channel order (raster order after the centre)."""
    if connectivity < 0:
        raise ValueError(f"connectivity must be >= 0, got {connectivity}")
    c = connectivity
    return tuple((di, dj) for di in range(c + 1) for dj in range(-c, c + 1) if di > 0 or dj > 0)


def n_off_diagonals(connectivity: int) -> int:
    """F = (2c+1)²//2 off-diagonal channels (c = 1 → 4, c = 2 → 12, c = 0 → 0)."""
    return len(neighbour_offsets(connectivity))


def _check(mean: torch.Tensor, log_diag: torch.Tensor, off_diag: torch.Tensor, connectivity: int) -> None:
    if mean.ndim != 4 or mean.shape[1] != 1:
        raise ValueError(f"mean must be (B,1,H,W), got {tuple(mean.shape)}")
    if log_diag.shape != mean.shape:
        raise ValueError(f"log_diag must have the shape of mean {tuple(mean.shape)}, got {tuple(log_diag.shape)}")
    want = (mean.shape[0], n_off_diagonals(connectivity), *mean.shape[2:])
    if tuple(off_diag.shape) != want:
        raise ValueError(f"off_diag must be {want} for connectivity {connectivity}, got {tuple(off_diag.shape)}")


def shifted_neighbours(r: torch.Tensor, connectivity: int) -> torch.Tensor:
    """(B,F,H,W): channel f holds r at p + off_f (0 where the neighbour is outside the image)."""
    c = connectivity
    h, w = r.shape[-2:]
    rp = F.pad(r, (c, c, 0, c))  # left, right, top, bottom: offsets have di >= 0
    return torch.cat([rp[:, :, di : di + h, c + dj : c + dj + w] for di, dj in neighbour_offsets(c)], dim=1)


def whiten(r: torch.Tensor, log_diag: torch.Tensor, off_diag: torch.Tensor, connectivity: int = 1) -> torch.Tensor:
    """Lᵀr (B,1,H,W): the whitened residual, N(0, I) distributed when r ~ N(0, Λ⁻¹)."""
    _check(r, log_diag, off_diag, connectivity)
    out = torch.exp(log_diag) * r
    if connectivity == 0:
        return out
    return out + (off_diag * shifted_neighbours(r, connectivity)).sum(1, keepdim=True)


def log_prob(
    x: torch.Tensor, mean: torch.Tensor, log_diag: torch.Tensor, off_diag: torch.Tensor, connectivity: int = 1
) -> torch.Tensor:
    """log N(x; mean, (L Lᵀ)⁻¹) per image (B,) = −½N log 2π + Σℓ − ½‖Lᵀ(x − mean)‖²."""
    u = whiten(x - mean, log_diag, off_diag, connectivity)
    n = mean.shape[-2] * mean.shape[-1]
    return -0.5 * n * LOG_2PI + log_diag.flatten(1).sum(1) - 0.5 * u.square().flatten(1).sum(1)


def mahalanobis_map(
    x: torch.Tensor, mean: torch.Tensor, log_diag: torch.Tensor, off_diag: torch.Tensor, connectivity: int = 1
) -> torch.Tensor:
    """Per-pixel (Lᵀ(x − mean))² (B,1,H,W); its sum over the pixels is the Mahalanobis distance rᵀΛr."""
    return whiten(x - mean, log_diag, off_diag, connectivity).square()


def upper_factor(log_diag: torch.Tensor, off_diag: torch.Tensor, connectivity: int = 1) -> csr_array:
    """Lᵀ of one image as a SciPy CSR matrix (N×N upper-triangular, float64); inputs (1,H,W) and (F,H,W)."""
    h, w = log_diag.shape[-2:]
    n = h * w
    ld = log_diag.detach().reshape(h, w).cpu().double().numpy()
    od = off_diag.detach().reshape(-1, h, w).cpu().double().numpy()
    ii, jj = np.divmod(np.arange(n), w)
    rows, cols, vals = [np.arange(n)], [np.arange(n)], [np.exp(ld).ravel()]
    for f, (di, dj) in enumerate(neighbour_offsets(connectivity)):
        ok = (ii + di < h) & (jj + dj >= 0) & (jj + dj < w)
        p = np.flatnonzero(ok)
        rows.append(p)
        cols.append(p + di * w + dj)
        vals.append(od[f].ravel()[p])
    return csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))


def sample(
    mean: torch.Tensor,
    log_diag: torch.Tensor,
    off_diag: torch.Tensor,
    n: int,
    connectivity: int = 1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """`n` samples (n,B,1,H,W) of N(mean, (L Lᵀ)⁻¹): mean + x with Lᵀx = ε, ε ~ N(0, I).

    The upper-triangular solve runs in float64 with `scipy.sparse.linalg.spsolve_triangular` (all n
    right-hand sides at once); ε is drawn on the CPU from `generator` (torch's global RNG by default).
    Never returns inf: the samples of an image whose solve is not finite (a numerically singular factor)
    are NaN, with a `SingularFactorWarning`; `anoloc.models.supn_diagnostics.sample_checked` returns
    per-image flags and can sample a well-conditioned projection instead.
    """
    _check(mean, log_diag, off_diag, connectivity)
    b, _, h, w = mean.shape
    eps = torch.randn(b, h * w, n, generator=generator, dtype=torch.float64)
    out = np.empty((n, b, h * w))
    limit = torch.finfo(mean.dtype).max  # beyond it the cast to the output dtype would give inf
    bad = []
    for k in range(b):
        lt = upper_factor(log_diag[k], off_diag[k], connectivity)
        with np.errstate(over="ignore", invalid="ignore"):
            out[:, k] = spsolve_triangular(lt, eps[k].numpy(), lower=False).T
        if not np.all(np.isfinite(out[:, k])) or np.abs(out[:, k]).max() > limit:
            out[:, k] = np.nan
            bad.append(k)
    if bad:
        warnings.warn(
            f"SUPN sampling: L^T is numerically singular for image(s) {bad} of the batch (the triangular solve "
            "overflows); their samples are NaN (see anoloc.models.supn_diagnostics.sample_checked)",
            SingularFactorWarning,
            stacklevel=2,
        )
    x = torch.from_numpy(out).to(dtype=mean.dtype, device=mean.device).reshape(n, b, 1, h, w)
    return mean.detach().unsqueeze(0) + x
