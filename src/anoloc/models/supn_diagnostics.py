"""Conditioning of a learned SUPN precision Λ = L Lᵀ, per image, and samples that never overflow silently.

Conventions as `anoloc.models.supn`: A = Lᵀ is upper-triangular with diagonal d_p = exp(ℓ_p) and, in row p, the
F off-diagonals w_f[p] at columns p + off_f. Sampling solves A x = ε by back-substitution from the last pixel:

    x_p = (ε_p − Σ_f w_f[p]·x_{p+off_f}) / d_p.

Read as a density, A defines an autoregressive model in reverse raster order, p(r_p | later pixels) =
N(−Σ_f (w_f[p]/d_p)·r_{p+off_f}, d_p⁻²). It is normalised for *any* weights (log|Λ| = 2Σℓ does not depend on w),
so maximum likelihood never pays for an unstable recursion; but where the row ratio

    ρ_p = Σ_f |w_f[p]| / d_p

exceeds 1 along a chain of pixels, the back-substitution amplifies ε geometrically along that chain (up to N
pixels long for c = 1), and σ_min(Lᵀ) collapses. Conversely (Varah's bound): if ρ_p ≤ ρ̄ < 1 for every p, then
‖A⁻¹‖_∞ ≤ 1 / min_p (d_p − Σ_f |w_f[p]|) ≤ 1 / ((1 − ρ̄)·min d), hence every sample obeys
‖x‖_∞ ≤ ‖ε‖_∞ / ((1 − ρ̄)·min d) and σ_min(Lᵀ) ≥ (1 − ρ̄)·min d / √N (from ‖B‖₂ ≤ √N ‖B‖_∞).

Functions here measure these quantities (`dominance_ratio`, `smallest_singular_value`, `solve_growth`,
`conditioning_frame`), project a factor onto {ρ_p ≤ ρ̄} (`dominant_projection`), and sample with a per-image
singular flag (`sample_checked`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, LinearOperator, eigsh, spsolve_triangular

from anoloc.models import supn

# A factor is flagged singular when the back-substitution is not finite or amplifies the diagonal-only solve
# D⁻¹ε by more than this (a lower bound on κ(D⁻¹Lᵀ) reached with probability ~1 by a random ε): beyond it the
# float64 solve has no correct digit left relative to the largest entries.
MAX_GROWTH = 1e12

CONDITIONING_COLUMNS = (
    "diag_min",
    "diag_median",
    "diag_max",
    "ratio_median",
    "ratio_p99",
    "ratio_max",
    "frac_rows_not_dominant",
    "dominance_margin",
    "solve_growth",
    "sigma_min",
    "sigma_min_rel",
    "singular",
)


# ------------------------------------------------------------------------------------------ cheap, batched
def dominance_ratio(log_diag: torch.Tensor, off_diag: torch.Tensor) -> torch.Tensor:
    """ρ_p = Σ_f |w_f[p]| / exp(ℓ_p) per pixel (B,1,H,W): the row ratio of off-diagonals to the diagonal of Lᵀ.

    Counts all F predicted weights, including those of neighbours outside the image (which do not enter Lᵀ),
    so it is an upper bound at the right, left and bottom borders.
    """
    return off_diag.abs().sum(1, keepdim=True) * torch.exp(-log_diag)


def dominant_projection(log_diag: torch.Tensor, off_diag: torch.Tensor, rho: float = 0.99) -> torch.Tensor:
    """Off-diagonals scaled per pixel so that Σ_f |w_f[p]| ≤ rho·exp(ℓ_p) (rows already inside are unchanged).

    The nearest factor, along each row's own direction, that is strictly row-diagonally dominant: the sampler
    of the projected Λ is bounded by ‖x‖_∞ ≤ ‖ε‖_∞ / ((1 − rho)·min d) (module docstring).
    """
    if not 0 <= rho < 1:
        raise ValueError(f"rho must be in [0, 1), got {rho}")
    ratio = dominance_ratio(log_diag, off_diag)
    scale = torch.where(ratio > rho, rho / ratio.clamp_min(torch.finfo(ratio.dtype).tiny), torch.ones_like(ratio))
    return off_diag * scale


# ------------------------------------------------------------------------------------------ per image (SciPy)
def solve_growth(
    log_diag: torch.Tensor, off_diag: torch.Tensor, connectivity: int = 1, eps: np.ndarray | None = None
) -> float:
    """max|A⁻¹ε| / max|D⁻¹ε| for one image ((1,H,W), (F,H,W)) and ε ~ N(0, I) (seeded 0 unless given): how much
    the off-diagonals amplify a sample over the diagonal-only solve (1 for ρ ≡ 0; inf if the solve overflows)."""
    lt = supn.upper_factor(log_diag, off_diag, connectivity)
    n = lt.shape[0]
    e = np.random.default_rng(0).standard_normal(n) if eps is None else np.asarray(eps, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        x = spsolve_triangular(lt, e, lower=False)
        ref = np.abs(e / lt.diagonal()).max()
        top = np.abs(x).max()
    return float(top / ref) if np.isfinite(top) else math.inf


def smallest_singular_value(
    log_diag: torch.Tensor, off_diag: torch.Tensor, connectivity: int = 1, tol: float = 1e-6
) -> float:
    """σ_min(Lᵀ) of one image ((1,H,W), (F,H,W)), float64.

    σ_min⁻² is the largest eigenvalue of (A Aᵀ)⁻¹ = A⁻ᵀ A⁻¹, found by Lanczos (`scipy.sparse.linalg.eigsh`) with
    two sparse triangular solves per product. Returns 0.0 when a solve overflows float64 (σ_min below ~1e−300
    relative to the entries): the factor is singular to working precision.
    """
    lt = supn.upper_factor(log_diag, off_diag, connectivity)
    ltt = lt.T.tocsr()
    n = lt.shape[0]
    if n <= 2:
        return float(np.linalg.svd(lt.toarray(), compute_uv=False).min())

    def matvec(v: np.ndarray) -> np.ndarray:
        y = spsolve_triangular(lt, np.asarray(v, dtype=np.float64).ravel(), lower=False)
        return spsolve_triangular(ltt, y, lower=True)

    with np.errstate(over="ignore", invalid="ignore"):
        probe = matvec(np.random.default_rng(0).standard_normal(n))
        if not np.all(np.isfinite(probe)):
            return 0.0
        op = LinearOperator((n, n), matvec=matvec, dtype=np.float64)
        try:
            lam = eigsh(op, k=1, which="LA", tol=tol, v0=probe, return_eigenvectors=False)[0]
        except (ArpackNoConvergence, ArpackError):  # fall back on the Rayleigh quotient of inverse iteration
            v = probe / np.linalg.norm(probe)
            for _ in range(200):
                u = matvec(v)
                lam = float(v @ u)
                if not np.all(np.isfinite(u)):
                    return 0.0
                v = u / np.linalg.norm(u)
    if not np.isfinite(lam) or lam <= 0:
        return 0.0
    return float(1.0 / math.sqrt(lam))


def conditioning_frame(
    log_diag: torch.Tensor,
    off_diag: torch.Tensor,
    connectivity: int = 1,
    singular_values: bool = True,
    max_growth: float = MAX_GROWTH,
    tol: float = 1e-3,
) -> pd.DataFrame:
    """One row per image of a batch ((B,1,H,W), (B,F,H,W)) with the columns `CONDITIONING_COLUMNS`:

    - diag_min / diag_median / diag_max: range of d = exp(ℓ);
    - ratio_median / ratio_p99 / ratio_max: quantiles of ρ_p = Σ_f|w_f[p]|/d_p over the pixels;
    - frac_rows_not_dominant: fraction of pixels with ρ_p ≥ 1;
    - dominance_margin: min_p (d_p − Σ_f|w_f[p]|) / max d (> 0 ⇒ row-dominant, guaranteed bounded sampler);
    - solve_growth: `solve_growth` (inf = the float64 solve overflows);
    - sigma_min, sigma_min_rel: σ_min(Lᵀ) and σ_min / max d (NaN when `singular_values` is False);
    - singular: growth not finite or above `max_growth`.

    `tol`: relative tolerance of the σ_min estimate (Lanczos).
    """
    b = log_diag.shape[0]
    ld = log_diag.detach().double().cpu()
    od = off_diag.detach().double().cpu()
    d = torch.exp(ld).flatten(1)
    ratio = dominance_ratio(ld, od).flatten(1) if od.shape[1] else torch.zeros_like(d)
    margin = (d - (od.abs().sum(1).flatten(1) if od.shape[1] else 0)).amin(1) / d.amax(1)
    q = torch.quantile(ratio, torch.tensor([0.5, 0.99], dtype=ratio.dtype), dim=1)
    rows = []
    for k in range(b):
        growth = solve_growth(ld[k], od[k], connectivity)
        smin = smallest_singular_value(ld[k], od[k], connectivity, tol) if singular_values else math.nan
        rows.append(
            {
                "diag_min": float(d[k].min()),
                "diag_median": float(d[k].median()),
                "diag_max": float(d[k].max()),
                "ratio_median": float(q[0, k]),
                "ratio_p99": float(q[1, k]),
                "ratio_max": float(ratio[k].max()),
                "frac_rows_not_dominant": float((ratio[k] >= 1).double().mean()),
                "dominance_margin": float(margin[k]),
                "solve_growth": growth,
                "sigma_min": smin,
                "sigma_min_rel": smin / float(d[k].max()),
                "singular": bool(not math.isfinite(growth) or growth > max_growth),
            }
        )
    return pd.DataFrame(rows, columns=list(CONDITIONING_COLUMNS))


# ------------------------------------------------------------------------------------------ sampling
@dataclass
class CheckedSamples:
    """Samples (n,B,1,H,W) of N(μ, Λ⁻¹), never inf: rows of a singular factor that were not repaired are NaN.

    `singular` (B,): the factor's solve overflowed or grew by more than `max_growth`; `repaired` (B,): those
    crops were sampled from the dominant projection instead; `growth` (B,): `solve_growth` of the factor used
    for the first sample (inf where it overflowed)."""

    samples: torch.Tensor
    singular: np.ndarray
    repaired: np.ndarray
    growth: np.ndarray


def sample_checked(
    mean: torch.Tensor,
    log_diag: torch.Tensor,
    off_diag: torch.Tensor,
    n: int,
    connectivity: int = 1,
    generator: torch.Generator | None = None,
    max_growth: float = MAX_GROWTH,
    repair_rho: float | None = None,
    diag_epsilon: float = 0.0,
) -> CheckedSamples:
    """`supn.sample` with a per-crop singularity check (see `CheckedSamples`).

    Each crop's n right-hand sides ε are solved in float64; the crop is singular if any result is not finite (or
    not representable in mean's dtype) or max|x| / max|D⁻¹ε| > `max_growth`. With `repair_rho` ρ̄ ∈ [0, 1), a
    singular crop is re-solved (same ε) with the off-diagonals of `dominant_projection` — a different,
    well-conditioned Λ (‖x‖_∞ ≤ ‖ε‖_∞/((1 − ρ̄) min d)), reported as `repaired`. Otherwise its samples are NaN.
    `diag_epsilon` adds a constant to exp(ℓ) (the dev branch's sampler uses 1e−6).
    """
    supn._check(mean, log_diag, off_diag, connectivity)
    b, _, h, w = mean.shape
    eps = torch.randn(b, h * w, n, generator=generator, dtype=torch.float64).numpy()
    ld = log_diag.detach().double().cpu()
    if diag_epsilon:
        ld = torch.log(torch.exp(ld) + diag_epsilon)
    od = off_diag.detach().double().cpu()
    out = np.empty((n, b, h * w))
    singular = np.zeros(b, dtype=bool)
    repaired = np.zeros(b, dtype=bool)
    growth = np.empty(b)
    limit = torch.finfo(mean.dtype).max
    for k in range(b):
        lt = supn.upper_factor(ld[k], od[k], connectivity)
        with np.errstate(over="ignore", invalid="ignore"):
            x = spsolve_triangular(lt, eps[k], lower=False)
            ref = np.abs(eps[k] / lt.diagonal()[:, None]).max(0)
            g = np.abs(x).max(0) / ref
        growth[k] = float(g[0]) if np.isfinite(g[0]) else math.inf
        if np.all(np.isfinite(x)) and np.all(g <= max_growth) and np.abs(x).max() <= limit:
            out[:, k] = x.T
            continue
        singular[k] = True
        if repair_rho is None:
            out[:, k] = np.nan
            continue
        od_k = dominant_projection(ld[k : k + 1], od[k : k + 1], repair_rho)[0]
        out[:, k] = spsolve_triangular(supn.upper_factor(ld[k], od_k, connectivity), eps[k], lower=False).T
        repaired[k] = True
    x = torch.from_numpy(out).to(dtype=mean.dtype, device=mean.device).reshape(n, b, 1, h, w)
    return CheckedSamples(mean.detach().unsqueeze(0) + x, singular, repaired, growth)


# ------------------------------------------------------------------------------------------ a trained model
@torch.no_grad()
def model_conditioning(
    model: torch.nn.Module, x: torch.Tensor, batch_size: int = 32, singular_values: bool = True
) -> pd.DataFrame:
    """`conditioning_frame` of a `CellVAE`'s precision at z = μ_z(x) for each image of `x` (N,1,H,W), in order.

    Works for every likelihood (diag and fixed-variance models have no off-diagonals: ratio 0, growth 1).
    """
    model.eval()
    device = next(model.parameters()).device
    frames = []
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size].to(device)
        z, _ = model.encode(xb)
        _, log_diag, off_diag, c = model.whitening(z)
        if off_diag.shape[1] == 0:
            off_diag = log_diag.new_zeros(log_diag.shape[0], supn.n_off_diagonals(1), *log_diag.shape[2:])
            c = 1
        frames.append(conditioning_frame(log_diag, off_diag, c, singular_values))
    return pd.concat(frames, ignore_index=True)
